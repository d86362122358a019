"""The check: each person's flag state as the signed trail and the flag histories give it, against
the state in the store that decisions read; and the directory's entries against their MACs.

A round (`Verifier.run`): carry the fold of the trail on to the sealed head (whole blocks whose
signature verifies, gateway/verify/trail.py); look at the store once per batch of persons, in one
atomic step with the events not sealed yet (lua/verify_snapshot.lua); compare (compare.py); and
sweep part of the store's keys (lua/verify_scan.lua), which finds directory entries without the
gateway's MAC and flag records no index names. Every person the trail, the index or the sweep
names is compared, not only those the index lists: a record deleted outright is found by the
trail. What differs opens a review (gateway/store/quarantine.py: every query about the person or
subject is held until staff confirm), once per key while it is open, with a security event; the
confirmation runs the same comparison for that key again (`recheck`) and is refused while it
still differs.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Mapping
from typing import Any

from gateway import metrics
from gateway.audit.archive import Archive
from gateway.audit.lease import Lease
from gateway.audit.report import Problem
from gateway.context import Gateway
from gateway.model import HoldReason
from gateway.store.quarantine import QuarantineStore
from gateway.store.verify import Behind, Snapshot, VerifyStore
from gateway.verify.checkpoint import Checkpoints
from gateway.verify.compare import Differences, person_differences, subject_differences
from gateway.verify.fold import (
    DIRECTORY_SEALED,
    STARTED,
    Finding,
    TrailFold,
    marker_mac_parts,
)
from gateway.verify.report import VerifyReport, chunks, keep
from gateway.verify.sweep import Sweep
from gateway.verify.trail import TrailGap, Verified, verified_blocks

log = logging.getLogger("hogo.verify")
ACTOR = "system:verify"
BATCH = 500  # persons (or subjects) per look at the store
MAX_WAITING = 20_000  # events not sealed yet read in one look; more: the sealer is behind


def _fields(obj: Mapping[str, Any]) -> dict[str, str]:
    """A sealed event's fields as the fold takes them (its subject among them)."""
    return {"subject": str(obj.get("subject") or ""), **obj.get("fields", {})}


class Verifier:
    """The check, with its fold kept between rounds (one process at a time runs it: tasks.py)."""

    def __init__(self, gw: Gateway) -> None:
        self.gw = gw
        self.store = VerifyStore(gw.redis)
        self.checkpoints = Checkpoints(self.store, gw.keyring, gw.settings.data_dir / "verify")
        self.archive = Archive(gw.settings.audit_dir)
        self.check = gw.keyring.check_tag
        self.check_entry = gw.keyring.tag_checker("directory-entry")
        self.fold: TrailFold | None = None
        self.saved: tuple[int, int] = (-1, -1)  # (seq, reported) of the fold last saved
        self.sweep = Sweep(self.store, self.check_entry, gw.settings.verify_sweep_keys)

    # -- the trail ----------------------------------------------------------------------------
    def _pubkeys(self) -> dict[int, Any]:
        return {v: k.public for v, k in self.gw.keyring.signing_keys().items()}

    async def _advance(
        self, upto_seq: int, report: VerifyReport, lease: Lease | None
    ) -> list[Finding]:
        """Fold the trail's verified blocks up to `upto_seq`; what is wrong with their events.
        A problem (a broken or unreadable trail) leaves the fold where the last good block put
        it, and is reported."""
        if self.fold is None:
            self.fold = await self.checkpoints.load(upto_seq) or TrailFold()
        fold = self.fold
        found: list[Finding] = []
        if fold.seq >= upto_seq or not report.trail_ok:
            return found  # (where it could not go on this round, it does not try again)
        blocks = verified_blocks(
            self.archive,
            self.gw.trail,
            self._pubkeys(),
            seq=fold.seq,
            hash=fold.hash,
            entry_id=fold.id,
            upto_seq=upto_seq,
        )
        try:
            async for item in blocks:
                if isinstance(item, Problem):
                    report.trail_ok = False
                    report.problem(
                        f"the trail does not verify at seq {item.seq} ({item.what}): folded up "
                        f"to seq {fold.seq}; run hogo-gateway audit verify"
                    )
                    break
                self._take(item, found)
                if lease is not None and not await lease.hold():
                    report.trail_ok = False
                    report.problem("the check lost its lease to another process")
                    break
                await asyncio.sleep(0)  # let queries run between blocks
        except TrailGap as exc:
            report.trail_ok = False
            report.problem(
                f"the trail cannot be folded here ({exc}): no saved fold reaches that far and "
                "this host has no archive of those events (docs/audit.md, several hosts)"
            )
        return found

    def _take(self, block: Verified, found: list[Finding]) -> None:
        assert self.fold is not None
        for obj in block.events:
            found += self.fold.apply(str(obj.get("kind")), _fields(obj), self.check)
        self.fold.seq, self.fold.hash, self.fold.id = block.seq, block.hash, block.id

    # -- a round ------------------------------------------------------------------------------
    async def run(
        self, *, whole_sweep: bool = False, act: bool = True, lease: Lease | None = None
    ) -> VerifyReport:
        """One round. `whole_sweep`: sweep every key now (the command line) instead of the next
        `verify_sweep_keys`. `act`: open reviews and record events for what differs."""
        report = VerifyReport()
        started = time.monotonic()
        head = (await self.gw.trail.head()).seq
        findings = await self._advance(head, report, lease)
        assert self.fold is not None
        fold = self.fold
        named = set(fold.persons) | set(await self.gw.flags.all_keys())
        await self.sweep.run(report, whole_sweep, named, fold.directory_sealed, lease)
        persons = sorted(named | self.sweep.found_in_store)
        for batch in chunks(persons, BATCH):
            await keep(lease)
            snap = await self._look(batch, [], report, findings, lease)
            if snap is not None:
                self._compare_persons(snap, report)
        subjects = sorted(set(fold.remaps) | set(self.sweep.owners))
        for batch in chunks(subjects, BATCH * 4) if subjects else [[]]:
            await keep(lease)
            look = await self._look([], batch, report, findings, lease)
            if look is None:
                continue
            # subjects remapped by events not sealed yet: looked at again, with them
            remapped = {
                ev.fields.get("subject", "")
                for ev in look[0].raw
                if ev.kind == "directory.remapped"
            } - set(subjects)
            if remapped:
                look = await self._look([], [*batch, *sorted(remapped)], report, findings, lease)
                subjects += sorted(remapped)
                if look is None:
                    continue
            self._compare_subjects(look, report)
        for f in findings:
            self._finding(report, f)
        report.folded_to = fold.seq
        report.checked_persons, report.checked_subjects = len(persons), len(subjects)
        report.unsealed = self.sweep.unsealed
        if act:
            await self._act(report)
        await self._save()
        self._metrics(report, time.monotonic() - started)
        return report

    async def _look(
        self,
        persons: list[str],
        subjects: list[str],
        report: VerifyReport,
        findings: list[Finding],
        lease: Lease | None,
    ) -> tuple[Snapshot, bool] | None:
        """One atomic look at the store, the fold carried on to its moment; (the look, whether
        the trail could be folded to it)."""
        assert self.fold is not None
        known = self.fold.persons
        depts = [(pk, sorted(known[pk].holds) if pk in known else []) for pk in persons]
        snap = await self.store.snapshot(depts, subjects, MAX_WAITING)
        if isinstance(snap, Behind):
            report.problem(
                f"{snap.waiting} events wait to be sealed: the sealer is behind (see "
                "HogoAuditSealingLags); some persons or subjects were not compared"
            )
            return None
        findings += await self._advance(snap.head_seq, report, lease)
        return snap, report.trail_ok and self.fold.seq == snap.head_seq

    def _compare_persons(self, look: tuple[Snapshot, bool], report: VerifyReport) -> None:
        snap, trail_known = look
        assert self.fold is not None
        preview = self.fold.preview()
        for ev in snap.raw:
            preview.apply(ev.kind, ev.fields, self.check)  # (findings: once they are sealed)
        for pk, live in snap.persons.items():
            d = person_differences(
                pk,
                preview.expected(pk),
                live,
                self.check,
                self.fold.reported,
                trail_known=trail_known,
            )
            if d:
                report.persons[pk] = d

    def _compare_subjects(self, look: tuple[Snapshot, bool], report: VerifyReport) -> None:
        snap, trail_known = look
        assert self.fold is not None
        preview = self.fold.preview()
        for ev in snap.raw:
            preview.apply(ev.kind, ev.fields, self.check)
        for sk, value in snap.values.items():
            expected = preview.remap_of(sk) if trail_known else None
            if expected is None:
                expected = self.sweep.owners.get(sk)
            if value is None:
                report.missing_subjects.append(sk)
                continue
            codes = subject_differences(
                sk, value, expected, self.check_entry, sealed=self.fold.directory_sealed
            )
            if codes:
                report.subjects[sk] = codes

    def _finding(self, report: VerifyReport, f: Finding) -> None:
        if f.scope == "person":
            d = report.persons.setdefault(f.key, Differences())
            if f.what not in d.events:
                d.events.append(f.what)
        else:
            codes = report.subjects.setdefault(f.key, [])
            if f.what not in codes:
                codes.append(f.what)

    # -- what is done about it ----------------------------------------------------------------
    async def _act(self, report: VerifyReport) -> None:
        assert self.fold is not None
        reviews = QuarantineStore(self.gw.redis, self.gw.keyring)
        for scope, reason, kind, items in (
            ("person", HoldReason.FLAG_STATE_MISMATCH, "flag_state_mismatch", report.persons),
            ("subject", HoldReason.DIRECTORY_MISMATCH, "directory_mismatch", report.subjects),
        ):
            for key, diff in sorted(items.items()):
                found = ",".join(diff.all() if isinstance(diff, Differences) else diff)
                is_new = isinstance(diff, Differences) and diff.news
                open_ = await reviews.under_review(scope, key)
                review = ""
                if reason.value not in open_.values():
                    review = await reviews.open(scope, key, reason, ACTOR, {"found": found})
                    report.opened.append(review)
                elif not is_new:
                    continue  # already held for it, and nothing new: said when it was opened
                await self.gw.events.security(
                    kind, ACTOR, subject=key, found=found, review=review or "open"
                )
                metrics.VERIFY_FOUND.labels(scope).inc()
                if isinstance(diff, Differences):
                    self.fold.reported.update(diff.new)
        await self._markers(report)

    async def _markers(self, report: VerifyReport) -> None:
        """Once the trail is folded: from now on flag changes need their MAC (`verify.started`);
        once a whole sweep found every entry with its MAC, so do directory entries."""
        assert self.fold is not None
        if report.problems:
            return
        if not self.fold.started:
            await self._marker(STARTED)
        if self.sweep.sealed_now and not self.fold.directory_sealed:
            await self._marker(DIRECTORY_SEALED)
            self.sweep.sealed_now = False

    async def _marker(self, kind: str) -> None:
        marker = secrets.token_hex(10)
        mac = self.gw.keyring.tag("verify-state", *marker_mac_parts(kind, marker))
        await self.gw.events.append(kind, ACTOR, marker=marker, mac=mac)

    async def _save(self) -> None:
        assert self.fold is not None
        state = (self.fold.seq, len(self.fold.reported))
        if state != self.saved:
            await self.checkpoints.save(self.fold)
            self.saved = state

    def _metrics(self, report: VerifyReport, seconds: float) -> None:
        metrics.VERIFY_PERSONS.set(len(report.persons))
        metrics.VERIFY_SUBJECTS.set(len(report.subjects))
        metrics.VERIFY_PROBLEMS.set(len(report.problems))
        metrics.VERIFY_SECONDS.set(seconds)
        if self.sweep.unsealed is not None:
            metrics.DIRECTORY_UNSEALED.set(self.sweep.unsealed)
        metrics.VERIFY_LAST.set(time.time())


# -- one key again, for a confirmation ----------------------------------------------------------
async def recheck(gw: Gateway, scope: str, key: str) -> list[str]:
    """What still differs for one person or subject (codes), now: [] when the store agrees with
    the trail and the histories again (a confirmation may close the review)."""
    v = Verifier(gw)
    report = VerifyReport()
    head = (await gw.trail.head()).seq
    findings = await v._advance(head, report, None)
    assert v.fold is not None
    if scope == "person":
        look = await v._look([key], [], report, findings, None)
        if look is not None:
            v._compare_persons(look, report)
    else:
        look = await v._look([], [key], report, findings, None)
        if look is not None:
            v._compare_subjects(look, report)
            snap, _ = look
            value = snap.values.get(key)
            if (
                value is not None
                and "|" not in value
                and "entry_without_mac" not in (report.subjects.get(key, []))
            ):
                # confirmed only once an import has given the entry its MAC again
                report.subjects.setdefault(key, []).append("entry_without_mac")
    for f in findings:
        if f.key == key:
            v._finding(report, f)
    out: list[str] = [*report.problems]
    if scope == "person" and key in report.persons:
        out += report.persons[key].all()
    if scope == "subject":
        out += report.subjects.get(key, [])
    return out
