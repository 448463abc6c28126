"""SMTP by aiosmtplib: STARTTLS (default), implicit TLS, or plain to a local relay."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import ssl
from email.message import EmailMessage
from pathlib import Path
from typing import Literal

import aiosmtplib

from integrations.mail.base import MailDeliveryError

log = logging.getLogger("cove.mail")

SmtpSecurity = Literal["starttls", "tls", "none"]
DEFAULT_PORTS: dict[str, int] = {"starttls": 587, "tls": 465, "none": 25}


def is_loopback_host(host: str) -> bool:
    """`localhost` or a loopback address (127.0.0.0/8, ::1)."""
    name = host.strip().removeprefix("[").removesuffix("]").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _temporary(code: int | None) -> bool:
    return code is None or code < 500


class SmtpTransport:
    """One connection per message: connect, (STARTTLS), (AUTH), MAIL, RCPT, DATA, QUIT.

    Certificates are always verified (against `ca_file` when given, else the system's
    authorities) and the host name checked; with `starttls` a server that does not offer
    STARTTLS is refused, never written to in plain.
    """

    def __init__(
        self,
        *,
        host: str,
        port: int | None = None,
        security: SmtpSecurity = "starttls",
        user: str | None = None,
        password_file: Path | None = None,
        ca_file: Path | None = None,
        timeout_seconds: float = 30.0,
    ) -> None:
        if security not in DEFAULT_PORTS:
            raise ValueError(f"unknown SMTP security {security!r}")
        self.host = host
        self.port = port or DEFAULT_PORTS[security]
        self.security = security
        self._user = user
        # Read once at start: a password is never a setting, only a file's contents.
        self._password = (
            password_file.read_text(encoding="utf-8").strip() if password_file else None
        )
        if self._password is not None and not user:
            raise ValueError("an SMTP password needs an SMTP user")
        if user and self._password is None:
            raise ValueError("an SMTP user needs smtp_password_file")
        self._tls: ssl.SSLContext | None = None
        if security != "none":
            self._tls = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
        self._timeout = timeout_seconds

    @property
    def name(self) -> str:
        return "smtp"

    async def send(self, message: EmailMessage, *, kind: str = "") -> None:
        client = aiosmtplib.SMTP(
            hostname=self.host,
            port=self.port,
            username=self._user,
            password=self._password,
            use_tls=self.security == "tls",
            # True: STARTTLS is required; a server that does not offer it is refused.
            start_tls=self.security == "starttls",
            tls_context=self._tls,
            timeout=self._timeout,
        )
        try:
            # Each step has its own timeout; this bounds the whole exchange as well.
            async with asyncio.timeout(self._timeout * 4):
                async with client:
                    await client.send_message(message)
        except aiosmtplib.SMTPRecipientsRefused as error:
            codes = [refused.code for refused in error.recipients]
            raise MailDeliveryError(
                f"recipient refused ({', '.join(map(str, codes))})",
                temporary=any(_temporary(code) for code in codes),
                code=max(codes, default=None),
            ) from None
        except aiosmtplib.SMTPRecipientRefused as error:
            raise MailDeliveryError(
                f"recipient refused ({error.code})",
                temporary=_temporary(error.code),
                code=error.code,
            ) from None
        except aiosmtplib.SMTPDataError as error:
            raise MailDeliveryError(
                f"message refused ({error.code})", temporary=_temporary(error.code), code=error.code
            ) from None
        except aiosmtplib.SMTPResponseException as error:
            # Refused greetings, sign-ins and senders are the configuration's fault, not the
            # message's: it waits for the operator to fix them (up to the mail's maximum age).
            what = type(error).__name__.removeprefix("SMTP")
            raise MailDeliveryError(
                f"{what} ({error.code})", temporary=True, code=error.code
            ) from None
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as error:
            # Refused or dropped connections, timeouts, certificates that do not verify, a
            # server without STARTTLS: all may pass once the server or the setup is fixed.
            raise MailDeliveryError(
                f"{type(error).__name__}: {_short(error)}", temporary=True
            ) from None


def _short(error: BaseException) -> str:
    text = str(error).splitlines()[0] if str(error) else ""
    return text[:200]
