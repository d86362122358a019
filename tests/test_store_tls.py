"""The store over TLS (rediss://, HOGO_REDIS_TLS_*): a redis-server that listens only on a TLS port
and asks for client certificates. The gateway works through it end to end; a store it cannot
trust (another CA, no client certificate) is a store that is down: faults, never an automatic
answer; a TLS file beside a plain store URL is refused before anything starts."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from gateway.settings import Settings, SettingsError
from gateway.store.redis import Redis, StoreUnavailable, connect
from tests.conftest import start_running, stop_running
from tests.pki import Issued, ThrowawayCA
from tests.support import Query, RedisServer, RedisTls


@dataclass
class TlsStore:
    url: str
    ca: ThrowawayCA
    client: Issued


@pytest.fixture
def tls_store(tmp_path: Path) -> Iterator[TlsStore]:
    ca = ThrowawayCA(tmp_path / "pki")
    server = ca.server("store")
    client = ca.issue("gateway-store-client", client=True)
    # a TLS port and no plaintext port at all, client certificates required
    store = RedisServer(
        tmp_path / "store",
        tls=RedisTls(server.cert, server.key, ca.cert_path, client.cert, client.key),
    ).start()
    try:
        yield TlsStore(store.url, ca, client)
    finally:
        store.remove()


def _with_tls(settings: Settings, store: TlsStore, ca: Path | None = None) -> Settings:
    return replace(
        settings,
        redis_tls_ca=ca or store.ca.cert_path,
        redis_tls_cert=store.client.cert,
        redis_tls_key=store.client.key,
    )


async def test_the_gateway_answers_and_holds_through_a_store_reached_over_tls(
    settings: Settings, tls_store: TlsStore, residents
) -> None:
    r, runners = await start_running(_with_tls(settings, tls_store), tls_store.url, residents)
    try:
        flagged, unflagged = residents[0], residents[1]
        await r.flag(flagged)
        assert (await r.submit(Query("TLS-1", unflagged.subject_code))).status == "PROVIDED"
        assert (await r.submit(Query("TLS-2", flagged.subject_code))).status == "PENDING"
        [held] = await r.gw.queries.list_held()
        assert held.processing_number == "TLS-2"
    finally:
        await stop_running(r, runners)


@pytest.mark.parametrize("wrong", ["another_ca", "no_client_certificate", "plain_url"])
async def test_a_store_that_cannot_be_trusted_is_unavailable(
    settings: Settings, tls_store: TlsStore, tmp_path: Path, wrong: str
) -> None:
    """Each way of failing to set up TLS fails every call: nothing is read, so nothing could be
    answered automatically from it."""
    url = tls_store.url
    if wrong == "another_ca":
        other = ThrowawayCA(tmp_path / "other", name="someone else's CA")
        s = _with_tls(settings, tls_store, ca=other.cert_path)
    elif wrong == "no_client_certificate":
        s = replace(settings, redis_tls_ca=tls_store.ca.cert_path)
    else:  # the TLS port spoken to in plaintext
        s, url = settings, url.replace("rediss://", "redis://")
    store = Redis(connect(url, s), s)
    try:
        assert await store.ping() is False
        with pytest.raises(StoreUnavailable):
            await store.call(store.client.get("anything"))
    finally:
        await store.close()


def test_a_tls_file_beside_a_plain_store_url_is_refused(tmp_path: Path) -> None:
    ca = ThrowawayCA(tmp_path / "pki")
    for url in ("redis://127.0.0.1:6379/0", None):  # a plain server, or the embedded one
        with pytest.raises(SettingsError, match="without TLS"):
            Settings(redis_url=url, redis_tls_ca=ca.cert_path).check()
    with pytest.raises(SettingsError, match="go together"):
        Settings(
            redis_url="rediss://127.0.0.1:6379/0",
            redis_tls_ca=ca.cert_path,
            redis_tls_cert=ca.cert_path,
        ).check()
    missing = Settings(redis_url="rediss://127.0.0.1:6379/0", redis_tls_ca=tmp_path / "nope.pem")
    missing.check()  # (files are looked at when the store is connected, like the listeners')
    with pytest.raises(SettingsError, match="no such file"):
        connect("rediss://127.0.0.1:6379/0", missing)
    # given right, it passes
    Settings(redis_url="rediss://127.0.0.1:6379/0", redis_tls_ca=ca.cert_path).check()


def test_sentinel_and_cluster_clients_use_tls_to_every_node_once_a_ca_is_given(
    tmp_path: Path,
) -> None:
    """How redis-py's own clients are built (not a live Sentinel or Cluster over TLS: that is not
    tested here, see deploy/redis.conf)."""
    ca = ThrowawayCA(tmp_path / "pki").cert_path
    sentinel_url = "redis+sentinel://127.0.0.1:26379,127.0.0.1:26380/hogo"
    with_tls = Settings(redis_url=sentinel_url, redis_tls_ca=ca)
    pool = connect(sentinel_url, with_tls).connection_pool
    assert pool.connection_class.__name__ == "SentinelManagedSSLConnection"
    assert pool.connection_kwargs["ssl_ca_certs"] == str(ca)
    for sentinel in pool.sentinel_manager.sentinels:  # the sentinels themselves too
        assert sentinel.connection_pool.connection_class.__name__ == "SSLConnection"
        assert sentinel.connection_pool.connection_kwargs["ssl_ca_certs"] == str(ca)
    cluster_url = "redis+cluster://127.0.0.1:7000"
    cluster = connect(cluster_url, Settings(redis_url=cluster_url, redis_tls_ca=ca))
    assert cluster.connection_kwargs["connection_class"].__name__ == "SSLConnection"
    assert cluster.connection_kwargs["ssl_ca_certs"] == str(ca)
    # without a CA, plain (the operator's choice, on a network where that is acceptable)
    plain = connect(sentinel_url, Settings(redis_url=sentinel_url)).connection_pool
    assert plain.connection_class.__name__ == "SentinelManagedConnection"
