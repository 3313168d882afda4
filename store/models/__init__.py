"""The models, one aggregate per module, re-exported here."""

from store.models.apikey import ApiKey
from store.models.batch import IngestBatch, QuarantinedRow
from store.models.event import Event, EventRevision
from store.models.site import Site

__all__ = ["ApiKey", "Event", "EventRevision", "IngestBatch", "QuarantinedRow", "Site"]
