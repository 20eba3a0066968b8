"""The bottom line of every screen: the keys that work here, and what they do.

What Textual's Footer shows, drawn as one widget. The Footer recomposes one
FooterKey widget per binding whenever the focus or the screen changes, and
styling those ~20 widgets was most of the time it took to open an item or go
back to the queue (docs/benchmarks.md, issue 5). This renders one line of text.
The keys come from `screen.active_bindings`, so whatever `check_action` hides
(the read-only gate, csq/screens/gate.py) is not offered here either.
"""

from __future__ import annotations

from rich.style import Style
from rich.text import Text
from textual.screen import Screen
from textual.widget import Widget


class KeyBar(Widget, can_focus=False):
    COMPONENT_CLASSES = {"key-bar--key", "key-bar--description"}
    DEFAULT_CSS = """
    KeyBar {
        dock: bottom;
        height: 1;
        color: $footer-foreground;
        background: $footer-background;
        text-wrap: nowrap;
        text-overflow: clip;
    }
    KeyBar > .key-bar--key {
        color: $footer-key-foreground;
        background: $footer-key-background;
        text-style: bold;
    }
    KeyBar > .key-bar--description {
        color: $footer-description-foreground;
        background: $footer-description-background;
    }
    """

    def __init__(self) -> None:
        super().__init__()
        self._shown: tuple[tuple[str, str, bool], ...] | None = None

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def _bindings_changed(self, screen: Screen[object]) -> None:
        """Textual signals after every focus change and binding check, mostly with
        the same keys as before: repainting them anyway wrote the same line again
        (~500 bytes) a moment after each return to the queue."""
        if screen is self.screen and self._keys() != self._shown:
            self.refresh()

    def _keys(self) -> tuple[tuple[str, str, bool], ...]:
        """(key, description, enabled) per action, in the screen's order."""
        keys: list[tuple[str, str, bool]] = []
        seen: set[str] = set()
        for _node, binding, enabled, _tooltip in self.screen.active_bindings.values():
            if not binding.show or binding.action in seen:
                continue  # one entry per action, as the Footer groups them
            seen.add(binding.action)
            keys.append((self.app.get_key_display(binding), binding.description, enabled))
        return tuple(keys)

    def render(self) -> Text:
        key_style = self.get_component_rich_style("key-bar--key")
        text_style = self.get_component_rich_style("key-bar--description")
        line = Text(no_wrap=True, overflow="crop")
        self._shown = self._keys()
        for key, description, enabled in self._shown:
            dim = Style() if enabled else Style(dim=True)  # disabled here: shown, dimmed
            line.append(f" {key} ", key_style + dim)
            line.append(f"{description} ", text_style + dim)
        return line
