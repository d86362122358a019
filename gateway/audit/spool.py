"""Security events that could not reach the store, kept on local disk until it answers again.

An action and its event are one atomic step in the store, so when the store is down the action
fails and there is nothing to record. Security events have no action behind them (hostile input
is refused whatever happens), so instead of being dropped they are appended here (fsynced, one
JSON line each, under DATA_DIR/audit/spool/, one file per process) and replayed into the event
stream by the next drain in any process of this host, exactly once (each carries an id the store
remembers; see lua/audit_replay.lua). They keep the time they happened.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import socket
import uuid
from pathlib import Path

from gateway.store.trail import TrailStore

log = logging.getLogger("hogo.audit")
REPLAY_MARKER_SECONDS = 30 * 24 * 3600


class Spool:
    def __init__(self, audit_dir: Path) -> None:
        self.dir = audit_dir / "spool"

    def _own_file(self) -> Path:
        return self.dir / f"{socket.gethostname()}-{os.getpid()}.jsonl"

    def write(self, fields: dict[str, str]) -> None:
        """Append one event durably (blocking: call it in a thread)."""
        self.dir.mkdir(parents=True, exist_ok=True)
        marked = {**fields, "via": "spool"}  # the trail shows it was appended late
        line = json.dumps({"id": uuid.uuid4().hex, "fields": marked}, ensure_ascii=False) + "\n"
        path = self._own_file()
        while True:
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                # a drain may have replayed and removed the file while we waited for the lock
                if os.fstat(fd).st_nlink == 0:
                    continue
                os.write(fd, line.encode())
                os.fsync(fd)
                return
            finally:
                os.close(fd)

    def pending(self) -> list[Path]:
        if not self.dir.is_dir():
            return []
        return sorted(p for p in self.dir.iterdir() if p.suffix == ".jsonl")

    async def drain(self, trail: TrailStore) -> int:
        """Replay every spool file of this host into the store; returns the events appended.

        Stops (leaving the rest for next time) as soon as the store fails again."""
        appended = 0
        for path in self.pending():
            try:
                fd = os.open(path, os.O_RDWR)
            except FileNotFoundError:
                continue
            try:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue  # its writer, or another drain, is at it
                if os.fstat(fd).st_nlink == 0:
                    continue
                with os.fdopen(os.dup(fd), "rb") as fh:
                    raw_lines = fh.read().splitlines()
                for raw in raw_lines:
                    try:
                        item = json.loads(raw)
                        spool_id, fields = str(item["id"]), dict(item["fields"])
                    except (ValueError, KeyError, TypeError):
                        log.error("spool %s: unreadable line skipped (cut off by a crash?)", path)
                        continue
                    if await trail.replay(spool_id, fields, REPLAY_MARKER_SECONDS):
                        appended += 1
                path.unlink()
            finally:
                with contextlib.suppress(OSError):
                    os.close(fd)
        return appended
