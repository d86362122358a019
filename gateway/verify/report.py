"""One round of the check as it reports: what differs, per person and subject key (codes, no
personal data), what could not be established; and the lease a long round keeps."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from gateway.audit.lease import Lease
from gateway.verify.compare import Differences


@dataclass
class VerifyReport:
    """One round: what differs, per person key and per subject key (codes, no personal data),
    and why the check could not establish everything it should (`problems`)."""

    persons: dict[str, Differences] = field(default_factory=dict)
    subjects: dict[str, list[str]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    checked_persons: int = 0
    checked_subjects: int = 0
    folded_to: int = 0
    swept: int = 0
    unsealed: int | None = None  # entries without a MAC, as the last whole sweep found them
    missing_subjects: list[str] = field(default_factory=list)
    opened: list[str] = field(default_factory=list)
    trail_ok: bool = True  # the trail could be folded as far as the store's head, this round

    def problem(self, text: str) -> None:
        if text not in self.problems:
            self.problems.append(text)

    @property
    def ok(self) -> bool:
        return not self.persons and not self.subjects and not self.problems

    def as_json(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "persons": {pk: d.all() for pk, d in sorted(self.persons.items())},
            "subjects": {sk: c for sk, c in sorted(self.subjects.items())},
            "problems": self.problems,
            "checked_persons": self.checked_persons,
            "checked_subjects": self.checked_subjects,
            "trail_seq": self.folded_to,
            "swept": self.swept,
            "unsealed_entries": self.unsealed,
            "missing_subjects": sorted(self.missing_subjects),
            "reviews_opened": self.opened,
        }


async def keep(lease: Lease | None) -> None:
    """Renew the lease during a long round (a third of its time gone), so that no other process
    takes it over meanwhile; a lease lost anyway only means two rounds at once, which open no
    review twice (each checks for an open one first)."""
    if lease is not None:
        await lease.hold()


def chunks(items: list[str], size: int) -> Iterable[list[str]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]
