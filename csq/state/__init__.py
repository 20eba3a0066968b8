"""The in-memory queue: rows, order, filters, tabs. Pure: no I/O, no Textual.
Imports csq.domain only."""

from csq.state.filter import Filter, parse_filter
from csq.state.queue import QueueState, Tab
from csq.state.rows import CustomerInfo, QueueRow

__all__ = ["CustomerInfo", "Filter", "QueueRow", "QueueState", "Tab", "parse_filter"]
