"""The queue table: virtualised with Textual's Line API.

Only the rows on screen are rendered, so 50,000 rows scroll like 50. The SLA
clocks tick by re-rendering only the lines whose clock text changed; the rest
of the table is never repainted for time alone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from operator import attrgetter, indexOf

from rich.segment import Segment
from rich.style import Style
from textual.binding import Binding
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from csq.domain.kinds import CHANNEL_ZH
from csq.domain.lifecycle import STATUS_ZH
from csq.domain.sla import SlaPolicy, SlaState, format_left, seconds_left, sla_state
from csq.i18n import lang, relabel, t
from csq.state.rows import CustomerInfo, QueueRow
from csq.widgets.cells import fit

BADGE_LETTERS = {"vip": "V", "member": "M", "key_account": "K", "special_care": "S",
                 "watch": "W"}

ROW_ID = attrgetter("id")


@dataclass(frozen=True)
class Column:
    key: str
    title: str  # i18n key
    width: int  # 0: takes the remaining space
    show_from: int = 0  # terminal width from which the column appears
    right: bool = False


# The SLA clock comes first, as Zendesk's SLA badge does: it is what an agent reads
# first, and it is the one cell that changes every second. Textual sends a changed
# region from the widget's left edge (ChopsUpdate crops on the right only), so a
# clock at the left edge costs its own 7 cells a tick instead of a whole line.
COLUMNS = (
    Column("sla", "col.sla", 7, right=True),
    Column("mark", "", 2),
    Column("id", "col.id", 5, right=True),
    Column("kind", "col.kind", 4),
    Column("pri", "col.pri", 2),
    Column("customer", "col.customer", 11),
    Column("subject", "col.subject", 0),
    Column("status", "col.status", 10),
    Column("owner", "col.owner", 8, show_from=100),
    Column("channel", "col.channel", 5, show_from=120),
)
CLOCK_END = COLUMNS[0].width  # the clock's right edge

CHANNEL_LABEL_ZH = {str(k): v for k, v in CHANNEL_ZH.items()}
KIND_SHORT = {"en": {"ticket": "TKT", "complaint": "CMP", "callback": "CB"},
              "zh": {"ticket": "工单", "complaint": "投诉", "callback": "回访"}}


def layout(width: int) -> list[tuple[Column, int]]:
    """The columns shown at this width, each with its cell width."""
    shown = [c for c in COLUMNS if width >= c.show_from]
    fixed = sum(c.width for c in shown) + len(shown) - 1
    flex = max(8, width - fixed)
    return [(c, c.width or flex) for c in shown]


STATUS_SHORT = {"pending_customer": "wait cust", "in_progress": "in prog",
                "callback_pending": "cb pending"}


def status_label(status: str) -> str:
    """Fits the 10-cell column: the handbooks' words in Chinese, short English."""
    if lang() == "zh":
        return STATUS_ZH.get(status, status)
    return STATUS_SHORT.get(status, status.replace("_", " "))


class QueueTable(ScrollView, can_focus=True):
    COMPONENT_CLASSES = {
        "queue-table--cursor", "queue-table--breached", "queue-table--at-risk",
        "queue-table--p1", "queue-table--pending", "queue-table--marked",
        "queue-table--new", "queue-table--presence", "queue-table--done",
    }
    DEFAULT_CSS = """
    QueueTable { height: 1fr; }
    QueueTable > .queue-table--cursor { text-style: reverse; }
    QueueTable > .queue-table--breached { color: ansi_bright_red; text-style: bold; }
    QueueTable > .queue-table--at-risk { color: ansi_yellow; }
    QueueTable > .queue-table--p1 { color: ansi_bright_red; text-style: bold; }
    QueueTable > .queue-table--pending { color: ansi_cyan; }
    QueueTable > .queue-table--marked { text-style: bold underline; }
    QueueTable > .queue-table--new { color: ansi_bright_green; }
    QueueTable > .queue-table--presence { color: ansi_magenta; }
    QueueTable > .queue-table--done { color: ansi_bright_black; }
    """
    BINDINGS = [
        Binding("j,down", "cursor(1)", t("key.down"), show=False, id="cursor_down"),
        Binding("k,up", "cursor(-1)", t("key.up"), show=False, id="cursor_up"),
        Binding("g,home", "jump(0)", t("key.top"), show=False, id="top"),
        Binding("G,end", "jump(-1)", t("key.bottom"), show=False, id="bottom"),
        Binding("pagedown,ctrl+f", "page(1)", t("key.page_down"), show=False, id="page_down"),
        Binding("pageup,ctrl+b", "page(-1)", t("key.page_up"), show=False, id="page_up"),
        Binding("enter", "select", t("key.open"), id="open"),
    ]

    class Highlighted(Message):
        def __init__(self, item_id: int | None) -> None:
            super().__init__()
            self.item_id = item_id

    class Selected(Message):
        def __init__(self, item_id: int) -> None:
            super().__init__()
            self.item_id = item_id

    def __init__(self, policy: SlaPolicy, customers: dict[int, CustomerInfo],
                 clock: Callable[[], datetime] | None = None,
                 locate: Callable[[list[QueueRow], int], int | None] | None = None,
                 **kwargs: object) -> None:
        """`locate` finds an item in a list of rows faster than a search, or says
        None (QueueState.position: a bisect on the queue order)."""
        super().__init__(**kwargs)  # type: ignore[arg-type]
        relabel(self)
        self.policy = policy
        self.customers = customers
        self.clock = clock or (lambda: datetime.now(UTC))
        self.locate = locate
        self.rows: list[QueueRow] = []
        self.cursor = 0
        self.marked: set[int] = set()
        self.new_ids: set[int] = set()
        self.presence: dict[int, str] = {}
        self._clock_text: dict[int, str] = {}
        self._painted: dict[int, tuple[object, ...] | None] = {}  # line -> _signature

    # -- data ----------------------------------------------------------------------------

    def set_rows(self, rows: list[QueueRow]) -> None:
        """Replace the rows, keeping the cursor on the same item if it is still there.

        Only the lines whose content changed are repainted: with 50,000 items some
        item crosses its deadline every few seconds and the view is rebuilt, but
        when that row lands off screen the terminal should receive nothing.
        """
        current = self.current_id
        top = int(self.scroll_offset.y)
        self.rows = rows
        if current is not None:
            found = self.locate(rows, current) if self.locate else None
            try:  # else a search in C: ~3 ms to the end of 50,000 rows, not ~10
                self.cursor = indexOf(map(ROW_ID, rows), current) if found is None else found
            except ValueError:
                self.cursor = min(self.cursor, max(len(rows) - 1, 0))
        self.virtual_size = Size(self.content_width, len(rows))
        self._keep_cursor_visible()
        if int(self.scroll_offset.y) != top:
            self._forget_painted()
            self.refresh()
            return
        for index in range(top, top + self.size.height):
            if self._painted.get(index) != self._signature(index):
                self.refresh_line(index)

    def _signature(self, index: int) -> tuple[object, ...] | None:
        """What line `index` shows, clock aside: equal signatures, equal lines."""
        if index >= len(self.rows):
            return ("empty",) if index == 0 else None
        row = self.rows[index]
        return (row, self.customers.get(row.customer_id), index == self.cursor,
                row.id in self.marked, row.id in self.new_ids, self.presence.get(row.id))

    def _forget_painted(self) -> None:
        self._painted.clear()
        self._clock_text.clear()

    @property
    def current_id(self) -> int | None:
        if 0 <= self.cursor < len(self.rows):
            return self.rows[self.cursor].id
        return None

    @property
    def current(self) -> QueueRow | None:
        return self.rows[self.cursor] if 0 <= self.cursor < len(self.rows) else None

    # -- movement ------------------------------------------------------------------------

    def _move_to(self, index: int) -> None:
        if not self.rows:
            return
        index = max(0, min(index, len(self.rows) - 1))
        if index == self.cursor:
            return
        old = self.cursor
        self.cursor = index
        self._keep_cursor_visible()
        self._refresh_row(old)
        self._refresh_row(index)
        self.post_message(self.Highlighted(self.current_id))

    def _keep_cursor_visible(self) -> None:
        top = int(self.scroll_offset.y)
        height = max(self.size.height, 1)
        if self.cursor < top:
            self.scroll_to(y=self.cursor, animate=False)
        elif self.cursor >= top + height:
            self.scroll_to(y=self.cursor - height + 1, animate=False)

    def _refresh_row(self, index: int) -> None:
        y = index - int(self.scroll_offset.y)
        if 0 <= y < self.size.height:
            self.refresh_line(index)

    def action_cursor(self, delta: int) -> None:
        self._move_to(self.cursor + delta)

    def action_jump(self, where: int) -> None:
        self._move_to(0 if where == 0 else len(self.rows) - 1)

    def action_page(self, direction: int) -> None:
        self._move_to(self.cursor + direction * max(self.size.height - 1, 1))

    def action_select(self) -> None:
        if self.current_id is not None:
            self.post_message(self.Selected(self.current_id))

    def on_click(self, event: object) -> None:  # the mouse is optional, never required
        y = getattr(event, "y", None)
        if isinstance(y, int):
            self._move_to(int(self.scroll_offset.y) + y)

    def on_resize(self) -> None:
        self.virtual_size = Size(self.content_width, len(self.rows))
        self._forget_painted()
        self.refresh()

    # -- clocks --------------------------------------------------------------------------

    def tick(self) -> int:
        """Repaint the clocks whose text changed, and only them; returns how many.

        Only the clock's cells are marked dirty (see CLOCK_END): an idle 80x24
        queue whose every clock counts seconds then writes well under 1 KB/s
        (docs/benchmarks.md, issue 5).
        """
        now = self.clock()
        top = int(self.scroll_offset.y)
        changed = 0
        for index in range(top, min(top + self.size.height, len(self.rows))):
            row = self.rows[index]
            text = format_left(seconds_left(row, now))
            if self._clock_text.get(row.id) != text:
                self.refresh(Region(0, index - top, CLOCK_END, 1))
                changed += 1
        return changed

    # -- rendering -----------------------------------------------------------------------

    @property
    def content_width(self) -> int:
        """The width rows are laid out in: the widget less its scrollbar."""
        return self.scrollable_content_region.width or self.size.width

    def render_line(self, y: int) -> Strip:
        index = y + int(self.scroll_offset.y)
        width = self.content_width
        self._painted[index] = self._signature(index)
        if index >= len(self.rows):
            if index == 0 and not self.rows:
                return Strip([Segment(fit(t("queue.empty"), width), self.rich_style)])
            return Strip.blank(width, self.rich_style)
        return self._render_row(self.rows[index], index == self.cursor, width)

    def _render_row(self, row: QueueRow, is_cursor: bool, width: int) -> Strip:
        now = self.clock()
        base = self.rich_style
        if is_cursor:
            base = base + self.get_component_rich_style("queue-table--cursor")
        if row.id in self.marked:
            base = base + self.get_component_rich_style("queue-table--marked")
        segments: list[Segment] = []
        for position, (column, cells) in enumerate(layout(width)):
            if position:
                segments.append(Segment(" ", base))
            text, extra = self._cell(row, column.key, now)
            style = base + extra if extra else base
            segments.append(Segment(fit(text, cells, align_right=column.right), style))
        # One SGR run per style, not per cell: fewer bytes per repainted line.
        return Strip(segments).crop(0, width).simplify()

    def _cell(self, row: QueueRow, key: str, now: datetime) -> tuple[str, Style | None]:
        if key == "mark":
            first = "+" if row.id in self.marked else " "
            if row.pending:
                return first + "*", self.get_component_rich_style("queue-table--pending")
            if row.id in self.presence:
                return first + "@", self.get_component_rich_style("queue-table--presence")
            if row.id in self.new_ids:
                return first + "N", self.get_component_rich_style("queue-table--new")
            return first + " ", None
        if key == "id":
            return str(row.id) if row.id > 0 else "new", None
        if key == "kind":
            return KIND_SHORT.get(lang(), KIND_SHORT["en"]).get(row.kind, row.kind), None
        if key == "pri":
            style = self.get_component_rich_style("queue-table--p1") \
                if row.priority == "P1" else None
            return row.priority, style
        if key == "customer":
            c = self.customers.get(row.customer_id)
            if c is None:
                return f"#{row.customer_id}", None
            badges = "".join(BADGE_LETTERS[b] for b in c.badges if b in BADGE_LETTERS)
            return f"{c.tier}{badges} {c.name}", None
        if key == "subject":
            return row.subject, None
        if key == "status":
            return status_label(row.status), None
        if key == "owner":
            return row.owner or "-", None
        if key == "channel":
            return CHANNEL_LABEL_ZH.get(row.channel, row.channel) if lang() == "zh" \
                else row.channel, None
        if key == "sla":
            text = format_left(seconds_left(row, now))
            self._clock_text[row.id] = text
            state = sla_state(row, now, self.policy)
            if state == SlaState.BREACHED:
                return text, self.get_component_rich_style("queue-table--breached")
            if state == SlaState.AT_RISK:
                return text, self.get_component_rich_style("queue-table--at-risk")
            return text, None
        return "", None


def header_text(width: int, sort_column: str | None, reverse: bool) -> str:
    parts = []
    for column, cells in layout(width):
        title = t(column.title) if column.title else ""
        if sort_column == column.key:
            title += "v" if reverse else "^"
        parts.append(fit(title, cells, align_right=column.right))
    return " ".join(parts)[:width]
