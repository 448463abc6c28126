"""POSTing one webhook delivery: refused addresses, pinned connections, timeouts, a size cap.

The destination's name is resolved once; every address it resolves to must be public
(`refusal`), and the connection then goes to that checked address, with the original name
in the Host header and as the TLS server name (so certificates are still checked against
it). No second lookup happens between the check and the connection, so a name that
answers differently the second time (DNS rebinding) cannot reach a private address.
Redirects are not followed, proxies from the environment are not used, keep-alive is off
(a pooled connection would be keyed by address alone), and at most `max_response_bytes` of
an answer are read.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import httpx

# Host name and port -> the addresses it resolves to (as text).
Resolver = Callable[[str, int], Awaitable[list[str]]]
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# The most of an answer read (then the connection is closed): receivers answer "ok".
MAX_RESPONSE_BYTES = 64 * 1024
MAX_URL_LENGTH = 2048


async def system_resolver(host: str, port: int) -> list[str]:
    """The addresses the system's resolver gives for `host`, each once, in its order."""
    infos = await asyncio.get_running_loop().getaddrinfo(
        host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
    )
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class WebhookDeliveryError(Exception):
    """An attempt failed; `error_class` is what the delivery log shows (no detail leaks
    into it), `status_code` the answer's status when there was one."""

    def __init__(self, error_class: str, detail: str, *, status_code: int | None = None) -> None:
        super().__init__(detail)
        self.error_class = error_class
        self.status_code = status_code


@dataclass(frozen=True)
class WebhookAnswer:
    status_code: int
    body: bytes  # at most max_response_bytes
    truncated: bool


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in ipaddress.IPv6Network("64:ff9b::/96"):  # NAT64
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def refusal(address: IPAddress) -> str | None:
    """Why a webhook may not go to `address` (private, loopback, link-local, multicast,
    reserved, unspecified, or not globally routable), or None when it may."""
    if isinstance(address, ipaddress.IPv6Address):
        inner = _embedded_ipv4(address)
        if inner is not None:
            return refusal(inner)
    for what, flag in (
        ("unspecified", address.is_unspecified),
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("private", address.is_private),
        ("reserved", address.is_reserved),
        ("not global", not address.is_global),
    ):
        if flag:
            return what
    return None


@dataclass(frozen=True)
class _Target:
    url: str  # with the checked address in place of the name
    host_header: str
    server_name: str | None  # for TLS


def _split(url: str) -> tuple[str, str, int]:
    if len(url) > MAX_URL_LENGTH:
        raise WebhookDeliveryError("invalid_url", "the URL is too long")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise WebhookDeliveryError("invalid_url", "the URL must be http(s)://host/...")
    if parts.username is not None or parts.password is not None:
        raise WebhookDeliveryError("invalid_url", "the URL must not carry credentials")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise WebhookDeliveryError("invalid_url", "the URL's port is not valid") from None
    return parts.scheme, parts.hostname, port


def check_url(url: str) -> None:
    """Refuse (WebhookDeliveryError) a URL that is not http(s) with a host and no
    credentials; where it leads is checked at each delivery."""
    _split(url)


def _literal(host: str) -> IPAddress | None:
    """The address a URL's host is written as (an IP literal), or None for a name."""
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def literal_refusal(url: str) -> str | None:
    """Why the guard refuses `url` whatever DNS says (its host is an IP literal the guard
    refuses, e.g. "10.0.0.1 is a private address"); None for a name or a public address."""
    host = urlsplit(url).hostname or ""
    literal = _literal(host)
    reason = None if literal is None else refusal(literal)
    return None if reason is None else f"{host} is a {reason} address"


class UnresolvedHost(Exception):
    """A destination's name gave no address."""


class RefusedAddress(Exception):
    """A destination's address is one the SSRF guard refuses."""


async def pin_url(
    url: str, scheme: str, host: str, port: int, resolver: Resolver, *, allow_private: bool
) -> tuple[str, str, str | None]:
    """`url` with a checked address of `host` in place of the name (resolved once, so DNS
    rebinding cannot swap it between check and connection), its Host header and TLS server
    name. Every address the name gives is checked unless `allow_private`: UnresolvedHost or
    RefusedAddress otherwise. Shared by webhooks and the ONLYOFFICE document fetcher."""
    literal = _literal(host)
    if literal is not None:
        addresses = [literal]
    else:
        try:
            found = await resolver(host, port)
        except OSError as error:
            raise UnresolvedHost(f"{host} did not resolve: {error}") from None
        addresses = [ipaddress.ip_address(a.partition("%")[0]) for a in found]
        if not addresses:
            raise UnresolvedHost(f"{host} resolved to no address")
    if not allow_private:
        for address in addresses:
            reason = refusal(address)
            if reason is not None:
                raise RefusedAddress(f"{host} resolves to a {reason} address ({address})")
    chosen = addresses[0]
    shown = f"[{chosen}]" if chosen.version == 6 else str(chosen)
    parts = urlsplit(url)
    pinned = urlunsplit((scheme, f"{shown}:{port}", parts.path or "/", parts.query, ""))
    server_name = host if scheme == "https" and literal is None else None
    return pinned, parts.netloc.rpartition("@")[2], server_name


class WebhookSender:
    """Sends deliveries; one per process, closed at shut-down."""

    def __init__(
        self,
        *,
        allow_private: bool,
        connect_timeout_seconds: float,
        timeout_seconds: float,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
        resolver: Resolver = system_resolver,
        verify: bool | str = True,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        """`transport` replaces the network (tests see where a request would go)."""
        self.allow_private = allow_private
        self.timeout_seconds = timeout_seconds
        self.max_response_bytes = max_response_bytes
        self._resolver = resolver
        self._client = httpx.AsyncClient(
            follow_redirects=False,
            trust_env=False,
            verify=verify,
            timeout=httpx.Timeout(timeout_seconds, connect=connect_timeout_seconds),
            limits=httpx.Limits(max_keepalive_connections=0),
            transport=transport,
        )

    async def close(self) -> None:
        await self._client.aclose()

    async def _target(self, url: str) -> _Target:
        scheme, host, port = _split(url)
        try:
            pinned = await pin_url(
                url, scheme, host, port, self._resolver, allow_private=self.allow_private
            )
        except UnresolvedHost as error:
            raise WebhookDeliveryError("dns", str(error)) from None
        except RefusedAddress as error:
            raise WebhookDeliveryError("refused_address", str(error)) from None
        return _Target(*pinned)

    async def post(self, url: str, headers: Mapping[str, str], body: bytes) -> WebhookAnswer:
        """POST `body`; the answer when it was 2xx, else WebhookDeliveryError."""
        try:
            async with asyncio.timeout(self.timeout_seconds):
                return await self._post(url, headers, body)
        except TimeoutError:
            raise WebhookDeliveryError("timeout", "no answer in time") from None

    async def _post(self, url: str, headers: Mapping[str, str], body: bytes) -> WebhookAnswer:
        target = await self._target(url)
        sent = {
            **headers,
            "Host": target.host_header,
            "Content-Type": "application/json",
            "User-Agent": "Cove-Webhooks/1",
        }
        extensions = {} if target.server_name is None else {"sni_hostname": target.server_name}
        request = self._client.build_request(
            "POST", target.url, headers=sent, content=body, extensions=extensions
        )
        try:
            response = await self._client.send(request, stream=True)
        except httpx.TimeoutException:
            raise WebhookDeliveryError("timeout", "no answer in time") from None
        except httpx.HTTPError as error:
            raise WebhookDeliveryError("connect", type(error).__name__) from None
        try:
            kept, truncated = await self._read_capped(response)
        finally:
            await response.aclose()
        status = response.status_code
        if 300 <= status < 400:
            raise WebhookDeliveryError("redirect", "redirects are not followed", status_code=status)
        if not 200 <= status < 300:
            raise WebhookDeliveryError("http_status", f"answered {status}", status_code=status)
        return WebhookAnswer(status, kept, truncated)

    async def _read_capped(self, response: httpx.Response) -> tuple[bytes, bool]:
        kept = bytearray()
        try:
            async for chunk in response.aiter_raw():
                room = self.max_response_bytes - len(kept)
                kept += chunk[:room]
                if len(chunk) > room:
                    return bytes(kept), True
        except httpx.TimeoutException:
            raise WebhookDeliveryError("timeout", "the answer came too slowly") from None
        except httpx.HTTPError:
            pass  # the status is what counts; a broken body after it does not
        return bytes(kept), False


def elapsed_ms(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)
