"""The check's fold of the trail, saved so that it is built once and then carried on from where it
stood: on this host's disk (DATA_DIR/verify/fold.json) and in the store, each with the gateway's
MAC (Keyring.tag, purpose `verify-state`: a key Redis does not hold).

Someone with write access to Redis can delete the store's copy or put back an older one, but not
forge one: an older fold carried on through the trail from its position gives the same result,
as long as the trail after it can still be read (the store, or this host's archive). The newest
valid copy of the two is taken.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
from pathlib import Path

from gateway.crypto import Keyring
from gateway.store.redis import StoreUnavailable
from gateway.store.verify import VerifyStore
from gateway.verify.fold import TrailFold

log = logging.getLogger("hogo.verify")
FORMAT = 1


def _canonical(obj: object) -> str:
    return json.dumps(obj, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def _digest(fold: dict[str, object]) -> str:
    return hashlib.sha256(_canonical(fold).encode()).hexdigest()


def encode(fold: TrailFold, keyring: Keyring) -> str:
    body = fold.as_json()
    mac = keyring.tag("verify-state", "fold", str(FORMAT), _digest(body))
    return _canonical({"format": FORMAT, "fold": body, "mac": mac})


def decode(blob: str, keyring: Keyring) -> TrailFold | None:
    """The fold in `blob`, or None if it is not one this keyring made (or unreadable)."""
    try:
        obj = json.loads(blob)
        body, mac = obj["fold"], obj["mac"]
        if obj.get("format") != FORMAT:
            return None
        if not keyring.check_tag("verify-state", mac, "fold", str(FORMAT), _digest(body)):
            return None
        return TrailFold.from_json(body)
    except (ValueError, KeyError, TypeError, IndexError):
        return None


class Checkpoints:
    def __init__(self, store: VerifyStore, keyring: Keyring, directory: Path) -> None:
        self.store = store
        self.keyring = keyring
        self.path = directory / "fold.json"

    def _read_disk(self) -> str | None:
        try:
            return self.path.read_text()
        except OSError:
            return None

    def _write_disk(self, blob: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(self.path.parent, 0o700)
        tmp = self.path.with_name(self.path.name + ".part")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(blob)
            fh.flush()
            os.fsync(fh.fileno())
        tmp.replace(self.path)

    async def load(self, head_seq: int) -> TrailFold | None:
        """The newest valid saved fold not beyond the trail's head (one beyond it was made on a
        trail the store no longer has: restored from an old backup)."""
        found: list[TrailFold] = []
        disk = await asyncio.to_thread(self._read_disk)
        try:
            stored = await self.store.saved()
        except StoreUnavailable:
            stored = None
        for where, blob in (("disk", disk), ("store", stored)):
            if blob is None:
                continue
            fold = decode(blob, self.keyring)
            if fold is None:
                log.warning("the check's saved fold (%s) does not check: ignored", where)
            elif fold.seq > head_seq:
                log.warning("the check's saved fold (%s) is beyond the trail's head", where)
            else:
                found.append(fold)
        return max(found, key=lambda f: f.seq, default=None)

    async def save(self, fold: TrailFold) -> None:
        blob = encode(fold, self.keyring)
        try:
            await asyncio.to_thread(self._write_disk, blob)
        except OSError as exc:
            log.warning("the check's fold could not be saved to disk: %s", exc)
        with contextlib.suppress(StoreUnavailable):  # the disk copy is there; the store's is
            await self.store.save(blob)  # for other hosts only
