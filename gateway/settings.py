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


def _env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"{name} must be 1 or 0, not {raw!r}")


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
    # The audit trail (see docs/audit.md). Off only for the benchmark's comparison: then no
    # event is recorded at all, and `serve` says so loudly.
    audit_enabled: bool = True
    audit_seal_batch: int = 256  # events sealed in one atomic step
    audit_seal_idle_seconds: float = 0.05  # how often the sealer looks when nothing waits
    # A sealer or archiver that stops renewing its lease loses the role after this long.
    audit_lease_seconds: float = 5.0
    # Whether this process may archive; the archive files live on the archiving process's host.
    audit_archive: bool = True
    audit_archive_after_seconds: int = 24 * 3600  # sealed events older than this go to files,
    audit_keep_events: int = 100_000  # and so do the oldest beyond this many in the store
    audit_archive_file_bytes: int = 64 * 1024 * 1024  # start a new archive file past this size
    audit_archive_file_seconds: int = 24 * 3600  # or when the current one is this old
    audit_archive_interval_seconds: float = 60.0
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
            audit_enabled=_env_bool("HOGO_AUDIT_ENABLED", True),
            audit_seal_batch=_env_int("HOGO_AUDIT_SEAL_BATCH", 256),
            audit_lease_seconds=_env_float("HOGO_AUDIT_LEASE_SECONDS", 5.0),
            audit_archive=_env_bool("HOGO_AUDIT_ARCHIVE", True),
            audit_archive_after_seconds=_env_int("HOGO_AUDIT_ARCHIVE_AFTER_SECONDS", 24 * 3600),
            audit_keep_events=_env_int("HOGO_AUDIT_KEEP_EVENTS", 100_000),
            audit_archive_file_bytes=_env_int("HOGO_AUDIT_ARCHIVE_FILE_BYTES", 64 * 1024 * 1024),
            audit_archive_file_seconds=_env_int("HOGO_AUDIT_ARCHIVE_FILE_SECONDS", 24 * 3600),
            audit_archive_interval_seconds=_env_float("HOGO_AUDIT_ARCHIVE_INTERVAL_SECONDS", 60.0),
        )
        clean = {k: v for k, v in overrides.items() if v is not None}
        if "data_dir" in clean:
            clean["data_dir"] = Path(str(clean["data_dir"]))
        return replace(base, **clean)  # type: ignore[arg-type]

    @property
    def keys_dir(self) -> Path:
        return self.data_dir / "keys"

    @property
    def audit_dir(self) -> Path:  # archive files and the spool of the audit trail
        return self.data_dir / "audit"
