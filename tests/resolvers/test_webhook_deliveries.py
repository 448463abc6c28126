"""The webhook worker against the real store and a real HTTP receiver on 127.0.0.1, with a
clock the test moves and the worker's passes run by hand (`deliver_due`): signatures checked
with the `standardwebhooks` package, retries with one `webhook-id`, restarts, disabling."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError
from webhook_receiver import Plan, Receiver, start_receiver

from api.policies import policy_from
from api.settings import load_settings
from crypto.keyring import Keyring
from crypto.root_key import generate_install_salt, generate_root_key
from integrations.webhook_http import WebhookSender
from persistence.outbox import claim_name
from persistence.sqlite.engine import SqliteStore
from persistence.store import Store
from resolvers import apps
from resolvers.apps import AppInput
from resolvers.errors import CoveError, ErrorCode
from resolvers.services import Services
from tests.accounts_support import RecordingTransport, signed_up
from tests.inprocess import Clock, build_services, ctx

SETTINGS = load_settings(
    environ={},
    overrides={
        "webhooks_retry_base_seconds": 10,
        "webhooks_retry_max_seconds": 80,
        "webhooks_disable_after_failures": 3,
    },
)
POLICY = policy_from(SETTINGS).webhooks

Node = Callable[[Store], Services]


@pytest.fixture
def clock() -> Clock:
    # Near the real time: receivers check `webhook-timestamp` against their own clock.
    return Clock(datetime.now(UTC).replace(microsecond=0))


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    started = start_receiver()
    yield started
    started.stop()


@pytest.fixture
async def node(clock: Clock) -> AsyncIterator[Node]:
    """Builds a node on a store (one root key for all), sending to private addresses."""
    root, salt = generate_root_key(), generate_install_salt()
    built: list[Services] = []

    def build(store: Store) -> Services:
        sender = WebhookSender(allow_private=True, connect_timeout_seconds=2, timeout_seconds=5)
        services = build_services(
            store,
            keyring=Keyring(root, salt),
            settings=SETTINGS,
            clock=clock,
            webhook_sender=sender,
        )
        built.append(services)
        return services

    yield build
    for services in built:
        await services.webhooks.stop()
        services.close()


async def open_store(tmp_path: Path) -> Store:
    return await SqliteStore.open(tmp_path / "cove.db")


async def test_a_delivery_is_signed_as_the_standard_says(
    tmp_path: Path, node: Node, receiver: Receiver
) -> None:
    store = await open_store(tmp_path)
    webhooks = node(store).webhooks
    endpoint, secret = await webhooks.add_endpoint("owner", receiver.url())
    assert secret.startswith("whsec_")
    message_id = await webhooks.enqueue(
        endpoint.endpoint_id, "message.created", {"messageId": "Message:1"}
    )
    await webhooks.deliver_due()
    assert len(receiver.received) == 1
    got = receiver.received[0]
    assert got.headers["webhook-id"] == message_id
    assert got.headers["webhook-signature"].startswith("v1,")
    payload = Webhook(secret).verify(got.body, got.headers)
    assert payload["type"] == "message.created" and payload["data"] == {"messageId": "Message:1"}
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(got.body.replace(b"Message:1", b"Message:2"), got.headers)
    with pytest.raises(WebhookVerificationError):
        Webhook("whsec_" + "A" * 43 + "=").verify(got.body, got.headers)
    assert await webhooks.pending() == 0
    await store.close()


async def test_fails_twice_then_succeeds_once_with_one_webhook_id(
    tmp_path: Path, node: Node, receiver: Receiver, clock: Clock
) -> None:
    store = await open_store(tmp_path)
    webhooks = node(store).webhooks
    endpoint, secret = await webhooks.add_endpoint("owner", receiver.url())
    receiver.plan(Plan(status=500), Plan(status=503))
    await webhooks.enqueue(endpoint.endpoint_id, "message.created", {"messageId": "m"})
    await webhooks.deliver_due()
    assert len(receiver.received) == 1
    await webhooks.deliver_due()  # not due yet: the backoff (10 s ± 20 %) holds it
    assert len(receiver.received) == 1
    clock.advance(13)
    await webhooks.deliver_due()
    assert len(receiver.received) == 2
    clock.advance(12)  # the second wait is 20 s ± 20 %: not yet
    await webhooks.deliver_due()
    assert len(receiver.received) == 2
    clock.advance(13)
    await webhooks.deliver_due()
    assert len(receiver.received) == 3
    clock.advance(3600)
    await webhooks.deliver_due()
    assert len(receiver.received) == 3  # accepted once: never sent again
    ids = {r.headers["webhook-id"] for r in receiver.received}
    assert len(ids) == 1
    for got in receiver.received:
        Webhook(secret).verify(got.body, got.headers)
    log = await webhooks.repository.attempts(endpoint.endpoint_id, limit=10)
    assert [(a.status_code, a.succeeded, a.error) for a in log] == [
        (200, True, ""),
        (503, False, "http_status"),
        (500, False, "http_status"),
    ]
    assert await webhooks.pending() == 0
    current = await webhooks.repository.endpoint(endpoint.endpoint_id)
    assert current is not None and current.consecutive_failures == 0
    await store.close()


async def test_a_restart_mid_queue_loses_no_delivery(
    tmp_path: Path, node: Node, receiver: Receiver
) -> None:
    store = await open_store(tmp_path)
    first = node(store).webhooks
    endpoint, secret = await first.add_endpoint("owner", receiver.url())
    receiver.plan(Plan(status=500))
    sent = [
        await first.enqueue(endpoint.endpoint_id, "task.changed", {"taskId": f"Task:{n}"})
        for n in range(3)
    ]
    assert None not in sent
    await first.deliver_due()  # one attempt, failed; the others wait behind it
    await first.stop()
    await store.close()

    reopened = await open_store(tmp_path)
    second = node(reopened).webhooks
    assert await second.pending() == 3
    for _ in range(5):  # one per endpoint and pass, oldest first; the retry is not due
        await second.deliver_due()
    delivered = list(receiver.received)
    assert len(delivered) == 3
    assert {r.headers["webhook-id"] for r in delivered} == set(sent)
    failed = delivered[0].headers["webhook-id"]
    waiting = (await second.repository.page(limit=10))[0]
    assert [d.message_id for d in waiting] == [failed]  # it waits for its retry
    for got in delivered:
        Webhook(secret).verify(got.body, got.headers)
    await reopened.close()


async def test_a_node_that_dies_holding_an_attempt_loses_no_delivery(
    tmp_path: Path, node: Node, receiver: Receiver, clock: Clock
) -> None:
    """A crash in the middle of an attempt (its claim taken, nothing sent or recorded): after
    the restart the delivery waits out the dead node's lease, then goes, once."""
    store = await open_store(tmp_path)
    first = node(store).webhooks
    endpoint, secret = await first.add_endpoint("owner", receiver.url())
    sent = await first.enqueue(endpoint.endpoint_id, "message.created", {"messageId": "m"})
    (record,), _ = await first.repository.page(limit=10)
    lease = first.policy.lease_seconds
    name = claim_name(record.attempts, int(clock().timestamp() // lease))
    assert await first.repository.claim(record.delivery_id, name, first.node_id, clock())
    await store.close()  # dies: no release, no attempt logged

    reopened = await open_store(tmp_path)
    second = node(reopened).webhooks
    assert await second.pending() == 1
    await second.deliver_due()
    assert receiver.received == []  # the dead node's lease still holds it
    clock.advance(lease + 1)
    await second.deliver_due()
    await second.deliver_due()
    assert len(receiver.received) == 1
    assert receiver.received[0].headers["webhook-id"] == sent
    Webhook(secret).verify(receiver.received[0].body, receiver.received[0].headers)
    assert await second.pending() == 0
    await reopened.close()


async def test_an_endpoint_that_keeps_failing_is_disabled_and_its_owner_mailed(
    tmp_path: Path, node: Node, receiver: Receiver, clock: Clock
) -> None:
    store = await open_store(tmp_path)
    services = node(store)
    owner = await signed_up(ctx(services), "dev@example.org", "a long password", "Dev")
    webhooks = services.webhooks
    endpoint, _ = await webhooks.add_endpoint(owner.user.id, receiver.url("/broken"))
    receiver.plan(*[Plan(status=500) for _ in range(10)])
    await webhooks.enqueue(endpoint.endpoint_id, "message.created", {"messageId": "m"})
    for _ in range(6):  # bounded: three failures disable it
        await webhooks.deliver_due()
        clock.advance(200)
    assert len(receiver.received) == 3
    current = await webhooks.repository.endpoint(endpoint.endpoint_id)
    assert current is not None and current.disabled_at is not None
    assert await webhooks.pending() == 0  # what waited for it is dropped
    assert await webhooks.enqueue(endpoint.endpoint_id, "message.created", {}) is None
    await services.mail.deliver_due()
    transport = services.mail.transport
    assert isinstance(transport, RecordingTransport)
    mails = [m for m in transport.sent if m["To"] == "dev@example.org"]
    assert len(mails) == 1 and "disabled" in str(mails[0]["Subject"])
    assert receiver.url("/broken") in mails[0].get_content()
    # A redelivery from the log enables it again and sends the same webhook-id.
    last = (await webhooks.repository.attempts(endpoint.endpoint_id, limit=1))[0]
    await webhooks.redeliver(last)
    await webhooks.deliver_due()
    assert len(receiver.received) == 4
    assert receiver.received[3].headers["webhook-id"] == last.message_id
    assert json.loads(receiver.received[3].body)["data"] == {"messageId": "m"}
    current = await webhooks.repository.endpoint(endpoint.endpoint_id)
    assert current is not None and current.disabled_at is None
    await store.close()


async def test_the_log_keeps_only_the_newest_attempts(
    tmp_path: Path, node: Node, receiver: Receiver, clock: Clock
) -> None:
    store = await open_store(tmp_path)
    webhooks = node(store).webhooks
    webhooks.policy = dataclasses.replace(webhooks.policy, log_keep=5)
    endpoint, _ = await webhooks.add_endpoint("owner", receiver.url())
    keep = webhooks.policy.log_keep
    for n in range(keep + 5):
        await webhooks.enqueue(endpoint.endpoint_id, "ping", {"n": n})
        clock.advance(1)  # ids are ordered by time, and only by time
    for _ in range(keep + 10):  # one per pass (one at a time per endpoint); bounded
        if await webhooks.pending() == 0:
            break
        await webhooks.deliver_due()
        clock.advance(1)
    assert len(receiver.received) == keep + 5
    kept = await webhooks.repository.attempts(endpoint.endpoint_id, limit=keep + 50)
    assert len(kept) == keep
    assert json.loads(kept[0].payload)["data"] == {"n": keep + 4}
    await store.close()


async def test_two_nodes_send_each_attempt_once(
    tmp_path: Path, node: Node, receiver: Receiver
) -> None:
    store = await open_store(tmp_path)
    first, second = node(store).webhooks, node(store).webhooks
    endpoint, _ = await first.add_endpoint("owner", receiver.url())
    receiver.plan(Plan(delay=0.3))  # slow enough for both passes to meet
    await first.enqueue(endpoint.endpoint_id, "message.created", {"messageId": "m"})
    await asyncio.gather(first.deliver_due(), second.deliver_due())
    await asyncio.gather(first.deliver_due(), second.deliver_due())
    assert len(receiver.received) == 1
    assert await first.pending() == 0
    await store.close()


async def test_the_worker_refuses_private_destinations_unless_allowed(
    tmp_path: Path, clock: Clock, receiver: Receiver
) -> None:
    store = await open_store(tmp_path)
    guarded = WebhookSender(allow_private=False, connect_timeout_seconds=2, timeout_seconds=5)
    services = build_services(store, settings=SETTINGS, clock=clock, webhook_sender=guarded)
    webhooks = services.webhooks
    endpoint, _ = await webhooks.add_endpoint("owner", receiver.url())
    await webhooks.enqueue(endpoint.endpoint_id, "message.created", {"messageId": "m"})
    await webhooks.deliver_due()
    assert receiver.received == []
    (attempt,) = await webhooks.repository.attempts(endpoint.endpoint_id, limit=5)
    assert (attempt.error, attempt.status_code, attempt.succeeded) == (
        "refused_address",
        None,
        False,
    )
    await webhooks.stop()
    services.close()
    await store.close()


async def test_one_pass_sends_a_backlog_in_order_and_a_failure_pauses_the_rest(
    tmp_path: Path, node: Node, receiver: Receiver, clock: Clock
) -> None:
    store = await open_store(tmp_path)
    webhooks = node(store).webhooks
    healthy, _ = await webhooks.add_endpoint("owner", receiver.url("/healthy"))
    broken, _ = await webhooks.add_endpoint("owner", receiver.url("/broken"))
    receiver.failing.add("/broken")
    for n in range(4):
        await webhooks.enqueue(broken.endpoint_id, "ping", {"n": n})
        clock.advance(1)
    for n in range(5):
        await webhooks.enqueue(healthy.endpoint_id, "ping", {"n": n})
        clock.advance(1)
    await webhooks.deliver_due()
    healthy_bodies = [
        json.loads(r.body)["data"]["n"] for r in receiver.received if r.path == "/healthy"
    ]
    assert healthy_bodies == [0, 1, 2, 3, 4]  # all of it in one pass, oldest first
    assert [r.path for r in receiver.received].count("/broken") == 1  # the rest wait behind it
    await webhooks.deliver_due()
    assert [r.path for r in receiver.received].count("/broken") == 1
    await store.close()


@pytest.mark.parametrize("allow_private", [False, True])
async def test_an_app_webhook_to_a_private_address_is_refused_when_registered(
    tmp_path: Path, clock: Clock, allow_private: bool
) -> None:
    """A literal non-public address is refused at registerApp and updateApp (a name is
    checked at each delivery), unless webhooks_allow_private."""
    store = await open_store(tmp_path)
    sender = WebhookSender(
        allow_private=allow_private, connect_timeout_seconds=2, timeout_seconds=5
    )
    services = build_services(store, settings=SETTINGS, clock=clock, webhook_sender=sender)
    dev = await signed_up(ctx(services), "dev@example.org", "a long password", "Dev")
    base = AppInput(
        name="Hooked",
        homepage_url="https://app.example.org",
        redirect_uris=["https://app.example.org/cb"],
        scopes=["messages:read"],
        webhook_events=["message.created"],
    )
    for url in ("https://10.1.2.3/hook", "https://[::1]/hook", "https://169.254.169.254/"):
        attempt = apps.register_app(
            ctx(services, dev.token), dataclasses.replace(base, webhook_url=url), confidential=True
        )
        if allow_private:
            await attempt
            continue
        with pytest.raises(CoveError) as refused:
            await attempt
        assert (refused.value.code, refused.value.field) == (ErrorCode.BAD_USER_INPUT, "webhookUrl")
    made = await apps.register_app(
        ctx(services, dev.token),
        dataclasses.replace(base, webhook_url="https://hooks.example.org/cove"),
        confidential=True,
    )
    update = apps.update_app(
        ctx(services, dev.token), made.app.app_id, AppInput(webhook_url="https://127.0.0.1/")
    )
    if allow_private:
        await update
    else:
        with pytest.raises(CoveError):
            await update
    await services.webhooks.stop()
    services.close()
    await store.close()
