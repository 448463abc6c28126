"""A whole server with S3 and Redis behind proxies the test freezes: nothing waits long.

Frozen S3: `/ready` answers 503 naming `blobs` within `ready_timeout_seconds`; an upload
answers 503 UNAVAILABLE (reason DEPENDENCY_UNAVAILABLE) with Retry-After within the S3 timeout
(two attempts), and the same URL works once S3 is back; downloads answer 503 at once while the
breaker is open. Frozen Redis: mutations stay fast (publishing is queued) and `/ready` names
`broker`. A stored object that is gone is NOT_FOUND, reason BLOB_MISSING, not damage. Bounds
are generous; the times are printed for the report (`pytest -s`).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from drive_support import begin_upload, download_url, get, put, upload_file
from redis_server import RedisServer
from tcp_proxy import TcpProxy
from worlds import CREATE_WS

from support import make_settings, serve, sign_up
from tests.integrations.blob_fixtures import DUMMY_CREDENTIALS

TIMEOUT = 1  # s3_timeout_seconds, redis_timeout_seconds and ready_timeout_seconds
MARGIN = 2.0
CREATE_CHANNEL = """mutation($w: ID!, $n: String!) {
  createChannel(input: {workspaceId: $w, name: $n}) { channel { id } } }"""
POST = """mutation($c: ID!, $t: String!) {
  postMessage(input: {channelId: $c, text: $t}) { message { id } } }"""


@pytest.fixture
def proxies(moto_server: Any, tmp_path: Path) -> Iterator[tuple[TcpProxy, TcpProxy]]:
    (tmp_path / "redis").mkdir()
    redis_server = RedisServer(tmp_path / "redis")
    redis_server.start()
    try:
        with TcpProxy(moto_server.port) as s3, TcpProxy(redis_server.port) as redis:
            yield s3, redis
    finally:
        redis_server.stop()


def _timed(call: Any) -> tuple[Any, float]:
    start = time.monotonic()
    result = call()
    return result, time.monotonic() - start


def _unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert int(response.headers["retry-after"]) >= 1
    extensions = response.json()["errors"][0]["extensions"]
    assert extensions["code"] == "UNAVAILABLE"
    assert extensions["reason"] == "DEPENDENCY_UNAVAILABLE"


def test_frozen_s3_and_redis_answer_within_their_timeouts(
    tmp_path: Path, proxies: tuple[TcpProxy, TcpProxy], s3_bucket: str
) -> None:
    s3, redis = proxies
    settings = make_settings(
        tmp_path / "data",
        blob_store="s3",
        s3_endpoint_url=f"http://127.0.0.1:{s3.port}",
        s3_bucket=s3_bucket,
        s3_region="us-east-1",
        s3_access_key_id=DUMMY_CREDENTIALS["access_key_id"],
        s3_secret_access_key=DUMMY_CREDENTIALS["secret_access_key"],
        broker_url=f"redis://127.0.0.1:{redis.port}/0",
        s3_timeout_seconds=TIMEOUT,
        redis_timeout_seconds=TIMEOUT,
        ready_timeout_seconds=TIMEOUT,
        breaker_failures=2,
        breaker_reset_seconds=1,
    )
    report: list[str] = []
    try:
        with serve(settings) as server:
            token, _ = sign_up(server.client(), "owner@frozen.example")
            owner = server.client(token)
            ws = owner.data(CREATE_WS, {"n": "Acme"})["createWorkspace"]["workspace"]["id"]
            channel = owner.data(CREATE_CHANNEL, {"w": ws, "n": "general"})
            channel_id = channel["createChannel"]["channel"]["id"]
            file_id = upload_file(server, owner, ws, b"before the freeze")
            url = download_url(owner, file_id)
            upload = begin_upload(owner, 11, workspace=ws, name="later.txt")
            assert httpx.get(server.url + "/ready").status_code == 200

            s3.pause()
            ready, took = _timed(lambda: httpx.get(server.url + "/ready", timeout=30))
            report.append(f"/ready {took:.2f} s")
            assert ready.status_code == 503 and "blobs" in ready.json()["failed"]
            assert took < TIMEOUT + MARGIN
            # Two attempts, each waiting one second more for S3's "100 Continue", then the answer.
            response, took = _timed(lambda: put(server, upload["url"], b"hello world"))
            report.append(f"upload {took:.2f} s")
            _unavailable(response)
            assert took < 2 * (TIMEOUT + 1) + MARGIN
            response, took = _timed(lambda: get(server, url))
            report.append(f"download {took:.2f} s")
            _unavailable(response)
            assert took < 2 * TIMEOUT + MARGIN
            # The breaker is open now: refused without waiting.
            response, took = _timed(lambda: get(server, url))
            report.append(f"download, breaker open {took:.3f} s")
            _unavailable(response)
            assert took < 0.5
            s3.resume()
            time.sleep(1.2)  # breaker_reset_seconds: the next call is the trial
            again = put(server, upload["url"], b"hello world")
            assert again.status_code == 201, again.text  # the 503 did not use the URL up
            assert get(server, url).content == b"before the freeze"

            redis.pause()
            times = []
            for n in range(20):
                answer, took = _timed(lambda n=n: owner.data(POST, {"c": channel_id, "t": f"m{n}"}))
                assert answer["postMessage"]["message"]["id"]
                times.append(took)
            times.sort()
            report.append(
                f"postMessage median {times[10] * 1000:.0f} ms, second slowest "
                f"{times[-2] * 1000:.0f} ms, slowest {times[-1] * 1000:.0f} ms"
            )
            # Only the first may wait, once, for the shared rate-limit counters' 0.5 s timeout
            # (they then count in the process for 5 s); publishing waits for nothing.
            assert times[-1] < 0.5 + MARGIN
            assert times[-2] < 0.3
            ready, took = _timed(lambda: httpx.get(server.url + "/ready", timeout=30))
            report.append(f"/ready with Redis frozen {took:.2f} s")
            assert ready.status_code == 503 and ready.json()["failed"] == ["broker"]
            assert took < TIMEOUT + MARGIN
            redis.resume()
    finally:
        s3.resume()
        redis.resume()
        print("frozen dependencies: " + "; ".join(report))


def test_a_missing_stored_object_is_not_found_not_damage(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    with serve(make_settings(data_dir)) as server:
        token, _ = sign_up(server.client(), "owner@missing.example")
        owner = server.client(token)
        ws = owner.data(CREATE_WS, {"n": "Acme"})["createWorkspace"]["workspace"]["id"]
        file_id = upload_file(server, owner, ws, b"soon gone")
        [blob] = [p for p in (data_dir / "blobs").rglob("*") if p.is_file()]
        blob.unlink()
        response = get(server, download_url(owner, file_id))
        assert response.status_code == 404
        extensions = response.json()["errors"][0]["extensions"]
        assert extensions == {"code": "NOT_FOUND", "reason": "BLOB_MISSING"}
