"""`hogo-gateway flags import FILE.csv`: set many flags at once from a department's list.

All or nothing: every row is checked by the same rules as `flags set` first; one bad row and
nothing is imported, with every bad row named by its line. Then all rows are applied in one atomic
step (each with its own history entry and event, as if set one by one).

Columns (header row; English or the Japanese names in brackets; UTF-8 or CP932/Shift_JIS):
    atena_number [団体内統合宛名番号]  15 digits                               required
    name         [氏名]                the person's name                        required
    department   [保有課]              a holding department of annex 1          required
    business     [登録業務]            its registered business (may be empty where it has one)
    basis        [根拠]                application | ex-officio (or 申出 | 職権)   required
    until        [支援措置終了日]      YYYY-MM-DD or YYYY/MM/DD, may be empty
    flags        [フラグ]              both (default) | auto_response_disabled | non_disclosure
                                       (or 両方 | 自動応答不可 | 不開示該当)
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from gateway.context import Gateway
from gateway.csvfiles import read_rows
from gateway.flags import set_change
from gateway.orders import FlagOrder
from gateway.store.flags import FlagChange

COLUMNS_REQUIRED = ("atena_number", "name", "department", "basis")
ALIASES = {
    "団体内統合宛名番号": "atena_number",
    "宛名番号": "atena_number",
    "氏名": "name",
    "保有課": "department",
    "登録業務": "business",
    "登録業務の名称": "business",
    "根拠": "basis",
    "支援措置終了日": "until",
    "終了日": "until",
    "フラグ": "flags",
}
BASIS_WORDS = {"申出": "application", "職権": "ex-officio"}
FLAG_WORDS = {
    "": (True, True),
    "both": (True, True),
    "両方": (True, True),
    "auto_response_disabled": (True, False),
    "自動応答不可": (True, False),
    "non_disclosure": (False, True),
    "不開示該当": (False, True),
}


class ImportRefused(ValueError):
    """Bad rows: nothing was imported. `errors` names each by its line."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__(f"{len(errors)} bad rows; nothing imported")
        self.errors = errors


@dataclass(frozen=True, slots=True)
class ImportResult:
    rows: int
    new: int  # persons without any flag on before
    updated: int  # persons already flagged (renewed or widened)
    encoding: str

    def as_json(self) -> dict[str, object]:
        return {
            "imported": self.rows,
            "new": self.new,
            "updated": self.updated,
            "encoding": self.encoding,
        }


class Progress:
    """A progress bar on a terminal (stderr); silent when it is not one, unless forced."""

    def __init__(
        self, total: int, label: str, stream: TextIO | None = None, *, show: bool | None = None
    ) -> None:
        self.total = max(total, 1)
        self.label = label
        self.stream = stream or sys.stderr
        self.show = self.stream.isatty() if show is None else show
        self._last = -1

    def update(self, done: int) -> None:
        if not self.show:
            return
        pct = done * 100 // self.total
        if pct == self._last:
            return
        self._last = pct
        filled = pct * 30 // 100
        bar = "#" * filled + "." * (30 - filled)
        self.stream.write(f"\r{self.label} [{bar}] {pct:3d}% {done}/{self.total}")
        self.stream.flush()

    def done(self, message: str) -> None:
        if self.show:
            self.stream.write(f"\r{self.label} {message}\n")
            self.stream.flush()


def changes_from_rows(
    rows: list[tuple[int, dict[str, str]]], actor: str, progress: Progress
) -> list[FlagChange]:
    """Check every row (ImportRefused with all bad lines, or the changes to apply)."""
    errors: list[str] = []
    first_line: dict[str, int] = {}
    changes: list[FlagChange] = []
    for n, (line, row) in enumerate(rows, 1):
        progress.update(n)
        atena = row.get("atena_number", "")
        if atena in first_line:
            errors.append(f"line {line}: atena_number is already on line {first_line[atena]}")
            continue
        first_line[atena] = line
        which = FLAG_WORDS.get(row.get("flags", "").strip())
        if which is None:
            errors.append(
                f"line {line}: flags must be both, auto_response_disabled or non_disclosure"
            )
            continue
        basis = row.get("basis", "").strip()
        try:
            change = set_change(
                FlagOrder(
                    atena_number=atena,
                    name=row.get("name", ""),
                    department=row.get("department", ""),
                    business=row.get("business") or None,
                    basis=BASIS_WORDS.get(basis, basis),
                    until=row.get("until") or None,
                    auto_response_disabled=which[0],
                    non_disclosure=which[1],
                    actor=actor,
                )
            )
        except ValueError as exc:
            errors.append(f"line {line}: {exc}")
            continue
        change.entry["via"] = "import"
        changes.append(change)
    if errors:
        raise ImportRefused(errors)
    return changes


async def import_flags(
    gw: Gateway,
    path: Path,
    actor: str,
    *,
    progress_stream: TextIO | None = None,
    show: bool | None = None,
) -> ImportResult:
    rows, encoding = read_rows(path, COLUMNS_REQUIRED, ALIASES)
    progress = Progress(len(rows), "checking", progress_stream, show=show)
    changes = changes_from_rows(rows, actor, progress)
    progress.done(f"{len(changes)} rows fine")
    before = await gw.flags.get_many([await gw.flags.person_key(c.atena_number) for c in changes])
    already = sum(1 for r in before if r is not None and r.state.any)
    writing = Progress(1, "writing", progress_stream, show=show)
    writing.update(0)
    if changes:
        # one atomic step for the whole file; generous deadline, as it may be large
        await gw.flags.apply(changes, timeout=max(60.0, gw.redis.timeout))
    writing.update(1)
    writing.done("done")
    await gw.events.append(
        "flag.imported", actor, rows=str(len(changes)), encoding=encoding, updated=str(already)
    )
    return ImportResult(len(changes), len(changes) - already, already, encoding)
