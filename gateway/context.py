"""The gateway's resources, made once per process: keys, the store, the upstream, the services.

Both the HTTP application and the command line open one `Gateway` and close it at the end, so
the two reach the store the same way.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass

import aiohttp

from gateway import metrics
from gateway.audit.archive import Archive
from gateway.audit.spool import Spool
from gateway.clock import SYSTEM_CLOCK, Clock
from gateway.crypto import Keyring
from gateway.lean.pool import UpstreamPool
from gateway.lean.upstream import LeanUpstream
from gateway.notices import Notices
from gateway.portal import PortalService
from gateway.provision import ProvisionService
from gateway.queue import ManualQueue
from gateway.settings import Settings
from gateway.store.directory import DirectoryStore
from gateway.store.events import EventLog
from gateway.store.flags import FlagStore
from gateway.store.keycheck import guard_keyring
from gateway.store.portal import PortalStore
from gateway.store.queries import QueryStore
from gateway.store.records import RecordStore
from gateway.store.redis import Redis, connect
from gateway.store.requesters import RequesterStore
from gateway.store.trail import TrailStore
from gateway.upstream import Upstream


@dataclass
class Gateway:
    settings: Settings
    keyring: Keyring
    redis: Redis
    queries: QueryStore
    flags: FlagStore
    directory: DirectoryStore
    requesters: RequesterStore
    events: EventLog
    records: RecordStore
    upstream: Upstream | None
    provision: ProvisionService | None
    portal: PortalService | None
    queue: ManualQueue
    trail: TrailStore
    notices: Notices  # attempts told to the holding departments (and the rules)
    _session: aiohttp.ClientSession | None = None

    @property
    def clock(self) -> Clock:
        """The clock every rule by time reads (the store's: its scripts' NOW)."""
        return self.redis.clock

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
        if isinstance(self.upstream, LeanUpstream):
            await self.upstream.close()
        await self.redis.close()


def upstream_ssl_context(settings: Settings) -> ssl.SSLContext | None:
    """For an https upstream: its CA (else the system's) and our client certificate, if set."""
    if not (settings.upstream_url or "").startswith("https://"):
        return None
    context = ssl.create_default_context(cafile=settings.upstream_ca or None)
    if settings.upstream_client_cert:
        context.load_cert_chain(settings.upstream_client_cert, settings.upstream_client_key)
    return context


def make_upstream(settings: Settings) -> tuple[Upstream, aiohttp.ClientSession | None]:
    """The upstream client: the lean pool (default), or aiohttp's (HOGO_PROVISION_ON_AIOHTTP=1,
    the benchmark's old path). Both send the same requests and read answers the same way."""
    assert settings.upstream_url
    observe = metrics.UPSTREAM_SECONDS.observe
    context = upstream_ssl_context(settings)
    if not settings.provision_on_aiohttp:
        pool = UpstreamPool(settings.upstream_url, settings.upstream_timeout, ssl_context=context)
        return LeanUpstream(pool, observe, replay_submit=settings.upstream_replay_submit), None
    session = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=0, keepalive_timeout=30, ssl=context or True),
        skip_auto_headers=("User-Agent",),
    )
    return Upstream(session, settings.upstream_url, settings.upstream_timeout, observe), session


async def open_gateway(settings: Settings, redis_url: str, clock: Clock = SYSTEM_CLOCK) -> Gateway:
    """The gateway's resources; `clock` is the real one but for tests that move time."""
    keyring = Keyring(settings.keys_dir)
    redis = Redis(connect(redis_url, settings), settings, clock)
    guard_keyring(redis, keyring)  # identical keys on every host, checked at the first store call
    queries = QueryStore(redis, keyring)
    flags = FlagStore(redis, keyring)
    directory = DirectoryStore(redis, keyring)
    events = EventLog(redis, Spool(settings.audit_dir), Archive(settings.audit_dir))
    records = RecordStore(redis)
    session = upstream = provision = portal = None
    if settings.upstream_url:
        upstream, session = make_upstream(settings)
        provision = ProvisionService(queries, keyring, upstream, events)
        portal = PortalService(keyring, PortalStore(redis), upstream)
    queue = ManualQueue(queries, flags, upstream, lock_seconds=settings.upstream_timeout + 5)
    return Gateway(
        settings=settings,
        keyring=keyring,
        redis=redis,
        queries=queries,
        flags=flags,
        directory=directory,
        requesters=RequesterStore(redis),
        events=events,
        records=records,
        upstream=upstream,
        provision=provision,
        portal=portal,
        queue=queue,
        trail=TrailStore(redis),
        notices=Notices(redis, keyring, settings.attempts),
        _session=session,
    )
