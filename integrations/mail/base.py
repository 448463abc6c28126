"""What every mail transport does: hand one message on, or say whether trying again may help."""

from __future__ import annotations

from email.message import EmailMessage
from typing import Protocol


class MailDeliveryError(Exception):
    """A message was not handed on. `temporary`: the same message may go through later
    (server down, timeout, a 4xx answer); otherwise it never will (a 5xx answer to it).

    The message names the failure, never the recipient: servers often quote the address in
    their answers, so their text is not kept.
    """

    def __init__(self, message: str, *, temporary: bool, code: int | None = None) -> None:
        super().__init__(message)
        self.temporary = temporary
        self.code = code


class MailTransport(Protocol):
    """Hands a finished message to the next hop."""

    @property
    def name(self) -> str:
        """A short label for logs and readiness (`smtp`, `log`)."""
        ...

    async def send(self, message: EmailMessage, *, kind: str = "") -> None:
        """Deliver `message` to its `To` recipients, or raise MailDeliveryError.

        `kind` is a short label of what the mail is ("verify-email"), for logs only.
        """
        ...
