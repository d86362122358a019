"""Pass 2 of a directory import: the plan written batch by batch, each batch only if every row
still finds the store as pass 1 did, in one atomic step with its remaps' reviews and events; if
it stops part-way, the operator is told exactly what was written."""

from __future__ import annotations

from dataclasses import dataclass, field

from gateway.directory_import.plan import Plan, Run
from gateway.directory_import.rows import Rows
from gateway.flag_import import Progress
from gateway.store.directory import BatchChanged, DirectoryStore, LockLost, WriteRow
from gateway.store.events import EventLog
from gateway.store.quarantine import new_review_id
from gateway.store.scripts import StoreUnavailable


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


class Writer:
    """The write pass of one run."""

    def __init__(self, directory: DirectoryStore, events: EventLog, run: Run, plan: Plan) -> None:
        self.directory = directory
        self.events = events
        self.run = run
        self.plan = plan
        self.result = ImportResult(run.import_id, len(plan.statuses))

    async def write(self, rows: Rows, progress: Progress) -> ImportResult:
        plan = self.plan
        pending: list[WriteRow] = []
        for n, (line, atena, subject) in enumerate(rows()):
            progress.update(n + 1)
            if n >= len(plan.statuses) or plan.statuses[n] not in b"nur":
                raise await self._interrupted([], "the file changed")
            sk, ak = self.directory.keys_of(atena, subject)
            status = chr(plan.statuses[n])
            if status == "r":
                review = new_review_id()
                pending.append(WriteRow(sk, ak, plan.remaps[n][1].old_person, line, review))
            else:
                pending.append(WriteRow(sk, ak, "" if status == "n" else "=", line))
            if len(pending) >= self.run.batch:
                await self._write_batch(pending)
                pending = []
        if pending:
            await self._write_batch(pending)
        progress.done("done")
        return self.result

    async def _write_batch(self, rows: list[WriteRow]) -> None:
        """Write one batch whole; on failure, say what was written and stop."""
        run, result = self.run, self.result
        try:
            written = await self.directory.write(
                run.token, run.import_id, run.actor, run.allow_remap, rows
            )
        except (BatchChanged, LockLost, StoreUnavailable) as exc:
            raise await self._interrupted(rows, exc) from None
        result.new += written.new
        result.unchanged += written.unchanged
        result.remapped += written.remapped
        result.protected += written.protected
        result.sealed += written.sealed
        result.reviews += [(row.line, row.review_id) for row in rows if row.review_id]
        result.through_line = rows[-1].line

    async def _interrupted(self, rows: list[WriteRow], why: Exception | str) -> ImportInterrupted:
        """The error telling the operator exactly what was written; recorded."""
        result, import_id = self.result, self.run.import_id
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
            self.run.actor,
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
