"""csq serve: the service API, system of record for the queue.

Imports csq.domain and csq.api only; nothing of the client side.
"""
