"""Outbound mail: sealed into the outbox in the store, then sent by a background worker.

`Mailer.send` returns once the message is in the outbox, never waiting for a mail server;
the worker (`Mailer.run`, started with the app) sends due mails oldest first, deletes each
once a server has accepted it, retries temporary failures with exponential backoff, and
drops (logging the mail id and kind, never the address) mails refused for good or older
than the maximum age. Delivery is at least once: a node that dies after the server took
a message and before the row is deleted sends it again after the claim's lease.
"""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email import policy as email_policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import format_datetime, make_msgid, parseaddr

from crypto.field_seal import FieldRef
from integrations.mail import MailDeliveryError, MailTransport
from persistence.ids import new_id
from persistence.outbox import OutboxRecord, OutboxRepository, claim_name
from resolvers.authz import Authorizer
from resolvers.errors import CoveError, DamagedData, ErrorCode
from resolvers.keys import KeyService

log = logging.getLogger("cove.mail")

# `extensions.reason` of the UNAVAILABLE answered where mail is needed and cannot be sent.
MAIL_NOT_CONFIGURED = "MAIL_NOT_CONFIGURED"
_KIND = re.compile(r"[a-z][a-z0-9-]{0,39}")
# The shortest lease of a claimed attempt, however short the SMTP timeout (`api/policies.py`).
MIN_LEASE_SECONDS = 300.0
# How often the outbox is read when nothing wakes the worker; no setting controls it.
OUTBOX_POLL_SECONDS = 30.0
# Outbox rows read at a time.
OUTBOX_PAGE_SIZE = 100


@dataclass(frozen=True)
class MailPolicy:
    """Retries and leases of the outbox worker (settings `mail_*`, built from them by
    `api/policies.py`)."""

    retry_base_seconds: float  # the first retry; each later one waits twice as long
    retry_max_seconds: float  # the longest wait between two attempts
    max_age: timedelta  # a mail not sent by then is dropped (logged)
    # A claimed attempt not finished within this is presumed dead and taken again; keep it
    # well above the time one attempt may take (4 x the SMTP timeout).
    lease_seconds: float
    poll_seconds: float = OUTBOX_POLL_SECONDS
    page_size: int = OUTBOX_PAGE_SIZE

    def backoff(self, attempts: int) -> float:
        """Seconds before the next attempt after `attempts` failed ones (20 % jitter)."""
        exponent = max(0, min(attempts - 1, 30))
        delay = min(self.retry_max_seconds, self.retry_base_seconds * float(2**exponent))
        # In thousandths, so that the extremes are exactly 80 % and 120 % of the delay.
        return delay * (800 + secrets.randbelow(401)) / 1000


def _mail_ref(mail_id: str) -> FieldRef:
    return FieldRef(entity="mail", field="message", row_id=mail_id, workspace_id="")


class Mailer:
    """Queues mail in the sealed outbox and sends it in the background.

    Build it with a transport (SMTP, or the log in `--dev`) and its `MailPolicy`, or
    `Mailer.unavailable()` when none is configured: then `available` is False and
    `require`/`send` refuse with UNAVAILABLE. `Services.build` binds it to the store and keys.
    """

    def __init__(
        self,
        transport: MailTransport | None,
        *,
        sender: str = "",
        app_url: str = "",
        policy: MailPolicy | None = None,
    ) -> None:
        if transport is not None and not parseaddr(sender)[1]:
            raise ValueError("a mailer with a transport needs a sender address")
        if transport is not None and policy is None:
            raise ValueError("a mailer with a transport needs its policy (api/policies.py)")
        if transport is not None and not app_url.startswith(("http://", "https://")):
            raise ValueError("a mailer with a transport needs the app's URL for its links")
        self.transport = transport
        self.sender = sender
        self.app_url = app_url.rstrip("/")
        self._policy = policy
        self.node_id = new_id()
        self._outbox: OutboxRepository | None = None
        self._keys: KeyService | None = None
        self._authz: Authorizer | None = None
        self._clock: Callable[[], datetime] | None = None
        self._wake = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._failures = 0  # consecutive attempts that failed without a server's answer
        self._paused_until = 0.0  # loop time before which the server is not tried again

    @classmethod
    def unavailable(cls) -> Mailer:
        """A mailer with nowhere to send: every feature that needs mail is refused."""
        return cls(None)

    def bind(
        self,
        *,
        outbox: OutboxRepository,
        keys: KeyService,
        authz: Authorizer,
        clock: Callable[[], datetime],
    ) -> None:
        """Give the mailer the store and keys it seals with (done by `Services.build`)."""
        self._outbox, self._keys, self._authz, self._clock = outbox, keys, authz, clock

    @property
    def policy(self) -> MailPolicy:
        """Retries and leases; only a mailer with a transport has (and needs) them."""
        if self._policy is None:
            raise RuntimeError("an unavailable mailer sends nothing and has no policy")
        return self._policy

    @property
    def available(self) -> bool:
        """True when mail can be sent: SMTP is configured, or `--dev` logs it."""
        return self.transport is not None

    def require(self) -> None:
        """Refuse, saying why, what cannot work without mail."""
        if not self.available:
            raise CoveError(
                ErrorCode.UNAVAILABLE,
                "This server cannot send email (no SMTP server is configured), so this is "
                "turned off; ask its operator.",
                reason=MAIL_NOT_CONFIGURED,
            )

    def link(self, action: str, token: str) -> str:
        """The client app's page for `action`, with the token in the fragment: browsers send
        neither the fragment to web servers nor it in a Referer."""
        return f"{self.app_url}/{action}#token={token}"

    def _bound(self) -> tuple[OutboxRepository, KeyService, Authorizer, Callable[[], datetime]]:
        if self._outbox is None or self._keys is None or self._authz is None:
            raise RuntimeError("the mailer is not bound to the services (Services.build)")
        assert self._clock is not None
        return self._outbox, self._keys, self._authz, self._clock

    async def send(self, to: str, subject: str, text: str, *, kind: str) -> None:
        """Queue one plain-text mail; returns once it is sealed in the outbox."""
        self.require()
        if not _KIND.fullmatch(kind):
            raise ValueError(f"mail kind must match {_KIND.pattern}")
        outbox, keys, _, clock = self._bound()
        now = clock()
        mail_id = new_id(at=now)
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = to  # refuses line breaks (header injection)
        message["Subject"] = subject
        message["Date"] = format_datetime(now)
        domain = parseaddr(self.sender)[1].rpartition("@")[2] or "cove.invalid"
        message["Message-ID"] = make_msgid(idstring=mail_id, domain=domain)
        message.set_content(text)
        sealed = await keys.seal_bytes(_mail_ref(mail_id), message.as_bytes())
        record = OutboxRecord(
            mail_id=mail_id,
            kind=kind,
            message_sealed=sealed,
            created_at=now,
            attempts=0,
            next_at=now,
        )
        await outbox.add(record)
        log.info("mail %s (%s) queued", mail_id, kind)
        self._wake.set()

    # The worker

    def start(self) -> None:
        """Run the worker in the background until `stop` (does nothing when unavailable)."""
        if self.available and self._task is None:
            self._stopping = False
            self._task = asyncio.create_task(self.run(), name="cove-mail")

    async def stop(self, grace_seconds: float = 5.0) -> None:
        """Let an attempt under way finish (up to `grace_seconds`), then stop. A mail being
        sent when the grace runs out stays in the outbox and is sent by the next start."""
        task, self._task = self._task, None
        if task is None:
            return
        self._stopping = True
        self._wake.set()
        done, _ = await asyncio.wait({task}, timeout=grace_seconds)
        if not done:
            task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass
        except Exception:
            log.warning("the mail worker failed while stopping", exc_info=True)

    async def run(self) -> None:
        """Send due mail until stopped; woken by `send`, and every `poll_seconds` anyway
        (for mail queued by other nodes, and retries)."""
        if not self.available:
            return
        while not self._stopping:
            self._wake.clear()
            try:
                wait = await self.deliver_due()
            except Exception:
                log.warning("reading the mail outbox failed; will try again", exc_info=True)
                wait = self.policy.poll_seconds
            if self._stopping:
                break
            try:
                async with asyncio.timeout(max(wait, 0.01)):
                    await self._wake.wait()
            except TimeoutError:
                pass

    async def deliver_due(self) -> float:
        """One pass over the outbox: send what is due, oldest first. Returns the seconds
        until the next mail falls due (at most `poll_seconds`)."""
        outbox, _, _, clock = self._bound()
        loop = asyncio.get_running_loop()
        wait = self.policy.poll_seconds
        paused = self._paused_until - loop.time()
        if paused > 0:
            return min(wait, paused)
        after: str | None = None
        while not self._stopping:
            records, after = await outbox.page(limit=self.policy.page_size, after=after)
            for record in records:
                if self._stopping:
                    break
                now = clock()
                if record.next_at > now and now - record.created_at <= self.policy.max_age:
                    wait = min(wait, (record.next_at - now).total_seconds())
                    continue
                await self._attempt(record)
                paused = self._paused_until - loop.time()
                if paused > 0:  # the server did not answer: the rest waits with this one
                    return min(self.policy.poll_seconds, paused)
            if after is None:
                break
        return wait

    async def _attempt(self, record: OutboxRecord) -> None:
        outbox, _, _, clock = self._bound()
        assert self.transport is not None
        now = clock()
        if now - record.created_at > self.policy.max_age:
            log.error(
                "mail %s (%s) dropped: not sent within %s (%d attempts)",
                record.mail_id,
                record.kind,
                self.policy.max_age,
                record.attempts,
            )
            await outbox.remove(record.mail_id)
            return
        lease = timedelta(seconds=self.policy.lease_seconds)
        for claim in await outbox.claims(record.mail_id):
            if claim.attempt == record.attempts and claim.claimed_at > now - lease:
                return  # another node (or an earlier pass) holds this attempt
        slot = int(now.timestamp() // self.policy.lease_seconds)
        name = claim_name(record.attempts, slot)
        if not await outbox.claim(record.mail_id, name, self.node_id, now):
            return
        current = await outbox.get(record.mail_id)
        if current is None or current.attempts != record.attempts:
            await outbox.release(record.mail_id, name)  # sent or retried meanwhile
            return
        try:
            message = await self._open(record)
        except DamagedData as error:
            log.error("mail %s (%s) dropped: %s", record.mail_id, record.kind, error.detail)
            await outbox.remove(record.mail_id)
            return
        try:
            await self.transport.send(message, kind=record.kind)
        except asyncio.CancelledError:
            # Stopped mid-send: the mail stays queued; the server may have taken it already
            # (then it goes twice: delivery is at least once).
            try:
                await outbox.release(record.mail_id, name)
            except Exception:  # the lease frees it later
                log.debug("could not release mail claim %s", record.mail_id, exc_info=True)
            raise
        except MailDeliveryError as error:
            await self._failed(record, name, error)
            return
        except Exception as error:
            log.warning("mail transport failed unexpectedly", exc_info=True)
            await self._failed(
                record, name, MailDeliveryError(type(error).__name__, temporary=True)
            )
            return
        self._failures = 0
        await outbox.remove(record.mail_id)
        log.info(
            "mail %s (%s) sent by %s after %d failed attempts",
            record.mail_id,
            record.kind,
            self.transport.name,
            record.attempts,
        )

    async def _failed(self, record: OutboxRecord, claim: str, error: MailDeliveryError) -> None:
        outbox, _, _, clock = self._bound()
        if not error.temporary:
            log.error(
                "mail %s (%s) dropped: refused for good (%s)", record.mail_id, record.kind, error
            )
            await outbox.remove(record.mail_id)
            return
        attempts = record.attempts + 1
        delay = self.policy.backoff(attempts)
        if error.code is None:
            # No answer from the server at all: pause every mail, not only this one.
            self._failures += 1
            pause = self.policy.backoff(self._failures)
            self._paused_until = asyncio.get_running_loop().time() + pause
            delay = max(delay, pause)
        log.warning(
            "mail %s (%s) deferred: %s; attempt %d failed, next in %.1f s",
            record.mail_id,
            record.kind,
            error,
            attempts,
            delay,
        )
        await outbox.reschedule(record.mail_id, attempts, clock() + timedelta(seconds=delay))
        await outbox.release(record.mail_id, claim)

    async def _open(self, record: OutboxRecord) -> EmailMessage:
        _, keys, authz, _ = self._bound()
        ref = _mail_ref(record.mail_id)
        data = await keys.open_bytes(authz.system_mail(record.mail_id), ref, record.message_sealed)
        message = BytesParser(policy=email_policy.default).parsebytes(data)
        assert isinstance(message, EmailMessage)
        return message

    # For operators and tests

    async def pending(self) -> int:
        """How many mails wait in the outbox (all nodes')."""
        outbox, _, _, _ = self._bound()
        return await outbox.count()

    async def drain(self, within_seconds: float = 10.0) -> bool:
        """Wake the worker and wait until the outbox is empty; False if it is not within
        `within_seconds`."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within_seconds
        while True:
            if await self.pending() == 0:
                return True
            if loop.time() >= deadline:
                return False
            self._wake.set()
            await asyncio.sleep(0.05)
