"""The one read-only gate: every screen asks the app, the app asks the
domain's permission table. A supervisor's mutating bindings all vanish
together, from the key bar, the help screen and the command palette."""

from __future__ import annotations

from typing import cast

from textual.screen import Screen

from csq.i18n import relabel
from csq.screens.backend import Backend

# Binding action -> domain verb. Anything not here changes nothing.
MUTATING: dict[str, str] = {
    "claim": "claim", "reply": "reply", "note": "note", "transition": "transition",
    "assign": "assign", "route": "route", "escalate": "escalate", "promise": "promise",
    "schedule": "schedule_callback", "complete": "complete_callback",
    "waive": "waive_callback", "attempt": "attempt_callback", "tag": "tag",
    "editor_reply": "reply", "new_item": "create_item", "reveal": "reveal",
    "conflicts": "claim", "bulk_claim": "claim", "bulk_assign": "assign", "bulk_tag": "tag",
    # The lead's work (csq.screens.handover, .quality, .allocation).
    "hand_over": "handover", "acknowledge": "acknowledge_handover", "verdict": "note",
    "withdraw": "transition",
}


# Actions whose keys still work while a text field has focus.
TYPING_SAFE = frozenset({"clear_filter", "filter_terms", "back", "help", "quit",
                         "command_palette"})


def typing(screen: Screen[None]) -> bool:
    """Is the user writing text (the filter box, a form field)?"""
    from textual.widgets import Input, TextArea

    return isinstance(screen.focused, Input | TextArea)


class GatedScreen(Screen[None]):
    """Screen keys are priority bindings: they run as the key arrives, so in a
    burst of keys (a fast typist, a laggy SSH link) `/` moves focus before the
    next key is routed. While the user is typing, they step aside."""

    def __init__(self) -> None:
        super().__init__()
        relabel(self)  # key labels in the app's language, whenever this module was imported

    @property
    def backend(self) -> Backend:
        return cast(Backend, self.app)

    def verb_target(self) -> object:
        """The item the verb would act on (None: decided by role alone)."""
        return None

    def _compositor_refresh(self) -> None:
        """Under another screen, Textual answers any change here with a repaint of
        the whole top screen, in case this one shows through it. Under an opaque
        screen nothing of it can: that was a second, identical full frame after
        every open and back (~4 KB more down an SSH link). This screen is repainted
        whole when it is on top again (Screen._on_screen_resume)."""
        top = self.app.screen
        if top is not self and top.styles.background.a == 1 and not self.app.is_inline:
            self._compositor._dirty_regions.clear()
            self._dirty_widgets.clear()
            return
        super()._compositor_refresh()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action not in TYPING_SAFE and typing(self):
            return False
        verb = MUTATING.get(action)
        if verb is None:
            return True
        item = self.verb_target()
        return self.backend.allows(verb, item)  # type: ignore[arg-type]
