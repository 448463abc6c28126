"""The outbox worker against the real store and a real SMTP server, with a clock the test
moves and the worker's passes run by hand (`deliver_due`): retries, refusals, age, claims."""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from mail_sink import MailSink, free_port

from api.policies import mail_policy_from
from api.settings import load_settings
from crypto.keyring import Keyring
from crypto.root_key import generate_install_salt, generate_root_key
from integrations.mail import MailDeliveryError, SmtpTransport
from persistence.outbox import OutboxRepository, claim_name
from persistence.sqlite.engine import SqliteStore
from persistence.store import Store
from resolvers.errors import CoveError, ErrorCode
from resolvers.mail import Mailer
from resolvers.services import Services
from tests.inprocess import Clock, build_services

POLICY = mail_policy_from(
    load_settings(
        environ={}, overrides={"mail_retry_base_seconds": 10, "mail_retry_max_seconds": 80}
    )
)


Node = Callable[[int], Services]


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = await SqliteStore.open(tmp_path / "cove.db")
    yield opened
    await opened.close()


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2026, 11, 27, 12, 0, 5, tzinfo=UTC))


@pytest.fixture
def node(store: Store, clock: Clock) -> AsyncIterator[Node]:  # type: ignore[misc]
    """Builds a node of a cluster sharing one store and root key, sending to `port`."""
    root, salt = generate_root_key(), generate_install_salt()
    built: list[Services] = []

    def build(port: int) -> Services:
        transport = SmtpTransport(host="127.0.0.1", port=port, security="none", timeout_seconds=5)
        services = build_services(
            store,
            keyring=Keyring(root, salt),
            mailer=Mailer(
                transport,
                sender="Cove <cove@test.invalid>",
                app_url="https://app.test.invalid",
                policy=POLICY,
            ),
            clock=clock,
        )
        built.append(services)
        return services

    yield build
    for services in built:
        services.close()


@pytest.fixture
def sink() -> AsyncIterator[MailSink]:  # type: ignore[misc]
    started = MailSink().start()
    yield started
    started.stop()


async def test_a_refused_recipient_is_dropped_and_logged_without_its_address(
    node: Node, sink: MailSink, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="cove")
    sink.refuse["gone@example.org"] = "550 5.1.1 <gone@example.org>: no such user"
    mail = node(sink.port).mail
    await mail.send("gone@example.org", "Hi", "Nobody reads this.", kind="verify-email")
    await mail.deliver_due()
    assert await mail.pending() == 0
    assert sink.mark() == 0
    dropped = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(dropped) == 1
    text = dropped[0].getMessage()
    assert "verify-email" in text and "550" in text and "refused for good" in text
    assert not [r for r in caplog.records if "gone@example.org" in r.getMessage()]


async def test_a_temporary_refusal_is_retried_with_backoff(
    node: Node, sink: MailSink, clock: Clock
) -> None:
    sink.refuse["busy@example.org"] = "450 4.2.1 mailbox busy"
    mail = node(sink.port).mail
    await mail.send("busy@example.org", "Hi", "Try again.", kind="test")
    assert await mail.deliver_due() <= POLICY.poll_seconds
    record = (await OutboxRepository(mail_store(mail)).page(limit=10))[0][0]
    assert record.attempts == 1
    assert timedelta(seconds=7) <= record.next_at - clock() <= timedelta(seconds=13)
    del sink.refuse["busy@example.org"]
    await mail.deliver_due()  # not due yet: nothing is tried
    assert sink.mark() == 0 and await mail.pending() == 1
    clock.advance(13)
    await mail.deliver_due()
    assert await mail.pending() == 0
    assert len(sink.messages_to("busy@example.org")) == 1


def mail_store(mail: Mailer) -> Store:
    outbox = mail._outbox
    assert outbox is not None
    return outbox._store  # type: ignore[no-any-return]


async def test_backoff_doubles_up_to_the_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    delays = [POLICY.backoff(n) for n in range(1, 7)]
    for delay, expected in zip(delays, [10, 20, 40, 80, 80, 80], strict=True):
        assert expected * 0.8 <= delay <= expected * 1.2
    # The jitter's extremes stay within 20 % (0.8 + 0.4 in floats was just above 1.2).
    for drawn, factor in ((0, 0.8), (400, 1.2)):
        monkeypatch.setattr(secrets, "randbelow", lambda _: drawn)  # noqa: B023
        assert [POLICY.backoff(n) for n in range(1, 7)] == [
            expected * factor for expected in (10, 20, 40, 80, 80, 80)
        ]


async def test_mail_older_than_the_maximum_age_is_dropped(
    node: Node, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    mail = node(free_port()).mail  # nothing listens
    await mail.send("old@example.org", "Hi", "Too late.", kind="invite")
    await mail.deliver_due()
    assert await mail.pending() == 1
    clock.advance(POLICY.max_age.total_seconds() + 1)
    caplog.set_level(logging.INFO, logger="cove")
    mail._paused_until = 0.0  # the server pause of the failed attempt is over
    await mail.deliver_due()
    assert await mail.pending() == 0
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and "invite" in errors[0] and "not sent within" in errors[0]


async def test_two_nodes_send_a_mail_once(node: Node, sink: MailSink) -> None:
    one, two = node(sink.port).mail, node(sink.port).mail
    for n in range(5):
        await one.send(f"both{n}@example.org", "Once", "Only once.", kind="test")
    await asyncio.gather(one.deliver_due(), two.deliver_due(), one.deliver_due())
    assert await one.pending() == 0
    assert sorted(str(m["To"]) for m in sink.messages) == [f"both{n}@example.org" for n in range(5)]


async def test_a_claim_held_by_a_live_node_is_respected_and_a_dead_ones_expires(
    node: Node, sink: MailSink, clock: Clock, store: Store
) -> None:
    mail = node(sink.port).mail
    await mail.send("held@example.org", "Held", "Claimed elsewhere.", kind="test")
    outbox = OutboxRepository(store)
    record = (await outbox.page(limit=1))[0][0]
    slot = int(clock().timestamp() // POLICY.lease_seconds)
    assert await outbox.claim(record.mail_id, claim_name(0, slot), "other-node", clock())
    await mail.deliver_due()
    assert sink.mark() == 0 and await mail.pending() == 1
    clock.advance(POLICY.lease_seconds + 1)  # that node died mid-send
    await mail.deliver_due()
    assert await mail.pending() == 0
    assert len(sink.messages_to("held@example.org")) == 1
    assert await outbox.claims(record.mail_id) == []


async def test_a_mail_is_one_line_per_header_and_labelled_by_a_short_kind(node: Node) -> None:
    mail = node(free_port()).mail
    with pytest.raises(ValueError):
        await mail.send("a@example.org\r\nBcc: b@example.org", "Hi", "x", kind="test")
    with pytest.raises(ValueError):
        await mail.send("a@example.org", "Hi", "x", kind="Not A Kind")
    assert await mail.pending() == 0


async def test_an_unavailable_mailer_refuses_before_writing(store: Store, clock: Clock) -> None:
    services = build_services(store, mailer=Mailer.unavailable(), clock=clock)
    try:
        assert not services.mail.available
        with pytest.raises(CoveError) as refused:
            await services.mail.send("a@example.org", "Hi", "x", kind="test")
        assert refused.value.code is ErrorCode.UNAVAILABLE
        assert await services.mail.pending() == 0
    finally:
        services.close()


async def test_the_smtp_transport_sorts_failures(sink: MailSink) -> None:
    from email.message import EmailMessage

    def message(to: str) -> EmailMessage:
        built = EmailMessage()
        built["From"], built["To"], built["Subject"] = "cove@test.invalid", to, "x"
        built.set_content("x")
        return built

    sink.refuse["perm@example.org"] = "550 5.1.1 unknown"
    sink.refuse["temp@example.org"] = "451 4.3.0 try later"
    transport = SmtpTransport(host="127.0.0.1", port=sink.port, security="none")
    with pytest.raises(MailDeliveryError) as permanent:
        await transport.send(message("perm@example.org"))
    assert not permanent.value.temporary and permanent.value.code == 550
    assert "perm@example.org" not in str(permanent.value)
    with pytest.raises(MailDeliveryError) as temporary:
        await transport.send(message("temp@example.org"))
    assert temporary.value.temporary and temporary.value.code == 451
    down = SmtpTransport(host="127.0.0.1", port=free_port(), security="none", timeout_seconds=2)
    with pytest.raises(MailDeliveryError) as refused:
        await down.send(message("x@example.org"))
    assert refused.value.temporary and refused.value.code is None


async def test_a_stop_mid_send_leaves_the_mail_queued_for_the_next_start(
    node: Node, sink: MailSink, store: Store
) -> None:
    sink.delay_seconds = 3.0
    mail = node(sink.port).mail
    mail.start()
    await mail.send("slow@example.org", "Slow", "Taking its time.", kind="test")
    await asyncio.sleep(0.5)  # the worker is in DATA now
    await mail.stop(grace_seconds=0.2)
    assert await mail.pending() == 1
    outbox = OutboxRepository(store)
    record = (await outbox.page(limit=1))[0][0]
    assert await outbox.claims(record.mail_id) == []  # released: the next start goes at once
    sink.delay_seconds = 0.0
    again = node(sink.port).mail
    await again.deliver_due()
    assert await again.pending() == 0
    # At least once: the slow server may also finish taking the first copy.
    assert 1 <= len(await asyncio.to_thread(lambda: sink.messages_to("slow@example.org"))) <= 2
