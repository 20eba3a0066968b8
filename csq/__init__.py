"""csq: a customer-service queue for the terminal (tickets, complaints, callbacks)."""

__version__ = "0.1.0"
