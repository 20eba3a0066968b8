"""One small modal for every action: fields from a spec, validated by the
domain's own rules before it closes, so an agent fixes a mistake in place
instead of learning of it from a refused op minutes later."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label, Select, Static, TextArea

from csq.domain.when import TimeInputError, parse_when
from csq.i18n import relabel, t

FieldKind = Literal["text", "long", "choice", "time", "int", "bool", "list"]


@dataclass(frozen=True)
class FormField:
    name: str
    label: str  # i18n key
    kind: FieldKind = "text"
    choices: tuple[tuple[str, str], ...] = ()  # (label, value)
    required: bool = True
    default: str = ""
    number: bool = False  # a choice whose values are whole numbers


Validator = Callable[[dict[str, Any]], str | None]


class ActionForm(ModalScreen[dict[str, Any] | None]):
    DEFAULT_CSS = """
    ActionForm { align: center middle; }
    ActionForm > Vertical { width: 76; max-width: 100%; height: auto; max-height: 100%;
        border: round $accent; background: $surface; padding: 0 1; }
    ActionForm #form-fields { height: auto; }
    ActionForm .title { text-style: bold; margin-bottom: 1; }
    ActionForm .intro { color: $text-muted; margin-bottom: 1; }
    ActionForm .error { color: ansi_bright_red; height: auto; }
    ActionForm Label { margin-top: 0; }
    ActionForm TextArea { height: 8; }
    ActionForm Input, ActionForm Select { margin-bottom: 0; }
    ActionForm Horizontal { height: auto; margin-top: 1; }
    """
    BINDINGS = [
        Binding("escape", "cancel", t("modal.cancel"), id="form_cancel"),
        Binding("ctrl+s", "save", t("modal.save"), id="form_save", priority=True),
    ]

    def __init__(self, title: str, fields: list[FormField], *, intro: str = "",
                 base: dict[str, Any] | None = None, validate: Validator | None = None,
                 now: Callable[[], datetime], zone: str) -> None:
        super().__init__()
        relabel(self)
        self.form_title = title
        self.fields = fields
        self.intro = intro
        self.base = base or {}
        self.validate = validate
        self.now = now
        self.zone = zone

    def compose(self) -> ComposeResult:
        with Vertical(id="form-box"):
            yield Static(self.form_title, classes="title", markup=False)
            # The fields scroll; the title, the error and the buttons stay in view at 80x24.
            with VerticalScroll(id="form-fields", can_focus=False):
                if self.intro:
                    yield Static(self.intro, classes="intro", markup=False)
                for f in self.fields:
                    hint = f" ({t('time.hint')})" if f.kind == "time" else ""
                    if f.kind != "bool":
                        yield Label(t(f.label) + hint + (" *" if f.required else ""))
                    yield self._widget(f)
            yield Static("", classes="error", id="form-error", markup=False)
            with Horizontal():
                yield Button(t("modal.save") + " (ctrl+s)", variant="primary", id="save")
                yield Button(t("modal.cancel") + " (esc)", id="cancel")

    def _widget(self, f: FormField) -> Any:
        wid = f"field-{f.name}"
        if f.kind == "long":
            return TextArea(f.default, id=wid, soft_wrap=True)
        if f.kind == "choice":
            first = f.choices[0][1] if f.choices and f.required else Select.NULL
            value = f.default or first  # an optional choice starts empty
            return Select(f.choices, value=value, id=wid, allow_blank=not f.required)
        if f.kind == "bool":
            return Checkbox(t(f.label), value=f.default == "true", id=wid)
        return Input(f.default, id=wid)

    def on_resize(self) -> None:
        self.call_after_refresh(self._fit)

    def _fit(self) -> None:
        """Give the fields what the screen has left after the rest of the form."""
        box, fields = self.query_one("#form-box"), self.query_one("#form-fields")
        used = sum(w.outer_size.height + w.styles.margin.top + w.styles.margin.bottom
                   for w in box.children if w is not fields and w.display)
        room = self.size.height - box.styles.border.spacing.height - used
        fields.styles.max_height = max(3, room)

    def _show_error(self, text: str) -> None:
        self.query_one("#form-error", Static).update(text)
        self.call_after_refresh(self._fit)

    def on_key(self, event: events.Key) -> None:
        """Keys typed before this form was mounted were routed to the screen,
        not a field (a burst over SSH: `n` then the note). Keep them."""
        if not event.is_printable or event.character is None:
            return
        target = self.focused
        if not isinstance(target, Input | TextArea):
            if target is not None and event.key == "space":
                return  # a checkbox's toggle, a choice's or a button's: not text
            fields = list(self.query("Input, TextArea"))
            if not fields:
                return
            target = fields[0]
            if isinstance(target, Input):
                # Focusing selects all, and the next key would replace what this
                # one types: the field is being typed into, so keep its text.
                target.select_on_focus = False
            self.set_focus(target)
        if isinstance(target, Input):
            target.insert_text_at_cursor(event.character)
        elif isinstance(target, TextArea):
            target.insert(event.character)
        event.stop()
        event.prevent_default()

    def on_input_submitted(self) -> None:
        self.action_save()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "save":
            self.action_save()
        else:
            self.action_cancel()

    def action_cancel(self) -> None:
        self.dismiss(None)

    def _value(self, f: FormField) -> Any:
        widget = self.query_one(f"#field-{f.name}")
        if isinstance(widget, TextArea):
            raw: Any = widget.text
        elif isinstance(widget, Select):
            raw = None if widget.value is Select.NULL else widget.value
        elif isinstance(widget, Checkbox):
            return widget.value
        else:
            raw = widget.value if isinstance(widget, Input) else ""
        if isinstance(raw, str):
            raw = raw.strip()
        if raw in ("", None):
            if f.required:
                raise ValueError(f"{t(f.label)}: {t('modal.required')}")
            return None
        if f.kind == "time":
            try:
                return parse_when(str(raw), self.now(), self.zone).isoformat()
            except TimeInputError as exc:
                raise ValueError(f"{t(f.label)}: {exc}") from None
        if f.kind == "int":
            if not str(raw).isdigit():
                raise ValueError(f"{t(f.label)}: a whole number")
            return int(raw)
        if f.number:
            return int(raw)
        if f.kind == "list":
            return [v for v in str(raw).replace(",", " ").split() if v]
        return raw

    def action_save(self) -> None:
        """Save once the focused field has taken every key typed before ctrl+s.

        ctrl+s is a priority binding, run the moment the app reads it, while the
        keys typed just before it (a burst over SSH: `hello` then ctrl+s) may still
        wait in the focused field's queue. A callback on that queue runs after them.
        """
        (self.focused or self).call_later(self._save)

    def _save(self) -> None:
        if not self.is_current:
            return  # ctrl+s twice in a burst: the first one already saved
        payload = dict(self.base)
        try:
            for f in self.fields:
                value = self._value(f)
                if value is not None:
                    payload[f.name] = value
        except ValueError as exc:
            self._show_error(str(exc))
            return
        problem = self.validate(payload) if self.validate else None
        if problem:
            self._show_error(problem)
            return
        self.dismiss(payload)
