"""Apps benchmark (#16): the cost of an app token's checks on the 50-message page, and the
delay from a post to its webhook delivery to the app.

One Cove server (in a thread, 127.0.0.1, a free port, fresh SQLite) with a workspace, a
channel of 50 messages and an app installed there (channels:read, messages:read,
users:read) whose bot is in the channel and whose webhook (message.created) is a threaded
receiver on 127.0.0.1.

- Page: the same 50 messages with authors, asked `BENCH_PAGES` times by the owner (a person's
  token: the baseline) and by the app (scopes checked field by field, the bot's reach, the
  token's family); prints p50 of each and the ratio.
- Delivery: `BENCH_POSTS` posts one after another; for each, the time from sending the post
  to the arrival of its `message.created` delivery (p50, p99), against a baseline measured in
  the same run: a plain POST of the same size from this process to the same receiver.

Run: `python -m bench.apps` (BENCH_PAGES=100, BENCH_POSTS=100). Loops are bounded in count
and time.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

# The test suite's helpers start servers and install apps the way tests do.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from apps_support import install_app

from support import make_settings, serve, sign_up

PAGE = """query($c: ID!) { node(id: $c) { ... on Channel { messages(first: 50) {
  edges { node { id text createdAt author { id displayName } } } } } } }"""
POST = """mutation($c: ID!, $t: String!) {
  postMessage(input: {channelId: $c, text: $t}) { message { id } } }"""
ADD = """mutation($c: ID!, $u: ID!) {
  addChannelMember(input: {channelId: $c, userId: $u}) { channel { id } } }"""
ARRIVALS: dict[str, float] = {}
_LOCK = threading.Lock()


class _Receiver(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        return None

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        now = time.perf_counter()
        try:
            found = json.loads(body).get("data", {}).get("id") or "plain"
        except ValueError:
            found = "plain"
        with _LOCK:
            ARRIVALS.setdefault(found, now)
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")


class _Server(ThreadingHTTPServer):
    daemon_threads = True


def percentile(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def timed_pages(client: Any, channel_id: str, count: int) -> list[float]:
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        data = client.data(PAGE, {"c": channel_id})
        samples.append(time.perf_counter() - started)
        assert len(data["node"]["messages"]["edges"]) == 50
    return samples


def wait_for(key: str, seconds: float = 10.0) -> float:
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        with _LOCK:
            if key in ARRIVALS:
                return ARRIVALS[key]
        time.sleep(0.0005)
    raise TimeoutError(f"no delivery for {key}")


def main() -> None:
    pages = int(os.environ.get("BENCH_PAGES", "100"))
    posts = int(os.environ.get("BENCH_POSTS", "100"))
    receiver = _Server(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    hook = f"http://localhost:{receiver.server_address[1]}/hook"
    with tempfile.TemporaryDirectory() as tmp:
        settings = make_settings(Path(tmp) / "data", apps_allow_http=True, log_level="WARNING")
        with serve(settings) as server:
            token, _ = sign_up(server.client(), "owner@bench.example", name="Olga")
            owner = server.client(token)
            created = owner.data(
                'mutation { createWorkspace(input: {name: "B"}) { workspace { id } } }'
            )
            ws = created["createWorkspace"]["workspace"]["id"]
            channel = owner.data(
                """mutation($w: ID!) { createChannel(input: {workspaceId: $w, name: "general"})
                  { channel { id } } }""",
                {"w": ws},
            )["createChannel"]["channel"]["id"]
            for i in range(50):
                owner.data(POST, {"c": channel, "t": f"message {i} " + "x" * 80})
            app = install_app(
                server,
                owner,
                ws,
                ["channels:read", "messages:read", "users:read"],
                webhookUrl=hook,
                webhookEvents=["message.created"],
            )
            owner.data(ADD, {"c": channel, "u": app.bot_user_id})
            timed_pages(owner, channel, 5)  # warm both paths
            timed_pages(app.bot, channel, 5)
            person = timed_pages(owner, channel, pages)
            bot = timed_pages(app.bot, channel, pages)
            p_person, p_bot = percentile(person, 50), percentile(bot, 50)
            print(f"50-message page, person's token: p50 {p_person * 1000:.1f} ms (n={pages})")
            print(f"50-message page, app's token:    p50 {p_bot * 1000:.1f} ms (n={pages})")
            print(f"  ratio app / person: {p_bot / p_person:.2f}")

            wait_for(owner.data(POST, {"c": channel, "t": "warm"})["postMessage"]["message"]["id"])
            delays = []
            for i in range(posts):
                started = time.perf_counter()
                posted = owner.data(POST, {"c": channel, "t": f"post {i}"})
                message_id = posted["postMessage"]["message"]["id"]
                delays.append(wait_for(message_id) - started)
            plain = []
            body = json.dumps({"type": "x", "data": {"id": "plain", "pad": "x" * 200}})
            with httpx.Client() as http:
                for _ in range(posts):
                    with _LOCK:
                        ARRIVALS.pop("plain", None)
                    started = time.perf_counter()
                    http.post(hook, content=body)
                    plain.append(wait_for("plain") - started)
    receiver.shutdown()
    d50, d99 = percentile(delays, 50), percentile(delays, 99)
    b50 = percentile(plain, 50)
    print(f"post to webhook delivery: p50 {d50 * 1000:.1f} ms, p99 {d99 * 1000:.1f} ms (n={posts})")
    print(f"plain POST to the same receiver: p50 {b50 * 1000:.1f} ms")
    print(f"  ratio delivery / plain POST (p50): {d50 / b50:.1f}")


if __name__ == "__main__":
    main()
