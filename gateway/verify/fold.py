"""The flag state as the signed trail says it is, and as each hold's history says it is: pure
(events and history entries in; the expected state and what is wrong out). No I/O.

The trail's fold (`TrailFold`) takes events in trail order. From the first `verify.started`
event on (written once by the check, docs/security.md), a flag change counts only with a valid
MAC (`gateway.store.flags.change_mac_parts`, made by the gateway in Python with a key Redis does
not hold) and only once per change id; the hold after it is recomputed from what the MAC vouches
for (set or release of which flags), never taken from the event's own `dept_ard` / `dept_nd`.
Before that event, changes are taken as the older gateways wrote them (docs/flags.md, "the fold").
A remap of the directory counts likewise with its MAC (`remap_mac_parts`).

A hold's history (`fold_history`) is folded the same way: once an entry with a MAC has been seen,
every later entry needs a valid one.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from gateway.store.directory import remap_mac_parts
from gateway.store.flags import change_mac_parts, repair_mac_parts

# A MAC check: (purpose, mac, *parts) -> valid (gateway.crypto.Keyring.check_tag).
CheckMac = Callable[..., bool]

STARTED = "verify.started"  # from here on, every flag change and remap needs its MAC
DIRECTORY_SEALED = "directory.sealed"  # from here on, every directory entry needs its MAC
CHANGES = ("flag.set", "flag.release")
KINDS = frozenset(
    {*CHANGES, "flag.upgraded", "flag.repaired", "directory.remapped", STARTED, DIRECTORY_SEALED}
)

Pair = tuple[bool, bool]  # (自動応答不可 ard, 不開示該当 nd)
OFF: Pair = (False, False)


def marker_mac_parts(kind: str, marker_id: str) -> tuple[str, ...]:
    return ("marker", kind, marker_id)


def _on(value: object) -> bool:
    return value in ("1", 1, True)


def _apply_want(old: Pair, want: str) -> Pair:
    ard = old[0] if want[0] == "-" else want[0] == "1"
    nd = old[1] if want[1] == "-" else want[1] == "1"
    return ard, nd


def _want_ok(want: object) -> bool:
    return isinstance(want, str) and len(want) == 2 and all(c in "10-" for c in want)


@dataclass(frozen=True, slots=True)
class Finding:
    """Something wrong with one event or entry: `scope` person (a person key) or subject (a
    subject key); `what` a short code (no personal data)."""

    scope: str
    key: str
    what: str


@dataclass(slots=True)
class Expected:
    """One person as the trail says: each department's hold (ard, nd), the change ids of each
    hold, and for a person only the single-record model ever wrote, the aggregate alone."""

    holds: dict[str, Pair] = field(default_factory=dict)
    ids: dict[str, list[str]] = field(default_factory=dict)
    legacy: bool = False  # holds unknown (single-record model): compare the aggregate only
    legacy_aggregate: Pair = OFF
    guarded: bool = False  # a change with a MAC has been folded

    @property
    def aggregate(self) -> Pair:
        if self.legacy:
            return self.legacy_aggregate
        return (
            any(a for a, _ in self.holds.values()),
            any(n for _, n in self.holds.values()),
        )

    def copy(self) -> Expected:
        return Expected(
            dict(self.holds),
            {d: list(v) for d, v in self.ids.items()},
            self.legacy,
            self.legacy_aggregate,
            self.guarded,
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "h": {d: [a, n] for d, (a, n) in sorted(self.holds.items())},
            "i": {d: v for d, v in sorted(self.ids.items())},
            "l": self.legacy,
            "a": list(self.legacy_aggregate),
            "g": self.guarded,
        }

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> Expected:
        return cls(
            {d: (bool(v[0]), bool(v[1])) for d, v in obj["h"].items()},
            {d: list(v) for d, v in obj["i"].items()},
            bool(obj["l"]),
            (bool(obj["a"][0]), bool(obj["a"][1])),
            bool(obj["g"]),
        )


@dataclass(slots=True)
class TrailFold:
    """The expected state after every event up to (seq, hash, id), a block's last event."""

    seq: int = 0
    hash: str = ""
    id: str = ""
    started: bool = False
    directory_sealed: bool = False
    persons: dict[str, Expected] = field(default_factory=dict)
    changes: set[str] = field(default_factory=set)  # ids of flag changes, remaps and markers
    remaps: dict[str, str] = field(default_factory=dict)  # subject key -> person of its last remap
    # what the check has already reported (opened a review for): fingerprints of findings that
    # stay in the store for good (a forged history entry; history entries that are missing)
    reported: set[str] = field(default_factory=set)

    # -- the events ---------------------------------------------------------------------------
    def apply(self, kind: str, fields: Mapping[str, str], check: CheckMac) -> list[Finding]:
        """Fold one event (`fields` with its `subject`); what is wrong with it, if anything. An
        event that does not count changes nothing."""
        if kind in CHANGES:
            return self._change(kind.removeprefix("flag."), fields, check)
        if kind == "flag.upgraded":
            return self._upgraded(fields)
        if kind == "flag.repaired":
            return self._repaired(fields, check)
        if kind == "directory.remapped":
            return self._remapped(fields, check)
        if kind in (STARTED, DIRECTORY_SEALED):
            marker = fields.get("marker", "")
            mac = fields.get("mac", "")
            if marker and check("verify-state", mac, *marker_mac_parts(kind, marker)):
                if kind == STARTED:
                    self.started = True
                else:
                    self.directory_sealed = True
        return []

    def person(self, pk: str) -> Expected:
        found = self.persons.get(pk)
        if found is None:
            found = self.persons[pk] = Expected()
        return found

    def seen(self, change_id: str) -> bool:
        return change_id in self.changes

    def mark(self, change_id: str) -> None:
        self.changes.add(change_id)

    def _change(self, action: str, f: Mapping[str, str], check: CheckMac) -> list[Finding]:
        pk, dept = f.get("subject", ""), f.get("department", "")
        mac = f.get("mac", "")
        if not mac:
            if self.started:
                return [Finding("person", pk, "change_without_mac")]
            p = self.person(pk)
            if "dept_ard" in f:  # a gateway with department holds, before MACs
                p.holds[dept] = (_on(f.get("dept_ard")), _on(f.get("dept_nd")))
            else:  # the single-record model: only the aggregate after it is known
                p.legacy = True
            p.legacy_aggregate = (_on(f.get("ard")), _on(f.get("nd")))
            return []
        want, change = f.get("want", ""), f.get("change", "")
        parts = change_mac_parts(pk, dept, action, want, f.get("basis", ""), change)
        if not (_want_ok(want) and change and check("flag-change", mac, *parts)):
            return [Finding("person", pk, "bad_mac")]
        if self.seen(change):
            return [Finding("person", pk, "replayed_change")]
        self.mark(change)
        p = self.person(pk)
        p.guarded = True
        new = _apply_want(p.holds.get(dept, OFF), want)
        p.holds[dept] = new
        p.ids.setdefault(dept, []).append(change)
        # (the event's own dept_ard / dept_nd / ard / nd are what the store had after it: where
        # they differ from this, the store was changed before; the comparison of the state finds
        # that as long as it lasts, and the next change through the gateway puts it right)
        return []

    def _upgraded(self, f: Mapping[str, str]) -> list[Finding]:
        """A record of the single-record model turned into holds (lua/flag_holds.lua): the
        aggregate is the same before and after, by construction. Written by Lua without a MAC,
        it counts only for a person no change with a MAC has touched yet, and only if it leaves
        the aggregate as the trail has it."""
        pk, dept = f.get("subject", ""), f.get("department", "")
        p = self.person(pk)
        stated = (_on(f.get("ard")), _on(f.get("nd")))
        if self.started and p.guarded:
            return [Finding("person", pk, "upgrade_after_mac")]
        if self.started and stated != p.aggregate and (p.legacy or p.holds):
            return [Finding("person", pk, "upgrade_unlike_trail")]
        if p.legacy:
            p.legacy, p.holds = False, {}
        p.holds[dept] = (_on(f.get("dept_ard")), _on(f.get("dept_nd")))
        return []

    def _repaired(self, f: Mapping[str, str], check: CheckMac) -> list[Finding]:
        """`flags repair`: the aggregate and its counts made again from the holds; no hold
        changes."""
        pk, change, mac = f.get("subject", ""), f.get("change", ""), f.get("mac", "")
        if not (change and check("flag-change", mac, *repair_mac_parts(pk, change))):
            return [Finding("person", pk, "bad_mac")]
        if self.seen(change):
            return [Finding("person", pk, "replayed_change")]
        self.mark(change)
        return []

    def _remapped(self, f: Mapping[str, str], check: CheckMac) -> list[Finding]:
        sk, new, mac = f.get("subject", ""), f.get("new_person", ""), f.get("mac", "")
        if not mac:
            if self.started:
                return [Finding("subject", sk, "remap_without_mac")]
            self.remaps[sk] = new
            return []
        review = f.get("review", "")
        parts = remap_mac_parts(sk, f.get("old_person", ""), new, review)
        if not (review and check("directory-change", mac, *parts)):
            return [Finding("subject", sk, "bad_mac")]
        if self.seen(f"remap:{review}"):
            return [Finding("subject", sk, "replayed_remap")]
        self.mark(f"remap:{review}")
        self.remaps[sk] = new
        return []

    # -- a look ahead (events not sealed yet), and the checkpoint ----------------------------
    def preview(self) -> Preview:
        return Preview(self)

    def as_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "hash": self.hash,
            "id": self.id,
            "started": self.started,
            "directory_sealed": self.directory_sealed,
            "persons": {pk: p.as_json() for pk, p in sorted(self.persons.items())},
            "changes": sorted(self.changes),
            "remaps": dict(sorted(self.remaps.items())),
            "reported": sorted(self.reported),
        }

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> TrailFold:
        return cls(
            seq=int(obj["seq"]),
            hash=str(obj["hash"]),
            id=str(obj["id"]),
            started=bool(obj["started"]),
            directory_sealed=bool(obj["directory_sealed"]),
            persons={pk: Expected.from_json(p) for pk, p in obj["persons"].items()},
            changes=set(obj["changes"]),
            remaps=dict(obj["remaps"]),
            reported=set(obj["reported"]),
        )


class Preview(TrailFold):
    """The fold with events not sealed yet applied on top, leaving the fold itself as it is:
    persons are copied on first touch, ids seen are the fold's and its own."""

    def __init__(self, base: TrailFold) -> None:
        super().__init__(
            base.seq,
            base.hash,
            base.id,
            base.started,
            base.directory_sealed,
            {},
            set(),
            {},
            base.reported,
        )
        self.base = base

    def person(self, pk: str) -> Expected:
        found = self.persons.get(pk)
        if found is None:
            base = self.base.persons.get(pk)
            found = self.persons[pk] = base.copy() if base is not None else Expected()
        return found

    def expected(self, pk: str) -> Expected | None:
        return self.persons.get(pk) or self.base.persons.get(pk)

    def remap_of(self, sk: str) -> str | None:
        return self.remaps.get(sk, self.base.remaps.get(sk))

    def seen(self, change_id: str) -> bool:
        return change_id in self.changes or change_id in self.base.changes


# -- a hold's history -------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class HistoryFold:
    """One hold's history folded: the hold it gives, the change ids of its entries with a valid
    MAC, and the entries that do not count (fingerprint, what is wrong)."""

    hold: Pair
    ids: tuple[str, ...]
    bad: tuple[tuple[str, str], ...]


def fingerprint(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


def fold_history(pk: str, dept: str, entries: Iterable[str], check: CheckMac) -> HistoryFold:
    hold, guarded = OFF, False
    ids: list[str] = []
    bad: list[tuple[str, str]] = []
    for index, raw in enumerate(entries):
        try:
            e = json.loads(raw)
        except ValueError:
            e = None
        what = ""
        if not isinstance(e, dict):
            what = "unreadable_entry"
        elif e.get("mac"):
            want, change = e.get("want", ""), str(e.get("change") or "")
            parts = change_mac_parts(
                pk, dept, str(e.get("action", "")), str(want), str(e.get("basis") or ""), change
            )
            if not (_want_ok(want) and change and check("flag-change", str(e["mac"]), *parts)):
                what = "bad_mac"
            elif change in ids:
                what = "replayed_entry"
            else:
                hold, guarded = _apply_want(hold, str(want)), True
                ids.append(change)
        elif guarded:
            what = "entry_without_mac"
        elif "dept_ard" in e:  # written before MACs: as it says
            hold = (_on(e.get("dept_ard")), _on(e.get("dept_nd")))
        if what:
            bad.append((fingerprint("entry", pk, dept, str(index), raw), what))
    return HistoryFold(hold, tuple(ids), tuple(bad))
