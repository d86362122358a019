"""The directory import's steps that decide, through every combination of their facts, against
the pure core their tables are generated from (gateway/directory_rules.py): the first pass
(lua/directory_check.lua: new, unchanged or remap) and the second (lua/directory_write.lua:
whether a row is written, and how a remap is told and counted).

As in test_rules_exhaustive.py, each case is built in the real Redis of a running gateway with
the store's keys directly, the real script is run through its store (DirectoryStore), and both
the outcome and what the step wrote (the entry, the review that holds the subject, the event)
are compared with the core. The `*_is_safe` check says, without the core, what no change to it
may do: a remap is never written without --allow-remap and a review opened for it (issue 11,
item 2), nor over a store that changed since the first pass.

Facts the script cannot meet are not built: a new or unchanged row names no old person, so
`same_person` is only ever true of a remap.
"""

from __future__ import annotations

import itertools

from gateway import directory_rules
from gateway.directory_rules import Expected, FlagStatus
from gateway.store.directory import BatchChanged, DirectoryStore, WriteRow
from gateway.store.rules_lua import RULES
from tests.conftest import Running

BOOLS = (False, True)
ACTOR = "rules-directory"


# -- the rules' safety, said without the core -----------------------------------------------------
def test_no_table_writes_a_remap_unless_every_fact_allows_it_is_safe() -> None:
    for key, out in RULES["dir_write"].table().items():
        expected, as_found, allowed, review, same = key.split(":")
        if as_found == "0":
            assert out == "changed", key  # nothing over a store the first pass did not see
        elif expected == "remap":
            ok = (allowed, review, same) == ("1", "1", "0")
            assert out == ("remap" if ok else "remap_refused"), key
        else:
            assert out == expected, key  # a new or unchanged row is never written as a remap
    for key, out in RULES["dir_remap"].table().items():
        old, new = key.split(":")
        told, counted = out.split(":")
        assert (told == "stop") is ("now" in (old, new)), key  # the holders of a flag told
        assert (counted == "protected") is (key != "never:never"), key
    for key, out in RULES["dir_row"].table().items():
        mapped, same = key.split(":")
        assert out == ("n" if mapped == "0" else "u" if same == "1" else "r"), key


async def _flag(running: Running, person: str, status: FlagStatus) -> None:
    r, k = running.gw.redis.client, running.gw.redis.keys
    if status is FlagStatus.NOW:
        await r.hset(k.flag(person), mapping={"ard": "1", "nd": "0", "version": "1"})
    elif status is FlagStatus.BEFORE:  # released: the record and its version stay
        await r.hset(k.flag(person), mapping={"ard": "0", "nd": "0", "version": "2"})


# -- lua/directory_check.lua -----------------------------------------------------------------------
async def test_the_first_pass_sorts_rows_as_the_core_says(running: Running) -> None:
    gw = running.gw
    store, r, k = DirectoryStore(gw.redis, gw.keyring), gw.redis.client, gw.redis.keys
    token = await store.lock("imp-check", ACTOR, 1)
    flags = itertools.product(FlagStatus, FlagStatus)
    cases = [
        (False, False, FlagStatus.NEVER, FlagStatus.NEVER),
        (True, True, *(FlagStatus.NOW,) * 2),
    ]
    cases += [(True, False, old, new) for old, new in flags]
    try:
        for n, (mapped, same, old_flag, new_flag) in enumerate(cases):
            sk, ak, old = f"sk-check-{n}", f"ak-check-{n}", f"old-check-{n}"
            if mapped:
                await r.set(k.directory(sk), f"{ak if same else old}|mac")
            await _flag(running, old, old_flag)
            await _flag(running, ak, new_flag)
            checked = await store.check(token, [(sk, ak)])
            want = directory_rules.row_status(mapped, same)
            case = (mapped, same, old_flag, new_flag)
            assert checked.statuses == want, case
            if want == "r":
                remap = checked.remaps[0]
                assert (remap.old_person, remap.new_person) == (old, ak), case
                assert (remap.old_flag, remap.new_flag) == (old_flag, new_flag), case
                assert remap.protected is directory_rules.remap_protected(old_flag, new_flag)
                assert remap.flagged_now is directory_rules.remap_told(old_flag, new_flag)
            else:
                assert checked.remaps == [], case
    finally:
        await store.unlock(token)


# -- lua/directory_write.lua -----------------------------------------------------------------------
def _write_cases() -> list[tuple[Expected, bool, bool, bool, bool, FlagStatus, FlagStatus]]:
    never = FlagStatus.NEVER
    cases = []
    for expected, as_found, allowed, review, same in itertools.product(
        Expected, BOOLS, BOOLS, BOOLS, BOOLS
    ):
        if same and expected is not Expected.REMAP:
            continue  # a new or unchanged row names no old person
        flags = itertools.product(FlagStatus, FlagStatus)
        for old_flag, new_flag in flags if expected is Expected.REMAP else [(never, never)]:
            cases.append((expected, as_found, allowed, review, same, old_flag, new_flag))
    return cases


async def test_the_second_pass_writes_as_the_core_says(running: Running) -> None:
    gw = running.gw
    store, r, k = DirectoryStore(gw.redis, gw.keyring), gw.redis.client, gw.redis.keys
    token = await store.lock("imp-write", ACTOR, 1)
    told: dict[str, bool] = {}  # subject -> whether its remap was to be told as a stop
    try:
        for n, case in enumerate(_write_cases()):
            expected, as_found, allowed, review, same, old_flag, new_flag = case
            sk, ak, old = f"sk-write-{n}", f"ak-write-{n}", f"old-write-{n}"
            old = ak if same else old
            found = {  # what the store holds, as the first pass found it or not
                Expected.NEW: None if as_found else f"{old}|mac",
                Expected.UNCHANGED: f"{ak}|mac" if as_found else f"{old}|mac",
                Expected.REMAP: f"{old}|mac" if as_found else f"else-{n}|mac",
            }[expected]
            if found:
                await r.set(k.directory(sk), found)
            await _flag(running, old, old_flag)
            if not same:
                await _flag(running, ak, new_flag)
            else:
                new_flag = old_flag  # one person: the script reads the same flags for both
            review_id = f"rv-write-{n}" if review else ""
            mark = {Expected.NEW: "", Expected.UNCHANGED: "="}.get(expected, old)
            row = WriteRow(sk, ak, mark, n + 1, review_id)
            want = directory_rules.row_write(expected, as_found, allowed, review, same)
            try:
                written = await store.write(token, "imp-write", ACTOR, allowed, [row])
                got = ("new", "unchanged", "remap")[
                    [written.new, written.unchanged, written.remapped].index(1)
                ]
            except BatchChanged as refused:
                assert refused.line == n + 1, case
                got = "changed" if "changed" in refused.why else "remap_refused"
                written = None
            assert got == want, case
            entry = await r.get(k.directory(sk))
            if want in ("new", "unchanged", "remap"):
                assert entry is not None and entry.split("|")[0] == ak, case
            else:
                assert entry == found, case  # nothing of a refused batch is written
            opened = await r.hgetall(k.quarantine(review_id)) if review_id else {}
            holds = await r.hgetall(k.quarantined("subject", sk))
            if want == "remap":
                assert written is not None
                notice = directory_rules.remap_notice(old_flag, new_flag)
                assert written.protected == (notice.endswith(":protected")), case
                assert opened["state"] == "open" and opened["key"] == sk, case
                assert (opened["old_flag"], opened["new_flag"]) == (old_flag, new_flag), case
                assert holds == {review_id: "subject_remapped"}, case  # the subject held
                told[sk] = notice.startswith("stop:")
            else:
                assert (opened, holds) == ({}, {}), case  # no review opened for a row not moved
                assert written is None or written.protected == 0, case
    finally:
        await store.unlock(token)
    assert told and any(told.values()) and not all(told.values())
    seen: dict[str, bool] = {}
    async for ev in gw.events.iterate():
        e = ev.as_json()
        if e["kind"] == "directory.remapped":
            seen[str(e["subject"])] = "holders" in e  # a stop names the holding departments
    assert seen == told
