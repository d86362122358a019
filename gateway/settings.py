"""One settings object for the whole gateway: command line over environment over defaults."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path


def _env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    return float(raw) if raw else default


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return int(raw) if raw else default


@dataclass(frozen=True)
class Settings:
    """Everything the gateway is configured with; built once and passed down."""

    data_dir: Path = Path("./var")
    redis_url: str | None = None
    upstream_url: str | None = None
    host: str = "127.0.0.1"
    port: int = 8080
    # Every store call must answer within this many seconds, or the flag state counts as
    # unknown and nothing is answered automatically.
    store_timeout: float = 0.5
    upstream_timeout: float = 10.0
    max_body_bytes: int = 1024 * 1024
    # How long a released or automatic answer stays retrievable by GetQueryResult.
    answer_retention_seconds: int = 7 * 24 * 3600
    # A query still "received" after this long was interrupted (crash, kill -9) mid-flight:
    # it is held for staff, never answered automatically later.
    interrupted_after_seconds: float = 60.0
    # Held items older than this are highlighted in the console (never released by themselves).
    held_age_warning_seconds: int = 3 * 24 * 3600
    default_handling_notice: str = (
        "取扱注意：本件はDV等支援措置の対象者に係る情報です。"
        "住所等の取扱いには十分注意し、第三者に開示しないでください。"
    )
    key_prefix: str = "{hogo}:"
    # The staff console (gateway/staff). A session ends after this long without a request, and
    # in any case this long after login; a login is locked after so many failures in a row, until
    # an admin unlocks it or the lock-out period passes. A claim on a held query lapses by itself.
    staff_session_idle_seconds: int = 30 * 60
    staff_session_absolute_seconds: int = 10 * 3600
    staff_lockout_attempts: int = 5
    staff_lockout_seconds: int = 15 * 60
    staff_claim_seconds: int = 15 * 60
    # Four-eyes release of held queries: a second approver confirms what the first proposed.
    staff_four_eyes_release: bool = False
    extra: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(cls, **overrides: object) -> Settings:
        base = cls(
            data_dir=Path(os.environ.get("HOGO_DATA_DIR", "./var")),
            redis_url=os.environ.get("HOGO_REDIS_URL") or None,
            upstream_url=os.environ.get("HOGO_UPSTREAM_URL") or None,
            host=os.environ.get("HOGO_HOST", "127.0.0.1"),
            port=_env_int("HOGO_PORT", 8080),
            store_timeout=_env_float("HOGO_STORE_TIMEOUT", 0.5),
            upstream_timeout=_env_float("HOGO_UPSTREAM_TIMEOUT", 10.0),
            max_body_bytes=_env_int("HOGO_MAX_BODY_BYTES", 1024 * 1024),
            answer_retention_seconds=_env_int("HOGO_ANSWER_RETENTION_SECONDS", 7 * 24 * 3600),
            interrupted_after_seconds=_env_float("HOGO_INTERRUPTED_AFTER_SECONDS", 60.0),
            held_age_warning_seconds=_env_int("HOGO_HELD_AGE_WARNING_SECONDS", 3 * 24 * 3600),
            staff_session_idle_seconds=_env_int("HOGO_STAFF_SESSION_IDLE_SECONDS", 30 * 60),
            staff_session_absolute_seconds=_env_int(
                "HOGO_STAFF_SESSION_ABSOLUTE_SECONDS", 10 * 3600
            ),
            staff_lockout_attempts=_env_int("HOGO_STAFF_LOCKOUT_ATTEMPTS", 5),
            staff_lockout_seconds=_env_int("HOGO_STAFF_LOCKOUT_SECONDS", 15 * 60),
            staff_claim_seconds=_env_int("HOGO_STAFF_CLAIM_SECONDS", 15 * 60),
            staff_four_eyes_release=os.environ.get("HOGO_STAFF_FOUR_EYES_RELEASE", "")
            in ("1", "true", "yes"),
        )
        clean = {k: v for k, v in overrides.items() if v is not None}
        if "data_dir" in clean:
            clean["data_dir"] = Path(str(clean["data_dir"]))
        return replace(base, **clean)  # type: ignore[arg-type]

    @property
    def keys_dir(self) -> Path:
        return self.data_dir / "keys"
