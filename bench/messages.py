"""Messages benchmark: a page of 50 messages with authors through GraphQL, against a plain
Litestar JSON route doing the same reads and decryption on the same server; the share of time
spent in cryptography; and postMessage a second on one worker (one at a time, and 8 in
flight: bar 540).

Each page figure is pages a second with 8 requests in flight, and the p50 and p99 latency,
the median of three runs of BENCH_REQUESTS (1000) requests; the bar for GraphQL is 500 pages
a second (issue #14 item 8). The same page and posts are then measured on one Cassandra node started for
the run (BENCH_CASSANDRA: `auto`, when Java 17 and Maven are there; `1`; `0` skips it), seeded
with BENCH_CASSANDRA_MESSAGES (2000) messages: a few minutes more.

Run: `python -m bench.messages` (BENCH_MESSAGES=10000 seeded by default). Every loop is
bounded in count; the servers bind 127.0.0.1 on free ports. Cove's mail (the seed's
invitations) goes to a real SMTP sink in this process.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from litestar import Litestar, Request, get

from api.app import create_app, running_services, settle_garbage_collector
from api.bootstrap import init_data_dir, load_keyring
from api.graphql import SERVICES_STATE_KEY, bearer_token
from api.settings import Settings, load_settings
from bench.load import free_port, mail_env, server_process, throughput
from crypto.keyring import Keyring
from resolvers import channels, invitations, messages, workspaces
from resolvers.context import RequestContext
from resolvers.roles import Role, Visibility
from resolvers.services import Services
from schema.build import build_schema
from schema.context import CONTEXT_KEY
from schema.relay import to_global_id
from tests.accounts_support import signed_up
from tests.mail_sink import MailSink
from tools.cassandra import Node
from tools.cassandra import down as cassandra_down
from tools.cassandra import up as cassandra_up

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "bench password 1"
REQUESTS = int(os.environ.get("BENCH_REQUESTS", "1000"))  # per run; three runs per route
IN_FLIGHT = 8
PAGES_BAR = 500  # issue #14 item 8: ten times Synapse's ~50 pages a second
POSTS_BAR = 540  # issue #14 item 8: five times Synapse's ~108 posts a second, 8 in flight
PAGE = """query($c: ID!) { node(id: $c) { ... on Channel { messages(first: 50) {
  edges { node { id text createdAt author { id displayName } } } } } } }"""
POST = """mutation($c: ID!) { postMessage(input: {channelId: $c, text: "benchmark message"})
  { message { id } } }"""
BENCH_ENV = {
    "COVE_LOG_LEVEL": "WARNING",
    "COVE_ARGON2_TIME_COST": "2",
    "COVE_ARGON2_MEMORY_KIB": "19456",
    "COVE_ARGON2_PARALLELISM": "1",
    "COVE_LOGIN_ATTEMPTS_PER_IP_PER_MINUTE": "1000000",
    "COVE_SIGNUPS_PER_IP_PER_HOUR": "1000000",
    # The bench measures the work, not the budget: a refused request would count as a fast one.
    "COVE_QUERY_COST_BUDGET": str(10**15),
}


@get("/bench/messages/{channel_id:str}")
async def plain_page(request: Request[Any, Any, Any], channel_id: str) -> list[dict[str, Any]]:
    """The same 50 messages with authors, read and decrypted without GraphQL."""
    services: Services = request.app.state[SERVICES_STATE_KEY]
    ctx = RequestContext(services, "bench", bearer_token(request.headers.get("authorization")))
    access = await channels.channel_access(ctx, channel_id)
    page = await messages.channel_messages(ctx, access, 50, None)
    out = []
    for _, message in page.edges:
        author = message.author()
        out.append(
            {
                "id": message.id,
                "text": await message.text(),
                "createdAt": message.created_at.isoformat(),
                "author": {"id": author.id, "displayName": await author.display_name()},
            }
        )
    return out


def bench_app() -> Litestar:
    """Cove's app plus the plain route, for the server process of this benchmark."""
    # The process's only tenant, as under `cove serve`: the same garbage-collector tuning.
    app = create_app(load_settings(), owns_process=True)
    app.register(plain_page)
    return app


def ctx(services: Services, token: str | None) -> RequestContext:
    return RequestContext(services=services, request_id="seed", bearer_token=token)


async def seed(settings: Settings, keyring: Keyring, count: int) -> tuple[str, str]:
    """Five people (their addresses verified), a workspace, a channel and `count` messages;
    returns (token, channel id). The settings need mail: the invitations are mailed."""
    async with running_services(settings, keyring) as services:
        people = [
            await signed_up(ctx(services, None), f"p{i}@bench.example", PASSWORD, f"Person {i}")
            for i in range(5)
        ]
        owner = people[0].token
        ws = await workspaces.create_workspace(ctx(services, owner), "Bench")
        for person in people[1:]:
            email = await person.user.email()
            assert email is not None
            invitation = await invitations.invite_member(
                ctx(services, owner), ws.id, email, Role.MEMBER
            )
            await invitations.accept_invitation(ctx(services, person.token), invitation.id)
        room = await channels.create_channel(
            ctx(services, owner), ws.id, "general", Visibility.PUBLIC, None
        )
        for person in people[1:]:
            await channels.join_channel(ctx(services, person.token), room.id)
        for i in range(count):
            author = people[i % 5].token
            await messages.post_message(
                ctx(services, author), room.id, f"message {i} " + "x" * 80, None, []
            )
        return people[1].token, room.id


async def crypto_share(
    settings: Settings, keyring: Keyring, token: str, channel_id: str, runs: int
) -> float:
    """Share of GraphQL execution time spent opening sealed fields, measured in-process."""
    spent = 0.0
    original = Keyring.open

    def timed_open(self: Keyring, *args: Any) -> bytes:
        nonlocal spent
        started = time.perf_counter()
        try:
            return original(self, *args)
        finally:
            spent += time.perf_counter() - started

    schema = build_schema()
    variables = {"c": to_global_id("Channel", channel_id)}
    thresholds = gc.get_threshold()
    async with running_services(settings, keyring) as services:
        Keyring.open = timed_open  # type: ignore[method-assign]
        # The collector tuned as `cove serve` tunes it: with Python's defaults a young
        # collection runs every 700 allocations, lands inside an open one time in a few and
        # doubles the share measured (11-22 % against 8 %).
        settle_garbage_collector()
        try:
            for _ in range(20):  # warm caches first
                await schema.execute(
                    PAGE,
                    variable_values=variables,
                    context_value={CONTEXT_KEY: ctx(services, token)},
                )
            spent = 0.0
            started = time.perf_counter()
            for _ in range(runs):
                result = await schema.execute(
                    PAGE,
                    variable_values=variables,
                    context_value={CONTEXT_KEY: ctx(services, token)},
                )
                assert result.errors is None, result.errors
            total = time.perf_counter() - started
        finally:
            Keyring.open = original  # type: ignore[method-assign]
            gc.unfreeze()
            gc.set_threshold(*thresholds)
    return spent / total


@dataclass(frozen=True, slots=True)
class Figure:
    """One route's pages a second and latencies (ms), the median of three runs."""

    per_second: float
    p50: float
    p99: float

    def line(self, name: str) -> str:
        return f"{name} {self.per_second:.0f} pages/s, p50 {self.p50:.1f} ms, p99 {self.p99:.1f} ms"


async def _figure(port: int, method: str, path: str, body: bytes, auth: dict[str, str]) -> Figure:
    latencies: list[float] = []
    rate = await throughput(port, method, path, body, auth, REQUESTS, IN_FLIGHT, latencies)
    cuts = statistics.quantiles(latencies, n=100)
    return Figure(rate, cuts[49] * 1000, cuts[98] * 1000)


def _median(figures: list[Figure]) -> Figure:
    return Figure(*(statistics.median(getattr(f, n) for f in figures) for n in Figure.__slots__))


def measure_pages(env: dict[str, str], token: str, channel_id: str) -> tuple[Figure, Figure]:
    """(GraphQL, plain route) on a server process of this benchmark, three runs each in turn."""
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", "bench.messages:bench_app", "--factory"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    with server_process([*command, "--no-access-log"], env, port) as running:
        url = running.url
        auth = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        gid = to_global_id("Channel", channel_id)
        page_body = json.dumps({"query": PAGE, "variables": {"c": gid}}).encode()
        check = httpx.post(url + "/graphql", content=page_body, headers=auth).json()
        assert len(check["data"]["node"]["messages"]["edges"]) == 50, check
        plain_check = httpx.get(f"{url}/bench/messages/{channel_id}", headers=auth).json()
        graphql_ids = [e["node"]["id"] for e in check["data"]["node"]["messages"]["edges"]]
        assert [to_global_id("Message", m["id"]) for m in plain_check] == graphql_ids

        async def runs() -> tuple[Figure, Figure]:
            plain_runs, graphql_runs = [], []
            for _ in range(3):
                plain_path = f"/bench/messages/{channel_id}"
                plain_runs.append(await _figure(port, "GET", plain_path, b"", auth))
                graphql_runs.append(await _figure(port, "POST", "/graphql", page_body, auth))
            return _median(graphql_runs), _median(plain_runs)

        return asyncio.run(runs())


def measure_posts(env: dict[str, str], token: str, channel_id: str) -> tuple[float, float]:
    """postMessage a second on one worker: one at a time (300 posts), then 8 in flight (2000)."""
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", "bench.messages:bench_app", "--factory"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    with server_process([*command, "--no-access-log"], env, port):
        auth = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        gid = to_global_id("Channel", channel_id)
        post_body = json.dumps({"query": POST, "variables": {"c": gid}}).encode()
        asyncio.run(throughput(port, "POST", "/graphql", post_body, auth, 100, IN_FLIGHT))  # warm
        one = asyncio.run(throughput(port, "POST", "/graphql", post_body, auth, 300, 1))
        eight = asyncio.run(throughput(port, "POST", "/graphql", post_body, auth, 2000, IN_FLIGHT))
        return one, eight


def print_posts(store: str, posts: tuple[float, float]) -> None:
    print(
        f"postMessage on {store}, one worker: {posts[0]:.0f}/s one at a time, "
        f"{posts[1]:.0f}/s with {IN_FLIGHT} in flight  (bar: {POSTS_BAR}/s with {IN_FLIGHT} in flight)"
    )


def print_pages(store: str, graphql: Figure, plain: Figure) -> None:
    print(f"messages(first: 50) with authors on {store}, {IN_FLIGHT} in flight:")
    print("  " + graphql.line("GraphQL    "))
    print("  " + plain.line("plain route"))
    print(
        f"  ratio GraphQL / plain route: {graphql.per_second / plain.per_second:.2f}  "
        f"(bars: GraphQL at least {PAGES_BAR} pages/s; ratio at least 0.45)"
    )


def java_and_maven() -> bool:
    return shutil.which("java") is not None and shutil.which("mvn") is not None


def cassandra_pages(base_env: dict[str, str], tmp: Path, count: int) -> None:
    """The same page on one Cassandra node started here (Java 17 and Maven), seeded with
    `count` messages; stopped at the end."""
    node = Node(tmp / "node", port=free_port(), storage_port=free_port(), jmx_port=free_port())
    started = time.perf_counter()
    cassandra_up(node, ROOT / ".cassandra")
    try:
        env = {
            **base_env,
            "COVE_DATA_DIR": str(tmp / "scylla-data"),
            "COVE_STORE": "scylla",
            "COVE_SCYLLA_HOSTS": f"127.0.0.1:{node.port}",
            "COVE_SCYLLA_KEYSPACE": "cove_bench",
            "COVE_SCYLLA_REPLICATION": "1",
        }
        settings = load_settings(environ=env)
        init_data_dir(settings)
        token, channel_id = asyncio.run(seed(settings, load_keyring(settings), count))
        took = time.perf_counter() - started
        print(f"Cassandra node up and {count} messages seeded in {took:.0f} s")
        print_pages("one Cassandra node", *measure_pages(env, token, channel_id))
        print_posts("one Cassandra node", measure_posts(env, token, channel_id))
    finally:
        cassandra_down(node)


def main() -> None:
    count = int(os.environ.get("BENCH_MESSAGES", "10000"))
    with tempfile.TemporaryDirectory() as tmp, MailSink() as sink:
        env = {
            **os.environ,
            **BENCH_ENV,
            **mail_env(sink),
            "COVE_STORE": "sqlite",
            "COVE_DATA_DIR": str(Path(tmp) / "data"),
        }
        settings = load_settings(environ=env)
        init_data_dir(settings)
        keyring = load_keyring(settings)
        started = time.perf_counter()
        token, channel_id = asyncio.run(seed(settings, keyring, count))
        print(f"seeded {count} messages in {time.perf_counter() - started:.1f} s")
        share = asyncio.run(crypto_share(settings, load_keyring(settings), token, channel_id, 200))
        graphql, plain = measure_pages(env, token, channel_id)
        posts = measure_posts(env, token, channel_id)
        print_pages("SQLite", graphql, plain)
        # About 4 µs a value, 55 values a page: a small share (8-9 %), which grows as the
        # rest of the page gets cheaper (it was under 5 % while execution cost twice as much).
        print(
            f"share of GraphQL execution time spent opening sealed fields: {share * 100:.1f}%  (expected under 10%)"
        )
        print_posts("SQLite", posts)
        on_cassandra = os.environ.get("BENCH_CASSANDRA", "auto")
        if on_cassandra == "1" or (on_cassandra == "auto" and java_and_maven()):
            cassandra_count = int(os.environ.get("BENCH_CASSANDRA_MESSAGES", "2000"))
            cassandra_pages(env, Path(tmp), cassandra_count)
        else:
            print("no Cassandra figure: BENCH_CASSANDRA=0, or no Java 17 and Maven")


if __name__ == "__main__":
    main()
