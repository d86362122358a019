"""What a front end asks of the flags, as one value each: a flag order (set) and a release order.
Each front end (the command line, the console's page, the JSON API, the CSV import, the demo)
builds its order once from what it was given and passes it through; the rules in gateway.flags
check it there, in one place."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class FlagOrder:
    """Set flags (自動応答不可 / 不開示該当) in a holding department's own hold of a person.

    `until`: the end of the support measure (YYYY-MM-DD); left out (None), the hold keeps the end
    it has, unless `clear_until` asks to forget it."""

    atena_number: str
    name: str
    department: str
    business: str | None
    basis: str  # application (申出) | ex-officio (職権)
    until: str | None
    auto_response_disabled: bool
    non_disclosure: bool
    actor: str
    clear_until: bool = False


@dataclass(frozen=True, slots=True)
class ReleaseOrder:
    """Release flags of one department's hold, on the person's application (申出): at once by the
    operator (`department` may be left out where one department holds a flag), or asked for by a
    registrar (`department` is theirs) and confirmed by a second one."""

    atena_number: str
    basis: str
    note: str
    auto_response_disabled: bool
    non_disclosure: bool
    actor: str  # who releases, or who asks for the release
    department: str | None = None
