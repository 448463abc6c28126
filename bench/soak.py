"""Capacity soak of one node: SUBSCRIBERS realtime subscribers spread over CHANNELS channels
while posts arrive at RATE per second for SECONDS.

The server runs pinned to the first core and this load generator to the second (on a machine
with two cores or more), so the generator does not take the server's CPU. Posts are sent on
an open-loop schedule (post n is due at start + n / RATE, whatever came back before), and
latencies count from when a post was due, so a server that falls behind shows it instead of
slowing the generator down; at most MAX_IN_FLIGHT posts wait at once, and a post due while
that many wait is counted as not sent. Every subscriber decrypts each event with its session
key and matches it to its post by text, so delivery latency is due time to decrypted
receipt, and nothing lost goes unnoticed: a subscriber that misses an event, or is sent a
`resync`, is counted.

Baseline in the same run: the same post rate for BASELINE_SECONDS before any subscriber
connects. The ratio of post p99 under delivery load to that baseline says whether posting
starves behind the fan-out. Each minute prints posts/s achieved, post and delivery p50/p99
and the server's RSS. Every loop is bounded in count and time.

Run: `python -m bench.soak` (BENCH_SOAK_SECONDS=600, BENCH_RATE=100, BENCH_SUBSCRIBERS=1000,
BENCH_CHANNELS=10, BENCH_BASELINE_SECONDS=30, BENCH_MAX_IN_FLIGHT=200). BENCH_WORKERS=2 runs
two server processes on one port with the Redis broker at BENCH_REDIS_URL
(redis://127.0.0.1:6379/0; `make redis-up`); BENCH_SERVER_CORES (0) and BENCH_CLIENT_CORES (1)
say where the server and the generator run.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import sys
import tempfile
import time
from array import array
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol

from bench.accounts import ms, percentile
from bench.load import free_port, gql, mail_env, server_process, sign_up
from bench.messages import BENCH_ENV
from bench.realtime import rss_kib as process_rss_kib
from tests.mail_sink import MailSink

SECONDS = float(os.environ.get("BENCH_SOAK_SECONDS", "600"))
RATE = float(os.environ.get("BENCH_RATE", "100"))
SUBSCRIBERS = int(os.environ.get("BENCH_SUBSCRIBERS", "1000"))
CHANNELS = int(os.environ.get("BENCH_CHANNELS", "10"))
BASELINE_SECONDS = float(os.environ.get("BENCH_BASELINE_SECONDS", "30"))
MAX_IN_FLIGHT = int(os.environ.get("BENCH_MAX_IN_FLIGHT", "200"))
# One subscriber in this many decrypts every event and times it; the others check that their
# sequence numbers have no gap and count, so that the generator does not run out of CPU first.
DECRYPT_EVERY = int(os.environ.get("BENCH_DECRYPT_EVERY", "10"))
WORKERS = int(os.environ.get("BENCH_WORKERS", "1"))
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
SERVER_CORES = os.environ.get("BENCH_SERVER_CORES", "0")
CLIENT_CORES = {int(c) for c in os.environ.get("BENCH_CLIENT_CORES", "1").split(",")}
WINDOW = 60.0  # seconds per printed line
DRAIN_SECONDS = 30.0  # how long deliveries may trail the last post

OPEN = "mutation { openRealtimeSession { session { id key { id secret } } } }"
KEY = """mutation($s: ID!, $k: ID!) {
  realtimeKey(input: {sessionId: $s, keyId: $k}) { key { id secret } } }"""
EVENTS = """subscription($s: ID!, $t: [ID!]!) {
  events(sessionId: $s, topics: $t) { keyId seq nonce ciphertext } }"""
POST = "mutation($c: ID!, $t: String!) { postMessage(input: {channelId: $c, text: $t}) { message { id } } }"
PREFIX = "soak "
PADDING = " " + "x" * 60


def rss_kib(pid: int) -> int:
    """The resident memory of the server: its process and the workers it started."""
    children = Path(f"/proc/{pid}/task/{pid}/children")
    kids = [int(c) for c in children.read_text().split()] if children.exists() else []
    return process_rss_kib(pid) + sum(process_rss_kib(kid) for kid in kids)


@dataclass
class Posts:
    """The schedule and what became of it, by post number."""

    started: float
    due: array[float] = field(default_factory=lambda: array("d"))
    latency: array[float] = field(default_factory=lambda: array("d"))  # -1: not answered
    done_at: array[float] = field(default_factory=lambda: array("d"))
    refused: Counter[str] = field(default_factory=Counter)  # error code -> posts refused
    not_sent: int = 0  # due while MAX_IN_FLIGHT posts waited


@dataclass
class Deliveries:
    """Delivery latencies (due time to decrypted receipt) by window, and what went missing."""

    by_window: dict[int, array[float]] = field(default_factory=dict)
    received: int = 0  # events every subscriber got
    gaps: int = 0  # events missing by their sequence numbers
    resyncs: int = 0
    undecryptable: int = 0


async def post_schedule(
    http: httpx.AsyncClient,
    token: str,
    channels: list[str],
    seconds: float,
    first: int,
    started: float | None = None,
) -> Posts:
    """Post at RATE per second for `seconds` from `started` (now by default), numbering
    posts from `first`."""
    posts = Posts(started=time.perf_counter() if started is None else started)
    total = int(seconds * RATE)
    in_flight: set[asyncio.Task[None]] = set()

    async def one(n: int, index: int) -> None:
        try:
            answer = await http.post(
                "/graphql",
                json={
                    "query": POST,
                    "variables": {"c": channels[n % len(channels)], "t": f"{PREFIX}{n}{PADDING}"},
                },
                headers={"Authorization": f"Bearer {token}"},
            )
            ok = answer.status_code == 200 and not answer.json().get("errors")
            if not ok:
                errors = answer.json().get("errors") or [{}]
                code = errors[0].get("extensions", {}).get("code", str(answer.status_code))
                posts.refused[code] += 1
        except httpx.HTTPError as error:
            ok = False
            posts.refused[type(error).__name__] += 1
        now = time.perf_counter()
        if ok:
            posts.latency[index] = now - posts.due[index]
            posts.done_at[index] = now

    for index in range(total):
        due = posts.started + index / RATE
        posts.due.append(due)
        posts.latency.append(-1.0)
        posts.done_at.append(-1.0)
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        if len(in_flight) >= MAX_IN_FLIGHT:
            posts.not_sent += 1
            continue
        task = asyncio.create_task(one(first + index, index))
        in_flight.add(task)
        task.add_done_callback(in_flight.discard)
    async with asyncio.timeout(120):
        await asyncio.gather(*in_flight)
    return posts


class Subscriber:
    """One realtime session on one channel: decrypts its events and records their delay."""

    def __init__(self, http: httpx.AsyncClient, token: str, channel: str, decrypts: bool) -> None:
        self.http, self.token, self.channel = http, token, channel
        self.decrypts = decrypts
        self.last_seq = 0
        self.session_id = ""
        self.keys: dict[str, AESGCM] = {}
        self.socket: ClientConnection | None = None

    async def open(self, port: int, number: int) -> None:
        session = (await gql(self.http, OPEN, token=self.token))["openRealtimeSession"]["session"]
        self.session_id = session["id"]
        self._keep(session["key"])
        self.socket = await connect(
            f"ws://127.0.0.1:{port}/graphql",
            subprotocols=[Subprotocol("graphql-transport-ws")],
            max_queue=None,
        )
        init = {"type": "connection_init", "payload": {"authorization": f"Bearer {self.token}"}}
        await self.socket.send(json.dumps(init))
        await self.socket.recv()
        payload = {"query": EVENTS, "variables": {"s": self.session_id, "t": [self.channel]}}
        await self.socket.send(
            json.dumps({"id": str(number), "type": "subscribe", "payload": payload})
        )

    def _keep(self, key: dict[str, str]) -> None:
        self.keys[key["id"]] = AESGCM(base64.b64decode(key["secret"]))

    async def read(self, due: dict[int, float], origin: float, seen: Deliveries) -> None:
        assert self.socket is not None
        async for raw in self.socket:
            message = json.loads(raw)
            if message.get("type") != "next":
                continue
            envelope = message["payload"]["data"]["events"]
            seen.received += 1
            if envelope["seq"] != self.last_seq + 1:
                seen.gaps += envelope["seq"] - self.last_seq - 1
            self.last_seq = envelope["seq"]
            if not self.decrypts:
                continue
            aead = self.keys.get(envelope["keyId"])
            if aead is None:
                key = await gql(
                    self.http, KEY, {"s": self.session_id, "k": envelope["keyId"]}, self.token
                )
                self._keep(key["realtimeKey"]["key"])
                aead = self.keys[envelope["keyId"]]
            aad = f"{self.session_id}:{envelope['seq']}".encode()
            try:
                event = json.loads(
                    aead.decrypt(
                        base64.b64decode(envelope["nonce"]),
                        base64.b64decode(envelope["ciphertext"]),
                        aad,
                    )
                )
            except Exception:
                seen.undecryptable += 1
                continue
            if event["type"] == "resync":
                seen.resyncs += 1
                continue
            text = event.get("data", {}).get("text", "")
            if not text.startswith(PREFIX):
                continue
            number = int(text[len(PREFIX) :].split(" ", 1)[0])
            sent = due.get(number)
            if sent is None:
                continue
            now = time.perf_counter()
            window = int((now - origin) // WINDOW)
            seen.by_window.setdefault(window, array("d")).append(now - sent)


def pinned() -> bool:
    """Whether the server and this generator can run on cores of their own."""
    return (os.cpu_count() or 1) >= 2 and hasattr(os, "sched_setaffinity")


def summary(values: list[float] | array[float]) -> str:
    data = sorted(values)
    if not data:
        return "p50 -, p99 -"
    return f"p50 {ms(data[len(data) // 2])}, p99 {ms(percentile(list(data), 0.99))}"


async def soak(url: str, port: int, pid: int, sink: MailSink) -> None:
    limits = httpx.Limits(max_connections=MAX_IN_FLIGHT, max_keepalive_connections=MAX_IN_FLIGHT)
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as http:
        owner = await sign_up(http, sink, "soak@bench.example", name="Soak")
        ws = (
            await gql(
                http,
                'mutation { createWorkspace(input: {name: "Soak"}) { workspace { id } } }',
                token=owner.token,
            )
        )["createWorkspace"]["workspace"]["id"]
        create = """mutation($w: ID!, $n: String!) {
          createChannel(input: {workspaceId: $w, name: $n}) { channel { id } } }"""
        channels = [
            (await gql(http, create, {"w": ws, "n": f"room-{c}"}, owner.token))["createChannel"][
                "channel"
            ]["id"]
            for c in range(CHANNELS)
        ]

        baseline = await post_schedule(http, owner.token, channels, BASELINE_SECONDS, 0)
        base_lat = [x for x in baseline.latency if x >= 0]
        print(
            f"baseline, no subscribers: {len(base_lat) / BASELINE_SECONDS:.0f} posts/s, post {summary(base_lat)}"
        )

        subscribers = [
            Subscriber(http, owner.token, channels[i % CHANNELS], i % DECRYPT_EVERY == 0)
            for i in range(SUBSCRIBERS)
        ]
        for number, subscriber in enumerate(subscribers):
            await subscriber.open(port, number)
        await asyncio.sleep(2)
        rss_start = rss_kib(pid)
        first = len(baseline.due) + 1
        due: dict[int, float] = {}
        seen = Deliveries()
        origin = time.perf_counter()
        cpu_start = sum(os.times()[:2])
        # The readers look up due times as posts become due: fill them in from the schedule.
        readers = [asyncio.create_task(s.read(due, origin, seen)) for s in subscribers]
        memory: dict[int, int] = {}

        async def sample_memory() -> None:
            for window in range(int(SECONDS // WINDOW) + 2):  # bounded: the soak's minutes
                await asyncio.sleep(WINDOW)
                memory[window] = rss_kib(pid)

        sampler = asyncio.create_task(sample_memory())
        for n in range(int(SECONDS * RATE)):
            due[first + n] = origin + n / RATE  # the schedule post_schedule follows
        posts = await post_schedule(http, owner.token, channels, SECONDS, first, origin)
        generator_busy = (sum(os.times()[:2]) - cpu_start) / (time.perf_counter() - origin)
        await asyncio.sleep(0)
        expected = sum(
            sum(1 for i in range(SUBSCRIBERS) if i % CHANNELS == n % CHANNELS)
            for n, latency in enumerate(posts.latency)
            if latency >= 0
        )
        for _ in range(int(DRAIN_SECONDS / 0.2)):  # deliveries may trail the last post
            if seen.received >= expected:
                break
            await asyncio.sleep(0.2)
        sampler.cancel()
        rss_end = rss_kib(pid)
        for reader in readers:
            reader.cancel()
        for subscriber in subscribers:
            if subscriber.socket is not None:
                await subscriber.socket.close()

    print(
        f"soak: {SUBSCRIBERS} subscribers over {CHANNELS} channels, {RATE:.0f} posts/s due for {SECONDS:.0f} s"
    )
    for window in range(int(SECONDS // WINDOW) + 1):
        low, high = window * WINDOW, (window + 1) * WINDOW
        done = [
            posts.latency[i]
            for i in range(len(posts.due))
            if posts.latency[i] >= 0 and low <= posts.done_at[i] - origin < high
        ]
        if not done and window not in seen.by_window:
            continue
        rss = memory.get(window)
        print(
            (
                f"  minute {window + 1:2d}: {len(done) / min(WINDOW, SECONDS - low):5.1f} posts/s"
                if low < SECONDS
                else f"  after the schedule: {len(done)} posts answered late"
            )
            + f", post {summary(done)}; "
            f"delivery {summary(seen.by_window.get(window, array('d')))}"
            + (f"; RSS {rss / 1024:.0f} MiB" if rss else "")
        )
    answered = [x for x in posts.latency if x >= 0]
    deliveries = [x for values in seen.by_window.values() for x in values]
    print(
        f"posts answered {len(answered)} of {len(posts.due)} due ({sum(posts.refused.values())} refused {dict(posts.refused)}, {posts.not_sent} not sent: {MAX_IN_FLIGHT} waiting)"
    )
    print(f"post {summary(answered)}; delivery {summary(deliveries)}")
    print(
        f"deliveries {seen.received} of {expected} expected, {seen.gaps} missing by sequence, "
        f"{seen.resyncs} resyncs, {seen.undecryptable} undecryptable "
        f"(one subscriber in {DECRYPT_EVERY} decrypts and times every event)"
    )
    print(
        f"load generator CPU busy {generator_busy:.0%} of its core during the soak "
        "(near 100 %: the generator, not the server, set the pace)"
    )
    print(
        f"server RSS {rss_start / 1024:.0f} MiB after subscribing, {rss_end / 1024:.0f} MiB at the end"
    )
    if base_lat and answered:
        ratio = percentile(answered, 0.99) / percentile(base_lat, 0.99)
        print(
            f"ratio post p99 under delivery load / without subscribers: {ratio:.2f}  (bars: post p99 < 100 ms, delivery p99 < 250 ms)"
        )


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp, MailSink() as sink:
        port = free_port()
        env = {
            **os.environ,
            **BENCH_ENV,
            **mail_env(sink),
            "COVE_REALTIME_MAX_SESSIONS_PER_USER": str(SUBSCRIBERS + 10),
            "COVE_SIGNUPS_PER_IP_PER_HOUR": "1000000",
        }
        if WORKERS > 1:
            env["COVE_BROKER_URL"] = REDIS_URL
        prefix = ["taskset", "-c", SERVER_CORES] if pinned() else []
        command = [
            *prefix,
            sys.executable,
            "-m",
            "api.cli",
            "serve",
            "--data-dir",
            str(Path(tmp) / "data"),
            "--port",
            str(port),
            "--workers",
            str(WORKERS),
        ]
        with server_process(command, env, port) as running:
            if pinned():
                os.sched_setaffinity(0, CLIENT_CORES)
                print(
                    f"{WORKERS} server process(es) on core(s) {SERVER_CORES}, "
                    f"load generator on core(s) {sorted(CLIENT_CORES)}"
                )
            else:
                print("one core: the load generator shares it with the server")
            asyncio.run(soak(running.url, port, running.pid, sink))


if __name__ == "__main__":
    main()
