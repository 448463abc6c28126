"""Calendars and tasks benchmark, against a running `cove serve` on the embedded defaults.

A calendar of 1,000 events of which 100 recur weekly: `events` over a 31-day window.
A board of 5,000 tasks: a page of 100 tasks, and a move (to a random place in the list).
Prints p50 and p99 of each, over BENCH_REPEATS requests one at a time (200 by default).
Cove's mail goes to a real SMTP sink in this process (sign-up needs mail). Run: `python -m bench.planning`.
"""

from __future__ import annotations

import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from bench.accounts import ms, percentile
from bench.load import free_port, gql, mail_env, server_process, sign_up
from tests.mail_sink import MailSink

EVENT = """mutation($c: ID!, $e: EventFields!) { createEvent(input: {calendarId: $c, event: $e}) { event { id } } }"""
WINDOW = """query($c: ID!, $f: DateTime!, $t: DateTime!) { node(id: $c) { ... on Calendar {
  events(from: $f, to: $t) { occurrenceId start end title event { id } } } } }"""
TASK = """mutation($l: ID!, $t: String!) { createTask(input: {listId: $l, title: $t}) { task { id } } }"""
PAGE = """query($l: ID!, $a: String) { node(id: $l) { ... on TaskList { tasks(first: 100, after: $a) {
  edges { cursor node { id title status dueAt } } pageInfo { endCursor } } } } }"""
MOVE = """mutation($t: ID!, $l: ID!, $a: ID) { moveTask(input: {taskId: $t, listId: $l, afterTaskId: $a}) { task { id position } } }"""


async def timed(call: Any, repeats: int) -> list[float]:
    took = []
    for _ in range(repeats):
        started = time.perf_counter()
        await call()
        took.append(time.perf_counter() - started)
    return took


async def run(url: str, sink: MailSink, repeats: int) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=120) as http:
        token = (await sign_up(http, sink, "bench@planning.example", name="B")).token
        ws = (
            await gql(
                http,
                'mutation { createWorkspace(input: {name: "P"}) { workspace { id } } }',
                token=token,
            )
        )["createWorkspace"]["workspace"]["id"]
        calendar = (
            await gql(
                http,
                'mutation($w: ID!) { createCalendar(input: {workspaceId: $w, name: "Busy"}) { calendar { id } } }',
                {"w": ws},
                token,
            )
        )["createCalendar"]["calendar"]["id"]
        base = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
        rng = random.Random(7)
        started = time.perf_counter()
        sem = asyncio.Semaphore(8)

        async def add_event(n: int) -> None:
            start = base + timedelta(days=rng.randrange(0, 365), hours=rng.randrange(0, 10))
            fields: dict[str, Any] = {
                "title": f"Event {n}",
                "start": start.isoformat(),
                "end": (start + timedelta(hours=1)).isoformat(),
                "timeZone": "Europe/Paris",
            }
            if n < 100:
                fields["recurrence"] = "FREQ=WEEKLY"
            async with sem:
                await gql(http, EVENT, {"c": calendar, "e": fields}, token)

        await asyncio.gather(*(add_event(n) for n in range(1000)))
        print(f"seeded 1,000 events (100 weekly) in {time.perf_counter() - started:.1f} s")
        window = {"c": calendar, "f": "2026-06-01T00:00:00Z", "t": "2026-07-02T00:00:00Z"}
        count = len((await gql(http, WINDOW, window, token))["node"]["events"])

        async def events() -> None:
            await gql(http, WINDOW, window, token)

        took = await timed(events, repeats)
        print(
            f"calendar events over 31 days ({count} occurrences): p50 {ms(statistics.median(took))}  p99 {ms(percentile(took, 0.99))}"
        )

        board = (
            await gql(
                http,
                'mutation($w: ID!) { createBoard(input: {workspaceId: $w, name: "Big"}) { board { id } } }',
                {"w": ws},
                token,
            )
        )["createBoard"]["board"]["id"]
        todo = (
            await gql(
                http,
                'mutation($b: ID!) { createTaskList(input: {boardId: $b, name: "Backlog"}) { list { id } } }',
                {"b": board},
                token,
            )
        )["createTaskList"]["list"]["id"]
        started = time.perf_counter()
        ids: list[str] = []

        async def add_task(n: int) -> None:
            async with sem:
                result = await gql(http, TASK, {"l": todo, "t": f"Task {n}"}, token)
            ids.append(result["createTask"]["task"]["id"])

        for chunk in range(0, 5000, 500):  # in order-ish batches so positions interleave little
            await asyncio.gather(*(add_task(n) for n in range(chunk, chunk + 500)))
        print(f"seeded 5,000 tasks in {time.perf_counter() - started:.1f} s")
        cursors: list[str | None] = [None]
        after: str | None = None
        for _ in range(49):
            page = (await gql(http, PAGE, {"l": todo, "a": after}, token))["node"]["tasks"]
            after = page["pageInfo"]["endCursor"]
            cursors.append(after)

        async def page_of_100() -> None:
            await gql(http, PAGE, {"l": todo, "a": rng.choice(cursors)}, token)

        took = await timed(page_of_100, repeats)
        print(
            f"board page of 100 tasks (of 5,000): p50 {ms(statistics.median(took))}  p99 {ms(percentile(took, 0.99))}"
        )

        async def move() -> None:
            task, anchor = rng.sample(ids, 2)
            await gql(http, MOVE, {"t": task, "l": todo, "a": anchor}, token)

        took = await timed(move, repeats)
        print(
            f"board move of one task: p50 {ms(statistics.median(took))}  p99 {ms(percentile(took, 0.99))}"
        )


def main() -> None:
    repeats = int(os.environ.get("BENCH_REPEATS", "200"))
    with tempfile.TemporaryDirectory() as tmp, MailSink() as sink:
        port = free_port()
        env = {
            **os.environ,
            **mail_env(sink),
            "COVE_LOG_LEVEL": "WARNING",
            "COVE_SIGNUPS_PER_IP_PER_HOUR": "1000000",
            "COVE_QUERY_COST_BUDGET": str(10**15),
        }
        command = [
            sys.executable,
            "-m",
            "api.cli",
            "serve",
            "--data-dir",
            str(Path(tmp) / "data"),
            "--port",
            str(port),
        ]
        with server_process(command, env, port) as running:
            asyncio.run(run(running.url, sink, repeats))


if __name__ == "__main__":
    main()
