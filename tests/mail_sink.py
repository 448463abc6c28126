"""A real SMTP server (aiosmtpd) on a free 127.0.0.1 port, keeping what it receives.

`mail_sink()` is one sink shared by the whole test process; `make_settings` points every
test server at it, so any test can read the mail a server sent:

    sink = mail_sink()
    seen = sink.mark()
    ...  # something that sends mail to ann@example.org
    message = sink.wait_for("ann@example.org", after=seen)
    token = link_token(message, "verify-email")
"""

from __future__ import annotations

import asyncio
import re
import socket
import ssl
import threading
import time
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import getaddresses
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class _Handler:
    def __init__(self, sink: MailSink) -> None:
        self._sink = sink

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        reply = self._sink.refuse.get(address.lower())
        if reply is not None:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self._sink.delay_seconds:
            await asyncio.sleep(self._sink.delay_seconds)
        content = envelope.original_content or envelope.content
        data = content if isinstance(content, bytes) else str(content).encode()
        message = BytesParser(policy=policy.default).parsebytes(data)
        assert isinstance(message, EmailMessage)
        self._sink.received(message, [str(r) for r in envelope.rcpt_tos])
        return "250 OK"


class MailSink:
    """aiosmtpd in its own thread; `port` is where it listens (127.0.0.1).

    `tls_context` with `implicit_tls=False` offers STARTTLS (and `require_starttls` refuses
    mail before it); with `implicit_tls=True` the socket speaks TLS from the start. Other
    keyword arguments go to aiosmtpd's SMTP (e.g. `authenticator`, `auth_required`).
    `refuse` maps a recipient address to the reply its RCPT gets (e.g. "550 5.1.1 unknown").
    """

    def __init__(
        self,
        *,
        port: int | None = None,
        tls_context: ssl.SSLContext | None = None,
        implicit_tls: bool = False,
        **smtp_options: Any,
    ) -> None:
        self.refuse: dict[str, str] = {}
        self.delay_seconds = 0.0  # how long DATA takes to answer (a slow server)
        self.messages: list[EmailMessage] = []
        self.envelopes: list[list[str]] = []
        self._lock = threading.Lock()
        self.port = port or free_port()
        options: dict[str, Any] = dict(smtp_options)
        if tls_context is not None and implicit_tls:
            options["ssl_context"] = tls_context
        elif tls_context is not None:
            options["tls_context"] = tls_context
        self._controller = Controller(
            _Handler(self), hostname="127.0.0.1", port=self.port, **options
        )

    def start(self) -> MailSink:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    def __enter__(self) -> MailSink:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def received(self, message: EmailMessage, rcpt_tos: list[str]) -> None:
        with self._lock:
            self.messages.append(message)
            self.envelopes.append(rcpt_tos)

    def mark(self) -> int:
        """How many messages arrived so far: pass it as `after` to see only newer ones."""
        with self._lock:
            return len(self.messages)

    def wait_for_link(self, to: str, action: str, *, after: int) -> str:
        """The token of the first `action` link mailed to `to` after index `after`."""
        return link_token(self.wait_for(to, after=after, link=action), action)

    def messages_to(self, to: str, after: int = 0) -> list[EmailMessage]:
        """Messages to `to` (a `To` address or an envelope recipient) after index `after`."""
        wanted = to.lower()
        with self._lock:
            pairs = list(zip(self.messages, self.envelopes, strict=True))[after:]
        found = []
        for message, rcpt_tos in pairs:
            addresses = {a.lower() for _, a in getaddresses(message.get_all("To", []))}
            if wanted in addresses or wanted in {r.lower() for r in rcpt_tos}:
                found.append(message)
        return found

    def wait_for(
        self, to: str, *, after: int, timeout: float = 10.0, link: str | None = None
    ) -> EmailMessage:
        """The first message to `to` that arrived after index `after` (with a `link` action's
        link in it, if given: other mail to the address may arrive in any order), waiting
        until `timeout` seconds have passed; AssertionError (saying what did arrive) if none."""
        deadline = time.monotonic() + timeout
        while True:
            found = [
                message
                for message in self.messages_to(to, after)
                if link is None or f"/{link}#token=" in _text(message)
            ]
            if found:
                return found[0]
            if time.monotonic() >= deadline:
                with self._lock:
                    arrived = [(str(m["To"]), str(m["Subject"])) for m in self.messages[after:]]
                raise AssertionError(
                    f"no mail to {to} within {timeout} s; after #{after} arrived: {arrived}"
                )
            time.sleep(0.02)


_shared: list[MailSink] = []
_shared_lock = threading.Lock()


def mail_sink() -> MailSink:
    """The process's shared sink, started on first use."""
    with _shared_lock:
        if not _shared:
            _shared.append(MailSink().start())
        return _shared[0]


def _text(message: EmailMessage) -> str:
    body = message.get_body(preferencelist=("plain",))
    return str(body.get_content()) if body is not None else ""


def link_token(message: EmailMessage, action: str) -> str:
    """The token of the link `…/{action}#token=…` in a message's plain-text body."""
    text = _text(message)
    found = re.search(rf"/{re.escape(action)}#token=([A-Za-z0-9_\-.~%]+)", text)
    if found is None:
        raise AssertionError(f"no {action} link in the message: {text!r}")
    return found.group(1)
