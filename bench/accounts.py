"""Accounts benchmark: sign-up / log-in latency, viewer latency under log-in load, GraphQL overhead.

Runs `cove serve` in a subprocess on a free loopback port with the production Argon2 defaults,
its mail sent to a real SMTP sink in this process (sign-up needs mail), then drives it over
HTTP. signUp no longer opens a session: it makes the account, queues the verify-email mail and
answers "check your email"; the session comes from logIn, measured on its own (so sign-up
figures from before that change, which included a session, are not comparable). Every loop is
bounded in count. Run: `python -m bench.accounts` (BENCH_USERS=30, BENCH_REQUESTS=3000).
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx

from bench.load import free_port, mail_env, server_process, throughput
from tests.mail_sink import MailSink

SIGN_UP = """mutation($e: String!) { signUp(input: {email: $e, password: "bench password 1",
  displayName: "Bench"}) { message } }"""
LOG_IN = """mutation($e: String!) { logIn(input: {email: $e, password: "bench password 1"}) { token } }"""
VIEWER = "{ viewer { id } }"


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


async def timed(fn: Callable[[], Awaitable[object]]) -> float:
    started = time.perf_counter()
    await fn()
    return time.perf_counter() - started


async def run(url: str, users: int, load: int) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:

        async def gql(
            query: str, variables: dict[str, str] | None = None, token: str | None = None
        ) -> httpx.Response:
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            response = await client.post(
                "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
            )
            assert "errors" not in response.json(), response.text
            return response

        emails = [f"bench{i}@example.org" for i in range(users)]
        sign_ups = [await timed(lambda e=e: gql(SIGN_UP, {"e": e})) for e in emails]  # type: ignore[misc]
        log_ins = [await timed(lambda e=e: gql(LOG_IN, {"e": e})) for e in emails]  # type: ignore[misc]
        token = (await gql(LOG_IN, {"e": emails[0]})).json()["data"]["logIn"]["token"]

        idle = [await timed(lambda: gql(VIEWER, token=token)) for _ in range(200)]

        stop = asyncio.Event()

        async def keep_logging_in(i: int) -> None:
            while not stop.is_set():
                await gql(LOG_IN, {"e": emails[i % len(emails)]})

        loaders = [asyncio.create_task(keep_logging_in(i)) for i in range(20)]
        await asyncio.sleep(0.5)
        under_load = [await timed(lambda: gql(VIEWER, token=token)) for _ in range(200)]
        stop.set()
        await asyncio.gather(*loaders)

    port = int(url.rsplit(":", 1)[1])
    viewer_body = json.dumps({"query": VIEWER}).encode()
    viewer_headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    # Interleave the two so that drift in machine load hits both alike; report the medians.
    plain_runs, graphql_runs = [], []
    for _ in range(3):
        plain_runs.append(await throughput(port, "GET", "/health", b"", {}, load, 16))
        graphql_runs.append(
            await throughput(port, "POST", "/graphql", viewer_body, viewer_headers, load, 16)
        )
    plain, graphql = statistics.median(plain_runs), statistics.median(graphql_runs)

    print(
        f"sign-up      p50 {ms(statistics.median(sign_ups))}  p99 {ms(percentile(sign_ups, 0.99))}  (n={users}; no session: mails a link, logIn follows)"
    )
    print(
        f"log-in       p50 {ms(statistics.median(log_ins))}  p99 {ms(percentile(log_ins, 0.99))}  (n={users})"
    )
    print(
        f"viewer idle  p50 {ms(statistics.median(idle))}  p99 {ms(percentile(idle, 0.99))}  (n=200)"
    )
    print(
        f"viewer while 20 log-ins run: p50 {ms(statistics.median(under_load))}  p99 {ms(percentile(under_load, 0.99))}  (bar: p99 < 100 ms)"
    )
    print(
        f"plain Litestar route /health: {plain:.0f} req/s; GraphQL {{ viewer {{ id }} }}: {graphql:.0f} req/s"
    )
    print(f"ratio GraphQL / plain route: {graphql / plain:.2f}")


def main() -> None:
    users = int(os.environ.get("BENCH_USERS", "30"))
    load = int(os.environ.get("BENCH_REQUESTS", "3000"))
    with tempfile.TemporaryDirectory() as tmp, MailSink() as sink:
        port = free_port()
        # The benchmark signs in from one address far faster than a person: lift the limits.
        env = {
            **os.environ,
            **mail_env(sink),
            "COVE_LOG_LEVEL": "WARNING",
            "COVE_LOGIN_ATTEMPTS_PER_IP_PER_MINUTE": "1000000",
            "COVE_SIGNUPS_PER_IP_PER_HOUR": "1000000",
            "COVE_QUERY_COST_BUDGET": str(10**15),  # measure the work, not the budget
        }
        command = [sys.executable, "-m", "api.cli", "serve", "--data-dir", str(Path(tmp) / "data")]
        with server_process([*command, "--port", str(port)], env, port) as running:
            url = running.url
            asyncio.run(run(url, users, load))


if __name__ == "__main__":
    main()
