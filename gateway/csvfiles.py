"""Reading the CSV files municipal systems export: UTF-8 (with or without BOM) or CP932 (Shift_JIS)."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator, Mapping
from pathlib import Path


class CsvError(Exception):
    pass


def decode(raw: bytes) -> tuple[str, str]:
    """The text of an export and the encoding it was in."""
    try:
        return raw.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return raw.decode("cp932"), "cp932"
    except UnicodeDecodeError:
        raise CsvError("the file is neither UTF-8 nor CP932 (Shift_JIS)") from None


def read_rows(
    path: Path, required: tuple[str, ...], aliases: Mapping[str, str] | None = None
) -> tuple[list[tuple[int, dict[str, str]]], str]:
    """Every data row with its line number; the header must name every `required` column.

    `aliases` maps other header names (e.g. the Japanese ones of a municipal export) to ours.
    """
    text, encoding = decode(path.read_bytes())
    return list(rows_of(text, required, aliases)), encoding


def rows_of(
    text: str, required: tuple[str, ...], aliases: Mapping[str, str] | None = None
) -> Iterator[tuple[int, dict[str, str]]]:
    """The data rows of decoded text one by one (a large export need not be held as rows), with
    their line numbers; the header is checked at once (CsvError), before the first row."""
    reader = csv.DictReader(_lines(text))
    header = [h.strip() for h in (reader.fieldnames or [])]
    if aliases:
        header = [aliases.get(h, h) for h in header]
    missing = [c for c in required if c not in header]
    if missing:
        raise CsvError(f"line 1: the header lacks {', '.join(missing)}")
    reader.fieldnames = header
    return _rows(reader)


# One physical line with its ending (\r\n, \n or \r, as a file opened with newline=""
# would give it to csv): the text is read in place, not copied into a StringIO, which holds
# four bytes a character (a 10-million-row export would take over a GB twice over).
_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")


def _lines(text: str) -> Iterator[str]:
    return (m.group() for m in _LINE.finditer(text))


def _rows(reader: csv.DictReader[str]) -> Iterator[tuple[int, dict[str, str]]]:
    for row in reader:
        if not any((v or "").strip() for v in row.values() if isinstance(v, str)):
            continue
        yield reader.line_num, {k: (v or "").strip() for k, v in row.items() if isinstance(k, str)}
