"""How a setting is declared and read: one declaration (variable, type, default, help), one way to
parse its text, one list of what the gateway reads, and the warning for what it does not."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any


class SettingsError(ValueError):
    """The settings contradict each other or name something unusable (exit status 2)."""


TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
FALSE_WORDS = frozenset({"0", "false", "no", "off"})

# A reader turns a variable's text into the setting's value: (text, kind, variable) -> value.
Reader = Callable[[str, type, str], object]


def parse_bool(raw: str, what: str) -> bool:
    """The one way a yes/no setting is read, wherever it comes from (environment, file, flag)."""
    word = raw.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise SettingsError(f"{what} must be one of 1/0, true/false, yes/no, on/off, not {raw!r}")


def parse_value(raw: str, kind: type, what: str) -> object:
    """A variable's text as a value of the setting's kind (bool, int, float, Path or text)."""
    if kind is bool:
        return parse_bool(raw, what)
    try:
        if kind is int:
            return int(raw.strip().replace("_", ""))
        if kind is float:
            return float(raw.strip())
    except ValueError:
        raise SettingsError(f"{what} must be a number, not {raw!r}") from None
    if kind is Path:
        return Path(raw.strip())
    return raw


def setting(
    default: object,
    env: str,
    help: str,
    kind: type | None = None,
    *,
    secret: bool = False,
    read: Reader | None = None,
) -> Any:
    """A setting's one declaration: its default, its environment variable and what it does.

    The type is the default's (give `kind` where the default is None); `values_from_env` reads
    every declared variable this way (or with `read`, for a setting that names a file), and
    `declared_variables` lists them for the operator. A `secret` stays out of the repr."""
    # (a Path default is a PosixPath: the kind is Path, which the environment's text is read as)
    kind = kind or (Path if isinstance(default, Path) else type(default))
    meta = {"env": env, "help": help, "kind": kind, "read": read or parse_value}
    if isinstance(default, (dict, list, set)):
        raise TypeError("settings are immutable values")
    return field(default=default, metadata=meta, repr=not secret)


@dataclass(frozen=True, slots=True)
class EnvVar:
    """A variable read by the gateway, its setting, its default and what it does (for `settings`)."""

    name: str
    setting: str
    default: str
    help: str


def shown(default: object) -> str:
    """A default as the operator's list shows it: nothing for none."""
    return "" if default is None or default == () else str(default)


def declared_variables(cls: type, prefix: str = "") -> list[EnvVar]:
    """Every declared setting's variable of a settings class, in declaration order."""
    return [
        EnvVar(f.metadata["env"], f"{prefix}{f.name}", shown(f.default), f.metadata["help"])
        for f in fields(cls)
        if "env" in f.metadata
    ]


def values_from_env(cls: type, env: Mapping[str, str]) -> dict[str, object]:
    """The fields of a settings class the environment gives (blank is not given), each read by
    its declaration's reader."""
    values: dict[str, object] = {}
    for f in fields(cls):
        name = f.metadata.get("env")
        raw = env.get(name, "") if name else ""
        if raw.strip():
            values[f.name] = f.metadata["read"](raw, f.metadata["kind"], name)
    return values


def unknown_variables(environ: Mapping[str, str], known: Iterable[str]) -> list[str]:
    """HOGO_* variables the gateway does not read: most likely misspelt, so that a setting the
    operator believes on (HOGO_STAFF_FOUR_EYE_RELEASE=1) is silently off. Said at start."""
    names = frozenset(known)
    return sorted(k for k in environ if k.startswith("HOGO_") and k not in names)
