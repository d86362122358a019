"""No oracle outside the answer: /metrics and /readyz (counters by hold reason and portal outcome,
the store's and the upstream's state) are the operator's, never a requester's or the portal's.

They are served on the ops listener (--ops-listen) when there is one, and otherwise only to peers
on loopback: anyone else gets 404, as if the path did not exist. /healthz stays everywhere.
"""

from __future__ import annotations

import ipaddress
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path

import aiohttp
import pytest

from gateway.app import build_app
from gateway.context import open_gateway
from gateway.listeners import peer_is_loopback, start_listeners
from gateway.settings import Listener, Settings
from gateway.simulator import Simulator
from tests.support import GatewayProcess, serve_app

OPS_PATHS = ("/metrics", "/readyz")


def non_loopback_address() -> str | None:
    """An IPv4 address of this machine that is not loopback, to reach a 0.0.0.0 listener from
    "outside" (the kernel still routes it locally, but the gateway sees that address as peer)."""
    try:
        out = subprocess.run(["hostname", "-I"], capture_output=True, text=True, timeout=5).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    for word in out.split():
        try:
            ip = ipaddress.ip_address(word)
        except ValueError:
            continue
        if ip.version == 4 and not ip.is_loopback:
            return word
    return None


OUTSIDE = non_loopback_address()
needs_outside = pytest.mark.skipif(OUTSIDE is None, reason="no non-loopback IPv4 address here")


@asynccontextmanager
async def gateway_on(settings: Settings, redis_url: str) -> AsyncIterator[dict[str, int]]:
    """The gateway with the listeners `settings` names, and an upstream for /readyz; the port
    each listener got, by name."""
    upstream = await serve_app(Simulator().app())
    settings = replace(settings, upstream_url=upstream.url + "/")
    gw = await open_gateway(settings, redis_url)
    listening = await start_listeners(build_app(settings, redis_url, gateway=gw), settings)
    try:
        yield {listener.name: listener.port for listener in listening.listeners}
    finally:
        await listening.cleanup()
        await gw.close()
        await upstream.cleanup()


async def _status(url: str) -> int:
    async with aiohttp.ClientSession() as s, s.get(url) as resp:
        await resp.read()
        return resp.status


@needs_outside
async def test_without_an_ops_listener_only_loopback_peers_see_metrics_and_readiness(
    settings: Settings, redis_url: str
) -> None:
    # the main listener on every address (plain HTTP: a test; serve would want --insecure-http)
    configured = replace(settings, host="0.0.0.0", port=0, insecure_http=True)
    async with gateway_on(configured, redis_url) as ports:
        port = ports["main"]
        for path in OPS_PATHS:
            assert await _status(f"http://{OUTSIDE}:{port}{path}") == 404, path
            assert await _status(f"http://127.0.0.1:{port}{path}") == 200, path
        assert await _status(f"http://{OUTSIDE}:{port}/healthz") == 200
        # the services themselves still answer from outside
        async with (
            aiohttp.ClientSession() as s,
            s.post(f"http://{OUTSIDE}:{port}/soap/provision", data=b"<x") as resp,
        ):
            assert resp.status == 500 and b"MALFORMED_XML" in await resp.read()


@needs_outside
async def test_with_an_ops_listener_the_main_listener_has_no_metrics_or_readiness(
    settings: Settings, redis_url: str
) -> None:
    ops = Listener("ops", "0.0.0.0", 0, ("ops",))
    configured = replace(
        settings, host="0.0.0.0", port=0, insecure_http=True, separate_listeners=(ops,)
    )
    async with gateway_on(configured, redis_url) as ports:
        port, ops_port = ports["main"], ports["ops"]
        for path in OPS_PATHS:
            for host in (OUTSIDE, "127.0.0.1"):
                assert await _status(f"http://{host}:{port}{path}") == 404, (host, path)
                # the operator's own listener serves whoever reaches it (its TLS decides who may)
                assert await _status(f"http://{host}:{ops_port}{path}") == 200, (host, path)
        for p in (port, ops_port):
            assert await _status(f"http://{OUTSIDE}:{p}/healthz") == 200


@needs_outside
async def test_a_portal_listener_never_serves_metrics(settings: Settings, redis_url: str) -> None:
    portal = Listener("portal", "0.0.0.0", 0, ("portal",))
    configured = replace(
        settings, host="0.0.0.0", port=0, insecure_http=True, separate_listeners=(portal,)
    )
    async with gateway_on(configured, redis_url) as ports:
        port, portal_port = ports["main"], ports["portal"]
        for path in OPS_PATHS:
            assert await _status(f"http://{OUTSIDE}:{portal_port}{path}") == 404
            assert await _status(f"http://127.0.0.1:{portal_port}{path}") == 404
            assert await _status(f"http://{OUTSIDE}:{port}{path}") == 404
            assert await _status(f"http://127.0.0.1:{port}{path}") == 200


@pytest.mark.parametrize(
    ("peername", "loopback"),
    [
        (("127.0.0.1", 5000), True),
        (("127.8.9.10", 5000), True),
        (("::1", 5000, 0, 0), True),
        (("::ffff:127.0.0.1", 5000, 0, 0), True),  # IPv4 on a dual-stack socket
        (("192.0.2.2", 5000), False),
        (("::ffff:192.0.2.2", 5000, 0, 0), False),
        (("fe80::1%eth0", 5000, 0, 2), False),
        (("localhost", 5000), False),  # a peer is an address, never a name
        ("/run/hogo.sock", False),
        (None, False),
        ((), False),
    ],
)
def test_peer_is_loopback(peername: object, loopback: bool) -> None:
    assert peer_is_loopback(peername) is loopback


async def test_serve_on_port_0_reports_each_listeners_port_and_guards_by_it(
    tmp_path: Path, redis_url: str
) -> None:
    """`serve --port 0 --ops-listen 127.0.0.1:0`: each listener gets a port of its own from the
    system, the ready file names them, and the guards go by the ports as bound (the ops
    endpoints on the ops listener only)."""
    upstream = await serve_app(Simulator().app())
    gateway = GatewayProcess(
        tmp_path / "data", redis_url, upstream.url + "/", "--ops-listen", "127.0.0.1:0"
    )
    try:
        await gateway.wait_ready()
        main, ops = gateway.listeners["main"], gateway.listeners["ops"]
        assert main != ops and not main.endswith(":0") and not ops.endswith(":0")
        assert await _status(ops + "/metrics") == 200
        assert await _status(main + "/metrics") == 404  # loopback, but not the ops listener
        assert await _status(main + "/healthz") == 200
        assert await _status(ops + "/soap/provision") == 404  # not a service of the ops listener
    finally:
        gateway.stop()
        await upstream.cleanup()
    assert not gateway.ready_file.exists()  # removed when the gateway stopped
