"""A real `cove serve` in a child process, for the tests that kill it (kill -9) and start it
again on the same data dir; and a workspace seeded in process before it starts."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
from redis_server import free_port

from api.app import running_services
from api.bootstrap import load_keyring
from api.settings import Settings
from resolvers import channels, workspaces
from resolvers.roles import Visibility
from schema.relay import to_global_id
from support import FAST_ARGON2, PASSWORD
from tests.accounts_support import signed_up
from tests.inprocess import ctx


async def seed_account(settings: Settings) -> tuple[str, str, str]:
    """An account's token, a workspace and a channel (global ids), made in process."""
    async with running_services(settings, load_keyring(settings)) as services:
        person = await signed_up(ctx(services, None), "kim@example.org", PASSWORD, "Kim")
        ws = await workspaces.create_workspace(ctx(services, person.token), "Acme")
        room = await channels.create_channel(
            ctx(services, person.token), ws.id, "general", Visibility.PUBLIC, None
        )
    return person.token, to_global_id("Workspace", ws.id), to_global_id("Channel", room.id)


@contextmanager
def cove_serve(settings: Settings, **env: str) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    port = free_port()
    environ = {**os.environ, **{f"COVE_{k.upper()}": str(v) for k, v in FAST_ARGON2.items()}}
    environ |= {"COVE_LOG_LEVEL": "WARNING", **env}
    command = [sys.executable, "-m", "api.cli", "serve", "--data-dir", str(settings.data_dir)]
    server = subprocess.Popen([*command, "--port", str(port)], env=environ)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(url + "/ready", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert server.poll() is None, "cove serve stopped"
            assert time.monotonic() < deadline, "cove serve did not become ready"
            time.sleep(0.1)
        yield server, url
    finally:
        if server.poll() is None:
            server.terminate()
            server.wait(timeout=20)


def gql(url: str, token: str, query: str, variables: dict[str, str]) -> dict[str, object]:
    answer = httpx.post(
        url + "/graphql",
        json={"query": query, "variables": variables},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    ).json()
    assert "errors" not in answer, answer
    data: dict[str, object] = answer["data"]
    return data
