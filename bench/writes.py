"""Writes benchmark: postMessage (GraphQL, search indexing on, SQLite) sequentially and with
8 requests in flight, the 50-message history page (rate and p99), the search outbox's depth
and lag under that load, and the time to index 100,000 queued messages; each against a
baseline measured in the same run on the same machine: a plain Litestar route doing a bare
SQLite insert (one commit per request, on one writer thread), and a plain Litestar route
reading and decrypting the same 50 messages (bench/messages.py).

Run: `python -m bench.writes`. Sizes: BENCH_SEQUENTIAL=300, BENCH_POSTS=3000,
BENCH_PAGES=1000, BENCH_ROUNDS=3 (each figure the median of the rounds), BENCH_INDEX=100000,
BENCH_INDEX_SECONDS=300 (the indexing stops there and reports its rate). Every loop is bounded in count and time; the server binds 127.0.0.1 on a
free port. Bars (issue #14, item 8): postMessage with 8 in flight at least 540/s, the page at
least 500/s.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from litestar import Litestar, post

from api.app import create_app, running_services
from api.bootstrap import init_data_dir, load_keyring
from api.settings import Settings, load_settings
from bench.accounts import ms, percentile
from bench.load import free_port, mail_env, server_process, throughput
from bench.messages import BENCH_ENV, PAGE, plain_page, seed
from bench.search import sentence, word
from persistence.ids import new_id
from persistence.messages import MessageRecord
from persistence.search_outbox import SEARCH_OUTBOX
from persistence.store import Delete, Put, Update
from resolvers.messages import text_ref
from schema.relay import to_global_id
from tests.mail_sink import MailSink

POST = """mutation($c: ID!, $t: String!) { postMessage(input: {channelId: $c, text: $t})
  { message { id } } }"""
TEXT = "the quarterly report is ready for review, see the figures before friday"

_plain: dict[str, Any] = {}


def _plain_insert() -> None:
    connection = _plain.get("db")
    if connection is None:
        path = Path(os.environ["COVE_DATA_DIR"]) / "plain.db"
        connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        connection.execute("PRAGMA journal_mode = WAL")
        connection.execute("PRAGMA synchronous = NORMAL")
        connection.execute(
            "CREATE TABLE IF NOT EXISTS messages (channel_id TEXT, message_id TEXT, body BLOB,"
            " created_ms INTEGER, PRIMARY KEY (channel_id, message_id))"
        )
        _plain["db"] = connection
    connection.execute(
        "INSERT INTO messages VALUES (?, ?, ?, ?)",
        ("c", new_id(), os.urandom(len(TEXT) + 33), time.time_ns() // 1_000_000),
    )


@post("/bench/insert", status_code=200)
async def plain_insert() -> dict[str, bool]:
    """A bare SQLite insert, one commit, on one writer thread: the floor of a write route."""
    executor = _plain.setdefault("writer", ThreadPoolExecutor(max_workers=1))
    await asyncio.get_running_loop().run_in_executor(executor, _plain_insert)
    return {"ok": True}


def bench_app() -> Litestar:
    """Cove's app plus the two plain routes, for the server process of this benchmark."""
    # The process's only tenant, as under `cove serve`: the same garbage-collector tuning.
    app = create_app(load_settings(), owns_process=True)
    app.register(plain_page)
    app.register(plain_insert)
    return app


def outbox_counter(settings: Settings) -> Callable[[], int]:
    """How many entries wait in the search outbox, read beside the server: from the SQLite
    file, or from the keyspace on ScyllaDB (a whole-table count, fine for a benchmark)."""
    if settings.store == "scylla":
        from cassandra.cluster import Cluster

        from persistence.scylla.hosts import parse_hosts

        hosts = parse_hosts(settings.scylla_hosts)
        session = Cluster([h for h, _ in hosts], port=hosts[0][1], protocol_version=5).connect()
        table = f"{settings.scylla_keyspace}.{SEARCH_OUTBOX.name}"
        return lambda: int(session.execute(f"SELECT count(*) FROM {table}").one()[0])
    database = settings.database_file

    def count() -> int:
        with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as db:
            return int(db.execute(f"SELECT count(*) FROM {SEARCH_OUTBOX.name}").fetchone()[0])

    return count


class OutboxDepth:
    """Samples the search outbox's size while the server writes."""

    def __init__(self, count: Callable[[], int]) -> None:
        self.count = count
        self.samples: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        deadline = time.monotonic() + 600
        while not self._stop.is_set() and time.monotonic() < deadline:
            self.samples.append(self.count())
            time.sleep(0.02)

    def __enter__(self) -> OutboxDepth:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def until_empty(self, within: float) -> float | None:
        started = time.monotonic()
        while time.monotonic() - started < within:
            if self.count() == 0:
                return time.monotonic() - started
            time.sleep(0.005)
        return None


def cpu_seconds(pid: int) -> float:
    """The server process's CPU time so far (user and system, all threads): per request, a
    figure that other work on a shared machine changes far less than a rate."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def measure(
    port: int, pid: int, token: str, channel_id: str, outbox: Callable[[], int]
) -> dict[str, Any]:
    auth = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    gid = to_global_id("Channel", channel_id)
    post_body = json.dumps({"query": POST, "variables": {"c": gid, "t": TEXT}}).encode()
    page_body = json.dumps({"query": PAGE, "variables": {"c": gid}}).encode()
    sequential = int(os.environ.get("BENCH_SEQUENTIAL", "300"))
    posts = int(os.environ.get("BENCH_POSTS", "3000"))
    pages = int(os.environ.get("BENCH_PAGES", "1000"))
    # Warm both paths (statement caches, keys, parse caches) before timing.
    await throughput(port, "POST", "/graphql", post_body, auth, 200, 8)
    await throughput(port, "POST", "/bench/insert", b"", auth, 200, 8)
    await throughput(port, "POST", "/graphql", page_body, auth, 100, 8)
    await throughput(port, "GET", f"/bench/messages/{channel_id}", b"", auth, 100, 8)
    rounds = int(os.environ.get("BENCH_ROUNDS", "3"))
    # Each figure is the median of `rounds` runs, the baseline's runs interleaved with Cove's,
    # so that a machine shared with other work slows both alike.
    runs: dict[str, list[float]] = {}

    async def run(name: str, method: str, path: str, body: bytes, total: int, flight: int) -> None:
        used = cpu_seconds(pid)
        rate = await throughput(port, method, path, body, auth, total, flight)
        runs.setdefault(name, []).append(rate)
        runs.setdefault(f"{name}_cpu", []).append((cpu_seconds(pid) - used) / total)

    for _ in range(rounds):
        await run("plain_seq", "POST", "/bench/insert", b"", sequential, 1)
        await run("post_seq", "POST", "/graphql", post_body, sequential, 1)
        await run("plain_8", "POST", "/bench/insert", b"", posts, 8)
        with OutboxDepth(outbox) as depth:
            used = cpu_seconds(pid)
            await run("post_8", "POST", "/graphql", post_body, posts, 8)
            drained = await asyncio.to_thread(depth.until_empty, 60.0)
            # The indexing of these posts is done by now: counted in the posts' CPU.
            runs.setdefault("post_8_indexed_cpu", []).append((cpu_seconds(pid) - used) / posts)
            runs.setdefault("drained_after", []).append(
                float("inf") if drained is None else drained
            )
        runs.setdefault("depth_max", []).append(max(depth.samples, default=0))
        runs.setdefault("depth_mean", []).append(
            statistics.fmean(depth.samples) if depth.samples else 0.0
        )
    plain_lat: list[float] = []
    page_lat: list[float] = []
    path = f"/bench/messages/{channel_id}"
    for _ in range(rounds):
        used = cpu_seconds(pid)
        rate = await throughput(port, "GET", path, b"", auth, pages, 8, plain_lat)
        runs.setdefault("plain_page", []).append(rate)
        runs.setdefault("plain_page_cpu", []).append((cpu_seconds(pid) - used) / pages)
        used = cpu_seconds(pid)
        rate = await throughput(port, "POST", "/graphql", page_body, auth, pages, 8, page_lat)
        runs.setdefault("page", []).append(rate)
        runs.setdefault("page_cpu", []).append((cpu_seconds(pid) - used) / pages)
    out: dict[str, Any] = {name: statistics.median(values) for name, values in runs.items()}
    if out["drained_after"] == float("inf"):
        out["drained_after"] = None
    out["plain_page_p99"] = percentile(plain_lat, 0.99)
    out["page_p99"] = percentile(page_lat, 0.99)
    return out


async def index_time(settings: Settings, channel_id: str, count: int, bound: float) -> str:
    """Write `count` messages with their outbox entries straight to the store (timed: the
    baseline), then let the drainer index them, for at most `bound` seconds."""
    rng = random.Random(14)
    words = [word(i) for i in range(20_000)]
    weights = [1 / (i + 1) for i in range(20_000)]
    async with running_services(settings, load_keyring(settings)) as services:
        drainer = services.indexer.drainer
        await drainer.stop()  # the bench drives it
        await drainer.drain()
        location = await services.channels.get(channel_id)
        assert location is not None
        ws, author = location.workspace_id, location.created_by
        started = time.perf_counter()
        ops: list[Put | Delete | Update] = []
        for n in range(count):
            message_id = new_id()
            text = sentence(rng, words, weights)
            record = MessageRecord(
                message_id=message_id,
                channel_id=channel_id,
                workspace_id=ws,
                thread_id="",
                author_id=author,
                text_sealed=await services.keys.seal_text(text_ref(message_id, ws), text),
                mentions=(),
                created_at=services.clock(),
                edited_at=None,
            )
            ops += services.messages.post_ops(record)
            ops.append(services.indexer.entry(ws, "message", message_id))
            if len(ops) >= 1500 or n == count - 1:
                await services.store.batch(ops)
                ops = []
        written = time.perf_counter() - started
        started = time.perf_counter()
        before = drainer.applied
        try:
            async with asyncio.timeout(bound):
                while drainer.applied - before < count:
                    drainer.wake()
                    if await drainer.drain() == 0:
                        break
        except TimeoutError:
            pass  # bounded: the rate so far is reported
        indexed = drainer.applied - before
        spent = time.perf_counter() - started
    rate = indexed / spent if spent else 0.0
    done = "all" if indexed >= count else f"{indexed:,} of them (bounded at {bound:.0f} s)"
    return (
        f"index {count:,} queued messages: {done} in {spent:.1f} s, {rate:,.0f}/s; "
        f"writing them (messages and entries, batches of 500) took {written:.1f} s "
        f"(ratio index/write time {spent / written:.1f})"
    )


def report(r: dict[str, Any]) -> None:
    lag = r["drained_after"]
    empty = "never within 60 s" if lag is None else f"{lag * 1000:.0f} ms"
    lines = [
        f"postMessage, sequential: {r['post_seq']:.0f}/s; bare insert route "
        f"{r['plain_seq']:.0f}/s (ratio {r['post_seq'] / r['plain_seq']:.2f})",
        f"postMessage, 8 in flight: {r['post_8']:.0f}/s (bar 540/s); bare insert route "
        f"{r['plain_8']:.0f}/s (ratio {r['post_8'] / r['plain_8']:.2f})",
        f"search outbox under that load: at most {r['depth_max']} waiting, "
        f"{r['depth_mean']:.1f} on average (about {1000 * r['depth_mean'] / r['post_8']:.0f} ms "
        f"of lag); empty {empty} after the last post",
        f"messages(first: 50) page, 8 in flight: {r['page']:.0f}/s, p99 {ms(r['page_p99'])} "
        f"(bar 500/s); plain route {r['plain_page']:.0f}/s, p99 {ms(r['plain_page_p99'])} "
        f"(ratio {r['page'] / r['plain_page']:.2f})",
        f"server CPU per request: postMessage {ms(r['post_seq_cpu'])} sequential, "
        f"{ms(r['post_8_indexed_cpu'])} with 8 in flight, its indexing included (bare insert "
        f"{ms(r['plain_8_cpu'])}); page {ms(r['page_cpu'])} (plain route "
        f"{ms(r['plain_page_cpu'])}); one core at that cost: "
        f"{1 / r['post_8_indexed_cpu']:.0f} posts/s, {1 / r['page_cpu']:.0f} pages/s",
    ]
    print("\n".join(lines), flush=True)


def main() -> None:
    history = int(os.environ.get("BENCH_HISTORY", "500"))
    count = int(os.environ.get("BENCH_INDEX", "100000"))
    bound = float(os.environ.get("BENCH_INDEX_SECONDS", "300"))
    with tempfile.TemporaryDirectory() as tmp, MailSink() as sink:
        env = {**os.environ, **BENCH_ENV, **mail_env(sink), "COVE_DATA_DIR": str(Path(tmp) / "d")}
        settings = load_settings(environ=env)
        init_data_dir(settings)
        token, channel_id = asyncio.run(seed(settings, load_keyring(settings), history))
        port = free_port()
        command = [sys.executable, "-m", "uvicorn", "bench.writes:bench_app", "--factory"]
        command += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
        with server_process([*command, "--no-access-log"], env, port) as server:
            r = asyncio.run(measure(port, server.pid, token, channel_id, outbox_counter(settings)))
        report(r)
        if count > 0:
            print(asyncio.run(index_time(settings, channel_id, count, bound)))


if __name__ == "__main__":
    main()
