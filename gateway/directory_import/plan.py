"""Pass 1 of a directory import: every row checked against the store, nothing written; the plan
it makes, or the file refused whole with every bad line named."""

from __future__ import annotations

from dataclasses import dataclass, field

from gateway.directory_import.rows import Rows
from gateway.flag_import import ImportRefused, Progress
from gateway.store.directory import DirectoryStore, Remap, validate_pair
from gateway.store.events import EventLog

REMAP_HELP = (
    "--allow-remap applies it, and every query about the subject is then held until staff "
    "confirm the remap"
)


class DirectoryRefused(ImportRefused):
    """The file was refused whole: nothing imported. `errors` names each line."""

    def __init__(self, errors: list[str], summary: str) -> None:
        super().__init__(errors)
        self.args = (f"{summary}; nothing imported",)


@dataclass(frozen=True)
class Run:
    """One import as both passes see it: built once when it takes the lock, passed on whole."""

    import_id: str
    token: str  # the import lock's
    actor: str
    allow_remap: bool
    encoding: str
    total: int  # about how many rows (for the progress bar)
    batch: int  # rows per atomic step


@dataclass
class Plan:
    """What the check pass found: per row n, u or r (or x: refused), the remaps by row, errors."""

    statuses: bytearray = field(default_factory=bytearray)
    remaps: dict[int, tuple[int, Remap]] = field(default_factory=dict)  # row -> (line, remap)
    errors: list[tuple[int, str]] = field(default_factory=list)
    bad: int = 0
    duplicates: int = 0

    @property
    def protected(self) -> int:
        return sum(1 for _, remap in self.remaps.values() if remap.protected)


async def check(directory: DirectoryStore, rows: Rows, run: Run, progress: Progress) -> Plan:
    """Every row, batch by batch, against the store as it is now (under the lock)."""
    plan = Plan()
    first_line: dict[str, int] = {}  # subject code -> its line (a code twice is refused)
    pending: list[tuple[int, int, str, str]] = []  # (row, line, subject key, person key)
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
        pending.append((n, line, *directory.keys_of(atena, subject)))
        if len(pending) >= run.batch:
            await _check_batch(directory, plan, run.token, pending)
            pending = []
    if pending:
        await _check_batch(directory, plan, run.token, pending)
    progress.done(f"{len(plan.statuses)} rows checked")
    return plan


async def _check_batch(
    directory: DirectoryStore, plan: Plan, token: str, pending: list[tuple[int, int, str, str]]
) -> None:
    checked = await directory.check(token, [(sk, ak) for _, _, sk, ak in pending])
    remaps = iter(checked.remaps)
    for (n, line, _, _), status in zip(pending, checked.statuses, strict=True):
        plan.statuses[n] = ord(status)
        if status == "r":
            plan.remaps[n] = (line, next(remaps))


async def refuse_if_needed(
    directory: DirectoryStore, events: EventLog, plan: Plan, run: Run
) -> None:
    """DirectoryRefused, recorded, for a file with a bad row or (without --allow-remap) a remap."""
    remaps_refused = bool(plan.remaps) and not run.allow_remap
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
    await directory.refused(
        run.actor,
        {
            "rows": len(plan.statuses),
            "bad": plan.bad,
            "duplicates": plan.duplicates,
            "remaps": len(plan.remaps),
            "protected": plan.protected,
            "allow_remap": "1" if run.allow_remap else "0",
            "encoding": run.encoding,
            "import": run.import_id,
        },
        sorted(flagged, key=lambda lr: lr[0]),
    )
    if remaps_refused and plan.protected:
        await events.security(
            "protected_subject_remap",
            run.actor,
            outcome="refused",
            remaps=str(plan.protected),
            **{"import": run.import_id},
        )
    raise DirectoryRefused([f"line {line}: {why}" for line, why in errors], summary)
