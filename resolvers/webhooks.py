"""Outgoing webhooks: signed deliveries queued in the store and sent by a background worker.

`Webhooks.add_endpoint` stores an endpoint (URL and `whsec_` signing secret, sealed, and its
owner); `enqueue` queues one event for it and returns at once. The worker (`run`, started
with the app) POSTs due deliveries oldest first, signed per the Standard Webhooks
specification with the `standardwebhooks` package, each attempt claimed with a lease so one
node sends it. A failed attempt is retried with exponential backoff and jitter (`backoff`)
for `max_age` (a day by default), always with the same `webhook-id`. An endpoint that keeps
failing (`disable_after_failures` in a row, or every attempt for `max_age`) is disabled and
its owner mailed. Every attempt goes to the endpoint's log (its newest `log_keep`).
docs/webhooks.md has the schedule and the limits.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from standardwebhooks import Webhook

from crypto.field_seal import FieldRef
from integrations.webhook_http import (
    WebhookDeliveryError,
    WebhookSender,
    check_url,
    elapsed_ms,
    literal_refusal,
)
from persistence.accounts import AccountRepository
from persistence.ids import new_id
from persistence.outbox import claim_name
from persistence.webhooks import AttemptRecord, DeliveryRecord, EndpointRecord, WebhookRepository
from resolvers.authz import Authorizer
from resolvers.errors import CoveError, ErrorCode, bad_input
from resolvers.keys import KeyService
from resolvers.mail import Mailer

log = logging.getLogger("cove.webhooks")

_EVENT_TYPE_MAX = 100
_PAYLOAD_MAX_BYTES = 16 * 1024  # payloads are thin: event type and ids


@dataclass(frozen=True)
class WebhookPolicy:
    """Retries, disabling and leases of the delivery worker (settings `webhooks_*`)."""

    retry_base_seconds: float
    retry_max_seconds: float
    max_age: timedelta
    disable_after_failures: int
    lease_seconds: float = 120.0  # well above one attempt (the total timeout is at most 120 s)
    poll_seconds: float = 15.0
    page_size: int = 100
    log_keep: int = 200  # attempts kept per endpoint

    def backoff(self, attempts: int) -> float:
        """Seconds before the next attempt after `attempts` failed ones (±20 % jitter)."""
        exponent = max(0, min(attempts - 1, 30))
        delay = min(self.retry_max_seconds, self.retry_base_seconds * float(2**exponent))
        return delay * (800 + secrets.randbelow(401)) / 1000


def url_ref(endpoint_id: str) -> FieldRef:
    return FieldRef(entity="webhook_endpoint", field="url", row_id=endpoint_id, workspace_id="")


def secret_ref(endpoint_id: str) -> FieldRef:
    return FieldRef(entity="webhook_endpoint", field="secret", row_id=endpoint_id, workspace_id="")


def _owner_email_ref(user_id: str) -> FieldRef:
    # The ref of an account's email, as resolvers/accounts.py `email_ref` seals it.
    return FieldRef(entity="user", field="email", row_id=user_id, workspace_id="")


def new_secret() -> str:
    """A signing secret in the Standard Webhooks form: `whsec_` + base64 of 32 random bytes."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def sign(secret: str, message_id: str, at: datetime, body: str) -> dict[str, str]:
    """The three Standard Webhooks headers of one attempt."""
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(secret).sign(message_id, at, body),
    }


class Webhooks:
    """Endpoints, the delivery queue and its worker. Without a sender (`Webhooks(None,...)`)
    deliveries are queued but not sent, as in scripts."""

    def __init__(
        self,
        sender: WebhookSender | None,
        policy: WebhookPolicy,
        *,
        repository: WebhookRepository,
        accounts: AccountRepository,
        keys: KeyService,
        authz: Authorizer,
        mail: Mailer,
        clock: Callable[[], datetime],
    ) -> None:
        self.sender = sender
        self.policy = policy
        self.repository = repository
        self._accounts = accounts
        self._keys = keys
        self._authz = authz
        self._mail = mail
        self._clock = clock
        self.node_id = new_id()
        self._wake = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        # Endpoints whose last attempt on this node failed, until that delivery's retry: the
        # deliveries queued behind it wait too, so a backlog does not hammer a broken endpoint.
        self._paused: dict[str, datetime] = {}

    # The interface other code calls

    async def add_endpoint(
        self, owner_id: str, url: str, secret: str | None = None, endpoint_id: str | None = None
    ) -> tuple[EndpointRecord, str]:
        """Store an endpoint of `owner_id`; returns it and its signing secret (made here
        unless given), which the caller shows once. Given an `endpoint_id` that exists (an
        app's endpoint, whose id is the app's), the endpoint is replaced, healthy again; its
        delivery log stays."""
        try:
            check_url(url)
        except WebhookDeliveryError as error:
            raise bad_input(f"The webhook URL is not valid: {error}", field="url") from None
        secret = secret or new_secret()
        Webhook(secret)  # refuses a secret that is not base64
        endpoint_id = endpoint_id or new_id()
        record = EndpointRecord(
            endpoint_id=endpoint_id,
            owner_id=owner_id,
            url_sealed=await self._keys.seal_text(url_ref(endpoint_id), url),
            secret_sealed=await self._keys.seal_text(secret_ref(endpoint_id), secret),
            created_at=self._clock(),
            disabled_at=None,
            consecutive_failures=0,
            failing_since=None,
        )
        await self.repository.add_endpoint(record)
        return record, secret

    def refused_literal(self, url: str) -> str | None:
        """Why a URL naming its host by a non-public IP address will never be delivered to
        (unless `webhooks_allow_private`), said when it is registered; None otherwise. Names
        are resolved and checked at each delivery (integrations/webhook_http.py)."""
        if self.sender is not None and self.sender.allow_private:
            return None
        return literal_refusal(url)

    async def enable_endpoint(self, endpoint_id: str) -> None:
        await self.repository.set_health(
            endpoint_id, consecutive_failures=0, failing_since=None, disabled_at=None
        )

    async def remove_endpoint(self, endpoint_id: str) -> None:
        """Forget an endpoint and its log; what is queued for it is dropped when due."""
        await self.repository.delete_endpoint(endpoint_id)

    async def open_url(self, endpoint: EndpointRecord) -> str:
        grant = self._authz.system_webhook(endpoint.endpoint_id)
        return await self._keys.open_text(grant, url_ref(endpoint.endpoint_id), endpoint.url_sealed)

    async def enqueue(
        self,
        endpoint_id: str,
        event_type: str,
        payload: Mapping[str, object],
        *,
        message_id: str | None = None,
    ) -> str | None:
        """Queue one event for an endpoint; returns its `webhook-id` (None when the endpoint
        is gone or disabled). `payload` holds ids only: it is stored and sent in clear."""
        if not 0 < len(event_type) <= _EVENT_TYPE_MAX:
            raise ValueError("an event type is 1 to 100 characters")
        endpoint = await self.repository.endpoint(endpoint_id)
        if endpoint is None or endpoint.disabled_at is not None:
            return None
        now = self._clock()
        delivery_id = new_id(at=now)
        message_id = message_id or "msg_" + delivery_id
        body = json.dumps(
            {"type": event_type, "timestamp": now.isoformat(), "data": dict(payload)},
            separators=(",", ":"),
        )
        if len(body.encode()) > _PAYLOAD_MAX_BYTES:
            raise ValueError("webhook payloads are thin: event type and ids")
        await self.repository.add(
            DeliveryRecord(
                delivery_id=delivery_id,
                endpoint_id=endpoint_id,
                message_id=message_id,
                event_type=event_type,
                payload=body,
                created_at=now,
                attempts=0,
                next_at=now,
            )
        )
        self._wake.set()
        return message_id

    async def redeliver(self, attempt: AttemptRecord) -> str:
        """Queue again what an attempt of the log sent (same `webhook-id`, same body); an
        endpoint disabled is enabled again, as asking for a redelivery says it is fixed."""
        endpoint = await self.repository.endpoint(attempt.endpoint_id)
        if endpoint is None:
            raise CoveError(ErrorCode.NOT_FOUND, "No such webhook endpoint.")
        if endpoint.disabled_at is not None:
            await self.enable_endpoint(endpoint.endpoint_id)
        now = self._clock()
        delivery_id = new_id(at=now)
        await self.repository.add(
            DeliveryRecord(
                delivery_id=delivery_id,
                endpoint_id=attempt.endpoint_id,
                message_id=attempt.message_id,
                event_type=attempt.event_type,
                payload=attempt.payload,
                created_at=now,
                attempts=0,
                next_at=now,
            )
        )
        self._wake.set()
        return delivery_id

    # The worker

    def start(self) -> None:
        if self.sender is not None and self._task is None:
            self._stopping = False
            self._task = asyncio.create_task(self.run(), name="cove-webhooks")

    async def stop(self, grace_seconds: float = 5.0) -> None:
        """Let an attempt under way finish (up to the grace), then stop; what is left stays
        queued for the next start."""
        task, self._task = self._task, None
        if task is not None:
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
                log.warning("the webhook worker failed while stopping", exc_info=True)
        if self.sender is not None:
            await self.sender.close()

    async def run(self) -> None:
        while not self._stopping:
            self._wake.clear()
            try:
                wait = await self.deliver_due()
            except Exception:
                log.warning("reading the webhook outbox failed; will try again", exc_info=True)
                wait = self.policy.poll_seconds
            if self._stopping:
                break
            try:
                async with asyncio.timeout(max(wait, 0.01)):
                    await self._wake.wait()
            except TimeoutError:
                pass

    async def deliver_due(self) -> float:
        """One pass: send what is due, oldest first; each endpoint's deliveries one after
        another, different endpoints at once (a page at a time). Returns the seconds until
        the next one falls due."""
        wait = self.policy.poll_seconds
        now = self._clock()
        self._paused = {e: until for e, until in self._paused.items() if until > now}
        after: str | None = None
        while not self._stopping:
            records, after = await self.repository.page(limit=self.policy.page_size, after=after)
            due: dict[str, list[DeliveryRecord]] = {}
            for record in records:
                now = self._clock()
                paused = self._paused.get(record.endpoint_id)
                if record.next_at > now and now - record.created_at <= self.policy.max_age:
                    wait = min(wait, (record.next_at - now).total_seconds())
                elif paused is not None and paused > now:
                    wait = min(wait, (paused - now).total_seconds())
                else:
                    due.setdefault(record.endpoint_id, []).append(record)
            results = await asyncio.gather(
                *(self._in_order(queue) for queue in due.values()), return_exceptions=True
            )
            for result in results:
                if isinstance(result, Exception):  # the store failed: the rest goes on
                    log.warning("a webhook attempt failed", exc_info=result)
            if after is None:
                break
        return wait

    async def _in_order(self, queue: list[DeliveryRecord]) -> None:
        """One endpoint's due deliveries, oldest first, until one fails."""
        for record in queue:
            if self._stopping or not await self._attempt(record):
                return

    async def _attempt(self, record: DeliveryRecord) -> bool:
        """Try one delivery; False when it failed (the endpoint is then paused here)."""
        repo, now = self.repository, self._clock()
        endpoint = await repo.endpoint(record.endpoint_id)
        if endpoint is None or endpoint.disabled_at is not None:
            log.info("webhook %s dropped: its endpoint is gone or disabled", record.delivery_id)
            await repo.remove(record.delivery_id)
            return True
        if now - record.created_at > self.policy.max_age:
            log.warning(
                "webhook %s to %s dropped after %d attempts",
                record.delivery_id,
                record.endpoint_id,
                record.attempts,
            )
            await repo.remove(record.delivery_id)
            return True
        lease = timedelta(seconds=self.policy.lease_seconds)
        for attempt, claimed_at in await repo.claims(record.delivery_id):
            if attempt == record.attempts and claimed_at > now - lease:
                return True  # another node (or an earlier pass) holds this attempt
        name = claim_name(record.attempts, int(now.timestamp() // self.policy.lease_seconds))
        if not await repo.claim(record.delivery_id, name, self.node_id, now):
            return True
        current = await repo.get(record.delivery_id)
        if current is None or current.attempts != record.attempts:
            await repo.release(record.delivery_id, name)  # done or retried meanwhile
            return True
        try:
            return await self._send(endpoint, record, name)
        except asyncio.CancelledError:
            try:
                await repo.release(record.delivery_id, name)
            except Exception:  # the lease frees it later
                log.debug("could not release webhook claim %s", record.delivery_id)
            raise

    async def _send(self, endpoint: EndpointRecord, record: DeliveryRecord, claim: str) -> bool:
        assert self.sender is not None
        grant = self._authz.system_webhook(endpoint.endpoint_id)
        url = await self.open_url(endpoint)
        secret = await self._keys.open_text(
            grant, secret_ref(endpoint.endpoint_id), endpoint.secret_sealed
        )
        now = self._clock()
        headers = sign(secret, record.message_id, now, record.payload)
        started = time.perf_counter()
        status: int | None = None
        error_class = ""
        try:
            answer = await self.sender.post(url, headers, record.payload.encode())
            status = answer.status_code
        except WebhookDeliveryError as error:
            error_class, status = error.error_class, error.status_code
        except Exception as error:  # never let one endpoint stop the worker
            log.warning("webhook attempt failed unexpectedly", exc_info=True)
            error_class = type(error).__name__
        await self.repository.log(
            AttemptRecord(
                endpoint_id=endpoint.endpoint_id,
                attempt_id=new_id(),  # the real time orders the log, whatever the clock
                delivery_id=record.delivery_id,
                message_id=record.message_id,
                event_type=record.event_type,
                payload=record.payload,
                attempted_at=now,
                status_code=status,
                duration_ms=elapsed_ms(started),
                error=error_class,
                succeeded=not error_class,
            ),
            keep=self.policy.log_keep,
        )
        if not error_class:
            await self.repository.remove(record.delivery_id)
            if endpoint.consecutive_failures:
                await self.enable_endpoint(endpoint.endpoint_id)
            return True
        attempts = record.attempts + 1
        delay = self.policy.backoff(attempts)
        log.info(
            "webhook %s attempt %d failed (%s); next in %.0f s",
            record.delivery_id,
            attempts,
            error_class,
            delay,
        )
        retry_at = self._clock() + timedelta(seconds=delay)
        await self.repository.reschedule(record.delivery_id, attempts, retry_at)
        await self.repository.release(record.delivery_id, claim)
        self._paused[endpoint.endpoint_id] = retry_at
        await self._count_failure(endpoint, now)
        return False

    async def _count_failure(self, endpoint: EndpointRecord, now: datetime) -> None:
        current = await self.repository.endpoint(endpoint.endpoint_id) or endpoint
        failures = current.consecutive_failures + 1
        since = current.failing_since or now
        disable = (
            failures >= self.policy.disable_after_failures or now - since >= self.policy.max_age
        )
        await self.repository.set_health(
            endpoint.endpoint_id,
            consecutive_failures=failures,
            failing_since=since,
            disabled_at=now if disable else None,
        )
        if disable and current.disabled_at is None:
            log.warning(
                "webhook endpoint %s disabled after %d failures", endpoint.endpoint_id, failures
            )
            await self._tell_owner(current, failures, since)

    async def _tell_owner(self, endpoint: EndpointRecord, failures: int, since: datetime) -> None:
        if not self._mail.available:
            return
        owner = await self._accounts.get_user(endpoint.owner_id)
        if owner is None or not owner.email_sealed:
            return
        grant = self._authz.system_webhook(owner.user_id)
        address = await self._keys.open_text(
            grant, _owner_email_ref(owner.user_id), owner.email_sealed
        )
        url = await self.open_url(endpoint)
        await self._mail.send(
            address,
            "A webhook endpoint was disabled",
            f"Cove stopped sending webhooks to {url} (endpoint {endpoint.endpoint_id}): its "
            f"last {failures} attempts failed, the first at {since:%Y-%m-%d %H:%M} UTC.\n\n"
            "Its delivery log shows each attempt's status and error. Once the endpoint "
            "answers again, redeliver a delivery from the log: that enables it again.\n",
            kind="webhook-disabled",
        )

    # For operators and tests

    async def pending(self) -> int:
        return await self.repository.count()
