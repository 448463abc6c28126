"""Fetching a saved document from the ONLYOFFICE Document Server, and nothing else.

A callback names the URL of the edited file; it is fetched only when its origin (scheme, host
and port) is the configured Document Server's. The host's addresses are checked as for
webhooks (`webhook_http.refusal`: no private, loopback or link-local address unless allowed)
and the connection goes to the checked address, so a name that answers differently the
second time cannot reach another host. Redirects are not followed, proxies from the
environment are not used, and the answer must declare its length, at most `max_bytes`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from integrations.webhook_http import (
    MAX_URL_LENGTH,
    RefusedAddress,
    Resolver,
    UnresolvedHost,
    pin_url,
    system_resolver,
)

CHUNK_BYTES = 256 * 1024


class DocumentFetchRefused(Exception):
    """The URL is not the Document Server's, or leads to an address refused: not fetched."""


class DocumentFetchFailed(Exception):
    """The Document Server did not hand over the file (no answer, an error status, no length,
    too big); `too_big` when its declared length is over the limit."""

    def __init__(self, detail: str, *, too_big: bool = False) -> None:
        super().__init__(detail)
        self.too_big = too_big


@dataclass(frozen=True)
class FetchedDocument:
    size: int  # the declared Content-Length
    chunks: AsyncIterator[bytes]


def origin_of(url: str) -> tuple[str, str, int]:
    """(scheme, lower-case host, port) of an http(s) URL; DocumentFetchRefused otherwise."""
    if len(url) > MAX_URL_LENGTH:
        raise DocumentFetchRefused("the URL is too long")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise DocumentFetchRefused("the URL must be http(s)://host/...")
    if parts.username is not None or parts.password is not None:
        raise DocumentFetchRefused("the URL must not carry credentials")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise DocumentFetchRefused("the URL's port is not valid") from None
    return parts.scheme, parts.hostname.lower(), port


class DocumentFetcher:
    """GETs files from one origin, the Document Server's; one per process, closed at the end."""

    def __init__(
        self,
        server_url: str,
        *,
        allow_private: bool,
        timeout_seconds: float,
        max_bytes: int,
        resolver: Resolver = system_resolver,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.origin = origin_of(server_url)
        self.allow_private = allow_private
        self.max_bytes = max_bytes
        self._resolver = resolver
        self._client = httpx.AsyncClient(
            follow_redirects=False,
            trust_env=False,
            timeout=httpx.Timeout(timeout_seconds),
            limits=httpx.Limits(max_keepalive_connections=0),
            transport=transport,
        )

    async def close(self) -> None:
        await self._client.aclose()

    async def _pinned(self, url: str) -> tuple[str, str, str | None]:
        """The URL with the checked address in place of the name, its Host header and TLS
        server name; refused unless it is on the Document Server's origin."""
        scheme, host, port = origin_of(url)
        if (scheme, host, port) != self.origin:
            raise DocumentFetchRefused("the URL is not on the Document Server's origin")
        try:
            return await pin_url(
                url, scheme, host, port, self._resolver, allow_private=self.allow_private
            )
        except UnresolvedHost as error:
            raise DocumentFetchFailed(str(error)) from None
        except RefusedAddress as error:
            raise DocumentFetchRefused(str(error)) from None

    @asynccontextmanager
    async def fetch(self, url: str) -> AsyncIterator[FetchedDocument]:
        """The file at `url` on the Document Server's origin, streamed while the block runs."""
        pinned, host_header, server_name = await self._pinned(url)
        extensions = {} if server_name is None else {"sni_hostname": server_name}
        request = self._client.build_request(
            "GET",
            pinned,
            headers={"Host": host_header, "Accept-Encoding": "identity"},
            extensions=extensions,
        )
        try:
            response = await self._client.send(request, stream=True)
        except httpx.HTTPError as error:
            raise DocumentFetchFailed(f"no answer ({type(error).__name__})") from None
        try:
            if response.status_code != 200:
                raise DocumentFetchFailed(f"answered {response.status_code}")
            length = response.headers.get("content-length", "")
            if not (length.isascii() and length.isdigit() and len(length) <= 18):
                raise DocumentFetchFailed("the answer does not declare its length")
            size = int(length)
            if size > self.max_bytes:
                raise DocumentFetchFailed(f"the file is {size} bytes", too_big=True)
            yield FetchedDocument(size, self._chunks(response))
        finally:
            await response.aclose()

    @staticmethod
    async def _chunks(response: httpx.Response) -> AsyncIterator[bytes]:
        try:
            async for chunk in response.aiter_raw(CHUNK_BYTES):
                yield chunk
        except httpx.HTTPError as error:
            raise DocumentFetchFailed(f"the answer broke off ({type(error).__name__})") from None
