"""Verifying files offline: exports (begin record, events, end record) and archive files (events
only), one file or several taken as one stretch of the trail in sequence order. Pure: needs the
public keys and nothing of the gateway's store.

An export's end record is signed and names its last event's seq and hash: it vouches for the
events after the export's last block signature (a range that ends inside a block), as the next
block signature would. Archive files end at a block's end; events at the end of the files that
nothing signs are `unsigned`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from gateway.audit.record import FORMATS, RecordError, check_signed, parse_line
from gateway.audit.verify import Anchor, Chain, Line, Report

EXPORT_BEGIN = "begin"
EXPORT_END = "end"


def file_lines(path: Path) -> Iterator[Line]:
    with path.open("rb") as fh:
        for n, raw in enumerate(fh, 1):
            complete = raw.endswith(b"\n")
            body = raw[:-1] if complete else raw
            try:
                text: str | None = body.decode("utf-8")
            except UnicodeDecodeError:
                text = None
            yield Line(text, f"{path.name} line {n}", complete)


def _marker(line: Line, which: str) -> bool:
    """Is this line an export's begin or end record? (cheap: the canonical form starts so)"""
    return line.text is not None and line.text.startswith(f'{{"audit_export":"{which}"')


def _first_seq(path: Path) -> int:
    for line in file_lines(path):
        try:
            obj = json.loads(line.text or "")
        except ValueError:
            return 0
        if not isinstance(obj, dict):
            return 0
        seq = obj.get("first_seq") if "audit_export" in obj else obj.get("seq")
        return seq if isinstance(seq, int) else 0
    return 0


def _signed_marker(line: Line, which: str, pubkeys: dict[int, Ed25519PublicKey]) -> dict[str, Any]:
    if line.text is None:
        raise RecordError("changed", f"the export's {which} record is not UTF-8")
    obj = parse_line(line.text)
    check_signed(obj, pubkeys)
    if obj.get("audit_export") != which:
        raise RecordError("changed", f"not an export {which} record")
    if obj.get("v") not in FORMATS:
        raise RecordError("changed", f"unknown export format version {obj.get('v')!r}")
    return obj


def _verify_export(path: Path, chain: Chain, pubkeys: dict[int, Ed25519PublicKey]) -> None:
    lines = file_lines(path)
    report = chain.report
    header_line = next(lines)
    try:
        header = _signed_marker(header_line, EXPORT_BEGIN, pubkeys)
    except RecordError as err:
        chain.fail(err.what, None, header_line.where, f"export begin record: {err.detail}")
        return
    first, prev = header.get("first_seq"), header.get("prev")
    chain.walk_open()
    if chain.done:
        return
    if chain.expect is None:
        chain.expect, chain.prev = first, prev
        if first == 1:
            chain.block_start = 1
        if isinstance(first, int) and first > 1:
            report.notes.append(
                f"{path.name} starts at seq {first}; its first event's prev {prev} must equal "
                f"the hash of event {first - 1} in the export or archive before it"
            )
    elif first is not None and (first != chain.expect or prev != chain.prev):
        chain.fail(
            "deleted" if isinstance(first, int) and first > chain.expect else "chain broken",
            chain.expect,
            header_line.where,
            f"this export starts at seq {first}, the files before it end at {chain.expect - 1}",
        )
        return
    counted = chain.walked
    footer: tuple[Line, dict[str, Any]] | None = None
    after_footer: Line | None = None
    for line in lines:
        if footer is not None:
            after_footer = line
            break
        if _marker(line, EXPORT_END):
            try:
                footer = (line, _signed_marker(line, EXPORT_END, pubkeys))
            except RecordError as err:
                chain.finish()
                if not chain.done:
                    chain.fail(err.what, None, line.where, f"export end record: {err.detail}")
                return
            continue
        if not chain.feed(line):
            return
    if footer is None:
        chain.finish()
        if not chain.done:
            chain.fail(
                "truncated",
                chain.expect,
                path.name,
                f"the export ends without its end record (after {chain.walked - counted} events)",
            )
        return
    where, end = footer[0].where, footer[1]
    last_seq, last_hash = end.get("last_seq"), end.get("last_hash")
    anchor = None
    if isinstance(last_seq, int) and isinstance(last_hash, str):
        anchor = Anchor(last_seq, last_hash, f"the end record ({where})")
    chain.finish(anchor)
    if chain.done:
        return
    if after_footer is not None:
        chain.fail("inserted", None, after_footer.where, "a line after the export's end record")
        return
    if end.get("begin") != header["hash"]:
        chain.fail("changed", None, where, "the end record belongs to another export")
        return
    if isinstance(last_seq, int) and (chain.expect is None or last_seq >= chain.expect):
        got = chain.expect - 1 if chain.expect else None
        chain.fail(
            "deleted",
            chain.expect or first,
            where,
            f"the export ends at event {got} but its end record says {last_seq}",
        )
        return
    walked = chain.walked - counted
    if end.get("count") != walked or last_hash != (chain.prev if walked else None):
        chain.fail("changed", None, where, "the end record does not match the events before it")
        return
    chain.fail_unsigned()  # cannot be left once the end record matched; kept as a backstop


def _verify_events(path: Path, chain: Chain) -> None:
    """An archive file: event lines only (an export's end record here means its begin record
    was removed)."""
    for line in file_lines(path):
        if _marker(line, EXPORT_END):
            chain.finish()
            if not chain.done:
                chain.fail(
                    "changed",
                    None,
                    line.where,
                    "an export's end record without its begin record (the first line was removed)",
                )
            return
        if not chain.feed(line):
            return


def verify_files(paths: list[Path], pubkeys: dict[int, Ed25519PublicKey]) -> Report:
    """Exports and/or archive files, taken as one stretch of the trail in sequence order."""
    report = Report()
    chain = Chain(pubkeys, report, seq=None, prev=None)
    for path in sorted(paths, key=_first_seq):
        if chain.done:
            break
        first = next(file_lines(path), None)
        if first is None:
            continue
        if _marker(first, EXPORT_BEGIN):
            _verify_export(path, chain, pubkeys)
        else:
            _verify_events(path, chain)
    chain.finish()
    chain.fail_unsigned()
    if not report.events and report.ok:
        report.notes.append("no events")
    return report
