"""Balanced assignment (按照负责客户数量均衡): whom a lead should give the next item.

Pure: the server passes each person's open load and whether they are online.
"""

from __future__ import annotations

from collections.abc import Iterable


def least_loaded(loads: Iterable[tuple[str, int, bool]],
                 exclude: Iterable[str] = ()) -> str | None:
    """From (username, open items, online): the online person with the fewest open
    items, ties by name; nobody online means nobody to suggest. `exclude` keeps
    out, say, the agent a complaint is about."""
    skip = set(exclude)
    online = [(load, name) for name, load, on in loads if on and name not in skip]
    return min(online)[1] if online else None
