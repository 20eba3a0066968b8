"""The terminal app: wires the login, the cache, the sync engine and the
screens. Thin by intent: rules live in csq.domain, the queue in csq.state,
talking to the server in csq.sync, drawing in csq.screens and csq.widgets.
It implements the screens' Backend: reads of the local view, and intents.
"""

from __future__ import annotations

import contextlib
import gc
import itertools
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
from pydantic import ValidationError
from rich.console import RenderableType
from textual import events
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen

from csq.api import LiveMetrics
from csq.api.lead import AgentLoads
from csq.config import Login, UiConfig
from csq.domain.actions import ACTION_NAMES, parse_action
from csq.domain.engine import Actor, Context, allowed_verbs, apply_action, new_item
from csq.domain.errors import DomainError
from csq.domain.handover import Handover
from csq.domain.records import Customer, Item
from csq.domain.roles import Role, is_lead, is_read_only, may
from csq.domain.sla import DEFAULT_POLICY, SlaPolicy
from csq.i18n import label, relabel, set_lang, t
from csq.idle_gc import IdleCollector
from csq.keyprobe import KeyProbe
from csq.screens.backend import ReadFailed
from csq.state.queue import DEFAULT_TABS, QueueState, Tab
from csq.store import Cache, Op, Profile
from csq.sync import (
    Changed,
    MetricsSeen,
    OpsSettled,
    PresenceSeen,
    StatusChanged,
    SyncEngine,
    SyncError,
)
from csq.sync.drafts import parse_new_item, provisional_customer
from csq.sync.status import SyncStatus

# Seconds after the queue is pushed before the search index is built and then the
# item screen composed, in the background (_prepare_screens): by then the queue has
# painted and its tabs are being counted.
PREPARE_AFTER = 0.5
BUILD_SLICE = 0.002  # seconds of background work at a time: a key waits at most this


class CsqApp(App[int]):
    TITLE = "csq"
    CSS_PATH = "csq.tcss"
    ENABLE_COMMAND_PALETTE = True
    # The lead's screens, from anywhere but a form (check_action says for whom).
    LEAD_BINDINGS = [
        Binding("H", "handovers", t("key.handovers"), show=False, id="handovers"),
        Binding("F", "followups", t("key.followups"), show=False, id="followups"),
        Binding("L", "allocation", t("key.allocation"), show=False, id="allocation"),
    ]
    BINDINGS = [
        Binding("question_mark", "help", t("key.help"), id="help"),
        Binding("q", "quit", t("key.quit"), id="quit"),
        Binding("colon", "command_palette", "Commands", show=False, id="palette"),
        *LEAD_BINDINGS,
    ]

    def __init__(self, login: Login, http: httpx.AsyncClient, ui: UiConfig, *,
                 profile: Profile | None = None, lang: str = "en",
                 clock: Callable[[], datetime] | None = None, wall: bool | None = None) -> None:
        set_lang(lang)
        super().__init__()
        relabel(self)  # BINDINGS were written in the language current at import
        self.clock = clock or (lambda: datetime.now(UTC))
        # Supervisors land on the wall; anyone may ask for it (`csq wall`).
        self.start_on_wall = wall if wall is not None else login.role == Role.SUPERVISOR
        self.login = login
        self.actor = Actor(login.username, login.name or login.username, login.role)
        self.read_only = is_read_only(login.role)
        self.server = login.server.removeprefix("http://").removeprefix("https://")
        self.policy: SlaPolicy = DEFAULT_POLICY.with_overrides({"timezone": login.timezone})
        tabs = list(DEFAULT_TABS) + [Tab(c.id, c.title, c.query) for c in ui.tabs]
        self.queue = QueueState(login.username, self.policy, tabs)
        self.profile = profile or Profile.for_user(login.server, login.username)
        self.http = http
        self.cache = Cache(self.profile.ensure().cache_dir)
        self.engine = SyncEngine(self.profile, http, self.actor, policy=self.policy,
                                 cache=self.cache, clock=self.clock)
        self._changed: set[int] = set()
        self._customers_changed: set[int] = set()
        self._flush_scheduled = False
        self._pending_ids: set[int] = set()
        self._watching = False  # True once the first sync has reached live
        self._fresh: set[int] = set()
        self._last_counts = 0.0
        self._recount_scheduled = False
        self._verbs: tuple[Item | None, frozenset[str]] = (None, frozenset())
        self._probe = KeyProbe.from_env()  # bench/tui.py's key-to-frame timings
        self._idle_gc = IdleCollector()
        if ui.keys:
            self.set_keymap(ui.keys)

    # -- start and stop ------------------------------------------------------------------

    def on_mount(self) -> None:
        try:
            self.cache.open(write=True, wait=0.2)
        except Exception as exc:  # another csq app is syncing this profile
            self.exit(1, message=str(exc))
            return
        for warning in self.cache.warnings:
            self.notify(warning, severity="warning", timeout=15)
        self._load_all()
        self._idle_gc.start()
        self.engine.subscribe(self._on_sync)
        self.engine.refresh_counts()
        if self.start_on_wall:
            from csq.screens.monitor import WallScreen

            self.engine.want_metrics = True
            self.push_screen(WallScreen())
        else:
            from csq.screens.queue import QueueScreen

            self.push_screen(QueueScreen())
            self.set_timer(PREPARE_AFTER, self._prepare_screens)
        self.run_worker(self.engine.run(), name="sync", group="sync", exit_on_error=False)

    def _prepare_screens(self) -> None:
        """In the quiet after start: the queue's search index first (the first `/`
        is then as fast as any), then the item screen, composed while the agent
        reads the queue; not while anything else is on top (the agent is at work)."""
        from csq.screens.detail import prepare
        from csq.screens.queue import QueueScreen

        def compose_detail() -> None:
            stack = self.screen_stack if self.is_running else []
            if stack and isinstance(stack[-1], QueueScreen):  # none while it shuts down
                prepare(self)

        self._build_more(self.queue.build_index(), compose_detail)

    def _build_more(self, steps: Iterator[None], then: Callable[[], None]) -> None:
        """Background work, a few milliseconds at a time: a key waits at most that."""
        started = time.perf_counter()
        for _ in steps:
            if time.perf_counter() - started > BUILD_SLICE:
                self.set_timer(0.001, lambda: self._build_more(steps, then))
                return
        then()

    async def on_unmount(self) -> None:
        self.workers.cancel_group(self, "sync")
        self._idle_gc.stop()
        with contextlib.suppress(Exception):
            await self.http.aclose()
        self.cache.close()
        gc.unfreeze()  # what _load_all froze may be collected again (tests run many apps)

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.Key) and not event.is_forwarded:
            self._idle_gc.input_seen()
            if self._probe:
                self._probe.key(event.key)
        await super().on_event(event)

    def _display(self, screen: Screen[Any], renderable: RenderableType | None) -> None:
        super()._display(screen, renderable)
        if self._probe and renderable is not None:
            self._probe.paint()

    def _load_all(self) -> None:
        snap = self.cache.snapshot()
        if self.engine.status.synced_at is None:  # "cached 3 min ago", not "never"
            self.engine.status = self.engine.status.with_(synced_at=snap.synced_at)
        overrides = self.engine.view_overrides()
        # The cache's list projections, not the full items: a row needs none of the
        # timeline. A generator: each one is parsed, made a row and dropped.
        docs = (overrides[i].model_dump(mode="json") if i in overrides else d
                for i, d in snap.rows.items())
        created = [o.model_dump(mode="json") for i, o in overrides.items() if i < 0]
        self._pending_ids = set(overrides)
        customers = [*snap.customers.values(), *self._pending_customer_docs()]
        # Loading makes hundreds of thousands of objects and no cyclic garbage: the
        # cyclic GC would walk them over and over while they load (a second at 50,000
        # items), then again on every full collection (a pause under a keystroke).
        gc.disable()
        try:
            self.queue.load(itertools.chain(docs, created), customers, self.now(),
                            pending=overrides)
        finally:
            gc.enable()
        gc.freeze()  # what is loaded now stays out of later collections

    def _pending_customer_docs(self, ops: list[Op] | None = None) -> list[dict[str, Any]]:
        """New customers still in the outbox, so their new items show a name;
        the ones that have reached the server leave the queue's map."""
        pending = self.engine.pending_customers(ops)
        for cid in [c for c in self.queue.customers if c < 0 and c not in pending]:
            del self.queue.customers[cid]
        return [c.model_dump(mode="json") for c in pending.values()]

    # -- sync events -> screens ----------------------------------------------------------

    def _on_sync(self, event: object) -> None:
        if not self.is_running:
            return
        if isinstance(event, Changed):
            if self._watching:  # "new": arrived while the agent watches, not the first sync
                self._fresh |= {i for i in event.item_ids if i not in self.queue.rows}
            self._changed |= event.item_ids
            self._customers_changed |= event.customer_ids
            if not self._flush_scheduled:
                self._flush_scheduled = True
                self.set_timer(0.05, self._apply_changes)
        elif isinstance(event, StatusChanged):
            if event.status.connection == "live":
                self._watching = True
            self._each_screen("show_status")
        elif isinstance(event, MetricsSeen):
            from csq.screens.monitor import WallScreen

            for s in self.screen_stack:
                if isinstance(s, WallScreen):
                    s.show_metrics(event.metrics)
                elif hasattr(s, "metrics_seen"):  # the lead's screens
                    s.metrics_seen(event.metrics)
        elif isinstance(event, PresenceSeen):
            self._apply_presence()
        elif isinstance(event, OpsSettled):
            if any(op.kind in ("handover", "acknowledge_handover") for op in event.report.sent):
                self._each_screen("reload_remote")
            for op in event.report.conflicts:
                self.notify(t("toast.conflict", id=op.item_id), severity="warning", timeout=8)
            for op in event.report.failed:
                failed = self.engine.outbox.get(op.op_id)
                reason = failed.error if failed else "?"
                self.notify(t("toast.refused", reason=reason), severity="error", timeout=8)

    def _apply_changes(self) -> None:
        """Keyed diff: only the rows that changed are rebuilt; screens redraw once."""
        self._flush_scheduled = False
        if not self.screen_stack or not self.is_running:
            return  # the app is closing: nothing left to draw on
        changed, self._changed = self._changed, set()
        customers, self._customers_changed = self._customers_changed, set()
        ops = self.engine.outbox.all()
        overrides = self.engine.view_overrides(ops)
        touched = changed | set(overrides) | self._pending_ids
        fresh, self._fresh = self._fresh, set()
        docs = []
        gone = []
        for item_id in touched:
            if item_id in overrides:
                docs.append(overrides[item_id].model_dump(mode="json"))
            elif (raw := self.cache.row(item_id)) is not None:
                docs.append(raw)
            else:
                gone.append(item_id)
        self._pending_ids = set(overrides)
        fresh_customers = [c for cid in customers if (c := self.cache.customer(cid)) is not None]
        fresh_customers += self._pending_customer_docs(ops)
        if fresh_customers:
            self.queue.upsert_customers(fresh_customers)
        self.queue.upsert(docs, pending=overrides)
        if gone:
            self.queue.remove(gone)
        screen = self.screen_stack[-1]
        from csq.screens.detail import DetailScreen
        from csq.screens.queue import QueueScreen

        for s in self.screen_stack:
            if isinstance(s, QueueScreen):
                s.refresh_rows(changed - set(overrides), fresh=fresh)
            elif isinstance(s, DetailScreen) and s.item_id in touched:
                s.refresh_item()
            elif hasattr(s, "items_changed"):  # the lead's screens
                s.items_changed()
        if hasattr(screen, "show_status"):
            screen.show_status()
        self._recount()

    def _recount(self) -> None:
        """Tab counts at most once a second under a stream of changes, and once more
        after the last change of a burst, so they never stay behind."""
        wait = self._last_counts + 1.0 - time.monotonic()
        if wait > 0:
            if not self._recount_scheduled:
                self._recount_scheduled = True
                self.set_timer(wait, self._recount_now)
            return
        self._recount_now()

    def _recount_now(self) -> None:
        from csq.screens.queue import QueueScreen

        self._recount_scheduled = False
        self._last_counts = time.monotonic()
        for s in self.screen_stack:
            if isinstance(s, QueueScreen):
                s.refresh_counts()

    def _apply_presence(self) -> None:
        from csq.screens.detail import DetailScreen
        from csq.screens.queue import QueueScreen

        marks = {item_id: user for (user, item_id), e in self.engine.presence.items()
                 if user != self.actor.username}
        for s in self.screen_stack:
            if isinstance(s, QueueScreen):
                table = s.table
                table.presence = marks
                table.refresh()
            elif isinstance(s, DetailScreen):
                s.show_presence()

    def _each_screen(self, method: str) -> None:
        for s in self.screen_stack:
            if hasattr(s, method):
                getattr(s, method)()

    # -- Backend: reads ------------------------------------------------------------------

    def now(self) -> datetime:
        return self.clock()

    def item(self, item_id: int) -> Item | None:
        if item_id < 0:
            return self.engine.view_overrides().get(item_id)
        return self.engine.local_item(item_id)

    def customer(self, customer_id: int) -> Customer | None:
        if customer_id < 0:  # created with a new item that is still in the outbox
            return self.engine.pending_customers().get(customer_id)
        raw = self.cache.customer(customer_id)
        return Customer.model_validate(raw) if raw else None

    def sync_status(self) -> SyncStatus:
        return self.engine.status

    def metrics(self) -> LiveMetrics | None:
        return self.engine.metrics

    def problems(self) -> list[Op]:
        return [o for o in self.engine.outbox.all() if o.state != "pending"]

    def presence_on(self, item_id: int) -> list[str]:
        out = []
        for (user, iid), event in self.engine.presence.items():
            if iid == item_id and user != self.actor.username:
                key = "presence.composing" if event.state == "composing" else "presence.viewing"
                out.append(t(key, who=event.name or user))
        return out

    def allows(self, verb: str, item: Item | None = None) -> bool:
        """The one permission check for every key, command and form."""
        if self.read_only or not may(self.actor.role, verb):
            return False
        if verb == "reveal":
            return item is not None and (item.owner == self.actor.username
                                         or is_lead(self.actor.role))
        if item is not None and verb in ACTION_NAMES:
            return verb in self._verbs_on(item)
        return True

    def _verbs_on(self, item: Item) -> frozenset[str]:
        """allowed_verbs, once per item seen: the key bar asks about every binding
        on every repaint, and items are immutable, so the last answer holds while
        the same item object is asked about."""
        if self._verbs[0] is not item:
            self._verbs = (item, allowed_verbs(item, self.actor))
        return self._verbs[1]

    def explain(self, item_id: int | None, payload: dict[str, Any]) -> str | None:
        try:
            if item_id is None:
                new = parse_new_item(payload)
                customer = provisional_customer(new.customer, -1, self.now()) \
                    if new.customer is not None else self.customer(new.draft.customer_id)
                if customer is None:
                    return f"no customer {new.draft.customer_id} in the cache"
                new_item(new.draft, Context(self.actor, self.now(), self.policy, customer), 0)
                return None
            action = parse_action(payload)
            item = self.item(item_id)
            if item is None:
                return f"no item {item_id}"
            apply_action(item, action, Context(self.actor, self.now(), self.policy,
                                               self.customer(item.customer_id)))
        except ValidationError as exc:
            first = exc.errors()[0]
            # An action's errors start with its name (the union's tag); a draft's do not.
            loc = first["loc"][1:] if item_id is not None else first["loc"]
            where = ".".join(str(p) for p in loc) or "input"
            return f"{where}: {first['msg']}"
        except DomainError as exc:
            return exc.detail
        return None

    # -- Backend: intents ----------------------------------------------------------------

    def request_action(self, item_id: int, payload: dict[str, Any]) -> bool:
        if item_id < 0:
            self.notify("this item is not on the server yet", severity="warning")
            return False
        try:
            self.engine.submit(item_id, payload)
        except (DomainError, ValidationError) as exc:
            reason = exc.detail if isinstance(exc, DomainError) else str(exc.errors()[0]["msg"])
            self.notify(t("toast.refused", reason=reason), severity="error")
            return False
        except Exception as exc:  # the outbox could not be written: say so, loudly
            self.notify(str(exc), severity="error", timeout=30)
            return False
        if self.engine.status.connection != "live":
            self.notify(t("toast.queued", action=payload.get("action", "")), timeout=3)
        return True

    def request_new_item(self, payload: dict[str, Any]) -> bool:
        try:
            self.engine.submit_new_item(payload)
        except (DomainError, ValidationError) as exc:
            reason = exc.detail if isinstance(exc, DomainError) else str(exc.errors()[0]["msg"])
            self.notify(t("toast.refused", reason=reason), severity="error")
            return False
        except Exception as exc:  # the outbox could not be written: say so, loudly
            self.notify(str(exc), severity="error", timeout=30)
            return False
        if self.engine.status.connection != "live":
            self.notify(t("toast.queued", action=t("modal.new.title")), timeout=3)
        return True

    def request_reveal(self, customer_id: int, item_id: int) -> None:
        async def reveal() -> None:
            from csq.screens.detail import ContactRevealed

            try:
                details = await self.engine.api.reveal(customer_id, item_id)
            except SyncError as exc:
                self.notify(f"reveal: {exc}", severity="error")
                return
            if self.screen_stack:
                self.screen_stack[-1].post_message(
                    ContactRevealed(customer_id, details.phone, details.email))

        self.run_worker(reveal(), group="reveal")

    def request_presence(self, item_id: int | None, state: str = "viewing") -> None:
        if not self.read_only:  # a supervisor's reads leave no trace
            self.engine.set_presence(item_id, state)

    def resolve_conflict(self, op_id: str, reapply: bool) -> None:
        (self.engine.reapply if reapply else self.engine.discard)(op_id)

    # -- Backend: the lead's work -------------------------------------------------------

    async def read_handovers(self) -> list[Handover]:
        return await self._online(t("handover.what"), self.engine.api.handovers)

    async def read_loads(self) -> AgentLoads:
        return await self._online(t("alloc.what"), self.engine.api.agent_loads)

    async def _online(self, what: str, read: Callable[[], Any]) -> Any:
        """An online read, or ReadFailed saying plainly that it needs the server."""
        if self.engine.status.connection == "offline":
            raise ReadFailed(t("lead.offline", what=what, reason=t("status.offline")))
        try:
            return await read()
        except (SyncError, httpx.HTTPError) as exc:
            raise ReadFailed(t("lead.offline", what=what, reason=str(exc))) from None

    def request_handover(self, note: str, to: str | None = None) -> bool:
        payload: dict[str, Any] = {"note": note, **({"to": to} if to else {})}
        return self._queue("handover", lambda: self.engine.submit_handover(payload))

    def request_acknowledge(self, handover: Handover, note: str = "") -> bool:
        return self._queue("acknowledge",
                           lambda: self.engine.submit_acknowledge(handover, note))

    def _queue(self, what: str, submit: Callable[[], object]) -> bool:
        """Into the outbox, or a refusal that says why; as request_action does."""
        try:
            submit()
        except (DomainError, ValidationError) as exc:
            reason = exc.detail if isinstance(exc, DomainError) else str(exc.errors()[0]["msg"])
            self.notify(t("toast.refused", reason=reason), severity="error")
            return False
        except Exception as exc:  # the outbox could not be written: say so, loudly
            self.notify(str(exc), severity="error", timeout=30)
            return False
        if self.engine.status.connection != "live":
            self.notify(t("toast.queued", action=what), timeout=3)
        return True

    # -- app-wide keys -------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """The lead's screens: handovers for whoever hands over or takes one, the
        quality follow-ups and the load for leads; supervisors may look at all three."""
        if action not in ("handovers", "followups", "allocation"):
            return True
        from textual.screen import ModalScreen
        from textual.widgets import Input, TextArea

        if not self.screen_stack or isinstance(self.screen, ModalScreen) \
                or isinstance(self.screen.focused, Input | TextArea):
            return False
        return self.lead_screen_allowed(action)

    def lead_screen_allowed(self, action: str) -> bool:
        if action == "handovers":
            return may(self.actor.role, "handover") or self.read_only
        return is_lead(self.actor.role) or self.read_only

    def _lead_screen(self, screen: Screen[None]) -> None:
        if type(self.screen) is type(screen):
            return
        self.push_screen(screen)

    def action_handovers(self) -> None:
        from csq.screens.handover import HandoverScreen

        self._lead_screen(HandoverScreen())

    def action_followups(self) -> None:
        from csq.screens.quality import QualityScreen

        self._lead_screen(QualityScreen())

    def action_allocation(self) -> None:
        from csq.screens.allocation import AllocationScreen

        self._lead_screen(AllocationScreen())

    def action_help(self) -> None:
        from csq.screens.help import HelpScreen

        self.push_screen(HelpScreen(self.screen))

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        """The palette offers what the current screen's keys offer, and no more."""
        yield from super().get_system_commands(screen)
        for binding in getattr(screen, "BINDINGS", []):
            if not isinstance(binding, Binding) or not binding.description:
                continue
            action = binding.action.split("(")[0]
            if screen.check_action(action, ()) is False:
                continue
            yield SystemCommand(label(binding.description), f"{binding.key}: {binding.action}",
                                _runner(screen, binding.action))
        for binding in self.LEAD_BINDINGS:
            if self.lead_screen_allowed(binding.action):
                yield SystemCommand(label(binding.description),
                                    f"{binding.key}: {binding.action}",
                                    _runner(self, binding.action))


def _runner(screen: Screen[Any] | App[Any], action: str) -> Any:
    async def run() -> None:
        await screen.run_action(action)

    return run

