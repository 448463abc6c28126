"""Load for the benchmarks: a server process on a free loopback port, and a lean client;
mail for the servers (a real SMTP sink in the bench process) and accounts made as people make
them (signUp, the mailed link when the address must be proved, then logIn for a session)."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import h11
import httpx

from tests.mail_sink import MailSink, link_token

PASSWORD = "bench password 1"
SIGN_UP = """mutation($e: String!, $p: String!, $n: String!) {
  signUp(input: {email: $e, password: $p, displayName: $n}) { message } }"""
LOG_IN = """mutation($e: String!, $p: String!) {
  logIn(input: {email: $e, password: $p}) { token user { id } } }"""
VERIFY_EMAIL = "mutation($t: String!) { verifyEmail(input: {token: $t}) { ok } }"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def mail_env(sink: MailSink) -> dict[str, str]:
    """Settings (as environment) that make a Cove server send its mail to `sink`, a real
    SMTP server on 127.0.0.1 started by the bench (`with MailSink() as sink:`), as a
    deployment sends it to its relay: sign-up and invitations refuse without mail."""
    return {
        "COVE_SMTP_HOST": "127.0.0.1",
        "COVE_SMTP_PORT": str(sink.port),
        "COVE_SMTP_SECURITY": "none",
        "COVE_SMTP_SENDER": "cove@bench.invalid",
    }


@dataclass(frozen=True)
class Running:
    url: str
    pid: int


@contextmanager
def server_process(command: Sequence[str], env: Mapping[str, str], port: int) -> Iterator[Running]:
    """Run a server until the block ends; yields its URL and pid once /ready answers 200."""
    server = subprocess.Popen(list(command), env=dict(env), stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(url + "/ready").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("the server did not start")
            time.sleep(0.1)
        yield Running(url, server.pid)
    finally:
        server.terminate()
        server.wait(timeout=10)


async def throughput(
    port: int,
    method: str,
    path: str,
    body: bytes,
    headers: dict[str, str],
    total: int,
    concurrency: int,
    latencies: list[float] | None = None,
) -> float:
    """Requests per second for `total` keep-alive requests over `concurrency` connections;
    each request's seconds are appended to `latencies` when given.

    A lean client (asyncio streams with h11 framing) so that the client is not the bottleneck.
    """
    remaining = total
    head = [("Host", "127.0.0.1"), ("Content-Length", str(len(body))), *headers.items()]

    async def connection() -> None:
        nonlocal remaining
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        http = h11.Connection(h11.CLIENT)
        try:
            while remaining > 0:
                remaining -= 1
                sent = time.perf_counter()
                writer.write(
                    http.send(h11.Request(method=method, target=path, headers=head))
                    + http.send(h11.Data(data=body))
                    + http.send(h11.EndOfMessage())
                )
                status = 0
                while True:
                    event = http.next_event()
                    if event is h11.NEED_DATA:
                        http.receive_data(await reader.read(65536))
                    elif isinstance(event, h11.Response):
                        status = event.status_code
                    elif isinstance(event, h11.EndOfMessage):
                        break
                if status != 200:
                    raise RuntimeError(f"{path} answered {status}")
                if latencies is not None:
                    latencies.append(time.perf_counter() - sent)
                http.start_next_cycle()
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(connection() for _ in range(concurrency)))
    return total / (time.perf_counter() - started)


async def gql(
    http: httpx.AsyncClient,
    query: str,
    variables: dict[str, Any] | None = None,
    token: str | None = None,
) -> Any:
    """The `data` of a GraphQL answer; RuntimeError if it has errors."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    body = (
        await http.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        )
    ).json()
    if body.get("errors"):
        raise RuntimeError(body["errors"])
    return body["data"]


@dataclass(frozen=True)
class Account:
    email: str
    token: str
    user_id: str  # global ID


async def mailed_token(
    sink: MailSink, to: str, action: str, *, after: int, wait_seconds: float = 30.0
) -> str:
    """The token of the `.../{action}#token=...` link in the first mail to `to` that reached
    the sink after `sink.mark()` gave `after` (waits in a thread, off the event loop)."""
    message = await asyncio.to_thread(sink.wait_for, to, after=after, timeout=wait_seconds)
    return link_token(message, action)


async def sign_up(
    http: httpx.AsyncClient,
    sink: MailSink,
    email: str,
    *,
    password: str = PASSWORD,
    name: str = "Bench",
    verify: bool = False,
) -> Account:
    """A new account and a session of it, the way a person gets them: signUp (which opens no
    session and mails a verify-email link), with `verify` the link's token to verifyEmail
    (needed before acceptInvitation), then logIn."""
    seen = sink.mark()
    await gql(http, SIGN_UP, {"e": email, "p": password, "n": name})
    if verify:
        token = await mailed_token(sink, email, "verify-email", after=seen)
        assert (await gql(http, VERIFY_EMAIL, {"t": token}))["verifyEmail"]["ok"]
    logged = (await gql(http, LOG_IN, {"e": email, "p": password}))["logIn"]
    return Account(email=email, token=logged["token"], user_id=logged["user"]["id"])
