"""Reading the CSV files municipal systems export: UTF-8 (with or without BOM) or CP932 (Shift_JIS)."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
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
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [h.strip() for h in (reader.fieldnames or [])]
    if aliases:
        header = [aliases.get(h, h) for h in header]
    missing = [c for c in required if c not in header]
    if missing:
        raise CsvError(f"line 1: the header lacks {', '.join(missing)}")
    reader.fieldnames = header
    rows: list[tuple[int, dict[str, str]]] = []
    for row in reader:
        line = reader.line_num
        if not any((v or "").strip() for v in row.values() if isinstance(v, str)):
            continue
        rows.append((line, {k: (v or "").strip() for k, v in row.items() if isinstance(k, str)}))
    return rows, encoding
