"""ONLYOFFICE benchmark: from the Document Server's signed save callback to the saved
version, for one document (10 MiB by default), against a plain upload of the same bytes
(`createUpload` then PUT) measured in the same run, on the same server; and the server's peak
memory growth during each.

A save fetches the edited file from the Document Server and seals it into the blob store as
it arrives (the upload path), so its time should be close to an upload's and its memory as
flat. The Document Server is the protocol double of the tests (tests/onlyoffice_double.py),
serving the file over loopback HTTP from this process. Run: `python -m bench.onlyoffice`
(BENCH_DOC_MIB=10, BENCH_ROUNDS=3; the median round is shown).
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench.drive import PeakMemory, body
from bench.load import free_port, gql, mail_env, server_process, sign_up
from tests.mail_sink import MailSink
from tests.onlyoffice_double import DocumentServer, document_server

SECRET = "bench-secret-of-the-document-server-0123"
UPLOAD = """mutation($w: ID!, $s: Long!) { createUpload(input: {workspaceId: $w,
  name: "plan.docx", size: $s, contentType: "application/octet-stream"}) {
  upload { url fileId } } }"""
OPEN = """mutation($f: ID!) { openDocument(input: {fileId: $f, mode: EDIT}) {
  config token } }"""
VERSIONS = """query($f: ID!) { node(id: $f) { ... on File { versions(first: 100) {
  edges { node { number } } } } } }"""


async def upload(http: httpx.AsyncClient, token: str, workspace: str, size: int, pid: int) -> Any:
    made = (await gql(http, UPLOAD, {"w": workspace, "s": size}, token))["createUpload"]["upload"]
    async with PeakMemory(pid) as memory:
        started = time.perf_counter()
        response = await http.put(
            made["url"], content=body(size), headers={"Content-Length": str(size)}
        )
        seconds = time.perf_counter() - started
    if response.status_code != 201:
        raise SystemExit(f"upload answered {response.status_code}: {response.text}")
    return made["fileId"], seconds, memory.growth_mib


async def save(
    http: httpx.AsyncClient, docs: DocumentServer, token: str, file_id: str, size: int, pid: int
) -> tuple[float, float]:
    opened_answer = (await gql(http, OPEN, {"f": file_id}, token))["openDocument"]
    opened = await asyncio.to_thread(docs.open, opened_answer["config"], opened_answer["token"])
    url = docs.serve(os.urandom(size))
    callback = docs.callback_body(opened, 2, url)
    async with PeakMemory(pid) as memory:
        started = time.perf_counter()
        answer = await asyncio.to_thread(docs.call_back, opened, callback)
        seconds = time.perf_counter() - started
    if answer.status_code != 200 or answer.json() != {"error": 0}:
        raise SystemExit(f"the callback answered {answer.status_code}: {answer.text}")
    versions = (await gql(http, VERSIONS, {"f": file_id}, token))["node"]["versions"]["edges"]
    if len(versions) != 2:
        raise SystemExit(f"expected 2 versions, found {len(versions)}")
    return seconds, memory.growth_mib


async def run(
    base: str, docs: DocumentServer, sink: MailSink, pid: int, size: int, rounds: int
) -> dict[str, list[float]]:
    results: dict[str, list[float]] = {"upload": [], "upload_mib": [], "save": [], "save_mib": []}
    async with httpx.AsyncClient(base_url=base, timeout=600) as http:
        token = (await sign_up(http, sink, "bench@office.example", name="B")).token
        workspace = (
            await gql(
                http,
                'mutation { createWorkspace(input: {name: "Bench"}) { workspace { id } } }',
                token=token,
            )
        )["createWorkspace"]["workspace"]["id"]
        for _ in range(rounds):
            file_id, seconds, growth = await upload(http, token, workspace, size, pid)
            results["upload"].append(seconds)
            results["upload_mib"].append(growth)
            seconds, growth = await save(http, docs, token, file_id, size, pid)
            results["save"].append(seconds)
            results["save_mib"].append(growth)
    return results


def main() -> None:
    size = int(os.environ.get("BENCH_DOC_MIB", "10")) * 1024 * 1024
    rounds = int(os.environ.get("BENCH_ROUNDS", "3"))
    with tempfile.TemporaryDirectory() as tmp, MailSink() as sink, document_server(SECRET) as docs:
        port = free_port()
        env = {
            **os.environ,
            **mail_env(sink),
            "COVE_LOG_LEVEL": "WARNING",
            "COVE_SIGNUPS_PER_IP_PER_HOUR": "1000000",
            "COVE_QUERY_COST_BUDGET": str(10**15),
            "COVE_ONLYOFFICE_ENABLED": "true",
            "COVE_ONLYOFFICE_URL": docs.url,
            "COVE_ONLYOFFICE_JWT_SECRET": SECRET,
            "COVE_ONLYOFFICE_ALLOW_PRIVATE": "true",  # the double is on 127.0.0.1
            "COVE_ONLYOFFICE_PUBLIC_URL": f"http://127.0.0.1:{port}",
        }
        command = [sys.executable, "-m", "api.cli", "serve", "--data-dir", str(Path(tmp) / "data")]
        with server_process([*command, "--port", str(port)], env, port) as running:
            results = asyncio.run(run(running.url, docs, sink, running.pid, size, rounds))
    median = {name: statistics.median(values) for name, values in results.items()}
    for name, values in results.items():
        print(f"  {name:10s} per round: " + ", ".join(f"{v:.3f}" for v in values))
    print(f"document of {size / 2**20:.0f} MiB, median of {rounds} rounds")
    print(
        f"plain upload (baseline)      {median['upload'] * 1000:7.0f} ms"
        f"  peak memory growth {median['upload_mib']:5.1f} MiB"
    )
    print(
        f"callback to saved version    {median['save'] * 1000:7.0f} ms"
        f"  peak memory growth {median['save_mib']:5.1f} MiB"
    )
    print(
        f"ratio save / upload: time {median['save'] / median['upload']:.2f}"
        "  (bar: under 2; peak memory growth under 100 MiB)"
    )


if __name__ == "__main__":
    main()
