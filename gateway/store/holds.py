"""A person's flags as the store keeps them: each holding department's own hold (保有課ごとの
フラグ), and the record of the person that joins them (the aggregate every decision reads is the
OR over the holds in force).

Two views: the whole record, for those entitled to every department's hold (the operator on the
server, approvers, auditors); and one department's hold alone (`FlagHold.department_view`), which
is all a holding department's registrars see: nothing in it depends on another department's hold.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gateway.model import FlagState

# What a history entry says of the person as a whole (the other departments' holds included): kept
# in the store, shown to the entitled, left out of a department's own view.
PERSON_WIDE = ("version", "ard", "nd")


@dataclass(slots=True)
class FlagHold:
    """One holding department's hold on a person: which flags, business, basis, the support
    measure's end (`until`), the name as the department registered it (unsealed only for callers
    entitled to it), who set it and when, and its own history and version."""

    department: str
    state: FlagState
    business: str = ""
    basis: str = ""
    until: str = ""
    since: str = ""  # when the hold in force began ('' when nothing is on)
    set_at: str = ""
    set_by: str = ""
    updated_at: str = ""
    updated_by: str = ""
    version: int = 0  # the hold's own: counts this department's changes only
    name: str | None = None
    history: list[dict[str, object]] = field(default_factory=list)  # as stored, notes sealed

    @classmethod
    def from_store(cls, department: str, raw: dict[str, object]) -> FlagHold:
        def text(name: str) -> str:
            value = raw.get(name)
            return value if isinstance(value, str) else ""

        return cls(
            department=department,
            state=FlagState(raw.get("ard") == "1", raw.get("nd") == "1"),
            business=text("business"),
            basis=text("basis"),
            until=text("until"),
            since=text("since"),
            set_at=text("set_at"),
            set_by=text("set_by"),
            updated_at=text("updated_at"),
            updated_by=text("updated_by"),
            version=int(str(raw.get("version") or 0)),
        )

    def as_json(self, *, history: bool = True) -> dict[str, object]:
        """The hold as the entitled see it (entries as stored, person-wide fields included)."""
        out: dict[str, object] = {
            "department": self.department,
            "auto_response_disabled": self.state.auto_response_disabled,
            "non_disclosure": self.state.non_disclosure,
            "name": self.name,
            "business": self.business,
            "basis": self.basis,
            "until": self.until or None,
            "since": self.since or None,
            "set_at": self.set_at,
            "set_by": self.set_by,
            "updated_at": self.updated_at,
            "updated_by": self.updated_by,
            "version": self.version,
        }
        if history:
            out["history"] = self.history
        return out

    def department_view(self, atena_number: str | None) -> dict[str, object]:
        """What the department's own registrars see: its hold as "the flags", its own history,
        its own versions; nothing that another department's hold or changes could alter."""
        out = self.as_json(history=False)
        out.pop("since")
        out["atena_number"] = atena_number
        out["history"] = [department_entry(e) for e in self.history]
        return out


def department_entry(entry: dict[str, object]) -> dict[str, object]:
    """A history entry as its department sees it: the hold's version and flags after the change,
    under the names a department knows them by; nothing of the person as a whole."""
    out = {k: v for k, v in entry.items() if k not in PERSON_WIDE}
    out["version"] = out.pop("hold_version", None)
    out["ard"] = out.pop("dept_ard", None)
    out["nd"] = out.pop("dept_nd", None)
    return out


@dataclass(slots=True)
class FlagRecord:
    """A person's flags, every department's hold (for the entitled only). `state` is the
    aggregate every decision reads: a flag is on while any department's hold has it on."""

    person_key: str
    state: FlagState
    version: int = 0  # person-wide: counts every change of every hold
    updated_at: str = ""
    atena_number: str | None = None
    holds: list[FlagHold] = field(default_factory=list)  # in force first, earliest first
    earlier_history: list[dict[str, object]] = field(default_factory=list)  # before holds

    @property
    def current(self) -> list[FlagHold]:
        """The holds in force (a flag on), the earliest first."""
        return [h for h in self.holds if h.state.any]

    @property
    def departments(self) -> list[str]:
        """The departments holding a flag now."""
        return [h.department for h in self.current]

    @property
    def principal(self) -> FlagHold | None:
        """The earliest hold in force (its name is the one the departments' API gives); else the
        hold changed last."""
        return self.current[0] if self.current else self.last_changed

    @property
    def last_changed(self) -> FlagHold | None:
        """The hold whose change was the record's last."""
        return max(self.holds, key=lambda h: h.updated_at, default=None)

    @property
    def name(self) -> str | None:
        return self.principal.name if self.principal else None

    def hold(self, department: str) -> FlagHold | None:
        return next((h for h in self.holds if h.department == department), None)

    @property
    def history(self) -> list[dict[str, object]]:
        """Every entry of every hold, and those from before holds, in the order they were made."""
        merged = list(self.earlier_history)
        for h in self.holds:
            merged += h.history
        return sorted(merged, key=lambda e: int(str(e.get("version") or 0)))

    def as_json(self) -> dict[str, object]:
        return {
            "atena_number": self.atena_number,
            "name": self.name,
            "auto_response_disabled": self.state.auto_response_disabled,
            "non_disclosure": self.state.non_disclosure,
            "departments": self.departments,
            "version": self.version,
            "updated_at": self.updated_at,
            "holds": [h.as_json(history=False) for h in self.holds],
            "history": self.history,
        }


def hold_order(h: FlagHold) -> tuple[int, str, str]:
    """Holds in force first, by when they began (ties by department), as lua/flag_read.lua picks
    the name; then the released ones, by department."""
    return (0, h.since, h.department) if h.state.any else (1, "", h.department)
