"""Screens: read state, post intents. Never import csq.store, csq.sync or httpx."""
