"""Widgets: render state, post what happened. Never call httpx or TinyDB."""
