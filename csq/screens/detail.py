"""One item: header with live clocks, customer panel, timeline, and every
action by key in a small modal. Only the actions the domain allows on this
item, for this user, are offered."""

from __future__ import annotations

import os
import shlex
import subprocess
import tempfile
from typing import Any

from textual import events, on
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.message import Message
from textual.timer import Timer
from textual.widgets import Static

from csq.domain.engine import offered_transitions
from csq.domain.kinds import CATEGORY_ZH
from csq.domain.lifecycle import STATUS_ZH
from csq.domain.records import Customer, Item
from csq.domain.sla import format_left, seconds_left, sla_state
from csq.domain.text import neutralise
from csq.i18n import lang, t
from csq.screens.forms import ActionForm, FormField
from csq.screens.gate import GatedScreen
from csq.widgets.cells import fit
from csq.widgets.key_bar import KeyBar
from csq.widgets.status_bar import StatusBar, who_label

SATISFACTION = (("5 非常满意", "5"), ("4 满意", "4"), ("3 一般", "3"), ("2 不满意", "2"),
                ("1 非常不满意", "1"))


class ContactRevealed(Message):
    def __init__(self, customer_id: int, phone: str | None, email: str | None) -> None:
        super().__init__()
        self.customer_id = customer_id
        self.phone = phone
        self.email = email


def _status(status: str) -> str:
    return STATUS_ZH.get(status, status) if lang() == "zh" else status.replace("_", " ")


DETAIL = "detail"


def open_item(app: App[Any], item_id: int) -> None:
    """Open an item on the one DetailScreen the app keeps. Opening is the most
    frequent screen change: a kept screen costs an update and a repaint, where a
    new one is composed, styled and laid out (a third of the time to the first
    frame), and each closed one left ~1,500 objects of cyclic garbage for a full
    collection to find under a later keystroke. Opened from above the kept one
    (an item linked from a form over it), a second, ordinary one is pushed."""
    if not app.is_screen_installed(DETAIL):
        app.install_screen(DetailScreen(item_id), DETAIL)
    screen = app.get_screen(DETAIL)
    assert isinstance(screen, DetailScreen)
    if screen in app.screen_stack:
        app.push_screen(DetailScreen(item_id))
        return
    screen.show(item_id)
    app.push_screen(screen)


def prepare(app: App[Any]) -> None:
    """Compose the kept screen before the first open, in a quiet moment after the
    queue is up: the first open would otherwise take twice as long as the rest
    (compose and mount, ~25 ms). Pushed and popped in one call, it is never the
    screen on top when Textual paints."""
    if app.is_screen_installed(DETAIL):
        return
    screen = DetailScreen(0)  # no item: ids start at 1, pending new items are < 0
    app.install_screen(screen, DETAIL)
    app.push_screen(screen)
    app.pop_screen()
    # Textual paints a screen from its update timer, which waits a whole frame
    # (1/60 s) after it is first started and ticks at once when resumed later.
    # Started here, the first open is painted as soon as it is ready.
    timer = getattr(screen, "_update_timer", None)
    if timer is not None:
        timer.resume()


class DetailScreen(GatedScreen):
    DEFAULT_CSS = """
    DetailScreen #head { height: auto; background: $boost; padding: 0 1; }
    DetailScreen #presence { height: auto; color: ansi_magenta; padding: 0 1; display: none; }
    DetailScreen #presence.-shown { display: block; }
    DetailScreen #customer { height: auto; padding: 0 1; border-bottom: solid $primary-muted; }
    DetailScreen #body { height: auto; padding: 0 1; margin-bottom: 1; }
    DetailScreen #timeline { height: auto; padding: 0 1; }
    """
    BINDINGS = [
        Binding("escape,q", "back", t("key.back"), id="back"),
        Binding("c", "claim", t("key.claim"), priority=True, id="claim"),
        Binding("r", "reply", t("key.reply"), priority=True, id="reply"),
        Binding("R", "template_reply", "Template", show=False, priority=True, id="template_reply"),
        Binding("E", "editor_reply", t("key.editor"), show=False, priority=True, id="editor_reply"),
        Binding("n", "note", t("key.note"), priority=True, id="note"),
        Binding("t", "transition", t("key.transition"), priority=True, id="transition"),
        Binding("a", "assign", t("key.assign"), priority=True, id="assign"),
        Binding("o", "route", t("key.route"), priority=True, id="route"),
        Binding("e", "escalate", t("key.escalate"), priority=True, id="escalate"),
        Binding("p", "promise", t("key.promise"), priority=True, id="promise"),
        Binding("b", "schedule", t("key.schedule"), priority=True, id="schedule"),
        Binding("d", "complete", t("key.complete"), priority=True, id="complete"),
        Binding("x", "attempt", t("key.attempt"), priority=True, id="attempt"),
        Binding("w", "waive", t("key.waive"), priority=True, id="waive"),
        Binding("T", "tag", t("key.tag"), show=False, priority=True, id="tag_item"),
        Binding("v", "reveal", t("key.reveal"), priority=True, id="reveal"),
        Binding("y", "copy_id", t("key.copy"), show=False, priority=True, id="copy_item_id"),
    ]

    def __init__(self, item_id: int) -> None:
        super().__init__()
        self.item_id = item_id
        self.contact: tuple[str | None, str | None] | None = None  # never cached
        self._item: Item | None = None
        self._loaded = False
        self._ticker: Timer | None = None
        self._away = False  # popped and kept for the next item (see open_item)
        self._drawn = True  # its item is on its widgets (see show)
        self._css_when_left: int | None = None

    def show(self, item_id: int) -> None:
        """Point this screen, kept from an earlier item, at another one. Drawn when
        it comes on screen (on_screen_resume), where Textual repaints the whole
        screen anyway: drawn here, its parts were painted first and then the whole
        screen again, and the screen stood only after the second frame (an open's
        median: ~8.1 ms that way, ~7.3 ms this way)."""
        self.item_id = item_id
        self.contact = None
        self._loaded = False
        self._drawn = False
        if self.is_mounted and self.is_current:
            self._draw_item()

    def _draw_item(self) -> None:
        self._drawn = True
        self.refresh_item()
        self.query_one("#scroll", VerticalScroll).scroll_home(animate=False)

    def verb_target(self) -> object:
        return self.item

    @property
    def item(self) -> Item | None:
        """The local view of the item, read once per change, not once per key
        check: the footer asks about every binding on every refresh."""
        if not self._loaded:
            self._item = self.backend.item(self.item_id)
            self._loaded = True
        return self._item

    def compose(self) -> ComposeResult:
        yield Static("", id="head", markup=False)
        yield Static("", id="presence", markup=False)
        with VerticalScroll(id="scroll"):
            yield Static("", id="customer", markup=False)
            yield Static("", id="body", markup=False)
            yield Static("", id="timeline", markup=False)
        yield StatusBar(who_label(self.backend.actor.name, self.backend.actor.role),
                        self.backend.server, self.backend.read_only,
                        self.backend.now)
        yield KeyBar()

    def on_mount(self) -> None:
        self.refresh_item()
        self.show_status()  # not blank until the first tick
        self._ticker = self.set_interval(1.0, self._tick)
        if self.item_id:  # not a screen being prepared
            self.backend.request_presence(self.item_id, "viewing")
        self.query_one("#scroll").focus()

    def on_unmount(self) -> None:
        self.backend.request_presence(None)

    def on_screen_suspend(self) -> None:
        """Left for good, not covered by a form: the agent is no longer on the item,
        and revealed contact details do not stay in memory (promise 5)."""
        if self in self.app.screen_stack:
            return
        self._away = True
        self._css_when_left = getattr(self.app, "_css_update_count", None)
        self.contact = None
        if self._ticker is not None:
            self._ticker.pause()
        self.backend.request_presence(None)

    def on_screen_resume(self, event: events.ScreenResume) -> None:
        if not self._drawn:
            self._draw_item()
            # The widgets' new sizes reach the screen only after this frame; laid
            # out now, the first frame is the item's, not the last item's layout.
            self.refresh(layout=True)
        if self._away:  # shown again for an item, not back from a form over it
            self._away = False
            # Runs before Screen's own handler, which restyles every widget (a fifth
            # of an open): needless unless the theme or the CSS changed while the
            # screen was away, which Textual counts in App._css_update_count.
            if self._css_when_left is not None \
                    and self._css_when_left == getattr(self.app, "_css_update_count", None):
                event.refresh_styles = False
            self.show_status()
            if self._ticker is not None:
                self._ticker.resume()
        if self.item_id:  # also back from an item opened over this one, which cleared it
            self.backend.request_presence(self.item_id, "viewing")

    def _tick(self) -> None:
        self._draw_head()
        self.show_status()

    def show_status(self) -> None:
        """The app calls this on every change of the sync status, as on the queue."""
        for bar in self.query(StatusBar):  # none yet if sync reports before compose
            bar.show(self.backend.sync_status())

    def refresh_item(self) -> None:
        self._loaded = False  # the app calls this when the item changed
        item = self.item
        if item is None:
            self.query_one("#head", Static).update(f"#{self.item_id}: not in the cache")
            return
        self._draw_head()
        customer = self.backend.customer(item.customer_id)
        self.query_one("#customer", Static).update(self._customer_text(item, customer))
        self.query_one("#body", Static).update(neutralise(item.body, multiline=True))
        self.query_one("#timeline", Static).update(self._timeline_text(item))
        self._draw_presence()
        self.refresh_bindings()

    def _draw_head(self) -> None:
        item = self.item
        if item is None:
            return
        now = self.backend.now()
        kind = t(f"kind.{item.kind}")
        category = CATEGORY_ZH.get(item.category, item.category) if lang() == "zh" \
            else item.category
        left = format_left(seconds_left(item, now))
        state = t(f"sla.{sla_state(item, now, self.backend.policy).value}")
        lines = [
            f"#{item.id} {kind} · {category} · {item.priority} · {_status(item.status)}"
            + (" · ESCALATED" if item.escalation else ""),
            neutralise(item.subject),
            f"{t('detail.first_owner')}: {item.first_owner or '-'} · "
            f"{t('detail.owner')}: {item.owner or '-'}"
            + (f" · {t('detail.department')}: {neutralise(item.department)}"
               if item.department else ""),
        ]
        zone = self.backend.policy.quiet.zone
        clocks = []
        if item.due_at:
            clocks.append(f"{t('detail.due')} {item.due_at.astimezone(zone):%m-%d %H:%M}"
                          + (f" ({left}, {state})" if left else ""))
        if item.promised_at:
            promised = format_left((item.promised_at - now).total_seconds())
            clocks.append(f"{t('detail.promised')} "
                          f"{item.promised_at.astimezone(zone):%m-%d %H:%M} ({promised})")
        if clocks:
            lines.append(" · ".join(clocks))
        self.query_one("#head", Static).update("\n".join(lines))

    def _customer_text(self, item: Item, customer: Customer | None) -> str:
        if customer is None:
            return t("detail.no_customer")
        badges = " · ".join(t(f"badge.{b}") for b in customer.badges())
        phone, email = customer.phone, customer.email
        if self.contact is not None:
            phone, email = self.contact
        lines = [f"{t('detail.customer')}: {neutralise(customer.name)} · "
                 f"{t('detail.tier')} {customer.tier}"
                 + (f" · {badges}" if badges else ""),
                 f"{neutralise(phone or '-')} · {neutralise(email or '-')}"]
        if customer.special_care:
            lines.append(t("detail.special_care"))
        others = [r for r in self.backend.queue.open_items_of(customer.id) if r.id != item.id]
        if others:
            lines.append(t("detail.other_items") + ": " + ", ".join(
                f"#{r.id} {t(f'kind.{r.kind}')} {fit(r.subject, 24).rstrip()}"
                for r in others[:4]))  # cut at 24 cells, not 24 characters
        return "\n".join(lines)

    def _timeline_text(self, item: Item) -> str:
        zone = self.backend.policy.quiet.zone
        out = [t("detail.timeline")]
        for entry in item.timeline:
            what = t(f"entry.{entry.type}")  # the handbooks' words, not the wire's
            if entry.type == "transition":
                src, dst = str(entry.data.get("from")), str(entry.data.get("to"))
                what = f"{_status(src)} → {_status(dst)}"
            elif entry.type == "note":
                what = f"{what} ({t('detail.internal')})"
            elif entry.type in ("assign", "escalate"):
                what = f"{what} → {neutralise(str(entry.data.get('to')))}"
            elif entry.type == "route":
                what = f"{what} → {neutralise(str(entry.data.get('department')))}"
            mark = f"  [{t('detail.pending')}]" if entry.seq == 0 else ""
            out.append(f"{entry.at.astimezone(zone):%m-%d %H:%M} "
                       f"{neutralise(entry.actor_name or entry.actor)}: {what}{mark}")
            if entry.body:
                body = neutralise(entry.body, multiline=True)
                out.extend("    " + line for line in body.splitlines() or [""])
        return "\n".join(out)

    def _draw_presence(self) -> None:
        who = self.backend.presence_on(self.item_id)
        box = self.query_one("#presence", Static)
        box.update(" · ".join(who))
        box.set_class(bool(who), "-shown")

    def show_presence(self) -> None:
        self._draw_presence()

    @on(ContactRevealed)
    def _revealed(self, message: ContactRevealed) -> None:
        item = self.item
        if item is None or item.customer_id != message.customer_id:
            return  # the agent moved on to another item before the reveal came back
        self.contact = (message.phone, message.email)
        self.refresh_item()

    # -- actions -------------------------------------------------------------------------

    def action_back(self) -> None:
        self.app.pop_screen()

    def _form(self, title: str, action: str, fields: list[FormField], *,
              intro: str = "") -> None:
        def done(payload: dict[str, Any] | None) -> None:
            if payload:
                self.backend.request_action(self.item_id, payload)
            self.backend.request_presence(self.item_id, "viewing")

        if action in ("reply", "note", "complete_callback"):
            self.backend.request_presence(self.item_id, "composing")
        self.app.push_screen(ActionForm(
            title, fields, intro=intro, base={"action": action},
            validate=lambda p: self.backend.explain(self.item_id, p),
            now=self.backend.now, zone=self.backend.policy.quiet.tz), done)

    def action_claim(self) -> None:
        self.backend.request_action(self.item_id, {"action": "claim"})

    def action_reply(self, text: str = "") -> None:
        self._form(t("modal.reply.title"), "reply",
                   [FormField("body", "field.body", "long", default=text)])

    def action_template_reply(self) -> None:
        from csq.config import config_dir
        from csq.screens.templates import fill, load_templates

        item, templates = self.item, load_templates(config_dir())
        if item is None:
            return
        customer = self.backend.customer(item.customer_id)

        def chosen(payload: dict[str, Any] | None) -> None:
            if payload and payload.get("template") in templates:
                promised = item.promised_at.astimezone(self.backend.policy.quiet.zone) \
                    .strftime("%m-%d %H:%M") if item.promised_at else "—"
                self.action_reply(fill(templates[payload["template"]],
                                       customer=customer.name if customer else "",
                                       id=str(item.id), agent=self.backend.actor.name,
                                       promised=promised))

        self.app.push_screen(ActionForm(
            t("modal.reply.title"),
            [FormField("template", "field.body", "choice",
                       tuple((name, name) for name in templates))],
            now=self.backend.now, zone=self.backend.policy.quiet.tz), chosen)

    def action_editor_reply(self) -> None:
        """Long replies in $EDITOR: the app suspends and resumes around it."""
        editor = os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
        with tempfile.NamedTemporaryFile("w+", suffix=".txt", delete=False) as handle:
            path = handle.name
        try:
            with self.app.suspend():
                subprocess.run([*shlex.split(editor), path], check=False)
            with open(path, encoding="utf-8") as handle:
                text = handle.read().strip()
        except (OSError, ValueError) as exc:
            self.notify(f"{editor}: {exc}", severity="error")
            return
        finally:
            os.unlink(path)
        if text:
            self.action_reply(text)

    def action_note(self) -> None:
        self._form(t("modal.note.title"), "note", [FormField("body", "field.body", "long")])

    def action_transition(self) -> None:
        item = self.item
        if item is None:
            return
        choices = tuple((_status(s), s)
                        for s in sorted(offered_transitions(item, self.backend.actor)))
        self._form(t("modal.transition.title"), "transition",
                   [FormField("to", "field.status", "choice", choices),
                    FormField("reason", "field.reason", required=False)])

    def action_assign(self) -> None:
        """Agents least loaded first, the balanced choice preselected (按照负责客户数量均衡)."""
        from csq.screens.allocation import open_assign_form

        open_assign_form(self, [self.item_id])

    def action_route(self) -> None:
        self._form(t("modal.route.title"), "route",
                   [FormField("department", "field.department"),
                    FormField("due_at", "field.due_at", "time", default="+48h")])

    def action_escalate(self) -> None:
        self._form(t("modal.escalate.title"), "escalate",
                   [FormField("to", "field.to", default="值班主任"),
                    FormField("reason", "field.reason", "long")])

    def action_promise(self) -> None:
        self._form(t("modal.promise.title"), "promise",
                   [FormField("at", "field.at", "time", default="+2h")])

    def action_schedule(self) -> None:
        quiet = self.backend.policy.quiet
        self._form(t("modal.schedule.title"), "schedule_callback",
                   [FormField("at", "field.at", "time", default="+1d"),
                    FormField("customer_agreed", "field.customer_agreed", "bool",
                              required=False),
                    FormField("note", "field.body", required=False)],
                   intro=f"quiet window {quiet.start:%H:%M}–{quiet.end:%H:%M}: "
                         "no calls unless the customer chose the time")

    def _script(self) -> str:
        item = self.item
        customer = self.backend.customer(item.customer_id) if item else None
        script = t("script.opening", agent=self.backend.actor.name,
                   customer=neutralise(customer.name)[:1] if customer else "")
        if customer and customer.special_care:
            script += f"\n({t('detail.special_care')})"
        return script

    def action_complete(self) -> None:
        self._form(t("modal.complete.title"), "complete_callback",
                   [FormField("outcome", "field.outcome", "choice",
                              (("satisfied 满意", "satisfied"),
                               ("unsatisfied 不满意", "unsatisfied"))),
                    FormField("satisfaction", "field.satisfaction", "choice", SATISFACTION,
                              number=True),
                    FormField("notes", "field.notes", "long")], intro=self._script())

    def action_attempt(self) -> None:
        self._form(t("modal.attempt.title"), "attempt_callback",
                   [FormField("note", "field.body", required=False)], intro=self._script())

    def action_waive(self) -> None:
        self._form(t("modal.waive.title"), "waive_callback",
                   [FormField("reason", "field.reason", "long")])

    def action_tag(self) -> None:
        self._form(t("modal.tag.title"), "tag",
                   [FormField("add", "field.add", "list", required=False),
                    FormField("remove", "field.remove", "list", required=False)])

    def action_reveal(self) -> None:
        item = self.item
        if item is not None:
            self.backend.request_reveal(item.customer_id, item.id)

    def action_copy_id(self) -> None:
        self.app.copy_to_clipboard(str(self.item_id))
        self.notify(t("toast.copied", text=f"#{self.item_id}"))
