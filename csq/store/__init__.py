"""The client's files: the outbox (small, durable) and the cache (large,
rebuildable). The only code that touches them; imports csq.domain only."""

from csq.store.cache import Cache, CacheSnapshot
from csq.store.errors import (
    CacheBusy,
    CacheCorrupt,
    CacheOutdated,
    OutboxCorrupt,
    StoreError,
    StoreUnwritable,
)
from csq.store.outbox import Op, Outbox
from csq.store.paths import Profile

__all__ = [
    "Cache", "CacheBusy", "CacheCorrupt", "CacheOutdated", "CacheSnapshot", "Op", "Outbox",
    "OutboxCorrupt", "Profile", "StoreError", "StoreUnwritable",
]
