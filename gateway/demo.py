"""`hogo-gateway demo`: the whole gateway on this machine, with synthetic residents only.

Starts an embedded store under DATA_DIR/demo, a simulated upstream, and the gateway; registers a
requester, imports a directory of synthetic residents, flags two of them, makes a staff account
per role (gateway/staff/demo.py), and prints what to try.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from pathlib import Path

from aiohttp import web

from gateway.app import build_app
from gateway.context import Gateway, open_gateway
from gateway.directory_import import import_pairs
from gateway.embedded import EmbeddedRedis
from gateway.flags import set_flags
from gateway.listeners import listen, start_listeners
from gateway.orders import FlagOrder
from gateway.settings import Settings
from gateway.simulator import Resident, Simulator, synthetic_residents
from gateway.staff.demo import create_demo_accounts, describe
from gateway.store.flags import FlagRecord

DEMO_REQUESTER = "1300000000000001"
DEMO_AFFAIR = "JM00000000000001"
RESIDENTS = 50


async def flag_resident(
    gw: Gateway,
    resident: Resident,
    *,
    actor: str,
    until: str = "2027-03-31",
    auto_response_disabled: bool = True,
    non_disclosure: bool = True,
) -> FlagRecord:
    """Flag a synthetic resident on the application (申出) of 子ども家庭課 / 児童手当業務, the
    holding department the demo, the tests, the screenshots and the benchmark use."""
    return await set_flags(
        gw,
        FlagOrder(
            atena_number=resident.atena_number,
            name=resident.name,
            department="子ども家庭課",
            business="児童手当業務",
            basis="application",
            until=until,
            auto_response_disabled=auto_response_disabled,
            non_disclosure=non_disclosure,
            actor=actor,
        ),
    )


def _sample_request(pn: str, subject: str) -> str:
    return f"""curl -s http://HOST/soap/provision -H 'Content-Type: text/xml' --data '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><q:SubmitQueryRequest xmlns:q="urn:hogo-gateway:provision:1"><q:processingNumber>{pn}</q:processingNumber><q:requesterOrgCode>{DEMO_REQUESTER}</q:requesterOrgCode><q:affairCode>{DEMO_AFFAIR}</q:affairCode><q:procedureCode>JT00000000000001</q:procedureCode><q:itemCode>TM00000000000001</q:itemCode><q:subjectCode>{subject}</q:subjectCode><q:requestedAt>2026-11-26T10:00:00+09:00</q:requestedAt></q:SubmitQueryRequest></soap:Body></soap:Envelope>'"""


async def _prepare(settings: Settings, url: str, actor: str) -> tuple[list, list, list]:
    residents = list(synthetic_residents(RESIDENTS))
    gw = await open_gateway(settings, url)
    try:
        if await gw.requesters.get(DEMO_REQUESTER) is None:
            await gw.requesters.add(DEMO_REQUESTER, "見本市 子ども家庭課 (demo requester)", actor)
        # deny by default: the demo requester may ask about the affair the sample requests use
        await gw.requesters.grant(DEMO_REQUESTER, DEMO_AFFAIR, [], actor)
        pairs = ((r.atena_number, r.subject_code) for r in residents)
        await import_pairs(gw.directory, gw.events, pairs, actor)
        flagged = residents[:2]
        for r in flagged:
            record = await gw.flags.get(r.atena_number)
            if record is None or not record.state.auto_response_disabled:
                await flag_resident(gw, r, actor=actor, until="2027-11-30")
        staff = await create_demo_accounts(gw, actor)
        return residents, flagged, staff
    finally:
        await gw.close()


async def _main(args: argparse.Namespace, data_dir: Path, actor: str) -> None:
    embedded = EmbeddedRedis(data_dir, owner="serve")
    url = embedded.running_url() or await asyncio.to_thread(embedded.start)
    try:
        sim = Simulator.with_residents(RESIDENTS, record_calls=False)
        up_runner = web.AppRunner(sim.app(), access_log=None)
        await up_runner.setup()
        up_port = await listen(up_runner, "127.0.0.1")
        upstream = f"http://127.0.0.1:{up_port}/provision"
        settings = Settings.from_env(
            data_dir=data_dir, upstream_url=upstream, host=args.host, port=args.port
        )
        residents, flagged, staff = await _prepare(settings, url, actor)
        # as serve listens: provision on the lean server, every other path on the aiohttp app
        listening = await start_listeners(build_app(settings, url), settings)
        port = listening.listeners[0].port  # --port 0: any free port, shown below
        host = f"{args.host}:{port}"
        clear = residents[5]
        print(
            "\n".join(
                [
                    "hogo-gateway demo (synthetic data only)",
                    f"  gateway        http://{host}/soap/provision   /soap/portal",
                    f"  health         http://{host}/healthz  /readyz  /metrics",
                    f"  staff console  http://{host}/staff/",
                    f"  upstream (sim) {upstream}",
                    f"  data dir       {data_dir}",
                    f"  requester      {DEMO_REQUESTER}",
                    f"  flagged        {', '.join(r.subject_code for r in flagged)} (held, never automatic)",
                    f"  unflagged      {clear.subject_code} ... (answered automatically)",
                    "",
                    "Try: an automatic answer",
                    "  " + _sample_request("DEMO-1", clear.subject_code).replace("HOST", host),
                    "Try: a flagged person (answers PENDING; see the queue)",
                    "  " + _sample_request("DEMO-2", flagged[0].subject_code).replace("HOST", host),
                    f"  hogo-gateway --data-dir {data_dir} held list",
                    f"  hogo-gateway --data-dir {data_dir} held release ID --notice '取扱注意' "
                    f"--upstream-url {upstream}",
                    "",
                    *describe(staff, f"http://{host}/staff/"),
                    "",
                    "Stop with Ctrl-C.",
                ]
            ),
            flush=True,
        )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        await listening.cleanup()
        await up_runner.cleanup()
    finally:
        await asyncio.to_thread(embedded.stop)


def run(args: argparse.Namespace, actor: str) -> int:
    """Run the demo until stopped; `actor` (the operating-system user) is recorded as who set it
    up."""
    data_dir = Path(getattr(args, "data_dir", None) or "./var") / "demo"
    asyncio.run(_main(args, data_dir, actor))
    return 0
