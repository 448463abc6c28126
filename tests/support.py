"""Test helpers: a real uvicorn server on a loopback port, and a small GraphQL client."""

from __future__ import annotations

import asyncio
import os
import socket
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from scylla_node import (
    E2E_KEYSPACE,
    HOSTS_VARIABLE,
    NODE_DIR_VARIABLE,
    STORE_VARIABLE,
    start_database,
)

from api.app import create_app
from api.bootstrap import init_data_dir, is_initialised
from api.http_server import server_config
from api.settings import Settings, load_settings

FAST_ARGON2 = {"argon2_time_cost": 2, "argon2_memory_kib": 19456, "argon2_parallelism": 1}
# Every test signs up and in from 127.0.0.1; the rate-limit tests set their own small limits.
GENEROUS_LIMITS = {
    "login_attempts_per_ip_per_minute": 100_000,
    "login_failures_per_account": 1_000,
    "signups_per_ip_per_hour": 100_000,
    # Every anonymous request of a run shares one address, so one query-cost budget.
    "query_cost_budget": 10**12,
    # Webhook receivers in tests listen on 127.0.0.1, which the SSRF guard refuses otherwise.
    "webhooks_allow_private": True,
    # The OAuth tests send many refused token requests from that one address.
    "token_failures_per_ip": 1000,
}
PASSWORD = "correct horse battery"


def sink_mail_settings() -> dict[str, object]:
    """Outbound mail to the process's shared test SMTP server (tests/mail_sink.py)."""
    # Imported here, as the tests import it (`mail_sink`), so there is one sink per process;
    # the benchmarks import this module as `tests.support` and never need it.
    from mail_sink import mail_sink

    return {
        "smtp_host": "127.0.0.1",
        "smtp_port": mail_sink().port,
        "smtp_security": "none",
        "smtp_sender": "cove@test.invalid",
        "mail_retry_base_seconds": 1,
    }


def store_under_test(data_dir: Path, keyspace: str = E2E_KEYSPACE) -> dict[str, object]:
    """The store settings of this run: SQLite in each data dir, or with `COVE_TEST_STORE=scylla`
    (`make test-scylla`) one keyspace on the Cassandra node, emptied for each new data dir."""
    if os.environ.get(STORE_VARIABLE) != "scylla":
        return {}
    hosts = os.environ[HOSTS_VARIABLE]
    if keyspace == E2E_KEYSPACE:
        start_database(hosts, keyspace, data_dir)
    return {
        "store": "scylla",
        "scylla_hosts": hosts,
        "scylla_keyspace": keyspace,
        "scylla_replication": 1,
    }


def on_scylla() -> bool:
    """Whether this run's servers keep their records on the Cassandra node."""
    return os.environ.get(STORE_VARIABLE) == "scylla"


# Tests that reach into the SQLite file itself (damaging a row, planting a legacy hash) or that
# prove erasure from its pages (ScyllaDB keeps deleted data until compaction: SECURITY.md).
sqlite_only = pytest.mark.skipif(
    os.environ.get(STORE_VARIABLE) == "scylla", reason="inspects or edits the SQLite file itself"
)


def settle(services: Any) -> None:
    """Make every write visible in the store's files: SQLite copies its WAL into the
    database; Cassandra has each write in its (uncompressed) commit log already."""
    checkpoint = getattr(services.store, "checkpoint", None)
    if checkpoint is not None:
        asyncio.run(checkpoint())


def stored_contents(data_dir: Path) -> list[tuple[Path, bytes]]:
    """Every file the store behind `data_dir` writes, with its bytes: the data dir and, on
    ScyllaDB, the node's data, commit log and hints folders. A live node removes files while
    a scan runs (compaction, Paxos repair state, recycled commit log segments): a file gone
    between the listing and the read is skipped, as its bytes are no longer stored. Fails if
    the store's own files are not among those read, so that a canary scan can never pass by
    reading nothing."""
    roots = [data_dir]
    if on_scylla():
        node = os.environ.get(NODE_DIR_VARIABLE)
        if not node:
            pytest.skip("the Cassandra node's files are not on this machine")
        roots.append(Path(node))
    listed = [path for root in roots for path in sorted(root.rglob("*"))]
    # The node's own log, settings and pid file (at the top of its folder) are not stored
    # data: its log names its address. Its data, commit log and hints are in subfolders.
    listed = [path for path in listed if len(roots) == 1 or path.parent != roots[1]]
    contents = []
    for path in listed:
        try:
            contents.append((path, path.read_bytes()))
        except (FileNotFoundError, IsADirectoryError):
            continue
    names = [path.name for path, _ in contents]
    if on_scylla():
        assert any(name.startswith("CommitLog-") for name in names), "no commit log found"
    else:
        assert "cove.db" in names, "no SQLite database found"
    return contents


def make_settings(data_dir: Path, **overrides: object) -> Settings:
    """Settings for tests: a temporary data dir, OWASP-minimum Argon2 to keep the suite quick,
    and mail sent to the shared sink (`mail_sink()`); `smtp_host=None` turns mail off."""
    mail = sink_mail_settings()
    values: dict[str, object] = {
        "data_dir": data_dir,
        # A small threshold keeps each test server's reserve file (a quarter of it) small.
        "min_free_bytes": 1024 * 1024,
        **FAST_ARGON2,
        **GENEROUS_LIMITS,
        **mail,
        **store_under_test(data_dir),
        **overrides,
    }
    settings = load_settings(environ={}, overrides=values)
    if not is_initialised(settings):
        init_data_dir(settings)
    return settings


@dataclass
class Server:
    url: str
    server: uvicorn.Server
    thread: threading.Thread
    verify: Any = True
    clients: list[httpx.Client] = field(default_factory=list)

    def client(self, token: str | None = None) -> GraphQLClient:
        http = httpx.Client(base_url=self.url, verify=self.verify, timeout=30)
        self.clients.append(http)
        return GraphQLClient(http, token)


@contextmanager
def serve(settings: Settings, **ssl: str) -> Iterator[Server]:
    """Run Cove in a thread on a free 127.0.0.1 port until the block ends."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    # The options `cove serve` uses (limits, head deadline, frame cap), on this socket.
    config = server_config(
        settings, create_app(settings), log_level="warning", lifespan="on", **ssl
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("test server did not start")
        time.sleep(0.01)
    scheme = "https" if ssl else "http"
    handle = Server(url=f"{scheme}://127.0.0.1:{port}", server=server, thread=thread)
    try:
        yield handle
    finally:
        for client in handle.clients:
            client.close()
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()


class GraphQLClient:
    """Posts GraphQL documents as JSON, optionally with a bearer token."""

    def __init__(self, http: httpx.Client, token: str | None = None) -> None:
        self.http = http
        self.token = token

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def post(self, query: str, variables: Mapping[str, Any] | None = None) -> httpx.Response:
        body: dict[str, Any] = {"query": query}
        if variables is not None:
            body["variables"] = dict(variables)
        return self.http.post("/graphql", json=body, headers=self.headers())

    def run(self, query: str, variables: Mapping[str, Any] | None = None) -> dict[str, Any]:
        response = self.post(query, variables)
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result

    def data(self, query: str, variables: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Run and insist there were no errors."""
        result = self.run(query, variables)
        assert not result.get("errors"), result
        data: dict[str, Any] = result["data"]
        return data

    def as_user(self, token: str) -> GraphQLClient:
        return GraphQLClient(self.http, token)


SIGN_UP = """
mutation($email: String!, $password: String!, $name: String!) {
  signUp(input: {email: $email, password: $password, displayName: $name}) { message }
}"""

VERIFY_EMAIL = "mutation($t: String!) { verifyEmail(input: {token: $t}) { ok } }"

LOG_IN = """
mutation($email: String!, $password: String!) {
  logIn(input: {email: $email, password: $password}) { token user { id email displayName } }
}"""


def sign_up(
    client: GraphQLClient,
    email: str,
    name: str = "Ann",
    password: str = PASSWORD,
    *,
    verified: bool = True,
) -> tuple[str, dict[str, Any]]:
    """Sign up as a person would: `signUp`, then (unless `verified` is False) open the link
    mailed to the address, then `logIn`. Answers the session token and the user."""
    from mail_sink import link_token, mail_sink

    sink = mail_sink()
    mark = sink.mark()
    client.data(SIGN_UP, {"email": email, "password": password, "name": name})
    if verified:
        message = sink.wait_for(email, after=mark, link="verify-email")
        client.data(VERIFY_EMAIL, {"t": link_token(message, "verify-email")})
    payload = client.data(LOG_IN, {"email": email, "password": password})["logIn"]
    return payload["token"], payload["user"]


def clear_of_window_edge(window_seconds: int, margin: float = 8.0) -> None:
    """Wait out the end of a fixed rate-limit window (aligned to the epoch) if it is less than
    `margin` seconds away, so a test's counts all land in one window."""
    left = window_seconds - time.time() % window_seconds
    if left < margin:
        time.sleep(left + 0.05)


def answer(result: Mapping[str, Any]) -> dict[str, Any]:
    """The data and errors of a result, without `extensions` (the cost report differs per
    request, as the caller's remaining budget goes down)."""
    return {key: value for key, value in result.items() if key != "extensions"}


def error_codes(result: Mapping[str, Any]) -> list[str]:
    return [e["extensions"]["code"] for e in result.get("errors") or []]


class CountingStore:
    """The real store, counting reads by method: a regression in store calls fails a test."""

    READS = ("get", "get_many", "scan", "scan_many", "count")

    def __init__(self, store: Any) -> None:
        self._store = store
        self.calls: dict[str, int] = {}

    @property
    def reads(self) -> int:
        return sum(self.calls.values())

    @reads.setter
    def reads(self, value: int) -> None:
        assert value == 0, "only a reset to zero makes sense"
        self.calls = {}

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._store, name)
        if name not in self.READS:
            return attribute

        async def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls[name] = self.calls.get(name, 0) + 1
            return await attribute(*args, **kwargs)

        return counted
