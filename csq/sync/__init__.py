"""Talking to the server: pull, stream, send. Imports csq.domain, csq.api and
csq.store; never Textual."""

from csq.sync.client import ApiClient, make_http
from csq.sync.engine import (
    Changed,
    MetricsSeen,
    OpsSettled,
    PresenceSeen,
    StatusChanged,
    SyncEngine,
)
from csq.sync.errors import BadResponse, Refused, Stale, SyncError, Unauthorized, Unreachable
from csq.sync.status import SyncStatus, describe

__all__ = [
    "ApiClient", "BadResponse", "Changed", "MetricsSeen", "OpsSettled", "PresenceSeen",
    "Refused", "Stale",
    "StatusChanged", "SyncEngine", "SyncError", "SyncStatus", "Unauthorized", "Unreachable",
    "describe", "make_http",
]
