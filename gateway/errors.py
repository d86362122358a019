"""The domain's errors, which the store raises and the edges (commands, pages, API handlers) tell
apart: defined here, outside gateway/store/, so that an edge can catch them without importing the
store (the store imports them from here)."""

from __future__ import annotations


class StoreUnavailable(Exception):
    """The flag store did not answer, or not in time."""


class QueryBusy(Exception):
    """Someone else is releasing this query right now."""


class FactsChanged(Exception):
    """The query's subject is no longer what the release was judged on (another person, or its
    flag changed): nothing was released; the approver must look again."""


class BadCursor(ValueError):
    """A page request the list cannot answer: a cursor it never gave, or a size out of range."""


class ImportBusy(Exception):
    """Another directory import holds the lock."""

    def __init__(self, import_id: str, actor: str, started_at: str) -> None:
        super().__init__(
            f"another directory import ({import_id}, by {actor}, since {started_at}) is running"
        )


class UnknownRequester(ValueError):
    """No requester is registered under that org code."""


class UserExists(Exception):
    """A staff login that is taken already."""


class NoSuchUser(Exception):
    """No staff user has that login."""


class AckRefused(Exception):
    """An acknowledgement the store refused: `code` unknown (not this department's) or already."""

    def __init__(self, code: str, by: str = "", at: str = "") -> None:
        super().__init__(code)
        self.code = code
        self.by = by
        self.at = at
