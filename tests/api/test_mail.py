"""Outbound mail through the services `cove serve` runs: a real SMTP server (aiosmtpd) on
loopback receives it; the outbox in the store keeps it sealed until a server takes it."""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from email.message import EmailMessage
from pathlib import Path

import pytest
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from mail_sink import MailSink, free_port, link_token, mail_sink

from api.app import running_services
from api.bootstrap import load_keyring
from api.settings import Settings, SettingsError
from resolvers.errors import CoveError, ErrorCode
from resolvers.mail import MAIL_NOT_CONFIGURED
from resolvers.services import Services
from support import make_settings, stored_contents
from tests.api.test_tls import make_certificate

WAIT = 15.0  # every wait for mail is bounded by this


@asynccontextmanager
async def cove(settings: Settings) -> AsyncIterator[Services]:
    """The services of one `cove serve` start, mail worker included."""
    async with running_services(settings, load_keyring(settings)) as services:
        yield services


async def arrives(sink: MailSink, to: str, after: int) -> EmailMessage:
    """`sink.wait_for` in a thread, so the event loop (and the mail worker) keeps running."""
    return await asyncio.to_thread(sink.wait_for, to, after=after, timeout=WAIT)


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    directory = tmp_path / "cert"
    directory.mkdir()
    return make_certificate(directory)


@pytest.fixture
def password_file(tmp_path: Path) -> Path:
    path = tmp_path / "smtp-password"
    path.write_text("a long smtp passphrase\n")
    path.chmod(0o600)
    return path


def server_tls(cert: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(cert[0]), str(cert[1]))
    return context


class Logins:
    """An aiosmtpd authenticator that accepts one user and password and records attempts."""

    def __init__(self, user: str, password: str) -> None:
        self.expected = (user.encode(), password.encode())
        self.attempts: list[tuple[bytes, bool]] = []

    def __call__(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: object
    ) -> AuthResult:
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == self.expected
        self.attempts.append((data.login if isinstance(data, LoginPassword) else b"", ok))
        return AuthResult(success=ok)


@pytest.fixture
def own_sink() -> Iterator[MailSink]:
    sink = MailSink().start()
    yield sink
    sink.stop()


async def test_mail_reaches_the_smtp_server_with_its_headers_and_the_outbox_empties(
    tmp_path: Path,
) -> None:
    sink = mail_sink()  # make_settings points every test server at it
    settings = make_settings(tmp_path / "data", app_url="https://app.example.org/")
    seen = sink.mark()
    async with cove(settings) as services:
        assert services.mail.available
        link = services.mail.link("verify-email", "tok_123-abc")
        assert link == "https://app.example.org/verify-email#token=tok_123-abc"
        await services.mail.send(
            "ann@example.org", "Check your address", f"Open {link} to confirm.", kind="verify-email"
        )
        message = await arrives(sink, "ann@example.org", seen)
        assert await services.mail.drain(WAIT)
        assert await services.mail.pending() == 0
    assert message["From"] == "cove@test.invalid"
    assert message["To"] == "ann@example.org"
    assert message["Subject"] == "Check your address"
    assert message["Date"] and message["Message-ID"].endswith("@test.invalid>")
    assert "Open https://app.example.org/verify-email#token=tok_123-abc" in str(
        message.get_content()
    )
    assert link_token(message, "verify-email") == "tok_123-abc"
    assert len(sink.messages_to("ann@example.org", after=seen)) == 1


def test_app_url_defaults_to_public_url_then_loopback(tmp_path: Path) -> None:
    assert make_settings(tmp_path / "a").resolved_app_url == "http://127.0.0.1:8000"
    public = make_settings(tmp_path / "b", public_url="https://cove.example.org")
    assert public.resolved_app_url == "https://cove.example.org"
    with pytest.raises(SettingsError, match="app_url"):
        make_settings(tmp_path / "c", app_url="javascript:alert(1)")


async def test_starttls_with_a_private_ca_and_a_password_file(
    tmp_path: Path, certificate: tuple[Path, Path], password_file: Path
) -> None:
    logins = Logins("cove", "a long smtp passphrase")
    with MailSink(
        tls_context=server_tls(certificate),
        require_starttls=True,
        authenticator=logins,
        auth_required=True,
    ) as sink:
        settings = make_settings(
            tmp_path / "data",
            smtp_port=sink.port,
            smtp_security="starttls",
            smtp_user="cove",
            smtp_password_file=password_file,
            smtp_ca_file=certificate[0],
        )
        async with cove(settings) as services:
            await services.mail.send("tls@example.org", "Hello", "Over STARTTLS.", kind="test")
            message = await arrives(sink, "tls@example.org", 0)
            assert await services.mail.drain(WAIT)
    assert message.get_content().strip() == "Over STARTTLS."
    assert logins.attempts == [(b"cove", True)]


async def test_implicit_tls(tmp_path: Path, certificate: tuple[Path, Path]) -> None:
    with MailSink(tls_context=server_tls(certificate), implicit_tls=True) as sink:
        settings = make_settings(
            tmp_path / "data",
            smtp_port=sink.port,
            smtp_security="tls",
            smtp_ca_file=certificate[0],
        )
        async with cove(settings) as services:
            await services.mail.send("tls@example.org", "Hello", "Over implicit TLS.", kind="test")
            message = await arrives(sink, "tls@example.org", 0)
    assert message.get_content().strip() == "Over implicit TLS."


async def test_a_certificate_from_another_ca_is_refused_and_the_mail_stays_queued(
    tmp_path: Path, certificate: tuple[Path, Path]
) -> None:
    other = tmp_path / "other"
    other.mkdir()
    other_ca, _ = make_certificate(other)
    # The server offers STARTTLS without requiring it: a client falling back to plain
    # after the failed handshake would get the mail through.
    with MailSink(tls_context=server_tls(certificate)) as sink:
        settings = make_settings(
            tmp_path / "data",
            smtp_port=sink.port,
            smtp_security="starttls",
            smtp_ca_file=other_ca,
        )
        async with cove(settings) as services:
            await services.mail.send("tls@example.org", "Hello", "Never in plain.", kind="test")
            assert not await services.mail.drain(2.5)
            assert await services.mail.pending() == 1
        assert sink.mark() == 0


async def test_starttls_is_never_skipped_when_the_server_does_not_offer_it(
    tmp_path: Path, own_sink: MailSink
) -> None:
    settings = make_settings(tmp_path / "data", smtp_port=own_sink.port, smtp_security="starttls")
    async with cove(settings) as services:
        await services.mail.send("plain@example.org", "Hello", "Never in plain.", kind="test")
        assert not await services.mail.drain(2.0)
        assert await services.mail.pending() == 1
    assert own_sink.mark() == 0


async def test_a_server_that_is_down_delays_mail_without_failing_the_sender(
    tmp_path: Path,
) -> None:
    port = free_port()
    settings = make_settings(tmp_path / "data", smtp_port=port)
    async with cove(settings) as services:
        started = time.monotonic()
        await services.mail.send("late@example.org", "Later", "Still arrives.", kind="test")
        assert time.monotonic() - started < 1.0  # the outbox write, not SMTP
        await asyncio.sleep(0.5)  # the first attempt fails: nothing listens
        assert await services.mail.pending() == 1
        with MailSink(port=port) as sink:
            message = await arrives(sink, "late@example.org", 0)
            assert await services.mail.drain(WAIT)
    assert message["Subject"] == "Later"


async def test_mail_queued_before_a_stop_is_sent_by_the_next_start(tmp_path: Path) -> None:
    port = free_port()
    settings = make_settings(tmp_path / "data", smtp_port=port)
    async with cove(settings) as services:
        await services.mail.send("crash@example.org", "Kept", "Survives a restart.", kind="test")
    with MailSink(port=port) as sink:
        async with cove(settings) as services:
            message = await arrives(sink, "crash@example.org", 0)
            assert await services.mail.drain(WAIT)
    assert message.get_content().strip() == "Survives a restart."
    assert len(sink.messages_to("crash@example.org")) == 1


async def test_the_outbox_holds_the_address_and_body_sealed(tmp_path: Path) -> None:
    address = "canary.recipient.4471@example.org"
    body = "BODY-CANARY-9c1e5b7d token=tok_CANARY_71f3"
    settings = make_settings(tmp_path / "data", smtp_port=free_port())  # nothing listens
    async with cove(settings) as services:
        await services.mail.send(address, "SUBJECT-CANARY-3d2a", body, kind="verify-email")
        assert await services.mail.pending() == 1
    for path, data in stored_contents(settings.data_dir):
        for canary in (address, "BODY-CANARY-9c1e5b7d", "tok_CANARY_71f3", "SUBJECT-CANARY"):
            assert canary.encode() not in data, f"{canary} in {path}"
    # ...and the sealed mail is all there: the next start with a server sends it whole.
    port = settings.smtp_port
    assert port is not None
    with MailSink(port=port) as sink:
        async with cove(settings) as services:
            message = await arrives(sink, address, 0)
    assert body in message.get_content()


async def test_without_smtp_outside_dev_mail_is_refused_saying_why(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "data", smtp_host=None)
    assert settings.smtp_host is None and not settings.dev
    async with cove(settings) as services:
        assert not services.mail.available
        with pytest.raises(CoveError) as required:
            services.mail.require()
        with pytest.raises(CoveError) as sent:
            await services.mail.send("x@example.org", "s", "t", kind="test")
        assert await services.mail.pending() == 0
    for refused in (required.value, sent.value):
        assert refused.code is ErrorCode.UNAVAILABLE
        assert refused.reason == MAIL_NOT_CONFIGURED
        assert "no SMTP server is configured" in refused.message


async def test_in_dev_without_smtp_the_links_go_to_the_log(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="cove")
    settings = make_settings(tmp_path / "data", smtp_host=None, dev=True)
    async with cove(settings) as services:
        assert services.mail.available
        link = services.mail.link("reset-password", "tok_dev_5521")
        await services.mail.send("dev@example.org", "Reset", f"Go to {link}", kind="reset-password")
        assert await services.mail.drain(WAIT)
    logged = [r.getMessage() for r in caplog.records if r.name == "cove.mail.dev"]
    assert len(logged) == 1
    assert "kind=reset-password" in logged[0]
    assert "to=dev@example.org" in logged[0]
    assert "http://127.0.0.1:8000/reset-password#token=tok_dev_5521" in logged[0]
    # Only the dev log transport shows addresses or tokens.
    others = [r.getMessage() for r in caplog.records if r.name != "cove.mail.dev"]
    assert not [m for m in others if "dev@example.org" in m or "tok_dev_5521" in m]


def test_a_sender_is_required_with_an_smtp_host(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="smtp_sender"):
        make_settings(tmp_path / "data", smtp_host="mail.example.org", smtp_sender="")
    with pytest.raises(SettingsError, match="smtp_sender"):
        make_settings(tmp_path / "data", smtp_host="mail.example.org", smtp_sender="not an address")


def test_plain_smtp_with_credentials_is_only_for_a_local_relay(
    tmp_path: Path, password_file: Path
) -> None:
    credentials = {"smtp_user": "cove", "smtp_password_file": password_file}
    with pytest.raises(SettingsError, match="smtp_security"):
        make_settings(
            tmp_path / "data", smtp_host="mail.example.org", smtp_security="none", **credentials
        )
    local = make_settings(
        tmp_path / "data", smtp_host="localhost", smtp_security="none", **credentials
    )
    assert local.smtp_user == "cove"
    remote_tls = make_settings(
        tmp_path / "data", smtp_host="mail.example.org", smtp_security="tls", **credentials
    )
    assert remote_tls.smtp_security == "tls"


def test_a_password_is_a_file_and_needs_a_user(tmp_path: Path, password_file: Path) -> None:
    with pytest.raises(SettingsError, match="smtp_password_file"):
        make_settings(tmp_path / "data", smtp_user="cove")
    with pytest.raises(SettingsError, match="smtp_user"):
        make_settings(tmp_path / "data", smtp_password_file=password_file)
    with pytest.raises(SettingsError, match="smtp_password_file"):
        make_settings(tmp_path / "data", smtp_user="cove", smtp_password_file=tmp_path / "none")
    with pytest.raises(SettingsError, match="smtp_ca_file"):
        make_settings(tmp_path / "data", smtp_ca_file=tmp_path / "missing.pem")
