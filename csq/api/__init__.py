"""Wire schemas shared by the server's routes and the client's parser."""

from csq.api.schemas import (
    ActionResult,
    ChangeBatch,
    ChangesPage,
    LiveMetrics,
    PresenceEvent,
    PresenceUpdate,
    Problem,
    RevealRequest,
    TokenRequest,
    TokenResponse,
    WhoAmI,
)

PROBLEM_BASE = "urn:csq:problem:"

__all__ = [
    "PROBLEM_BASE", "ActionResult", "ChangeBatch", "ChangesPage", "LiveMetrics",
    "PresenceEvent", "PresenceUpdate", "Problem", "RevealRequest", "TokenRequest",
    "TokenResponse", "WhoAmI",
]
