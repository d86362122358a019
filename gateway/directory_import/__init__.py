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

rows.py reads the file, plan.py is step 1 (and the refusal), apply.py step 2; this module runs
them in order under the lock.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterable
from typing import TextIO

from gateway.directory_import.apply import ImportInterrupted, ImportResult, Writer
from gateway.directory_import.plan import (
    REMAP_HELP,
    DirectoryRefused,
    Run,
    check,
    refuse_if_needed,
)
from gateway.directory_import.rows import ALIASES, COLUMNS, Row, Rows, file_rows, pairs_rows
from gateway.flag_import import Progress
from gateway.store.directory import DirectoryStore, LockLost
from gateway.store.events import EventLog
from gateway.store.scripts import StoreUnavailable

__all__ = [
    "ALIASES",
    "BATCH",
    "COLUMNS",
    "REMAP_HELP",
    "DirectoryImport",
    "DirectoryRefused",
    "ImportInterrupted",
    "ImportResult",
    "Row",
    "Rows",
    "file_rows",
    "import_pairs",
    "pairs_rows",
]

BATCH = 5000


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

    def _progress(self, total: int, what: str) -> Progress:
        return Progress(total, what, self.progress_stream, show=self.show)

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
        run = Run(import_id, token, actor, allow_remap, encoding, total, self.batch)
        try:
            try:
                plan = await check(self.directory, rows, run, self._progress(total, "checking"))
            except LockLost:
                raise ImportInterrupted(
                    "the import lost its lock while checking (it stalled); nothing imported"
                ) from None
            await refuse_if_needed(self.directory, self.events, plan, run)
            writer = Writer(self.directory, self.events, run, plan)
            result = await writer.write(rows, self._progress(total, "writing"))
        finally:
            with contextlib.suppress(StoreUnavailable):  # else it lapses after its lease
                await self.directory.unlock(token)
        result.encoding = encoding
        await self._recorded(result, run)
        return result

    async def _recorded(self, result: ImportResult, run: Run) -> None:
        """The import's event, and a security event for remaps of protected persons applied."""
        await self.events.append(
            "directory.imported",
            run.actor,
            count=result.rows,
            new=result.new,
            unchanged=result.unchanged,
            remapped=result.remapped,
            protected=result.protected,
            sealed=result.sealed,
            allow_remap="1" if run.allow_remap else "0",
            encoding=run.encoding,
            **{"import": run.import_id},
        )
        if result.protected:
            await self.events.security(
                "protected_subject_remap",
                run.actor,
                outcome="applied_and_held",
                remaps=str(result.protected),
                **{"import": run.import_id},
            )


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
