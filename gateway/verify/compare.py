"""What differs between what the trail and the histories say and what the store holds: pure.

For a person: `unreadable_hold` (a hold that is no JSON hold the gateway writes), `trail` (the holds the trail gives are not the holds in the store; for a record
of the single-record model, the aggregate), `history` (the holds each hold's history gives are
not the holds in the store), `aggregate` (the flags every decision reads are not the OR over the
holds), `counts` (the counts that keep that OR are wrong), and, once each, the entries of a
history that do not count or that the trail does not have (and the reverse). For a directory
entry: `bad_mac` (a MAC that is not the gateway's), `entry_without_mac` (none, once the
directory is sealed), `moved` (another person than the trail or the last sweep says).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from gateway.store.directory import entry_mac_parts, split_value
from gateway.store.verify import LivePerson
from gateway.verify.fold import OFF, CheckMac, Expected, Pair, fingerprint, fold_history


def _on(holds: Mapping[str, Pair]) -> dict[str, Pair]:
    return {d: h for d, h in holds.items() if h != OFF}


@dataclass(slots=True)
class Differences:
    """What differs for one key: lasting differences of state (`codes`: until the state is put
    right), findings that stay in the store for good (`new`: fingerprint -> code), each
    reported once, and what is wrong with events the trail's fold has just taken (`events`)."""

    codes: list[str] = field(default_factory=list)
    new: dict[str, str] = field(default_factory=dict)
    events: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.codes or self.new or self.events)

    @property
    def news(self) -> bool:
        """Something not reported before (beyond the state, which is reported while it lasts)."""
        return bool(self.new or self.events)

    def all(self) -> list[str]:
        return sorted({*self.codes, *self.new.values(), *self.events})


def person_differences(
    pk: str,
    expected: Expected | None,
    live: LivePerson,
    check: CheckMac,
    reported: set[str],
    *,
    trail_known: bool,
) -> Differences:
    """`expected`: the person as the trail says (None: the trail never named them);
    `trail_known`: the trail could be folded (else only the store and the histories are
    compared)."""
    out = Differences()
    if live.unreadable:
        out.codes.append("unreadable_hold")
    live_holds = _on(live.holds)
    exp = expected or Expected()
    if trail_known:
        if exp.legacy or not live.holds_model:
            if exp.aggregate != (live.ard, live.nd):
                out.codes.append("trail")
        elif exp.holds != live.holds:  # a released hold is kept (off), as the trail keeps it
            out.codes.append("trail")
        if (exp.holds or exp.legacy) and not live.exists:
            out.codes.append("record_missing")  # the gateway never deletes a flag record
    if live.holds_model:
        if (live.ard, live.nd) != (
            any(a for a, _ in live_holds.values()),
            any(n for _, n in live_holds.values()),
        ):
            out.codes.append("aggregate")
        if (live.ard_holds, live.nd_holds) != (
            sum(a for a, _ in live_holds.values()),
            sum(n for _, n in live_holds.values()),
        ):
            out.codes.append("counts")
    from_histories: dict[str, Pair] = {}
    for dept, entries in sorted(live.histories.items()):
        folded = fold_history(pk, dept, entries, check)
        from_histories[dept] = folded.hold
        for print_, what in folded.bad:
            if print_ not in reported:
                out.new[print_] = what
        if trail_known and (exp.guarded or folded.ids):
            trail_ids = exp.ids.get(dept, [])
            for change in set(trail_ids) - set(folded.ids):
                print_ = fingerprint("missing", pk, dept, change)
                if print_ not in reported:
                    out.new[print_] = "history_lost_entries"
            for change in set(folded.ids) - set(trail_ids):
                print_ = fingerprint("extra", pk, dept, change)
                if print_ not in reported:
                    out.new[print_] = "history_unlike_trail"
    if live.holds_model and from_histories != live.holds:
        out.codes.append("history")
    return out


def subject_differences(
    sk: str,
    value: str | None,
    expected_person: str | None,
    check_entry: CheckMac,
    *,
    sealed: bool,
) -> list[str]:
    """One directory entry: its MAC, and the person it must resolve to (a remapped subject: its
    last remap's; an ever-flagged person's subject: that person, as the last sweep found it), if
    known. A missing entry differs in nothing: its subject is unknown, and every query about it is
    held (fail closed)."""
    if value is None:
        return []
    person, mac = split_value(value)
    codes = []
    if value == "!" or (mac and not check_entry(mac, *entry_mac_parts(sk, person))):
        codes.append("bad_mac")
    elif not mac and sealed:
        codes.append("entry_without_mac")
    if expected_person is not None and person != expected_person:
        codes.append("moved")
    return codes
