"""The wall's live figures are kept from the items written since the last round
(not read whole on every change): they must equal the figures read afresh from
the database, whatever was written in between."""

from __future__ import annotations

from datetime import UTC, datetime

from csq.server.metrics import compute
from tests.support.api import Api


async def test_figures_kept_from_the_changes_equal_the_figures_read_afresh(api: Api) -> None:
    api.clock.now = datetime.now(UTC)  # the wall's figures run on the real clock
    cache = api.app.state.metrics
    tickets = [await api.item("bob", subject=f"停电 {n}") for n in range(4)]
    complaint = await api.item("bob", kind="complaint", category="service", subject="态度差")
    first = await cache.get()
    assert first.waiting_by_kind == {"ticket": 4, "complaint": 1, "callback": 0}

    async def act(user: str, item_id: int, action: str, **payload: object) -> None:
        version = (await api.get(user, item_id))["version"]
        r = await api.act(user, item_id, action, version=version, **payload)
        assert r.status_code == 200, r.text

    await act("alice", tickets[0]["id"], "claim")
    await act("alice", tickets[1]["id"], "claim")
    await act("alice", tickets[1]["id"], "transition", to="resolved")
    await act("alice", tickets[1]["id"], "transition", to="closed")  # leaves the open set
    await act("lee", complaint["id"], "claim")
    await act("lee", complaint["id"], "escalate", to="主管", reason="重大投诉")
    await api.item("bob", kind="callback", category="scheduled", subject="回访")

    kept = await cache.get()
    async with cache.sessions() as session:
        fresh = await compute(session, cache.hub, cache.policy)
    moment = {"at", "depth_history", "oldest_waiting_s"}  # each as of its own `now`
    assert kept.model_dump(exclude=moment) == fresh.model_dump(exclude=moment)
    assert abs((kept.oldest_waiting_s or 0) - (fresh.oldest_waiting_s or 0)) < 1.0
    assert kept.waiting_by_kind == {"ticket": 2, "complaint": 0, "callback": 1}
    assert kept.escalations_open == 1
    load = {a.username: a.open_items for a in kept.agents}
    assert load["alice"] == 1 and load["lee"] == 1  # the closed ticket counts no more
