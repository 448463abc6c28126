"""Fetching a saved document from the Document Server (a real HTTP server on 127.0.0.1):
its origin only, public addresses only unless allowed, the address checked is the address
connected to, no redirects, a declared length within the limit."""

from __future__ import annotations

from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from threading import Thread
from typing import Any

import pytest

from integrations.onlyoffice import DocumentFetcher, DocumentFetchFailed, DocumentFetchRefused

BODY = b"PK saved document " * 1000


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", "/file")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        if self.path != "/unsized":
            self.send_header("Content-Length", str(len(BODY)))
        self.end_headers()
        self.wfile.write(BODY)

    def log_message(self, format: str, *args: Any) -> None:
        return None


@pytest.fixture
def origin() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


async def fetch(fetcher: DocumentFetcher, url: str) -> bytes:
    try:
        async with fetcher.fetch(url) as fetched:
            data = b"".join([chunk async for chunk in fetched.chunks])
            assert len(data) == fetched.size
            return data
    finally:
        await fetcher.close()


def fetcher(origin: str, **options: Any) -> DocumentFetcher:
    values: dict[str, Any] = {"allow_private": True, "timeout_seconds": 5, "max_bytes": 10**6}
    return DocumentFetcher(origin + "/", **(values | options))


async def test_a_file_on_the_document_servers_origin_is_fetched(origin: str) -> None:
    assert await fetch(fetcher(origin), origin + "/file") == BODY


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.2:{port}/file",  # another host
        "http://127.0.0.1:1/file",  # another port
        "https://127.0.0.1:{port}/file",  # another scheme
        "http://user:pw@127.0.0.1:{port}/file",
        "file:///etc/passwd",
        "gopher://127.0.0.1:{port}/",
    ],
)
async def test_anything_off_its_origin_is_refused_before_connecting(origin: str, url: str) -> None:
    port = origin.rsplit(":", 1)[1]
    with pytest.raises(DocumentFetchRefused):
        await fetch(fetcher(origin), url.format(port=port))


async def test_a_private_address_is_refused_unless_allowed(origin: str) -> None:
    with pytest.raises(DocumentFetchRefused, match="loopback"):
        await fetch(fetcher(origin, allow_private=False), origin + "/file")


async def test_the_name_is_resolved_once_and_the_checked_address_is_used(origin: str) -> None:
    port = int(origin.rsplit(":", 1)[1])
    answers = iter([["127.0.0.1"], ["10.9.9.9"]])  # a rebinding resolver

    async def resolver(host: str, at: int) -> list[str]:
        return next(answers)

    named = DocumentFetcher(
        f"http://docs.internal:{port}/",
        allow_private=True,
        timeout_seconds=5,
        max_bytes=10**6,
        resolver=resolver,
    )
    assert await fetch(named, f"http://docs.internal:{port}/file") == BODY

    async def public_then_private(host: str, at: int) -> list[str]:
        return ["93.184.216.34", "127.0.0.1"]

    guarded = DocumentFetcher(
        f"http://docs.example:{port}/",
        allow_private=False,
        timeout_seconds=5,
        max_bytes=10**6,
        resolver=public_then_private,
    )
    with pytest.raises(DocumentFetchRefused):
        await fetch(guarded, f"http://docs.example:{port}/file")


async def test_redirects_unsized_and_oversized_answers_fail(origin: str) -> None:
    with pytest.raises(DocumentFetchFailed, match="302"):
        await fetch(fetcher(origin), origin + "/redirect")
    with pytest.raises(DocumentFetchFailed, match="length"):
        await fetch(fetcher(origin), origin + "/unsized")
    with pytest.raises(DocumentFetchFailed) as raised:
        await fetch(fetcher(origin, max_bytes=len(BODY) - 1), origin + "/file")
    assert raised.value.too_big
