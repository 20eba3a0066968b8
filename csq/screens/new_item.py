"""`n` on the queue: a new ticket, complaint or callback, for the right customer.

First the customer: typed for (name, masked phone, id; 中文 too) among the
cached customers, or created on the spot. The highlighted customer's open items
show underneath, and enter on one opens it: the agent links to what is already
open instead of making the customer's matter twice. Then the item form, which
shows those open items again and offers to link the new item to one of them.
Keyboard only; fits 80x24. It reads the local view and posts one intent
(`request_new_item`); a new customer travels inside that intent (sync.drafts).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, cast

from pydantic import ValidationError
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import Input, OptionList, Select, Static
from textual.widgets.option_list import Option

from csq.domain.kinds import CATEGORIES, CATEGORY_ZH, CHANNEL_ZH, Channel, Kind
from csq.domain.lifecycle import STATUS_ZH
from csq.domain.masking import mask_email, mask_phone
from csq.domain.priority import Tier
from csq.domain.records import CustomerDraft
from csq.domain.text import neutralise
from csq.i18n import lang, relabel, t
from csq.screens.backend import Backend
from csq.screens.forms import ActionForm, FormField
from csq.state.customers import find_customers, open_counts, open_items
from csq.state.rows import CustomerInfo, QueueRow
from csq.widgets.cells import fit

NEW = "new"  # the option that creates a customer
SHOWN_OPEN = 5  # open items listed under the picker: what fits at 80x24


@dataclass(frozen=True)
class Picked:
    """What the picker settled on: one of the three."""

    customer_id: int | None = None  # an existing customer
    new_customer: dict[str, Any] | None = None  # a CustomerDraft, created with the item
    open_item: int | None = None  # an item already open: the agent goes there instead


def _category(category: str) -> str:
    return CATEGORY_ZH.get(category, category) if lang() == "zh" else category


def _categories(kind: str) -> tuple[tuple[str, str], ...]:
    return tuple((_category(c), c) for c in CATEGORIES[Kind(kind)])


def _status(status: str) -> str:
    return STATUS_ZH.get(status, status) if lang() == "zh" else status.replace("_", " ")


def item_line(row: QueueRow, width: int = 70) -> str:
    owner = row.owner or "-"
    head = f"#{row.id} {t(f'kind.{row.kind}')} · {_status(row.status)} · {owner} · "
    return head + fit(row.subject, max(8, width - len(head) - 2)).rstrip()


def customer_line(c: CustomerInfo, open_n: int | None = None) -> str:
    badges = " ".join(t(f"badge.{b}") for b in c.badges)
    line = f"#{c.id:<5} {fit(c.name, 18)} {fit(c.phone or '-', 13)} {c.tier}"
    if badges:
        line += f" {badges}"
    if open_n:
        line += f" · {t('pick.open_n', n=open_n)}"
    return line


class CustomerPicker(ModalScreen[Picked | None]):
    DEFAULT_CSS = """
    CustomerPicker { align: center middle; }
    CustomerPicker > Vertical { width: 76; max-width: 100%; height: auto; max-height: 100%;
        border: round $accent; background: $surface; padding: 0 1; }
    CustomerPicker .title { text-style: bold; }
    CustomerPicker #matches { height: auto; max-height: 8; border: none; padding: 0; }
    CustomerPicker #open-title { color: $text-muted; margin-top: 1; }
    CustomerPicker #open-items { height: auto; max-height: 6; border: none; padding: 0; }
    CustomerPicker .hint { color: $text-muted; margin-top: 1; }
    """
    BINDINGS: ClassVar[list[Any]] = [
        Binding("escape", "cancel", t("modal.cancel"), id="customer_pick_cancel"),
        Binding("ctrl+n", "new_customer", t("key.new_customer"), id="new_customer",
                priority=True),
        Binding("down", "move(1)", "", show=False, id="customer_pick_down"),
        Binding("up", "move(-1)", "", show=False, id="customer_pick_up"),
    ]

    def __init__(self) -> None:
        super().__init__()
        relabel(self)

    @property
    def backend(self) -> Backend:
        return cast(Backend, self.app)

    def compose(self) -> ComposeResult:
        with Vertical(id="pick-box"):
            yield Static(t("pick.title"), classes="title", markup=False)
            yield Input(placeholder=t("pick.search"), id="who")
            yield OptionList(id="matches")
            yield Static("", id="open-title", markup=False)
            yield OptionList(id="open-items")
            yield Static(t("pick.hint"), classes="hint", markup=False)

    def on_mount(self) -> None:
        self._search("")
        self.query_one("#who", Input).focus()

    # -- searching --------------------------------------------------------------------

    @on(Input.Changed, "#who")
    def _typed(self, event: Input.Changed) -> None:
        self._search(event.value)

    def _search(self, text: str) -> None:
        queue = self.backend.queue
        found = find_customers(queue.customers, text) if text.strip() else []
        counts = open_counts(queue.rows.values(), {c.id for c in found})
        matches = self.query_one("#matches", OptionList)
        matches.clear_options()
        matches.add_options([Option(customer_line(c, counts.get(c.id)), id=str(c.id))
                             for c in found])
        if text.strip() and not found:
            matches.add_option(Option(t("pick.none"), id="none", disabled=True))
        matches.add_option(Option(t("pick.new"), id=NEW))
        matches.highlighted = 0 if found else matches.option_count - 1
        self._show_open(found[0] if found else None)

    def _highlighted(self) -> str | None:
        matches = self.query_one("#matches", OptionList)
        if matches.highlighted is None:
            return None
        return matches.get_option_at_index(matches.highlighted).id

    @on(OptionList.OptionHighlighted, "#matches")
    def _moved(self, event: OptionList.OptionHighlighted) -> None:
        cid = event.option.id
        customer = self.backend.queue.customers.get(int(cid)) if cid and cid.isdigit() \
            else None
        self._show_open(customer)

    def _show_open(self, customer: CustomerInfo | None) -> None:
        title = self.query_one("#open-title", Static)
        listing = self.query_one("#open-items", OptionList)
        listing.clear_options()
        if customer is None:
            title.update("")
            listing.display = False
            return
        rows = open_items(self.backend.queue.rows.values(), customer.id)
        name = neutralise(customer.name)
        title.update(t("pick.open_items", name=name) if rows else t("pick.no_open", name=name))
        listing.add_options([Option(item_line(r), id=str(r.id)) for r in rows[:SHOWN_OPEN]])
        listing.display = bool(rows)
        if rows:
            listing.highlighted = 0  # tab, enter: the newest is one key away

    def action_move(self, step: int) -> None:
        matches = self.query_one("#matches", OptionList)
        if self.focused is not self.query_one("#who", Input):
            # In a list, up and down are the list's own.
            focused = self.focused
            if isinstance(focused, OptionList):
                focused.action_cursor_down() if step > 0 else focused.action_cursor_up()
            return
        matches.action_cursor_down() if step > 0 else matches.action_cursor_up()

    # -- choosing ---------------------------------------------------------------------

    @on(Input.Submitted, "#who")
    def _enter(self) -> None:
        self._choose(self._highlighted())

    @on(OptionList.OptionSelected, "#matches")
    def _selected(self, event: OptionList.OptionSelected) -> None:
        self._choose(event.option.id)

    @on(OptionList.OptionSelected, "#open-items")
    def _open_existing(self, event: OptionList.OptionSelected) -> None:
        if event.option.id:
            self.dismiss(Picked(open_item=int(event.option.id)))

    def _choose(self, option_id: str | None) -> None:
        if option_id == NEW:
            self.action_new_customer()
        elif option_id and option_id.isdigit():
            self.dismiss(Picked(customer_id=int(option_id)))

    def action_new_customer(self) -> None:
        typed = self.query_one("#who", Input).value.strip()
        digits = typed.replace(" ", "").replace("-", "")
        is_phone = bool(digits) and digits.lstrip("+").isdigit()

        def done(payload: dict[str, Any] | None) -> None:
            if payload:
                self.dismiss(Picked(new_customer=payload))

        self.app.push_screen(customer_form(self.backend, name="" if is_phone else typed,
                                           phone=typed if is_phone else ""), done)

    def action_cancel(self) -> None:
        self.dismiss(None)


def customer_form(backend: Backend, *, name: str = "", phone: str = "") -> ActionForm:
    """Name, phone, e-mail, tier and the flags an agent may set (not `watch`:
    only a lead sets that, on the customer, later)."""
    tiers = tuple((tier.value, tier.value) for tier in Tier)

    def check(payload: dict[str, Any]) -> str | None:
        try:
            CustomerDraft.model_validate(payload)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = str(first["loc"][0]) if first["loc"] else "input"
            return f"{t(f'field.{where}')}: {first['msg']}"
        return None

    return ActionForm(
        t("modal.customer.title"),
        [FormField("name", "field.name", default=name),
         FormField("phone", "field.phone", required=False, default=phone),
         FormField("email", "field.email", required=False),
         FormField("tier", "field.tier", "choice", tiers, default=Tier.C.value),
         FormField("vip", "field.vip", "bool", required=False),
         FormField("member", "field.member", "bool", required=False),
         FormField("key_account", "field.key_account", "bool", required=False),
         FormField("special_care", "field.special_care", "bool", required=False)],
        validate=check, now=backend.now, zone=backend.policy.quiet.tz)


class NewItemForm(ActionForm):
    """The item itself, with the customer and their open items in view."""

    def __init__(self, backend: Backend, picked: Picked) -> None:
        kinds = tuple((t(f"kind.{k.value}"), k.value) for k in Kind)
        channels = tuple((CHANNEL_ZH[c] if lang() == "zh" else c.value, c.value)
                         for c in Channel)
        base: dict[str, Any]
        rows: list[QueueRow] = []
        if picked.new_customer is not None:
            draft = picked.new_customer
            phone = mask_phone(draft.get("phone")) or mask_email(draft.get("email")) or "-"
            who = f"{neutralise(str(draft.get('name', '')))} · {phone} · " \
                  f"{t('new.new_customer')}"
            base = {"customer": draft}
        else:
            assert picked.customer_id is not None
            info = backend.queue.customers.get(picked.customer_id)
            who = " ".join(customer_line(info).split()) if info else f"#{picked.customer_id}"
            rows = open_items(backend.queue.rows.values(), picked.customer_id)
            base = {"customer_id": picked.customer_id}
        intro = [t("new.for", customer=who)]
        if rows:
            intro.append(t("new.open_items"))
            intro += ["  " + item_line(r, 68) for r in rows[:3]]
            if len(rows) > 3:
                intro.append("  " + t("new.more", n=len(rows) - 3))
        fields = [FormField("kind", "field.kind", "choice", kinds),
                  FormField("category", "field.category", "choice", _categories(Kind.TICKET)),
                  FormField("subject", "field.subject"),
                  FormField("body", "field.body", "long", required=False),
                  FormField("channel", "field.channel", "choice", channels,
                            default=Channel.PHONE.value)]
        if rows:
            links = tuple((item_line(r, 60), str(r.id)) for r in rows)
            fields.append(FormField("parent_id", "field.parent", "choice", links,
                                    required=False, number=True))
        super().__init__(t("modal.new.title"), fields, intro="\n".join(intro), base=base,
                         validate=lambda p: backend.explain(None, p), now=backend.now,
                         zone=backend.policy.quiet.tz)

    @on(Select.Changed, "#field-kind")
    def _kind_changed(self, event: Select.Changed) -> None:
        """Only the categories of the chosen kind are offered."""
        if isinstance(event.value, str):
            category = self.query_one("#field-category", Select)
            choices = _categories(event.value)
            category.set_options(choices)
            category.value = choices[0][1]


def start_new_item(screen: Screen[Any]) -> None:
    """Pick the customer, then fill in the item; or go to an item already open."""
    backend = cast(Backend, screen.app)

    def saved(payload: dict[str, Any] | None) -> None:
        if payload:
            backend.request_new_item(payload)

    def picked(choice: Picked | None) -> None:
        if choice is None:
            return
        if choice.open_item is not None:
            from csq.screens.detail import open_item

            open_item(screen.app, choice.open_item)
            return
        screen.app.push_screen(NewItemForm(backend, choice), saved)

    screen.app.push_screen(CustomerPicker(), picked)
