"""Pages of an index by time (a sorted set of ids by ms), with the total and the position, read in
one step (lua/index_page.lua), and the hashes of the page's ids: the held queries' list (oldest
first) and a department's attempts (newest first) page the same way. A list is all of it, or says
how much is left: never a silent cap.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from gateway.errors import BadCursor as BadCursor
from gateway.model import MAX_PAGE
from gateway.store.redis import Redis
from gateway.store.replies import PageReply

CURSOR = re.compile(r"^[0-9]{1,16}\.[0-9a-f]{1,40}$")


@dataclass(frozen=True, slots=True)
class IndexPage:
    """The hashes of one page's ids (those still there), `start` items before it, `total` in the
    index; `next` is the cursor of the following page, None on the last."""

    rows: list[dict[str, str]]
    total: int
    start: int
    next: str | None


async def index_page(
    redis: Redis,
    index: str,
    hash_key: Callable[[str], str],
    after: str,
    limit: int,
    *,
    newest_first: bool = False,
) -> IndexPage:
    """One page of `index` after the cursor `after` (a page's `next`, '' for the first), with the
    hash `hash_key(id)` of each id on it."""
    if not 1 <= limit <= MAX_PAGE:
        raise BadCursor(f"a page holds 1 to {MAX_PAGE} items")
    if after and not CURSOR.match(after):
        raise BadCursor("not a cursor of this list")
    at, _, last_id = after.partition(".")
    res = await redis.script(
        "index_page",
        [index],
        [at, last_id, limit, "newest" if newest_first else "oldest"],
        acknowledged=False,
    )
    reply = PageReply.from_reply(res)
    total, start, flat = reply.number("total"), reply.number("start"), reply.rows("rows")
    ids, scores = flat[0::2], flat[1::2]
    more = len(ids) > limit
    ids, scores = ids[:limit], scores[:limit]
    rows: list[dict[str, str]] = []
    if ids:
        pipe = redis.client.pipeline(transaction=False)
        for item_id in ids:
            pipe.hgetall(hash_key(item_id))
        rows = await redis.call(pipe.execute())
    nxt = f"{int(float(scores[-1]))}.{ids[-1]}" if more else None
    return IndexPage([row for row in rows if row], total, start, nxt)
