"""Development only: mail is written to the log instead of being sent."""

from __future__ import annotations

import logging
import re
from email.message import EmailMessage

log = logging.getLogger("cove.mail.dev")

_LINK = re.compile(r"https?://\S+")


def links_in(message: EmailMessage) -> list[str]:
    """The http(s) links in a message's plain-text body."""
    body = message.get_body(preferencelist=("plain",))
    text = body.get_content() if body is not None else ""
    return _LINK.findall(str(text))


class LogTransport:
    """Logs the kind, recipient, subject and links of each message (`--dev` with no
    `smtp_host`): the only place Cove ever logs an address or a token in a link."""

    @property
    def name(self) -> str:
        return "log"

    async def send(self, message: EmailMessage, *, kind: str = "") -> None:
        log.warning(
            "dev mail (not sent: no smtp_host) kind=%s to=%s subject=%r links=%s",
            kind or "mail",
            message["To"],
            message["Subject"],
            " ".join(links_in(message)) or "(none)",
        )
