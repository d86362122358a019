"""The rows of a directory import: an addressee system's export read once (its header checked
before the lock is taken), or synthetic pairs numbered like a file's lines."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from gateway.csvfiles import decode, rows_of

COLUMNS = ("atena_number", "subject_code")
ALIASES = {
    "団体内統合宛名番号": "atena_number",
    "宛名番号": "atena_number",
    "機関別符号": "subject_code",
    "情報提供用個人識別符号": "subject_code",
}

# One row, as the passes read it: (line, atena number, subject code).
Row = tuple[int, str, str]
# Gives the rows from the start each time it is called: once per pass, the same rows each time.
Rows = Callable[[], Iterable[Row]]


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
