"""Nothing is silently cut short: every list shows all, or a page with the total and a way to the
next page. Tested with more held queries than the old cap of 1,000 (found with 2,064), made fast
through the real store, on the command line, the console and the API; and the auditors' events
past their old page of 500 and export cap."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import re
import time
from urllib.parse import unquote

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.model import SubmitQuery
from tests.conftest import Running
from tests.staffkit import Staff, StaffClient
from tests.support import AFFAIR, REQUESTER, cli_runner

MANY = 2_100


def unknown_subject(pn: str) -> SubmitQuery:
    """A query about a subject code the directory does not know."""
    return SubmitQuery(
        pn,
        REQUESTER,
        AFFAIR,
        "JT00000000000001",
        "TM00000000000001",
        "NOBODY0000000001",
        "2026-11-26T10:00:00+09:00",
    )


async def make_held(running: Running, count: int, prefix: str = "M") -> list[str]:
    """`count` queries about a subject the directory does not know, held for staff the way the
    gateway holds them (admit, then hold), many at a time; their ids, oldest first."""
    gw = running.gw
    keys = gw.keyring.person_keys("subject", "NOBODY0000000001")

    async def one(i: int) -> str:
        admission = await gw.queries.admit(unknown_subject(f"{prefix}-{i:05d}"), keys)
        assert admission.query_id is not None
        await gw.queries.hold(admission.query_id, "subject_unknown")
        return admission.query_id

    ids: list[str] = []
    for start in range(0, count, 300):
        ids += await asyncio.gather(*(one(i) for i in range(start, min(count, start + 300))))
    return [h.id for h in await gw.queries.list_held(only_waiting=True)]


async def _console_rows(client: StaffClient, path: str, row: str, total: int) -> list[str]:
    """Every row (`row`'s group) of a console list, from `path` along its 次へ links to the end;
    each page says which of the `total` rows it shows ("全 N 件中 a〜b 件目")."""
    rows: list[str] = []
    at: str | None = path
    following = rf'href="({re.escape(path.split("?")[0])}\?[^"]+)" data-testid="next"'
    while at:
        status, html = await client.page(at)
        assert status == 200
        found = re.findall(row, html)
        assert f"全 {total} 件中 {len(rows) + 1}〜{len(rows) + len(found)} 件目" in html
        rows += found
        m = re.search(following, html)
        at = unquote(m.group(1)).replace("&amp;", "&") if m else None
    return rows


async def test_the_command_line_lists_every_held_query_or_pages_with_the_count(
    running: Running, redis_url: str
) -> None:
    ids = await make_held(running, MANY)
    assert len(ids) == MANY == len(set(ids))
    hogo = cli_runner(running.gw.settings.data_dir, redis_url)

    out = await asyncio.to_thread(hogo, "held", "list", "--json")
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)  # the contract's list of objects, every one of them
    assert [r["id"] for r in rows] == ids
    assert {"id", "requester_org_code", "processing_number", "item_code", "state", "held_at"} <= (
        rows[0].keys()
    )
    text = await asyncio.to_thread(hogo, "held", "list", "--waiting")
    assert len(text.stdout.splitlines()) == MANY

    # a page at a time: the position and the next page's cursor on stderr, until the last
    seen: list[str] = []
    after: list[str] = []
    while True:
        page = await asyncio.to_thread(
            hogo, "held", "list", "--waiting", "--json", "--limit", "1000", *after
        )
        assert page.returncode == 0, page.stderr
        seen += [r["id"] for r in json.loads(page.stdout)]
        first, last, total = map(int, re.search(r"rows (\d+)-(\d+) of (\d+)", page.stderr).groups())
        assert (first, last, total) == (
            len(seen) - len(json.loads(page.stdout)) + 1,
            len(seen),
            MANY,
        )
        m = re.search(r"next page: --after (\S+)", page.stderr)
        if m is None:
            assert "the last page" in page.stderr
            break
        after = ["--after", m.group(1)]
    assert seen == ids
    bad = await asyncio.to_thread(hogo, "held", "list", "--limit", "5000")
    assert bad.returncode == 2


async def test_the_api_and_the_console_page_through_every_held_query(
    running: Running, staff: Staff
) -> None:
    ids = await make_held(running, MANY)
    appr = await staff.client("approver")

    # the API: a total, a position and a next link to follow to the end
    got: list[str] = []
    url: str | None = "/api/v1/held?limit=500"
    while url:
        status, page = await appr.api("GET", url)
        assert status == 200 and page["total"] == MANY and page["start"] == len(got)
        assert page["count"] == len(page["items"])
        got += [it["id"] for it in page["items"]]
        url = page["next"]
    assert got == ids

    # the console: "全 2100 件中 1〜100 件目" and a 次へ link, to the end
    assert await _console_rows(appr, "/staff/queue", r'data-query="([0-9a-f]+)"', MANY) == ids
    status, out = await appr.api("GET", "/api/v1/held?after=nonsense")
    assert (status, out["error"]) == (400, "bad_page")


async def test_releasing_while_paging_skips_no_one(running: Running, staff: Staff) -> None:
    """A cursor, not an offset: items leaving the queue on earlier pages (approvers working)
    do not push later ones past the next page."""
    ids = await make_held(running, 250)
    appr = await staff.client("approver")
    status, first = await appr.api("GET", "/api/v1/held?limit=100")
    assert status == 200 and first["total"] == 250
    gone = [it["id"] for it in first["items"][:30]]
    for qid in gone:
        await running.gw.queue.refuse(qid, "重複照会", "staff:x")
    rest: list[str] = []
    url = first["next"]
    while url:
        _, page = await appr.api("GET", url)
        assert page["total"] == 250 - len(gone)
        rest += [it["id"] for it in page["items"]]
        url = page["next"]
    assert rest == ids[100:]


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    times=st.lists(st.integers(0, 6), min_size=0, max_size=40),
    limit=st.integers(1, 7),
    removals=st.lists(st.integers(0, 39), max_size=10),
)
async def test_a_page_cursor_gives_every_item_once_in_order(
    running: Running, times: list[int], limit: int, removals: list[int]
) -> None:
    """Whatever the held times (many equal: ties are in id order) and the page size, and
    whichever items leave between pages: every item that stays is given exactly once, in
    order, and each page says the total and where it starts. Against the real store."""
    r, k = running.gw.redis.client, running.gw.redis.keys
    await r.delete(k.held)
    ids = [f"{i:020x}" for i in range(len(times))]
    for qid, t in zip(ids, times, strict=True):
        await r.hset(k.query(qid), mapping={"id": qid, "state": "held", "held_at": str(t)})
        await r.zadd(k.held, {qid: 1_700_000_000_000 + t})
    order = sorted(ids, key=lambda q: (times[ids.index(q)], q))
    left = set(ids)
    given_ids: list[str] = []
    after = ""
    removal = iter(removals)
    while True:
        page = await running.gw.queries.held_page(only_waiting=True, after=after, limit=limit)
        assert page.total == len(left)
        given_ids += [h.id for h in page.items]
        if page.next is None:
            break
        after = page.next
        # someone releases an item (maybe one already shown, maybe one still to come)
        victim = next(removal, None)
        if victim is not None and victim < len(ids) and ids[victim] in left:
            left.discard(ids[victim])
            await r.zrem(k.held, ids[victim])
    stayed = [q for q in order if q in left]
    assert len(given_ids) == len(set(given_ids))  # none twice
    assert [q for q in given_ids if q in left] == stayed  # every one that stayed, in order


# -- the auditors' events --------------------------------------------------------------------------
async def test_events_page_with_the_total_and_a_next_link_and_export_has_them_all(
    running: Running, staff: Staff
) -> None:
    count = 1_200
    pipe = running.gw.redis.client.pipeline(transaction=False)
    from gateway.store.events import event_fields

    for i in range(count):
        pipe.xadd(
            running.gw.redis.keys.events,
            event_fields(
                "security.hostile_input", "peer:192.0.2.1", {"n": str(i)}, running.gw.clock
            ),
        )
    await pipe.execute()
    aud = await staff.client("auditor")

    got: list[str] = []
    url: str | None = "/api/v1/events?kind=security.hostile_input"
    while url:
        status, page = await aud.api("GET", url)
        assert status == 200, page
        assert (page["total"], page["start"]) == (count, len(got))
        got += [e["n"] for e in page["events"]]
        url = page["next"]
    assert got == [str(i) for i in reversed(range(count))]  # newest first, each once

    path = "/staff/audit?kind=security.hostile_input"
    rows = await _console_rows(aud, path, r'data-event="([0-9-]+)"', count)
    assert len(rows) == count == len(set(rows))

    status, _, body = await aud.request(
        "GET", "/staff/audit/export.csv?kind=security.hostile_input"
    )
    assert status == 200
    exported = list(csv.DictReader(io.StringIO(body.lstrip("\ufeff"))))
    assert len(exported) == count
    [event] = await running.events("audit.exported")
    assert (event["rows"], event["complete"]) == (str(count), "1")


async def test_the_csv_export_has_every_event_past_the_old_cap(
    running: Running, staff: Staff
) -> None:
    """The export stopped at 100,000 rows without a word; it now streams every matching one."""
    from gateway.store.events import event_fields

    count = 100_050
    r = running.gw.redis.client
    for start in range(0, count, 10_000):
        pipe = r.pipeline(transaction=False)
        for i in range(start, min(count, start + 10_000)):
            pipe.xadd(
                running.gw.redis.keys.events,
                event_fields(
                    "security.hostile_input", "peer:192.0.2.1", {"n": str(i)}, running.gw.clock
                ),
            )
        await pipe.execute()
    aud = await staff.client("auditor")
    status, _, body = await aud.request(
        "GET", "/staff/audit/export.csv?kind=security.hostile_input"
    )
    assert status == 200
    lines = body.lstrip("\ufeff").splitlines()
    assert len(lines) == count + 1  # the header and every event
    # newest first (the details column: "n=…", beside what sealing adds)
    first, last = (next(csv.reader([line])) for line in (lines[1], lines[-1]))
    assert f"n={count - 1}" in first[12].split("; ") and "n=0" in last[12].split("; ")


# -- nothing interrupted is left behind --------------------------------------------------------
async def test_the_sweep_holds_every_interrupted_query_however_many(running: Running) -> None:
    """A kill -9 under load can leave more RECEIVED queries than one sweep step takes (500)."""
    gw = running.gw
    keys = gw.keyring.person_keys("subject", "NOBODY0000000001")

    async def admit(i: int) -> None:
        await gw.queries.admit(unknown_subject(f"S-{i}"), keys)

    for start in range(0, 1_250, 250):
        await asyncio.gather(*(admit(i) for i in range(start, start + 250)))
    assert await gw.redis.client.zcard(gw.redis.keys.inflight) == 1_250
    held = await gw.queries.sweep_interrupted(int(time.time() * 1000) + 60_000)
    assert held == 1_250
    assert await gw.redis.client.zcard(gw.redis.keys.inflight) == 0
    assert len(await gw.queries.list_held(only_waiting=True)) == 1_250
