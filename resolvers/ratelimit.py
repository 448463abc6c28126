"""Rate limits over fixed windows in counters every worker and node shares (Redis if set).

Two kinds. A `RateLimit` counts every attempt (sign-ins and sign-ups per address). A
`FailureLimit` counts wrong secrets (passwords per account or share link, and TOTP codes
when they come): each attempt reserves its slot *before* the secret is checked, so a
concurrent burst cannot have more secrets checked than the limit allows, and a right secret
gives its slot back. Windows are fixed and aligned to the epoch, so every node agrees on
them; the price is that up to twice a limit fits around the end of one window.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from integrations.counters import Counters, MemoryCounters
from resolvers.errors import CoveError, ErrorCode
from resolvers.limit_counters import Counted, LimitCounters, give_back


@dataclass(frozen=True)
class Limit:
    """At most `count` events per `seconds` for one key."""

    count: int
    seconds: int


class RateLimit:
    """Every attempt counts; a refused one does not."""

    def __init__(
        self,
        counters: LimitCounters,
        name: str,
        limit: Limit,
        what: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.limit = limit
        self._counters = counters
        self._prefix = f"limit:{name}:"
        self._what = what
        self._clock = clock

    async def _take(self, key: str) -> tuple[str, Counted]:
        """Count one event against `key`, or refuse with RATE_LIMITED if the window is full."""
        name = self._prefix + key
        counted = await self._counters.add(name, 1, self.limit.seconds)
        if counted.window.used > self.limit.count:
            await give_back(counted, name, 1, self.limit.seconds)
            wait = max(1, math.ceil(counted.window.resets_at - self._clock()))
            raise CoveError(
                ErrorCode.RATE_LIMITED,
                f"Too many {self._what}; try again in {wait} s.",
                retry_after=wait,
            )
        return name, counted

    async def hit(self, key: str) -> None:
        await self._take(key)


class Attempt:
    """One reserved try at a secret: it stays counted as a failure unless `succeeded`."""

    def __init__(self, limit: FailureLimit, name: str, counted: Counted) -> None:
        self._limit = limit
        self._name = name
        self._counted = counted
        self._done = False

    async def succeeded(self) -> None:
        """Give the slot back, and forget earlier failures if the limit forgives them."""
        if self._done:
            return
        self._done = True
        seconds = self._limit.limit.seconds
        left = await give_back(self._counted, self._name, 1, seconds)
        if left is not None and left.used != 0 and self._limit.forgive:
            # Back to zero: failures are forgotten (the slots of tries still in flight too,
            # which lets no more through than a window that restarts after this success).
            await give_back(self._counted, self._name, left.used, seconds)


class FailureLimit(RateLimit):
    """At most `limit.count` wrong secrets per key and window, however many arrive at once."""

    def __init__(
        self,
        counters: LimitCounters,
        name: str,
        limit: Limit,
        what: str,
        *,
        forgive: bool,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(counters, name, limit, what, clock)
        # Whether a right secret clears the failures: yes where only the owner knows it
        # (their account), no where many do (a share link's password).
        self.forgive = forgive

    async def reserve(self, key: str) -> Attempt:
        """Take a slot before checking the secret; RATE_LIMITED when none is left."""
        name, counted = await self._take(key)
        return Attempt(self, name, counted)


# Wrong passwords of one share link: no setting, as many people may hold the link.
LINK_PASSWORD_FAILURES = Limit(10, 900)


@dataclass(frozen=True)
class AuthLimits:
    """The limits on signing up and in, and on every guessable secret (settings `login_*`,
    `signups_*`, `password_change_*`, `second_factor_*`)."""

    logins_per_ip: RateLimit
    signups_per_ip: RateLimit
    login_failures: FailureLimit
    password_change_failures: FailureLimit
    link_password_failures: FailureLimit
    second_factor_failures: FailureLimit
    token_failures: FailureLimit
    mail_requests_per_ip: RateLimit
    mail_per_address: RateLimit
    # Messages posted through one incoming webhook URL, per minute.
    incoming_webhook_posts: RateLimit

    @classmethod
    def build(
        cls,
        *,
        logins_per_ip_per_minute: int,
        failures_per_account: int,
        failure_window_seconds: int,
        signups_per_ip_per_hour: int,
        password_change_failures: int,
        second_factor_failures: int,
        token_failures_per_ip: int,
        mail_requests_per_ip_per_hour: int,
        mails_per_address_per_hour: int,
        incoming_webhooks_per_minute: int,
        link_password_failures: Limit = LINK_PASSWORD_FAILURES,
        counters: Counters | None = None,
    ) -> AuthLimits:
        shared = LimitCounters(counters or MemoryCounters())
        return cls(
            logins_per_ip=RateLimit(
                shared,
                "login-ip",
                Limit(logins_per_ip_per_minute, 60),
                "sign-in attempts from this address",
            ),
            signups_per_ip=RateLimit(
                shared,
                "signup-ip",
                Limit(signups_per_ip_per_hour, 3600),
                "sign-ups from this address",
            ),
            login_failures=FailureLimit(
                shared,
                "login-fail",
                Limit(failures_per_account, failure_window_seconds),
                "failed sign-ins for this account",
                forgive=True,
            ),
            password_change_failures=FailureLimit(
                shared,
                "password-change-fail",
                Limit(password_change_failures, failure_window_seconds),
                "wrong current passwords for this account",
                forgive=True,
            ),
            link_password_failures=FailureLimit(
                shared,
                "link-password-fail",
                link_password_failures,
                "wrong passwords for this link",
                forgive=False,
            ),
            # Per account, whichever second step or signed-in check the codes come through.
            second_factor_failures=FailureLimit(
                shared,
                "second-factor-fail",
                Limit(second_factor_failures, failure_window_seconds),
                "wrong two-factor codes for this account",
                forgive=True,
            ),
            # Links sent by mail (verification, reset, email change, invitation): wrong,
            # expired and spent ones, per client address; a right one clears nothing.
            token_failures=FailureLimit(
                shared,
                "token-fail",
                Limit(token_failures_per_ip, failure_window_seconds),
                "wrong or expired links from this address",
                forgive=False,
            ),
            mail_requests_per_ip=RateLimit(
                shared,
                "mail-ip",
                Limit(mail_requests_per_ip_per_hour, 3600),
                "requests for mail from this address",
            ),
            # Keyed by the address's blind index: nobody can fill a mailbox through Cove.
            mail_per_address=RateLimit(
                shared,
                "mail-to",
                Limit(mails_per_address_per_hour, 3600),
                "messages asked for to that email address",
            ),
            incoming_webhook_posts=RateLimit(
                shared,
                "incoming-webhook",
                Limit(incoming_webhooks_per_minute, 60),
                "messages through this webhook",
            ),
        )
