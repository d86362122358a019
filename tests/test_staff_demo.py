"""`hogo-gateway demo` makes one synthetic staff account per role, prints them with their fresh
passwords, and they log in to the running console."""

from __future__ import annotations

import re
import signal
import subprocess
import time
from pathlib import Path

import aiohttp
import pytest

from tests.staffkit import StaffClient
from tests.support import hogo_process


@pytest.mark.slow
async def test_demo_prints_staff_accounts_that_log_in(tmp_path: Path) -> None:
    proc = hogo_process(
        "demo", "--port", "0", data_dir=tmp_path, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    lines: list[str] = []
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line.rstrip("\n"))
            if "Stop with Ctrl-C" in line:
                break
        text = "\n".join(lines)
        # --port 0: the port the system gave, as the demo prints it
        found = re.search(r"staff console\s+http://127\.0\.0\.1:(\d+)/staff/", text)
        assert found and int(found.group(1)) > 0, text
        port = int(found.group(1))
        accounts = {
            m.group(1): (m.group(2), m.group(3))
            for m in re.finditer(
                r"^\s+(demo-[a-z0-9]+)\s+(\S+)\s+(registrar|approver|auditor|admin)\b", text, re.M
            )
        }
        assert {role for _, role in accounts.values()} == {
            "registrar",
            "approver",
            "auditor",
            "admin",
        }
        # the demo listens as serve does: its sample query is answered by the lean provision
        # server (no aiohttp Server header), automatically for the unflagged resident
        sample = re.search(r"Try: an automatic answer\n\s+curl .* --data '([^']+)'", text)
        assert sample, text
        async with (
            aiohttp.ClientSession() as http,
            http.post(
                f"http://127.0.0.1:{port}/soap/provision",
                data=sample.group(1).encode(),
                headers={"Content-Type": "text/xml"},
            ) as answer,
        ):
            body = await answer.text()
            assert answer.status == 200, body
            assert "aiohttp" not in answer.headers.get("Server", ""), answer.headers
            assert "PROVIDED" in body, body
        client = StaffClient.new(f"http://127.0.0.1:{port}")
        try:
            for login, (password, role) in accounts.items():
                assert await client.login(login, password) == 200, login
                status, body = await client.api("GET", "/api/v1/session")
                assert (status, body["role"]) == (200, role)
                assert (await client.api("DELETE", "/api/v1/session"))[0] == 200
            assert await client.login("demo-approver", "not-the-password") == 401
        finally:
            await client.close()
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
