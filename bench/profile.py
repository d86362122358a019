"""Where the gateway's time goes under load: py-spy samples `hogo-gateway serve` while wrk
saturates it (the benchmark's stack and layout), and the samples are summed by step.

    .venv/bin/python -m bench.profile [--seconds 15] [--loop uvloop|asyncio] [--folded FILE]

Needs py-spy (`pip install py-spy`, a PyPI wheel; ptrace must be allowed, as it is for root).
Each sample is given to the innermost step it is inside of, so the shares add up to 100 % of the
gateway process's busy time; "event loop (uvloop: sockets, tasks), the rest" is what no step claims (on the
lean path the aiohttp server is not in it: --provision-server aiohttp profiles the old path).
"""

from __future__ import annotations

import argparse
import collections
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from bench.procs import Processes
from bench.run import ROOT, parse_args, start_stack
from gateway.eventloop import chosen

# (step, pattern matched against "function (file)"); the innermost matching frame decides.
STEPS: list[tuple[str, str]] = [
    ("sealing (AES-GCM) and person keys (HMAC)", r"^Keyring\.(seal|person_keys?) "),
    ("metrics (prometheus-client)", r"\(prometheus_client/"),
    ("schema validation", r"^validate \(gateway/soap/parse\.py\)"),
    ("read_submit_query", r"^read_submit_query "),
    ("parse the request (checks, lxml, body element)", r"^(parse_xml|body_element) "),
    ("store: admit (the caller's side: seal, keys, join a batch)", r"^QueryStore\.admit "),
    ("store: complete (the caller's side)", r"^QueryStore\.complete "),
    (
        "store: script batches (pack, send, read the replies)",
        r"^(ScriptBatches\.|_on_one_connection |_pack )",
    ),
    ("audit sealer (chain each event, sign each block)", r"^(Sealer\.|sign_batch |chain_events? )"),
    ("upstream call (aiohttp client)", r"^Upstream\._post "),
    ("upstream call (lean pool)", r"\(gateway/lean/(pool/\w+|upstream)\.py\)"),
    ("response envelope", r"^query_result_envelope "),
    ("the rest of the handler (endpoints, provision)", r"\(gateway/(endpoints|provision)\.py\)"),
    (
        "lean server (HTTP parse, checks, answer)",
        r"\(gateway/lean/(connection/\w+|server|http)\.py\)",
    ),
]

# Steps that claim everything under them, whatever matches inside: reading the upstream's answer
# (the fast reader's rebuild calls the response writer; it is part of reading, not answering).
CLAIMING: list[tuple[str, str]] = [
    ("read the upstream's answer (parse, fields)", r"^(read_answer|read_upstream_answer) "),
]


def _frame(f: str) -> str:
    return re.sub(r":\d+\)$", ")", f)


def summarize(folded: Path) -> list[tuple[str, float]]:
    """Share of samples per step from py-spy's raw (collapsed) output."""
    totals: collections.Counter[str] = collections.Counter()
    total = 0
    compiled = [(name, re.compile(p)) for name, p in STEPS]
    claiming = [(name, re.compile(p)) for name, p in CLAIMING]
    for line in folded.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        n = int(count)
        total += n
        step = "event loop (uvloop: sockets, tasks), the rest"
        frames = [_frame(frame) for frame in stack.split(";")]
        claimed = next((name for name, rx in claiming for f in frames if rx.search(f)), None)
        for f in reversed(frames):
            hit = claimed or next((name for name, rx in compiled if rx.search(f)), None)
            if hit:
                step = hit
                break
        totals[step] += n
    return [(name, 100 * n / total) for name, n in totals.most_common()] if total else []


def main() -> int:
    p = argparse.ArgumentParser(prog="python -m bench.profile")
    p.add_argument("--seconds", type=int, default=15)
    p.add_argument("--loop", choices=["uvloop", "asyncio"], default="uvloop")
    p.add_argument("--folded", type=Path, default=None, help="keep py-spy's raw samples here")
    p.add_argument("--rate", type=int, default=250, help="py-spy samples per second")
    p.add_argument(
        "--native", action="store_true", help="C frames too (uvloop, aiohttp's parsers, hiredis)"
    )
    p.add_argument("--gil", action="store_true", help="only samples that hold the GIL")
    p.add_argument(
        "--flagged",
        action="store_true",
        help="the second scenario: subjects drawn from all residents, 1 %% of them flagged",
    )
    p.add_argument("--provision-server", choices=["lean", "aiohttp"], default="lean")
    args = p.parse_args()
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(spy).exists():
        print("py-spy is not installed: .venv/bin/pip install py-spy", file=sys.stderr)
        return 2
    a = parse_args(
        [
            "--loop",
            args.loop,
            "--duration",
            str(args.seconds + 4),
            "--only",
            "gateway,bare,upstream",
        ]
    )
    a.provision_on_aiohttp = args.provision_server == "aiohttp"
    tmp = Path(tempfile.mkdtemp(prefix="hogo-profile-"))
    procs = Processes()
    folded = args.folded or tmp / "gateway.folded"
    try:
        services = start_stack(a, tmp, procs, "1", "0")
        gateway = services["gateway"]
        wrk = [
            "taskset", "-c", "0", "wrk", "-t1", f"-c{a.connections}", f"-d{args.seconds + 4}s",
            "-s", str(ROOT / "bench" / "submit.lua"), gateway.url + "/soap/provision", "--",
            "P", str(a.residents), str(a.flagged_count), "1" if args.flagged else "0",
        ]  # fmt: skip
        load = threading.Thread(target=subprocess.run, args=(wrk,), kwargs={"capture_output": True})
        load.start()
        subprocess.run(
            [spy, "record", "-p", str(gateway.proc.pid), "-d", str(args.seconds), "-r",
             str(args.rate), "-f", "raw", "-o", str(folded)]
            # (native unwinding must stop the process for each sample)
            + ([] if args.native else ["--nonblocking"])
            + (["--native"] if args.native else []) + (["--gil"] if args.gil else []),
            check=True, capture_output=True,
        )  # fmt: skip
        load.join()
        scenario = "1 % flagged" if args.flagged else "unflagged"
        print(f"# gateway profile under saturation ({scenario}), event loop {chosen(args.loop)}")
        print("| step | share of the gateway's CPU |\n|---|---:|")
        for name, share in summarize(folded):
            print(f"| {name} | {share:.1f} % |")
        return 0
    finally:
        procs.stop_all()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
