"""The webhook sender against a real receiver on 127.0.0.1: refused addresses, DNS rebinding,
redirects, slow endpoints and huge answers."""

from __future__ import annotations

import asyncio
import ipaddress
import time
from collections.abc import Iterator

import httpx
import pytest
from webhook_receiver import Plan, Receiver, start_receiver

from integrations.webhook_http import WebhookDeliveryError, WebhookSender, refusal

HEADERS = {"webhook-id": "msg_1"}


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    started = start_receiver()
    yield started
    started.stop()


def sender(*, allow_private: bool, **options: object) -> WebhookSender:
    return WebhookSender(
        allow_private=allow_private,
        connect_timeout_seconds=float(options.pop("connect", 2)),  # type: ignore[arg-type]
        timeout_seconds=float(options.pop("total", 5)),  # type: ignore[arg-type]
        **options,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.8.9.10",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",
        "224.0.0.1",
        "240.0.0.1",
        "255.255.255.255",
        "::1",
        "::",
        "fe80::1",
        "fc00::1",
        "ff02::1",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "::ffff:169.254.169.254",
        "64:ff9b::a00:1",
        "2002:7f00:1::",
        "2001:db8::1",
    ],
)
def test_non_public_addresses_are_refused(address: str) -> None:
    assert refusal(ipaddress.ip_address(address)) is not None


@pytest.mark.parametrize("address", ["93.184.215.14", "1.1.1.1", "2606:4700:4700::1111"])
def test_public_addresses_pass(address: str) -> None:
    assert refusal(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize(
    "host", ["127.0.0.1", "[::1]", "[::ffff:127.0.0.1]", "localhost", "169.254.169.254"]
)
async def test_private_destinations_are_refused_when_the_setting_is_off(
    receiver: Receiver, host: str
) -> None:
    client = sender(allow_private=False)
    with pytest.raises(WebhookDeliveryError) as refused:
        await client.post(f"http://{host}:{receiver.port}/hook", HEADERS, b"{}")
    assert refused.value.error_class == "refused_address"
    assert receiver.received == []
    await client.close()


async def test_every_resolved_address_is_checked(receiver: Receiver) -> None:
    async def resolve(host: str, port: int) -> list[str]:
        return ["93.184.215.14", "127.0.0.1"]

    client = sender(allow_private=False, resolver=resolve)
    with pytest.raises(WebhookDeliveryError) as refused:
        await client.post(f"http://hooks.example.test:{receiver.port}/", HEADERS, b"{}")
    assert refused.value.error_class == "refused_address"
    await client.close()


async def test_dns_rebinding_cannot_reach_a_private_address(receiver: Receiver) -> None:
    """The name answers a public address first and 127.0.0.1 after: the request goes to the
    address checked (seen here by a transport standing in for the network), never to the
    receiver on 127.0.0.1, and the name is resolved once."""
    answers = [["203.0.114.1"], ["127.0.0.1"]]
    calls: list[str] = []
    sent: list[httpx.Request] = []

    async def rebinding(host: str, port: int) -> list[str]:
        calls.append(host)
        return answers[min(len(calls) - 1, 1)]

    def network(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, stream=httpx.ByteStream(b"ok"))

    assert refusal(ipaddress.ip_address(answers[0][0])) is None
    client = sender(allow_private=False, resolver=rebinding, transport=httpx.MockTransport(network))
    url = f"https://rebind.example.test:{receiver.port}/h"
    await client.post(url, HEADERS, b"{}")
    assert calls == ["rebind.example.test"]  # once: no lookup between check and connection
    assert [r.url.host for r in sent] == ["203.0.114.1"]
    with pytest.raises(WebhookDeliveryError) as refused:  # the next attempt sees the rebind
        await client.post(url, HEADERS, b"{}")
    assert refused.value.error_class == "refused_address" and len(sent) == 1
    assert sent[0].headers["host"] == f"rebind.example.test:{receiver.port}"
    assert sent[0].extensions["sni_hostname"] == "rebind.example.test"
    assert receiver.received == []
    await client.close()


async def test_the_connection_goes_to_the_resolved_address_with_the_original_host(
    receiver: Receiver,
) -> None:
    async def resolve(host: str, port: int) -> list[str]:
        return ["127.0.0.1"]

    client = sender(allow_private=True, resolver=resolve)
    answer = await client.post(f"http://hooks.example.test:{receiver.port}/in", HEADERS, b"{}")
    assert answer.status_code == 200 and answer.body == b"ok"
    assert receiver.received[0].headers["host"] == f"hooks.example.test:{receiver.port}"
    assert receiver.received[0].path == "/in"
    await client.close()


async def test_redirects_are_not_followed(receiver: Receiver) -> None:
    receiver.plan(Plan(status=302, location=receiver.url("/elsewhere")))
    client = sender(allow_private=True)
    with pytest.raises(WebhookDeliveryError) as failed:
        await client.post(receiver.url("/hook"), HEADERS, b"{}")
    assert failed.value.error_class == "redirect" and failed.value.status_code == 302
    assert [r.path for r in receiver.received] == ["/hook"]
    await client.close()


async def test_a_slow_endpoint_times_out(receiver: Receiver) -> None:
    receiver.plan(Plan(delay=4))
    client = sender(allow_private=True, connect=1, total=1)
    started = time.monotonic()
    with pytest.raises(WebhookDeliveryError) as failed:
        await client.post(receiver.url(), HEADERS, b"{}")
    assert failed.value.error_class == "timeout"
    assert time.monotonic() - started < 2.5
    await client.close()


async def test_a_huge_answer_is_cut(receiver: Receiver) -> None:
    receiver.plan(Plan(huge=True))
    client = sender(allow_private=True, max_response_bytes=64 * 1024)
    answer = await client.post(receiver.url(), HEADERS, b"{}")
    assert answer.status_code == 200 and answer.truncated
    assert len(answer.body) == 64 * 1024
    await asyncio.sleep(0.2)
    assert receiver.huge_sent < 10 * 1024 * 1024  # the rest was never read
    await client.close()


@pytest.mark.parametrize(
    "url", ["ftp://example.org/", "http:///nohost", "http://user:pw@example.org/", "x" * 3000]
)
async def test_malformed_urls_are_refused(url: str) -> None:
    client = sender(allow_private=True)
    with pytest.raises(WebhookDeliveryError) as refused:
        await client.post(url, HEADERS, b"{}")
    assert refused.value.error_class == "invalid_url"
    await client.close()
