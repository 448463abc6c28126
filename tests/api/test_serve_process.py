"""`cove serve` as a user runs it: a real process, two workers, an empty data dir."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx
from mail_sink import mail_sink
from redis_server import RedisServer, free_port

from support import FAST_ARGON2, LOG_IN, PASSWORD, SIGN_UP, sqlite_only


@sqlite_only  # two workers on one SQLite file (nodes on ScyllaDB: test_realtime_nodes.py)
def test_first_serve_initialises_and_two_workers_share_one_store(tmp_path: Path) -> None:
    data = tmp_path / "fresh"
    port = free_port()
    redis_server = RedisServer(tmp_path)  # two workers need a shared broker
    redis_server.start()
    env = {**os.environ, **{f"COVE_{k.upper()}": str(v) for k, v in FAST_ARGON2.items()}}
    env["COVE_BROKER_URL"] = redis_server.url
    sink = mail_sink()
    env["COVE_SMTP_HOST"] = "127.0.0.1"
    env["COVE_SMTP_PORT"] = str(sink.port)
    env["COVE_SMTP_SECURITY"] = "none"
    env["COVE_SMTP_SENDER"] = "cove@test.invalid"
    command = [sys.executable, "-m", "api.cli", "serve", "--data-dir", str(data)]
    command += ["--port", str(port), "--workers", "2"]
    server = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(url + "/ready", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert server.poll() is None, server.stdout.read().decode() if server.stdout else ""
            assert time.monotonic() < deadline, "cove serve did not become ready"
            time.sleep(0.1)
        assert stat.S_IMODE((data / "keys" / "root.key").stat().st_mode) == 0o600
        variables = {"email": "proc@example.org", "password": PASSWORD, "name": "Proc"}
        with httpx.Client(base_url=url) as http:
            mark = sink.mark()
            signed = http.post("/graphql", json={"query": SIGN_UP, "variables": variables})
            assert "check your email" in signed.json()["data"]["signUp"]["message"].lower()
            sink.wait_for_link("proc@example.org", "verify-email", after=mark)
            # New connections land on either worker; every one sees the same accounts.
            for _ in range(6):
                with httpx.Client(base_url=url) as fresh:
                    logged = fresh.post(
                        "/graphql",
                        json={
                            "query": LOG_IN,
                            "variables": {k: variables[k] for k in ("email", "password")},
                        },
                    )
                    assert logged.json()["data"]["logIn"]["token"].startswith("cove_")
            # The serving process times its garbage collector's pauses.
            assert 'cove_gc_pause_seconds_count{generation="2"}' in http.get("/metrics").text
    finally:
        server.terminate()
        server.wait(timeout=20)
        redis_server.stop()


def test_several_workers_without_a_shared_broker_are_refused(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "api.cli", "serve", "--data-dir", str(tmp_path / "d")]
    run = subprocess.run(
        [*command, "--workers", "2"], capture_output=True, text=True, timeout=60, check=False
    )
    assert run.returncode == 2
    assert "broker_url" in run.stderr
