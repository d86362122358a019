"""What every decoder of a script's reply shares: the error for a reply no decoder knows, reading
name/value pairs, and `Named`, the decoder of a reply that begins with its outcome."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import ClassVar, Self, TypeVar

from gateway.model import QueryState


class ReplyError(Exception):
    """A script answered something its decoder does not know: a store step out of step with the
    code (a script of another version loaded), never acted on."""


def pairs(res: Sequence[object]) -> dict[str, str]:
    """A flat name/value reply as a dict (every value as text)."""
    return {name: str(value) for name, value in named(res).items()}


def named(res: Sequence[object]) -> dict[str, object]:
    """A name/value reply as a dict, values as Redis gave them (a list stays a list)."""
    if len(res) % 2:
        raise ReplyError(f"an odd reply of {len(res)} items")
    return {str(res[i]): res[i + 1] for i in range(0, len(res), 2)}


def bit(v: str) -> bool:
    return v == "1"


def state_of(raw: str | None) -> QueryState | None:
    try:
        return QueryState(raw) if raw else None
    except ValueError:
        return None


V = TypeVar("V")


def frozen(d: dict[str, V]) -> Mapping[str, V]:
    """A decoder's table, read only (shared by every reply it makes)."""
    return MappingProxyType(d)


@dataclass(frozen=True, slots=True)
class Named:
    """A script's outcome and the values it named with it. A decoder says, per outcome it knows,
    the names that outcome carries (`OUTCOMES`); `DETAIL` names, per outcome, the one value a
    refusal is told by (whom, which state), for callers that pass it on."""

    SCRIPTS: ClassVar[tuple[str, ...]] = ()
    OUTCOMES: ClassVar[Mapping[str, tuple[str, ...]]] = frozen({})
    DETAIL: ClassVar[Mapping[str, str]] = frozen({})

    outcome: str
    values: Mapping[str, object]

    @classmethod
    def from_reply(cls, res: object) -> Self:
        if not isinstance(res, list):
            raise ReplyError(f"{cls.__name__}: not a list of name/value pairs: {type(res)}")
        values = named(res)
        outcome = str(values.pop("outcome", ""))
        if outcome not in cls.OUTCOMES:
            raise ReplyError(f"{'/'.join(cls.SCRIPTS)} answered {outcome!r}")
        missing = [name for name in cls.OUTCOMES[outcome] if name not in values]
        extra = [name for name in values if name not in cls.OUTCOMES[outcome]]
        if missing or extra:
            raise ReplyError(
                f"{'/'.join(cls.SCRIPTS)} {outcome}: missing {missing}, unknown {extra}"
            )
        return cls(outcome, values)

    def text(self, name: str) -> str:
        return str(self.values[name])

    def number(self, name: str) -> int:
        return int(str(self.values[name]))

    def rows(self, name: str) -> list[object]:
        """A value that is a list (an empty Lua table comes back as an empty list)."""
        v = self.values[name]
        if not isinstance(v, list):
            raise ReplyError(f"{'/'.join(self.SCRIPTS)}: {name} is not a list")
        return v

    @property
    def detail(self) -> str:
        """What a refusal is told by ('' for an outcome that carries nothing)."""
        name = self.DETAIL.get(self.outcome)
        return self.text(name) if name else ""
