"""`hogo-gateway directory import FILE.csv`: the directory (宛名) from the addressee system's export,
all rows or none, and never a subject code moved silently.

A subject code (機関別符号) belongs to one person. A row that maps a code the store already maps to
another person (a remap) is a data error or an attack: it would make a flagged person's code
resolve to someone unflagged, answered automatically. So, by default, a file with any remap is
refused whole, as is a file that names a subject code twice (to the same person or another), or
has a bad row; every such line is named. One person with several codes is allowed: each code
still resolves to that person, whose flags apply to all of them (a code can be issued anew).

With `--allow-remap` the remaps are written, and each remapped subject is held for review
(gateway/store/quarantine.py): every query about it is held until a member of staff confirms
the remap, whatever the flags of the old or new person say now or later.

How it stays whole: the import holds the store's import lock (one import at a time), then
1. checks every row, batch by batch, against the store, writing nothing (refused here: nothing
   was imported);
2. writes batch by batch, each batch only if every row still finds the store as step 1 did, in
   one atomic step with its remaps' reviews and events.
Step 2 can stop part-way only if the store fails or the lock lapses (the import stalled past its
lease); the operator is then told which lines were written, and running the same file again
completes it (rows already written count as unchanged).
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from gateway.csvfiles import decode, rows_of
from gateway.flag_import import ImportRefused, Progress
from gateway.store.directory import (
    BatchChanged,
    DirectoryStore,
    LockLost,
    Remap,
    WriteRow,
    validate_pair,
)
from gateway.store.events import EventLog
from gateway.store.quarantine import new_review_id
from gateway.store.scripts import StoreUnavailable

COLUMNS = ("atena_number", "subject_code")
ALIASES = {
    "団体内統合宛名番号": "atena_number",
    "宛名番号": "atena_number",
    "機関別符号": "subject_code",
    "情報提供用個人識別符号": "subject_code",
}
BATCH = 5000
REMAP_HELP = (
    "--allow-remap applies it, and every query about the subject is then held until staff "
    "confirm the remap"
)

# One row, as the passes read it: (line, atena number, subject code).
Row = tuple[int, str, str]
# Gives the rows from the start each time it is called: once per pass, the same rows each time.
Rows = Callable[[], Iterable[Row]]


class DirectoryRefused(ImportRefused):
    """The file was refused whole: nothing imported. `errors` names each line."""

    def __init__(self, errors: list[str], summary: str) -> None:
        super().__init__(errors)
        self.args = (f"{summary}; nothing imported",)


class ImportInterrupted(Exception):
    """The write pass stopped part-way: exactly what was written is said."""


@dataclass
class ImportResult:
    import_id: str
    rows: int
    new: int = 0
    unchanged: int = 0
    remapped: int = 0
    protected: int = 0  # remaps where the old or the new person has or had a flag
    sealed: int = 0  # unchanged entries given the MAC they lacked (docs/directory.md: migration)
    encoding: str = ""
    reviews: list[tuple[int, str]] = field(default_factory=list)  # (line, review id) per remap
    through_line: int = 0  # the last line written

    def as_json(self) -> dict[str, object]:
        return {
            "import": self.import_id,
            "imported": self.rows,
            "new": self.new,
            "unchanged": self.unchanged,
            "remapped": self.remapped,
            "sealed": self.sealed,
            "encoding": self.encoding,
            "reviews": [{"line": line, "review": rid} for line, rid in self.reviews],
        }


@dataclass
class _Plan:
    """What the check pass found: per row n, u or r (or x: refused), the remaps by row, errors."""

    statuses: bytearray = field(default_factory=bytearray)
    remaps: dict[int, tuple[int, Remap]] = field(default_factory=dict)  # row -> (line, remap)
    errors: list[tuple[int, str]] = field(default_factory=list)
    bad: int = 0
    duplicates: int = 0

    @property
    def protected(self) -> int:
        return sum(1 for _, remap in self.remaps.values() if remap.protected)


class DirectoryImport:
    """One import: the service the CLI, the demo and the tests call."""

    def __init__(
        self,
        directory: DirectoryStore,
        events: EventLog,
        *,
        batch: int = BATCH,
        progress_stream: TextIO | None = None,
        show_progress: bool | None = None,
    ) -> None:
        self.directory = directory
        self.events = events
        self.batch = batch
        self.progress_stream = progress_stream
        self.show = show_progress

    async def run(
        self,
        rows: Rows,
        actor: str,
        *,
        allow_remap: bool = False,
        encoding: str = "",
        total: int = 0,
    ) -> ImportResult:
        import_id = secrets.token_hex(8)
        token = await self.directory.lock(import_id, actor, total)
        try:
            try:
                plan = await self._check(rows, token, total)
            except LockLost:
                raise ImportInterrupted(
                    "the import lost its lock while checking (it stalled); nothing imported"
                ) from None
            await self._refuse_if_needed(plan, import_id, actor, allow_remap, encoding)
            result = await self._write(rows, token, plan, import_id, actor, allow_remap, total)
        finally:
            with contextlib.suppress(StoreUnavailable):  # else it lapses after its lease
                await self.directory.unlock(token)
        result.encoding = encoding
        await self.events.append(
            "directory.imported",
            actor,
            count=result.rows,
            new=result.new,
            unchanged=result.unchanged,
            remapped=result.remapped,
            protected=result.protected,
            sealed=result.sealed,
            allow_remap="1" if allow_remap else "0",
            encoding=encoding,
            **{"import": import_id},
        )
        if result.protected:
            await self.events.security(
                "protected_subject_remap",
                actor,
                outcome="applied_and_held",
                remaps=str(result.protected),
                **{"import": import_id},
            )
        return result

    # -- pass 1: check every row, write nothing ---------------------------------------------
    async def _check(self, rows: Rows, token: str, total: int) -> _Plan:
        plan = _Plan()
        first_line: dict[str, int] = {}  # subject code -> its line (a code twice is refused)
        pending: list[tuple[int, int, str, str]] = []  # (row, line, subject key, person key)
        progress = Progress(total, "checking", self.progress_stream, show=self.show)
        for n, (line, atena, subject) in enumerate(rows()):
            progress.update(n + 1)
            why = validate_pair(atena, subject)
            if why is None and subject in first_line:
                why = f"subject_code is already on line {first_line[subject]}"
                plan.duplicates += 1
            elif why is not None:
                plan.bad += 1
            if why is not None:
                plan.errors.append((line, why))
                plan.statuses.append(ord("x"))
                continue
            first_line[subject] = line
            plan.statuses.append(ord("?"))
            pending.append((n, line, *self.directory.keys_of(atena, subject)))
            if len(pending) >= self.batch:
                await self._check_batch(plan, token, pending)
                pending = []
        if pending:
            await self._check_batch(plan, token, pending)
        progress.done(f"{len(plan.statuses)} rows checked")
        return plan

    async def _check_batch(
        self, plan: _Plan, token: str, pending: list[tuple[int, int, str, str]]
    ) -> None:
        checked = await self.directory.check(token, [(sk, ak) for _, _, sk, ak in pending])
        remaps = iter(checked.remaps)
        for (n, line, _, _), status in zip(pending, checked.statuses, strict=True):
            plan.statuses[n] = ord(status)
            if status == "r":
                plan.remaps[n] = (line, next(remaps))

    async def _refuse_if_needed(
        self, plan: _Plan, import_id: str, actor: str, allow_remap: bool, encoding: str
    ) -> None:
        remaps_refused = bool(plan.remaps) and not allow_remap
        if not plan.errors and not remaps_refused:
            return
        errors = list(plan.errors)
        if remaps_refused:
            errors += [
                (line, f"subject_code is mapped to another person in the directory ({REMAP_HELP})")
                for line, _ in plan.remaps.values()
            ]
        errors.sort()
        parts = [f"{plan.bad} bad", f"{plan.duplicates} twice in the file"]
        parts += [f"{len(plan.remaps)} remaps"] if remaps_refused else []
        summary = f"{len(errors)} rows refused ({', '.join(parts)})"
        # the remaps of persons flagged now are each told to their holding departments
        flagged = (
            [(line, remap) for line, remap in plan.remaps.values() if remap.flagged_now]
            if remaps_refused
            else []
        )
        await self.directory.refused(
            actor,
            {
                "rows": len(plan.statuses),
                "bad": plan.bad,
                "duplicates": plan.duplicates,
                "remaps": len(plan.remaps),
                "protected": plan.protected,
                "allow_remap": "1" if allow_remap else "0",
                "encoding": encoding,
                "import": import_id,
            },
            sorted(flagged, key=lambda lr: lr[0]),
        )
        if remaps_refused and plan.protected:
            await self.events.security(
                "protected_subject_remap",
                actor,
                outcome="refused",
                remaps=str(plan.protected),
                **{"import": import_id},
            )
        raise DirectoryRefused([f"line {line}: {why}" for line, why in errors], summary)

    # -- pass 2: write, batch by batch, each only if the store is as pass 1 found it ---------
    async def _write(
        self,
        rows: Rows,
        token: str,
        plan: _Plan,
        import_id: str,
        actor: str,
        allow_remap: bool,
        total: int,
    ) -> ImportResult:
        result = ImportResult(import_id, len(plan.statuses))
        progress = Progress(total, "writing", self.progress_stream, show=self.show)
        pending: list[WriteRow] = []
        for n, (line, atena, subject) in enumerate(rows()):
            progress.update(n + 1)
            if n >= len(plan.statuses) or plan.statuses[n] not in b"nur":
                raise await self._interrupted(result, import_id, actor, [], "the file changed")
            sk, ak = self.directory.keys_of(atena, subject)
            status = chr(plan.statuses[n])
            if status == "r":
                review = new_review_id()
                pending.append(WriteRow(sk, ak, plan.remaps[n][1].old_person, line, review))
            else:
                pending.append(WriteRow(sk, ak, "" if status == "n" else "=", line))
            if len(pending) >= self.batch:
                await self._write_batch(result, token, actor, allow_remap, pending)
                pending = []
        if pending:
            await self._write_batch(result, token, actor, allow_remap, pending)
        progress.done("done")
        return result

    async def _write_batch(
        self, result: ImportResult, token: str, actor: str, allow_remap: bool, rows: list[WriteRow]
    ) -> None:
        """Write one batch whole; on failure, say what was written and stop."""
        try:
            written = await self.directory.write(token, result.import_id, actor, allow_remap, rows)
        except (BatchChanged, LockLost, StoreUnavailable) as exc:
            raise await self._interrupted(result, result.import_id, actor, rows, exc) from None
        result.new += written.new
        result.unchanged += written.unchanged
        result.remapped += written.remapped
        result.protected += written.protected
        result.sealed += written.sealed
        result.reviews += [(row.line, row.review_id) for row in rows if row.review_id]
        result.through_line = rows[-1].line

    async def _interrupted(
        self,
        result: ImportResult,
        import_id: str,
        actor: str,
        rows: list[WriteRow],
        why: Exception | str,
    ) -> ImportInterrupted:
        """The error telling the operator exactly what was written; recorded."""
        done = result.new + result.unchanged + result.remapped
        written = f"lines up to {result.through_line}" if result.through_line else "no line"
        lines = f"lines {rows[0].line}-{rows[-1].line}" if rows else "the next lines"
        if isinstance(why, StoreUnavailable):
            fate = f"whether {lines} were written is not known (the store failed: {why})"
        elif isinstance(why, LockLost):
            fate = f"{lines} and the rest were not written (the import lost its lock: it stalled)"
        else:
            fate = f"{lines} and the rest were not written ({why})"
        # a security event: spooled to disk while the store is down, never lost
        await self.events.security(
            "directory_import_interrupted",
            actor,
            written=str(done),
            remapped=str(result.remapped),
            through_line=str(result.through_line),
            why=why if isinstance(why, str) else type(why).__name__,
            **{"import": import_id},
        )
        return ImportInterrupted(
            f"import {import_id} stopped part-way: {written} written ({done} rows: {result.new} "
            f"new, {result.unchanged} unchanged, {result.remapped} remapped and held for "
            f"review); {fate}. Run the same file again to complete it"
        )


def file_rows(path: Path) -> tuple[Rows, str, int]:
    """The rows of an export read once (the passes read the same text, not the file again):
    (the rows, the encoding, about how many lines, for the progress bar). CsvError for a bad
    header or encoding."""
    text, encoding = decode(path.read_bytes())
    rows_of(text, COLUMNS, ALIASES)  # the header, checked now: before the lock is taken

    def rows() -> Iterator[Row]:
        for line, row in rows_of(text, COLUMNS, ALIASES):
            yield line, row.get("atena_number", ""), row.get("subject_code", "")

    return rows, encoding, text.count("\n")


def pairs_rows(pairs: Iterable[tuple[str, str]]) -> Rows:
    """(atena number, subject code) pairs as rows numbered like a file's (header on line 1)."""
    listed = list(pairs)
    return lambda: ((n, a, s) for n, (a, s) in enumerate(listed, 2))


async def import_pairs(
    directory: DirectoryStore,
    events: EventLog,
    pairs: Iterable[tuple[str, str]],
    actor: str,
    *,
    allow_remap: bool = False,
) -> ImportResult:
    """(atena number, subject code) pairs imported as a file of them would be: for the demo's
    and the tests' synthetic residents (and the tests' remaps, `allow_remap`, held for review)."""
    return await DirectoryImport(directory, events).run(
        pairs_rows(pairs), actor, allow_remap=allow_remap
    )
