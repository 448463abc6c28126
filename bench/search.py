"""Search benchmark: 100,000 messages in one workspace on the embedded engine.

Seeds a workspace through the API, then writes the messages (sealed) and indexes them with
Cove's own indexer in batches of 500, in process, timing the indexing; then serves Cove and
times `search` over HTTP for one-word and two-word queries (p50, p99; bar: p99 < 100 ms).
Cove's mail goes to a real SMTP sink in this process (sign-up needs mail).
Run: `python -m bench.search` (BENCH_MESSAGES=100000, BENCH_REPEATS=200 by default).
"""

from __future__ import annotations

import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench.accounts import ms, percentile
from bench.load import free_port, gql, mail_env, server_process, sign_up
from tests.mail_sink import MailSink

SEARCH = """query($w: ID!, $q: String!) { search(workspaceId: $w, query: $q, first: 20) {
  edges { node { ... on Message { id text } } } } }"""
VOCABULARY = 20_000


def word(rank: int) -> str:
    letters = "abcdefghijklmnopqrstuvwxyz"
    out, n = [], rank + 26 * 26
    while n:
        n, r = divmod(n, 26)
        out.append(letters[r])
    return "".join(out)


def sentence(rng: random.Random, words: list[str], weights: list[float]) -> str:
    return " ".join(rng.choices(words, weights, k=rng.randrange(8, 25)))


async def seed(data_dir: Path, env: dict[str, str], ids: dict[str, str], count: int) -> float:
    os.environ.update(env)
    from api.app import running_services
    from api.bootstrap import load_keyring
    from api.settings import load_settings
    from persistence.ids import new_id
    from persistence.messages import MessageRecord
    from resolvers.global_ids import from_global_id
    from resolvers.messages import text_ref

    settings = load_settings(overrides={"data_dir": data_dir})
    ws = from_global_id(ids["workspace"])[1]  # type: ignore[index]
    channel = from_global_id(ids["channel"])[1]  # type: ignore[index]
    author = from_global_id(ids["user"])[1]  # type: ignore[index]
    rng = random.Random(11)
    words = [word(i) for i in range(VOCABULARY)]
    weights = [1 / (i + 1) for i in range(VOCABULARY)]  # Zipf-like
    indexing = 0.0
    async with running_services(settings, load_keyring(settings)) as services:
        batch = []
        for n in range(count):
            message_id = new_id()
            text = sentence(rng, words, weights)
            record = MessageRecord(
                message_id=message_id,
                channel_id=channel,
                workspace_id=ws,
                thread_id="",
                author_id=author,
                text_sealed=await services.keys.seal_text(text_ref(message_id, ws), text),
                mentions=(),
                created_at=services.clock(),
                edited_at=None,
            )
            await services.messages.post(record)
            batch.append((record, text))
            if len(batch) == 500 or n == count - 1:
                started = time.perf_counter()
                documents = [await services.indexer.message_document(r, t) for r, t in batch]
                await services.indexer.engine.index(ws, documents)
                indexing += time.perf_counter() - started
                batch = []
    return indexing


async def queries(url: str, token: str, workspace: str, repeats: int) -> None:
    rng = random.Random(5)
    # Common, middling and rare words, as people type them (some as word starts).
    one = [word(rng.randrange(0, 2000)) for _ in range(50)] + [
        word(rng.randrange(2000, VOCABULARY))[:4] for _ in range(20)
    ]
    two = [f"{word(rng.randrange(0, 500))} {word(rng.randrange(500, 5000))}" for _ in range(50)]
    async with httpx.AsyncClient(base_url=url, timeout=60) as http:
        for label, pool in (("one-word", one), ("two-word", two)):
            took = []
            for n in range(repeats):
                started = time.perf_counter()
                await gql(http, SEARCH, {"w": workspace, "q": pool[n % len(pool)]}, token)
                took.append(time.perf_counter() - started)
            print(
                f"search {label:8s} p50 {ms(statistics.median(took))}  p99 {ms(percentile(took, 0.99))}  (bar: p99 < 100 ms)"
            )


async def setup(url: str, sink: MailSink) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=url, timeout=60) as http:
        account = await sign_up(http, sink, "bench@search.example", name="B")
        token = account.token
        workspace = (
            await gql(
                http,
                'mutation { createWorkspace(input: {name: "S"}) { workspace { id } } }',
                token=token,
            )
        )["createWorkspace"]["workspace"]["id"]
        channel = (
            await gql(
                http,
                'mutation($w: ID!) { createChannel(input: {workspaceId: $w, name: "all"}) { channel { id } } }',
                {"w": workspace},
                token,
            )
        )["createChannel"]["channel"]["id"]
    return {
        "token": token,
        "workspace": workspace,
        "channel": channel,
        "user": account.user_id,
    }


def main() -> None:
    count = int(os.environ.get("BENCH_MESSAGES", "100000"))
    repeats = int(os.environ.get("BENCH_REPEATS", "200"))
    with tempfile.TemporaryDirectory() as tmp, MailSink() as sink:
        data_dir = Path(tmp) / "data"
        env = {
            **os.environ,
            **mail_env(sink),
            "COVE_LOG_LEVEL": "WARNING",
            "COVE_SIGNUPS_PER_IP_PER_HOUR": "1000000",
            "COVE_QUERY_COST_BUDGET": str(10**15),
        }
        command = [sys.executable, "-m", "api.cli", "serve", "--data-dir", str(data_dir)]
        port = free_port()
        with server_process([*command, "--port", str(port)], env, port) as running:
            ids = asyncio.run(setup(running.url, sink))
        indexing = asyncio.run(seed(data_dir, env, ids, count))
        print(
            f"indexed {count:,} messages in {indexing:.1f} s: {count / indexing:,.0f} messages/s (tokens and engine writes)"
        )
        port = free_port()
        with server_process([*command, "--port", str(port)], env, port) as running:
            asyncio.run(queries(running.url, ids["token"], ids["workspace"], repeats))


if __name__ == "__main__":
    main()
