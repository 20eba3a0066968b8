"""The queue: tabs of saved filters, `/` to filter as you type, a live
virtualised table, marks and bulk actions, and the status bar."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Input, Static, Tab, Tabs

from csq.i18n import relabel, t
from csq.screens.forms import ActionForm, FormField
from csq.screens.gate import GatedScreen
from csq.state.filter import Filter, FilterError, parse_filter
from csq.state.queue import COLUMN_KEYS
from csq.state.rows import QueueRow
from csq.widgets.key_bar import KeyBar
from csq.widgets.queue_table import QueueTable, header_text
from csq.widgets.status_bar import StatusBar, who_label

FRAME_BUDGET = 0.004  # seconds of scanning per slice: a key waits at most this for one
FIRST_ROWS_BUDGET = 0.001  # a screenful found this fast: show it, scan the rest later
TAB_KEYS = {"all": "tab.all", "mine": "tab.mine", "unassigned": "tab.unassigned",
            "complaints": "tab.complaints", "callbacks": "tab.callbacks",
            "breaching": "tab.breaching"}


class FilterBox(Input):
    """The `/` box. An Input swallows printable keys, so while it has the focus
    the screen's keys (and `?`, `q`) leave the key bar: these take their place."""

    BINDINGS: ClassVar[list[Any]] = [
        Binding("enter", "submit", t("key.apply"), id="filter_apply"),
        Binding("escape", "screen.clear_filter", t("key.clear"), id="filter_clear"),
        Binding("f1", "screen.filter_terms", t("key.filter_terms"), id="filter_terms"),
    ]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        relabel(self)

    def watch_value(self, value: str) -> None:
        """Filter within this key's own handling. Through Input.Changed the screen
        filtered after the frame that echoed the letter, so the rows came a frame
        later (17 ms at Textual's 60 frames a second); now the rows found in the
        first slice reach the screen in the same frame as the letter."""
        screen = self.screen if self.is_mounted else None
        if isinstance(screen, QueueScreen):
            screen.filter_typed(value)


class QueueScreen(GatedScreen):
    DEFAULT_CSS = """
    QueueScreen Tabs { height: 2; }
    QueueScreen #filter { height: 1; border: none; padding: 0 1; color: $text-muted; }
    QueueScreen #filter:focus { color: $text; background: $boost; }
    QueueScreen #filter-error { display: none; color: ansi_bright_red; height: 1; }
    QueueScreen #filter-error.-shown { display: block; }
    QueueScreen #header { height: 1; text-style: bold; color: $text-muted; }
    QueueScreen #notice { height: 1; display: none; background: $boost; }
    QueueScreen #notice.-shown { display: block; }
    """
    BINDINGS: ClassVar[list[Any]] = [
        Binding("slash", "filter", t("key.filter"), priority=True, id="filter"),
        Binding("escape", "clear_filter", t("key.back"), show=False, id="clear_filter"),
        Binding("tab", "next_tab(1)", t("key.next_tab"), show=False, id="next_tab"),
        Binding("shift+tab", "next_tab(-1)", t("key.prev_tab"), show=False, id="prev_tab"),
        Binding("c", "claim", t("key.claim"), priority=True, id="claim"),
        Binding("a", "bulk_assign", t("key.assign"), priority=True, id="assign"),
        Binding("T", "bulk_tag", t("key.tag"), show=False, priority=True, id="tag"),
        Binding("space", "mark", t("key.mark"), priority=True, id="mark"),
        Binding("p", "pause", t("key.pause"), priority=True, id="pause"),
        Binding("n", "new_item", t("key.new"), priority=True, id="new_item"),
        Binding("s", "sort", t("key.sort"), show=False, priority=True, id="sort"),
        Binding("C", "conflicts", t("key.conflicts"), show=False, priority=True, id="conflicts"),
        Binding("y", "copy_id", t("key.copy"), show=False, priority=True, id="copy_id"),
    ] + [Binding(str(n), f"tab({n})", t("key.tab_n"), show=False, priority=True,
                  id=f"tab_{n}")
         for n in range(1, 7)]

    def __init__(self, initial_filter: str = "") -> None:
        super().__init__()
        self.tab = "all"
        self.initial_filter = initial_filter
        self.filter = parse_filter(initial_filter) if initial_filter else Filter()
        self.paused = False
        self.unseen: set[int] = set()
        self._sort_index = -1
        self._scan = 0
        self._complete = False  # the table holds the whole view (no scan under way)
        self._counting: Iterator[dict[str, int] | None] | None = None
        self._header = ""

    def compose(self) -> ComposeResult:
        backend = self.backend
        yield Tabs(*[Tab(self._tab_label(tab_id), id=f"tab-{tab_id}")
                     for tab_id in backend.queue.tabs])
        yield FilterBox(placeholder=t("filter.placeholder"), id="filter")
        yield Static("", id="filter-error", markup=False)
        yield Static("", id="notice", markup=False)
        yield Static("", id="header", markup=False)
        yield QueueTable(backend.policy, backend.queue.customers, clock=backend.now,
                         locate=backend.queue.position, id="table")
        yield StatusBar(who_label(backend.actor.name, backend.actor.role), backend.server,
                        backend.read_only, backend.now)
        yield KeyBar()

    def _tab_label(self, tab_id: str, count: int | None = None) -> str:
        tab = self.backend.queue.tabs[tab_id]
        title = t(TAB_KEYS[tab_id]) if tab_id in TAB_KEYS else tab.title
        return f"{title} {count}" if count is not None else title

    @property
    def table(self) -> QueueTable:
        return self.query_one(QueueTable)

    def on_mount(self) -> None:
        self.table.focus()
        if self.initial_filter:
            box = self.query_one("#filter", Input)
            box.value = self.initial_filter
        self.refresh_rows()
        self.call_after_refresh(self.refresh_counts)  # rows first: they are what is read
        self.show_status()  # not blank until the first tick
        self.set_interval(1.0, self._tick)

    def on_resize(self) -> None:
        self._draw_header()

    def _draw_header(self) -> None:
        q = self.backend.queue
        text = header_text(self.table.content_width, q.sort_column, q.sort_reverse)
        if text != self._header:  # an update re-lays the screen out: only on change
            self._header = text
            self.query_one("#header", Static).update(text)

    # -- data ------------------------------------------------------------------------

    def refresh_rows(self, changed: set[int] | None = None,
                     fresh: set[int] | None = None) -> None:
        """Re-read the view. While paused, only count what arrived.

        The first screenful is found within a frame's budget; a long scan (a
        filter over 50,000 rows) goes on in chunks between frames, so typing
        never waits for the whole queue.
        """
        if self.paused and changed is not None:
            self.unseen |= changed
            self._show_notice(t("queue.paused", n=len(self.unseen)))
            return
        queue, now = self.backend.queue, self.backend.now()
        table = self.table
        if fresh:
            table.new_ids |= fresh
        self._scan += 1
        scan = self._scan
        known = queue.known_view(self.tab, self.filter, now)
        if known is not None:
            table.set_rows(known)
            self._complete = True
            self._draw_header()
            return
        found = queue.iter_view(self.tab, self.filter, now)
        rows: list[QueueRow] = []
        need = max(self.size.height, 24) + table.cursor
        started = time.perf_counter()
        for row in found:
            if row is not None:
                rows.append(row)
            spent = time.perf_counter() - started
            if spent > FRAME_BUDGET or (len(rows) >= need and spent > FIRST_ROWS_BUDGET):
                break
        else:
            table.set_rows(queue.finish_view(now, rows))
            self._complete = True
            self._draw_header()
            return
        self._complete = False
        # A screenful, or what one frame's budget found: shown now, the rest follows.
        # Nothing found yet: the old rows stay a frame or two rather than "no items".
        if queue.sort_column is None and rows:
            table.set_rows(list(rows))
        self._draw_header()
        self.set_timer(0.001, lambda: self._scan_more(scan, found, rows, now))

    def _scan_more(self, scan: int, found: Iterator[QueueRow | None], rows: list[QueueRow],
                   now: datetime) -> None:
        if scan != self._scan:
            return  # the filter changed again; this scan is stale
        started = time.perf_counter()
        for row in found:
            if row is not None:
                rows.append(row)
            if time.perf_counter() - started > FRAME_BUDGET:
                self.set_timer(0.001, lambda: self._scan_more(scan, found, rows, now))
                return
        queue = self.backend.queue
        self.table.set_rows(queue.finish_view(now, rows))
        self._complete = True

    def refresh_counts(self) -> None:
        """Count every tab between frames, FRAME_BUDGET at a time (see `counting`)."""
        self._counting = counting = self.backend.queue.counting(self.backend.now())
        self._count_more(counting)

    def _count_more(self, counting: Iterator[dict[str, int] | None]) -> None:
        if counting is not self._counting:
            return  # a newer count started; this one is stale
        started = time.perf_counter()
        for counts in counting:
            if counts is not None:
                self._show_counts(counts)
                return
            if time.perf_counter() - started > FRAME_BUDGET:
                self.set_timer(0.001, lambda: self._count_more(counting))
                return

    def _show_counts(self, counts: dict[str, int]) -> None:
        tabs = self.query_one(Tabs)
        for tab_id, count in counts.items():
            try:
                tab = tabs.query_one(f"#tab-{tab_id}", Tab)
            except Exception:
                continue
            tab.label = self._tab_label(tab_id, count)

    def show_status(self, extra: str = "") -> None:
        for bar in self.query(StatusBar):  # none yet if sync reports before compose
            bar.show(self.backend.sync_status(), extra)

    def _tick(self) -> None:
        queue, now = self.backend.queue, self.backend.now()
        moved = queue.tick(now)
        if moved and not self.paused:
            # Some deadline passes nearly every second at 50,000 items; the view
            # kept by the queue was mended (QueueState._mended), not walked again.
            self.refresh_rows()
        else:
            self.table.tick()
        self.show_status()

    def _show_notice(self, text: str) -> None:
        notice = self.query_one("#notice", Static)
        notice.update(text)
        notice.set_class(bool(text), "-shown")

    # -- tabs and filter ----------------------------------------------------------------

    @on(Tabs.TabActivated)
    def _tab_changed(self, event: Tabs.TabActivated) -> None:
        if event.tab.id:
            self.tab = event.tab.id.removeprefix("tab-")
            self.refresh_rows()
            self.table.focus()

    def action_tab(self, n: int) -> None:
        ids = list(self.backend.queue.tabs)
        if 0 < n <= len(ids):
            self.query_one(Tabs).active = f"tab-{ids[n - 1]}"

    def action_next_tab(self, step: int) -> None:
        tabs = self.query_one(Tabs)
        tabs.action_next_tab() if step > 0 else tabs.action_previous_tab()

    def action_filter(self) -> None:
        # The box is always on screen, so focus moves at once: keys typed right
        # after `/` (a fast typist, a paste over SSH) land in it, not the table.
        self.set_focus(self.query_one("#filter", Input))

    def filter_typed(self, value: str) -> None:
        error = self.query_one("#filter-error", Static)
        try:
            self.filter = parse_filter(value)
        except FilterError as exc:
            error.update(str(exc))
            error.add_class("-shown")
            return
        error.remove_class("-shown")
        self.refresh_rows()

    @on(Input.Submitted, "#filter")
    def _filter_done(self) -> None:
        self.table.focus()

    def action_clear_filter(self) -> None:
        box = self.query_one("#filter", Input)
        if box.has_focus and box.value:
            box.value = ""
            return
        if self.table.marked:
            self.table.marked.clear()
            self.table.refresh()
            return
        if box.value:
            box.value = ""
        self.table.focus()

    def action_filter_terms(self) -> None:
        from csq.screens.help import HelpScreen

        self.app.push_screen(HelpScreen(self, filter_first=True))

    def action_sort(self) -> None:
        self._sort_index = (self._sort_index + 1) % (len(COLUMN_KEYS) + 1)
        q = self.backend.queue
        q.sort_column = COLUMN_KEYS[self._sort_index] if self._sort_index < len(COLUMN_KEYS) \
            else None
        q.sort_reverse = False
        q.version += 1
        self.refresh_rows()

    def action_pause(self) -> None:
        self.paused = not self.paused
        if not self.paused:
            self.unseen.clear()
            self._show_notice("")
            self.refresh_rows()
        else:
            self._show_notice(t("queue.paused", n=0))

    # -- opening and acting --------------------------------------------------------------

    @on(QueueTable.Selected)
    def _open(self, event: QueueTable.Selected) -> None:
        from csq.screens.detail import open_item

        self.table.new_ids.discard(event.item_id)
        open_item(self.app, event.item_id)

    def action_mark(self) -> None:
        table = self.table
        current = table.current_id
        if current is None:
            return
        table.marked ^= {current}
        table.action_cursor(1)
        table.refresh()

    def _targets(self) -> list[int]:
        table = self.table
        if table.marked:
            return sorted(table.marked)
        return [table.current_id] if table.current_id is not None else []

    def action_claim(self) -> None:
        """Claim the marked rows (each its own outbox op), or the current one."""
        for item_id in self._targets():
            self.backend.request_action(item_id, {"action": "claim"})
        self.table.marked.clear()

    def _for_each(self, targets: list[int]) -> Callable[[dict[str, Any] | None], None]:
        """A form's result applied to every target: one outbox op per item."""
        def done(payload: dict[str, Any] | None) -> None:
            if payload:
                for item_id in targets:
                    self.backend.request_action(item_id, payload)
                self.table.marked.clear()

        return done

    def action_bulk_assign(self) -> None:
        """The lead's load-balanced assign form (agents least-loaded first)."""
        from csq.screens.allocation import open_assign_form

        targets = self._targets()
        if targets:
            open_assign_form(self, targets, after=self.table.marked.clear)

    def action_bulk_tag(self) -> None:
        targets = self._targets()
        if not targets:
            return
        self.app.push_screen(ActionForm(
            t("modal.tag.title"), [FormField("add", "field.add", "list", required=False),
                                   FormField("remove", "field.remove", "list", required=False)],
            base={"action": "tag"}, now=self.backend.now, zone=self.backend.policy.quiet.tz),
            self._for_each(targets))

    def action_new_item(self) -> None:
        from csq.screens.new_item import start_new_item

        start_new_item(self)

    def action_conflicts(self) -> None:
        from csq.screens.conflicts import ConflictsScreen

        self.app.push_screen(ConflictsScreen())

    def action_copy_id(self) -> None:
        current = self.table.current_id
        if current is not None:
            self.app.copy_to_clipboard(str(current))  # OSC 52: works over SSH
            self.notify(t("toast.copied", text=f"#{current}"))
