"""Export throughput: a workspace's export (built, sealed, then downloaded) against the plain
API read of the same objects (every message paged over GraphQL, every file downloaded), in the
same run, against the same server process; and the server's peak memory growth while the
export is built.

Seeds one workspace: BENCH_EXPORT_MESSAGES messages (2000) over 4 channels and
BENCH_EXPORT_FILES files (16) of BENCH_EXPORT_FILE_MIB MiB (4) of random bytes, in folders.
Cove's mail goes to a real SMTP sink in this process. Run: `python -m bench.export`.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench.drive import CHUNK, PeakMemory
from bench.load import free_port, gql, mail_env, server_process, sign_up
from tests.mail_sink import MailSink

CHANNEL = """mutation($w: ID!, $n: String!) {
  createChannel(input: {workspaceId: $w, name: $n, visibility: PUBLIC}) { channel { id } } }"""
POST = """mutation($c: ID!, $t: String!) {
  postMessage(input: {channelId: $c, text: $t}) { message { id } } }"""
FOLDER = """mutation($w: ID!, $n: String!) {
  createFolder(input: {workspaceId: $w, name: $n}) { folder { id } } }"""
UPLOAD = """mutation($w: ID!, $p: ID, $n: String!, $s: Long!) { createUpload(input: {
  workspaceId: $w, parentId: $p, name: $n, size: $s, contentType: "application/octet-stream"})
  { upload { url } } }"""
PAGE = """query($c: ID!, $a: String) { node(id: $c) { ... on Channel {
  messages(first: 100, after: $a) { edges { node { id text createdAt author { id } } }
  pageInfo { hasNextPage endCursor } } } } }"""
FILE_URL = "query($f: ID!) { node(id: $f) { ... on File { downloadUrl } } }"
REQUEST = "mutation($w: ID) { requestExport(input: {workspaceId: $w}) { export { id } } }"
STATE = "query($i: ID!) { export(id: $i) { state objects bytes downloadUrl } }"


async def seed(http: httpx.AsyncClient, token: str, messages: int, files: int, size: int) -> Any:
    workspace = (
        await gql(
            http,
            'mutation { createWorkspace(input: {name: "Bench"}) { workspace { id } } }',
            {},
            token,
        )
    )["createWorkspace"]["workspace"]["id"]
    channels = [
        (await gql(http, CHANNEL, {"w": workspace, "n": f"c{n}"}, token))["createChannel"][
            "channel"
        ]["id"]
        for n in range(4)
    ]
    for n in range(messages):
        text = f"message {n}: " + "lorem ipsum dolor sit amet " * 4
        await gql(http, POST, {"c": channels[n % 4], "t": text}, token)
    folders = [
        (await gql(http, FOLDER, {"w": workspace, "n": f"folder {n}"}, token))["createFolder"][
            "folder"
        ]["id"]
        for n in range(2)
    ]
    block = os.urandom(size)
    file_ids = []
    for n in range(files):
        variables = {"w": workspace, "p": folders[n % 2], "n": f"f{n}.bin", "s": size}
        url = (await gql(http, UPLOAD, variables, token))["createUpload"]["upload"]["url"]
        answer = await http.put(url, content=block, headers={"Content-Length": str(size)})
        file_ids.append(answer.json()["fileId"])
    return workspace, channels, file_ids


async def api_read(
    http: httpx.AsyncClient, token: str, channels: list[str], files: list[str]
) -> dict[str, float]:
    """The baseline: every message and file as a client reads them through the API."""
    started = time.perf_counter()
    objects = bytes_read = 0
    for channel in channels:
        after = None
        while True:
            page = (await gql(http, PAGE, {"c": channel, "a": after}, token))["node"]["messages"]
            objects += len(page["edges"])
            bytes_read += sum(len(e["node"]["text"]) for e in page["edges"])
            if not page["pageInfo"]["hasNextPage"]:
                break
            after = page["pageInfo"]["endCursor"]
    for file_id in files:
        url = (await gql(http, FILE_URL, {"f": file_id}, token))["node"]["downloadUrl"]
        async with http.stream("GET", url) as response:
            async for chunk in response.aiter_raw(CHUNK):
                bytes_read += len(chunk)
        objects += 1
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "objects": objects, "bytes": bytes_read}


async def export(http: httpx.AsyncClient, token: str, workspace: str, pid: int) -> dict[str, Any]:
    async with PeakMemory(pid) as memory:
        started = time.perf_counter()
        export_id = (await gql(http, REQUEST, {"w": workspace}, token))["requestExport"]["export"][
            "id"
        ]
        while True:
            state = (await gql(http, STATE, {"i": export_id}, token))["export"]
            if state["state"] in ("READY", "FAILED"):
                break
            await asyncio.sleep(0.05)
        built = time.perf_counter() - started
    if state["state"] != "READY":
        raise SystemExit("the export failed")
    received = 0
    async with http.stream("GET", state["downloadUrl"]) as response:
        async for chunk in response.aiter_raw(CHUNK):
            received += len(chunk)
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "built": built,
        "objects": state["objects"],
        "bytes": state["bytes"],
        "zip": received,
        "memory": memory,
    }


async def run(base: str, sink: MailSink, pid: int) -> tuple[dict[str, float], dict[str, Any]]:
    messages = int(os.environ.get("BENCH_EXPORT_MESSAGES", "2000"))
    files = int(os.environ.get("BENCH_EXPORT_FILES", "16"))
    size = int(os.environ.get("BENCH_EXPORT_FILE_MIB", "4")) * CHUNK
    async with httpx.AsyncClient(base_url=base, timeout=600) as http:
        token = (await sign_up(http, sink, "bench@export.example", name="B")).token
        workspace, channels, file_ids = await seed(http, token, messages, files, size)
        baseline = await api_read(http, token, channels, file_ids)
        exported = await export(http, token, workspace, pid)
    return baseline, exported


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
            baseline, exported = asyncio.run(run(running.url, sink, running.pid))
    mb = 1e6
    rows = (("API read (baseline)", baseline), ("export (build + download)", exported))
    for name, result in rows:
        print(
            f"{name:26s} {result['objects']:6d} objects {result['bytes'] / mb:8.1f} MB "
            f"in {result['seconds']:6.2f} s: {result['bytes'] / mb / result['seconds']:7.1f} MB/s, "
            f"{result['objects'] / result['seconds']:8.0f} objects/s"
        )
    ratio_mb = (exported["bytes"] / exported["seconds"]) / (baseline["bytes"] / baseline["seconds"])
    ratio_objects = (exported["objects"] / exported["seconds"]) / (
        baseline["objects"] / baseline["seconds"]
    )
    print(
        f"export built in {exported['built']:.2f} s, zip {exported['zip'] / mb:.1f} MB; "
        f"server peak memory growth while building: {exported['memory'].growth_mib:.1f} MiB"
    )
    print(f"ratio export / API read: {ratio_mb:.2f} (MB/s), {ratio_objects:.2f} (objects/s)")


if __name__ == "__main__":
    main()
