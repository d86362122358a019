"""`hogo-gateway flags reconcile FILE.csv`: compare the resident register's support measures
(住民基本台帳のDV等支援措置) with the flags here, and say who is protected there but not here, and
the reverse. It changes nothing; acting on the differences is for people (`flags set`, or asking
the person). The run itself is recorded, with counts only.

The export's columns (header row; UTF-8 or CP932/Shift_JIS):
    atena_number [団体内統合宛名番号]  required
    name         [氏名]                optional, shown in the report
    until        [支援措置終了日]      optional, YYYY-MM-DD or YYYY/MM/DD; empty: no end known
A person on several rows counts with the latest end date among them. Here, a person is protected
while any department holds a flag; the end here is the latest among the holds in force (none
known, if any of them has none), and the departments listed are those holding a flag now.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from gateway.context import Gateway
from gateway.csvfiles import read_rows
from gateway.flags import ATENA_NUMBER, parse_date
from gateway.store.flags import FlagRecord

ALIASES = {
    "団体内統合宛名番号": "atena_number",
    "宛名番号": "atena_number",
    "氏名": "name",
    "支援措置終了日": "until",
    "終了日": "until",
}

# The differences, most urgent first, with their headings in the text report.
KINDS = {
    "protected_not_flagged": "protected there, NOT flagged here",
    "protected_partly_flagged": "protected there, only partly flagged here",
    "flagged_not_in_export": "flagged here, not in the export",
    "ended_there_flagged_here": "support measure ended there, flag still on here",
    "until_differs": "end dates differ",
}
URGENT = ("protected_not_flagged", "protected_partly_flagged")


class ReconcileInputError(ValueError):
    def __init__(self, errors: list[str]) -> None:
        super().__init__(f"{len(errors)} bad rows; nothing compared")
        self.errors = errors


@dataclass(frozen=True, slots=True)
class Difference:
    atena_number: str
    name: str  # from the export, or from the flag record
    until_there: str | None
    until_here: str | None
    auto_response_disabled: bool
    non_disclosure: bool
    department: str  # the departments holding a flag now, joined with ", "

    def as_json(self) -> dict[str, object]:
        return {
            "atena_number": self.atena_number,
            "name": self.name,
            "until_there": self.until_there,
            "until_here": self.until_here,
            "auto_response_disabled": self.auto_response_disabled,
            "non_disclosure": self.non_disclosure,
            "department": self.department or None,
        }


@dataclass
class Reconciliation:
    today: str
    encoding: str
    rows: int
    flagged_here: int
    differences: dict[str, list[Difference]] = field(default_factory=lambda: {k: [] for k in KINDS})

    @property
    def urgent(self) -> bool:
        """Someone protected at the source is not (fully) protected here."""
        return any(self.differences[k] for k in URGENT)

    def counts(self) -> dict[str, int]:
        return {k: len(v) for k, v in self.differences.items()}

    def as_json(self) -> dict[str, object]:
        return {
            "today": self.today,
            "encoding": self.encoding,
            "export_persons": self.rows,
            "flagged_here": self.flagged_here,
            "urgent": self.urgent,
            "counts": self.counts(),
            **{k: [d.as_json() for d in v] for k, v in self.differences.items()},
        }

    def text(self) -> str:
        lines = [
            f"support measures in the export: {self.rows} persons; flagged here: "
            f"{self.flagged_here}; as of {self.today}"
        ]
        for kind, heading in KINDS.items():
            found = self.differences[kind]
            if not found:
                continue
            lines.append(f"{heading} ({len(found)}):")
            for d in found:
                flags = "+".join(
                    f
                    for f, on in (
                        ("自動応答不可", d.auto_response_disabled),
                        ("不開示該当", d.non_disclosure),
                    )
                    if on
                )
                lines.append(
                    f"  {d.atena_number}  {d.name}  there: {d.until_there or '-'}  "
                    f"here: {d.until_here or '-'}  {flags or 'no flag'}  {d.department}".rstrip()
                )
        if not any(self.differences.values()):
            lines.append("in agreement: no differences")
        return "\n".join(lines)


def read_export(path: Path) -> tuple[dict[str, tuple[str, date | None]], str]:
    """atena number -> (name, end of the measure or None), and the file's encoding."""
    rows, encoding = read_rows(path, ("atena_number",), ALIASES)
    errors: list[str] = []
    people: dict[str, tuple[str, date | None]] = {}
    for line, row in rows:
        atena = row.get("atena_number", "")
        if not ATENA_NUMBER.match(atena):
            errors.append(f"line {line}: atena_number must be 15 digits")
            continue
        until: date | None = None
        if row.get("until"):
            try:
                until = parse_date(row["until"], "until")
            except ValueError as exc:
                errors.append(f"line {line}: {exc}")
                continue
        name = row.get("name", "")
        if atena in people:
            old_name, old_until = people[atena]
            # no end known wins over any end; otherwise the later end
            if old_until is None or (until is not None and until < old_until):
                until = old_until
            name = name or old_name
        people[atena] = (name, until)
    if errors:
        raise ReconcileInputError(errors)
    return people, encoding


def compare(
    export: dict[str, tuple[str, date | None]],
    records: list[FlagRecord],
    today: date,
    encoding: str = "",
) -> Reconciliation:
    flagged = {r.atena_number: r for r in records if r.state.any and r.atena_number}
    result = Reconciliation(today.isoformat(), encoding, len(export), len(flagged))

    def add(kind: str, atena: str, name: str, there: date | None, r: FlagRecord | None) -> None:
        result.differences[kind].append(
            Difference(
                atena_number=atena,
                name=name or (r.name if r and r.name else ""),
                until_there=there.isoformat() if there else None,
                until_here=(until_here(r) or None) if r else None,
                auto_response_disabled=bool(r and r.state.auto_response_disabled),
                non_disclosure=bool(r and r.state.non_disclosure),
                department=", ".join(r.departments) if r else "",
            )
        )

    for atena, (name, until) in sorted(export.items()):
        r = flagged.get(atena)
        in_force = until is None or until >= today
        if not in_force:
            if r is not None:
                add("ended_there_flagged_here", atena, name, until, r)
            continue
        if r is None:
            add("protected_not_flagged", atena, name, until, None)
        elif not (r.state.auto_response_disabled and r.state.non_disclosure):
            add("protected_partly_flagged", atena, name, until, r)
        elif (until.isoformat() if until else "") != until_here(r):
            add("until_differs", atena, name, until, r)
    for atena, r in sorted(flagged.items()):
        if atena not in export:
            add("flagged_not_in_export", atena, "", None, r)
    return result


def until_here(r: FlagRecord) -> str:
    """When protection here ends, as far as the holds say: the latest end among the holds in
    force, or '' (no end known) if any of them has none, as for the export."""
    ends = [h.until for h in r.current]
    return "" if not ends or "" in ends else max(ends)


async def reconcile(
    gw: Gateway, path: Path, actor: str, today: date | None = None
) -> Reconciliation:
    export, encoding = read_export(path)
    records = await gw.flags.all_records(unseal=True, history=False)
    result = compare(export, records, today or gw.clock.today(), encoding)
    await gw.events.append(
        "flag.reconciled",
        actor,
        export_persons=str(result.rows),
        flagged_here=str(result.flagged_here),
        **{k: str(v) for k, v in result.counts().items()},
    )
    return result
