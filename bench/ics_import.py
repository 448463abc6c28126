"""`.ics` import benchmark: how a bomb import affects everyone else, against `cove serve`.

The issue's bomb is 1,000 `FREQ=DAILY;COUNT=10000` events (about 157 KB); a second file of
1,000 weekday rules (`BYDAY=MO,TU,WE,TH,FR;COUNT=10000`) has no closed form, so dateutil finds
each end. While each is imported, another member polls `{ viewer { id } }`; the baseline is
the same polling with no import, in the same run. Prints p50 / p99 / max of each and the
ratio of the p99s, and how long each import took. Cove's mail goes to a real SMTP sink in
this process (sign-up needs mail). Run: `python -m bench.ics_import`.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

from bench.accounts import ms, percentile
from bench.load import free_port, gql, mail_env, server_process, sign_up
from tests.mail_sink import MailSink

IMPORT = """mutation($c: ID!, $i: String!) {
  importCalendar(input: {calendarId: $c, ics: $i}) { created updated } }"""


def bomb(events: int, rule: str) -> str:
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//bench//EN"]
    for i in range(events):
        at = f"20260101T{i // 60 % 24:02d}{i % 60:02d}"
        lines += ["BEGIN:VEVENT", f"UID:bomb-{i}@bench.example", f"DTSTART:{at}00Z"]
        lines += [f"DTEND:{at}30Z", f"RRULE:{rule}", f"SUMMARY:Bomb {i}", "END:VEVENT"]
    return "\r\n".join([*lines, "END:VCALENDAR"]) + "\r\n"


async def poll(url: str, token: str, until: asyncio.Event, least: int) -> list[float]:
    took: list[float] = []
    async with httpx.AsyncClient(base_url=url, timeout=60) as http:
        while not until.is_set() or len(took) < least:
            started = time.perf_counter()
            await gql(http, "{ viewer { id } }", token=token)
            took.append(time.perf_counter() - started)
            await asyncio.sleep(0.01)
    return took


def line(name: str, took: list[float]) -> str:
    return (
        f"{name}: p50 {ms(statistics.median(took))}  p99 {ms(percentile(took, 0.99))}  "
        f"max {ms(max(took))}  ({len(took)} requests)"
    )


async def run(url: str, sink: MailSink) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=120) as http:
        owner = (await sign_up(http, sink, "owner@ics.example", name="B")).token
        viewer = (await sign_up(http, sink, "viewer@ics.example", name="B")).token
        made = 'mutation { createWorkspace(input: {name: "I"}) { workspace { id } } }'
        ws = (await gql(http, made, token=owner))["createWorkspace"]["workspace"]["id"]
        cal = 'mutation($w: ID!) { createCalendar(input: {workspaceId: $w, name: "C"}) { calendar { id } } }'
        calendar = (await gql(http, cal, {"w": ws}, token=owner))["createCalendar"]["calendar"][
            "id"
        ]

        done = asyncio.Event()
        done.set()
        baseline = await poll(url, viewer, done, 200)
        print(line("viewer, no import (baseline)", baseline))
        for name, rule in (
            ("FREQ=DAILY;COUNT=10000", "FREQ=DAILY;COUNT=10000"),
            ("weekdays COUNT=10000", "FREQ=DAILY;BYDAY=MO,TU,WE,TH,FR;COUNT=10000"),
        ):
            text = bomb(1000, rule)
            done = asyncio.Event()
            polling = asyncio.create_task(poll(url, viewer, done, 5))
            started = time.perf_counter()
            body = await http.post(
                "/graphql",
                json={"query": IMPORT, "variables": {"c": calendar, "i": text}},
                headers={"Authorization": f"Bearer {owner}"},
            )
            seconds = time.perf_counter() - started
            done.set()
            during = await polling
            answer = body.json()
            outcome = (
                f"refused: {answer['errors'][0]['message']}"
                if answer.get("errors")
                else "{created} created, {updated} updated".format(
                    **answer["data"]["importCalendar"]
                )
            )
            print(
                f"import of 1,000 {name} events ({len(text) // 1024} KiB): {seconds:.2f} s, {outcome}"
            )
            print(line("viewer during that import", during))
            ratio = percentile(during, 0.99) / percentile(baseline, 0.99)
            print(f"  p99 during / p99 baseline: {ratio:.1f}x")


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp, MailSink() as sink:
        port = free_port()
        env = {
            **os.environ,
            **mail_env(sink),
            "COVE_LOG_LEVEL": "WARNING",
            "COVE_SIGNUPS_PER_IP_PER_HOUR": "1000000",
            "COVE_QUERY_COST_BUDGET": str(10**15),
        }
        command = [sys.executable, "-m", "api.cli", "serve", "--data-dir", str(Path(tmp) / "data")]
        with server_process([*command, "--port", str(port)], env, port) as running:
            asyncio.run(run(running.url, sink))


if __name__ == "__main__":
    main()
