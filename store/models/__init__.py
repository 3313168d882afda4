"""The models, one aggregate per module, re-exported here."""

from store.models.batch import IngestBatch, QuarantinedRow
from store.models.event import Event, EventRevision
from store.models.site import Site
from store.models.version import DataVersion

__all__ = ["DataVersion", "Event", "EventRevision", "IngestBatch", "QuarantinedRow", "Site"]
