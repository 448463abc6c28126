"""The webhook settings (`webhooks_*`, `incoming_webhooks_*`): a group of `Settings` kept in
its own module, which `Settings` inherits, so the main settings module stays in its size."""

from __future__ import annotations

from dataclasses import dataclass, field

from api.settings_apps import setting_doc as _doc


@dataclass(frozen=True)
class WebhookSettings:
    """Outgoing deliveries (docs/webhooks.md) and incoming webhook URLs."""

    webhooks_allow_private: bool = field(
        default=False,
        metadata=_doc(
            "Let outgoing webhooks reach private, loopback, link-local and other non-public "
            "addresses (for tests and closed networks only: it opens the server to SSRF)."
        ),
    )
    webhooks_connect_timeout_seconds: int = field(
        default=5, metadata=_doc("Time to connect to a webhook endpoint, in seconds.")
    )
    webhooks_timeout_seconds: int = field(
        default=10,
        metadata=_doc("Longest time one webhook delivery may take in all, in seconds."),
    )
    webhooks_retry_base_seconds: int = field(
        default=30,
        metadata=_doc("Wait before the first retry of a webhook delivery; doubled each time."),
    )
    webhooks_retry_max_seconds: int = field(
        default=4 * 3600, metadata=_doc("Longest wait between two attempts of one delivery.")
    )
    webhooks_max_age_hours: int = field(
        default=24,
        metadata=_doc("A delivery not accepted this many hours after it was queued is dropped."),
    )
    webhooks_disable_after_failures: int = field(
        default=50,
        metadata=_doc(
            "An endpoint whose attempts failed this many times in a row, or all for "
            "`webhooks_max_age_hours`, is disabled and its owner mailed."
        ),
    )
    incoming_webhooks_per_minute: int = field(
        default=60, metadata=_doc("Messages one incoming webhook URL may post per minute.")
    )
