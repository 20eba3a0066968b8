"""Runs the seed's actions through the real write path at chosen past instants.

The seed must not fake records: timelines, first owners, the callbacks a
complaint's reply creates and a callback's effect on its complaint all come
from the service and the rules engine. What it does control is *when*: a
settable clock, read by a `Service` of its own that shares the app's
database, policy and hub, backdates each action to its place in the story.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from csq.api import ActionResult
from csq.domain import actions as acts
from csq.domain.records import Item, ItemDraft
from csq.server import repo
from csq.server.demo.staff import Staff
from csq.server.service import Service


class SettableClock:
    """A clock the seed moves by hand; `Service` reads it for every `now`."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class Driver:
    """Creates items and applies actions inside one open write transaction."""

    def __init__(self, service: Service, clock: SettableClock, staff: Staff) -> None:
        self.service = service
        self.clock = clock
        self.staff = staff
        self.versions: dict[int, int] = {}  # item id -> version, to send as If-Match
        self.session: Session | None = None
        self.seq = 0
        self.key = ""

    def begin(self, session: Session, seq: int, key: str) -> None:
        """Point the driver at the transaction `Service.write` has opened.

        Autoflush goes off: the audit events the service adds are never read
        back within the transaction, so they can wait for one flush at commit
        instead of one each before every query (most of the seed's cost). New
        items are flushed at once, because the next action looks them up.
        """
        self.session, self.seq, self.key = session, seq, key
        session.autoflush = False

    def _session(self) -> Session:
        if self.session is None:
            raise RuntimeError("Driver.begin() was not called")
        return self.session

    def create(self, who: str, draft: ItemDraft, at: datetime) -> Item:
        self.clock.now = at
        item = self.service.insert_item(self._session(), self.seq,
                                              self.staff.req(who, self.key), draft)
        self.versions[item.id] = item.version
        self._session().flush()
        return item

    def act(self, who: str, item_id: int, action: acts.Action,
                  at: datetime) -> ActionResult:
        self.clock.now = at
        version = None
        if acts.needs_if_match(action.action):
            version = self._version(item_id)
        result = self.service.apply(self._session(), self.seq,
                                          self.staff.req(who, self.key), item_id, action,
                                          version)
        self.versions[result.item.id] = result.item.version
        for child in result.created:
            self.versions[child.id] = child.version
        if result.created:
            self._session().flush()
        if isinstance(action, acts.CompleteCallback) and result.item.parent_id is not None:
            self.versions.pop(result.item.parent_id, None)  # its complaint may have moved
        return result

    def _version(self, item_id: int) -> int:
        if item_id not in self.versions:
            item = repo.load_item(self._session(), item_id)
            if item is None:
                raise LookupError(f"no item {item_id}")
            self.versions[item_id] = item.version
        return self.versions[item_id]
