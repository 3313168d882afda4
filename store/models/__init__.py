"""The models, one aggregate per module, re-exported here."""

from store.models.apikey import ApiKey
from store.models.area import Area
from store.models.batch import IngestBatch, QuarantinedRow
from store.models.event import Event, EventRevision
from store.models.export_job import ExportJob
from store.models.flag import Flag, FlagHistory
from store.models.prefs import UserPrefs
from store.models.site import Site
from store.models.user import AuditEntry, User, UserSession
from store.models.version import DataVersion

__all__ = [
    "ApiKey",
    "Area",
    "AuditEntry",
    "DataVersion",
    "Event",
    "EventRevision",
    "ExportJob",
    "Flag",
    "FlagHistory",
    "IngestBatch",
    "QuarantinedRow",
    "Site",
    "User",
    "UserPrefs",
    "UserSession",
]
