"""Webhook benchmark: deliveries per second to a local receiver, and the delay from `enqueue`
to arrival, against a baseline of plain signed POSTs to the same receiver in the same run.

In process, on a fresh SQLite store: the real worker (`services.webhooks`, claims, log and
all) sends to a threaded HTTP receiver on 127.0.0.1. The baseline sends the same bodies with
the same sender (address checks, pinning, no keep-alive) and no store. Run:
`python -m bench.webhooks` (BENCH_DELIVERIES=400, BENCH_ENDPOINTS=8, BENCH_DELAYS=100).
"""

from __future__ import annotations

import asyncio
import os
import statistics
import tempfile
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from api.settings import load_settings
from integrations.webhook_http import WebhookSender
from persistence.sqlite.engine import SqliteStore
from resolvers.webhooks import sign
from tests.inprocess import build_services

ARRIVALS: dict[str, float] = {}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        return None

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        ARRIVALS.setdefault(self.headers.get("webhook-id") or "", time.perf_counter())
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")


class _Server(ThreadingHTTPServer):
    request_queue_size = 128  # the default 5 drops connections that arrive at once
    daemon_threads = True


def percentile(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


async def _wait_for(ids: list[str], seconds: float) -> None:
    deadline = time.perf_counter() + seconds
    while any(i not in ARRIVALS for i in ids):
        if time.perf_counter() > deadline:
            raise RuntimeError("deliveries did not arrive in time")
        await asyncio.sleep(0.002)


async def main() -> None:
    deliveries = int(os.environ.get("BENCH_DELIVERIES", "400"))
    endpoints = int(os.environ.get("BENCH_ENDPOINTS", "8"))
    delays = int(os.environ.get("BENCH_DELAYS", "100"))
    server = _Server(("127.0.0.1", 0), _Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    settings = load_settings(environ={}, overrides={"webhooks_allow_private": True})

    def sender() -> WebhookSender:
        return WebhookSender(allow_private=True, connect_timeout_seconds=5, timeout_seconds=10)

    # Baseline: the same signed bodies through the same sender, `endpoints` at a time.
    baseline = sender()
    secret = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    body = '{"type":"message.created","data":{"messageId":"m"}}'

    async def one(n: int) -> float:
        started = time.perf_counter()
        headers = sign(secret, f"base_{n}", datetime.now(UTC), body)
        await baseline.post(url, headers, body.encode())
        return time.perf_counter() - started

    started = time.perf_counter()
    for first in range(0, deliveries, endpoints):
        await asyncio.gather(*(one(n) for n in range(first, min(deliveries, first + endpoints))))
    base_rate = deliveries / (time.perf_counter() - started)
    base_delays = [await one(deliveries + n) for n in range(delays)]
    await baseline.close()

    with tempfile.TemporaryDirectory() as directory:
        store = await SqliteStore.open(Path(directory) / "cove.db")
        services = build_services(store, settings=settings, webhook_sender=sender())
        webhooks = services.webhooks
        ids_of = [
            (await webhooks.add_endpoint("bench", url))[0].endpoint_id for _ in range(endpoints)
        ]
        # Throughput: queue everything, then let the worker drain it.
        queued = []
        for n in range(deliveries):
            message_id = await webhooks.enqueue(ids_of[n % endpoints], "message.created", {"n": n})
            assert message_id is not None
            queued.append(message_id)
        started = time.perf_counter()
        webhooks.start()
        await _wait_for(queued, 300)
        rate = deliveries / (time.perf_counter() - started)
        # Delay: one at a time into the running worker, from enqueue to arrival.
        post_delays = []
        for n in range(delays):
            started = time.perf_counter()
            message_id = await webhooks.enqueue(ids_of[0], "message.created", {"d": n})
            assert message_id is not None
            await _wait_for([message_id], 30)
            post_delays.append(ARRIVALS[message_id] - started)
        await webhooks.stop()
        services.close()
        await store.close()
    server.shutdown()

    def ms(seconds: float) -> str:
        return f"{seconds * 1000:.1f} ms"

    print(f"deliveries: {deliveries} to {endpoints} endpoints")
    print(f"  baseline (sender alone): {base_rate:.0f}/s")
    print(f"  worker (store, claims, log): {rate:.0f}/s ({rate / base_rate:.2f} of baseline)")
    print(f"post -> arrival, {delays} one at a time:")
    print(
        f"  baseline POST: p50 {ms(statistics.median(base_delays))}, "
        f"p99 {ms(percentile(base_delays, 99))}"
    )
    print(
        f"  enqueue -> arrival: p50 {ms(statistics.median(post_delays))}, "
        f"p99 {ms(percentile(post_delays, 99))}"
    )


if __name__ == "__main__":
    asyncio.run(main())
