"""The policies handed to the resolvers, built from one `Settings`.

`Settings` (api/settings.py) is the only place a default is written: the policy dataclasses
of `resolvers/` have none, and the app, the tests and the benchmarks all build them here.
"""

from __future__ import annotations

from datetime import timedelta

from api.settings import Settings
from integrations.counters import Counters
from integrations.onlyoffice import DocumentFetcher
from integrations.webhook_http import WebhookSender
from resolvers.app_model import AppPolicy
from resolvers.cost_budget import BudgetPolicy
from resolvers.drive_policy import DrivePolicy, OfficePolicy
from resolvers.mail import MIN_LEASE_SECONDS, MailPolicy
from resolvers.ratelimit import AuthLimits
from resolvers.search_queue import IndexPolicy
from resolvers.services import ExportPolicy, KeyRotationPolicy, Policy, RealtimePolicy
from resolvers.video_policy import VideoPolicy
from resolvers.webhooks import WebhookPolicy

# One SMTP attempt takes a few steps, each up to `smtp_timeout_seconds`; a claimed attempt's
# lease is this many timeouts, so that a slow attempt is not taken for a dead one.
SMTP_STEPS_PER_LEASE = 8


def auth_limits_from(settings: Settings, counters: Counters | None = None) -> AuthLimits:
    """The limits on signing up and in and on every guessable secret, counted in `counters`
    (shared through Redis when set; in this process otherwise)."""
    return AuthLimits.build(
        logins_per_ip_per_minute=settings.login_attempts_per_ip_per_minute,
        failures_per_account=settings.login_failures_per_account,
        failure_window_seconds=settings.login_failure_window_seconds,
        signups_per_ip_per_hour=settings.signups_per_ip_per_hour,
        password_change_failures=settings.password_change_failures_per_account,
        second_factor_failures=settings.second_factor_failures_per_account,
        token_failures_per_ip=settings.token_failures_per_ip,
        mail_requests_per_ip_per_hour=settings.mail_requests_per_ip_per_hour,
        mails_per_address_per_hour=settings.mails_per_address_per_hour,
        incoming_webhooks_per_minute=settings.incoming_webhooks_per_minute,
        counters=counters,
    )


def policy_from(settings: Settings) -> Policy:
    """The product limits `Services.build` takes."""
    return Policy(
        max_message_length=settings.max_message_length,
        invitation_ttl=timedelta(seconds=settings.invitation_ttl_seconds),
        audit_retention=timedelta(days=settings.audit_retention_days),
        ics_max_events=settings.ics_max_events,
        ics_check_seconds=settings.ics_check_seconds,
        realtime=RealtimePolicy(
            rotate_seconds=settings.realtime_rotate_seconds,
            rotate_events=settings.realtime_rotate_events,
            queue_limit=settings.realtime_queue_limit,
            max_topics=settings.realtime_max_topics,
            max_sessions_per_user=settings.realtime_max_sessions_per_user,
            history_events=settings.realtime_history_events,
            history_poll_seconds=settings.realtime_history_poll_seconds,
            presence_heartbeat_seconds=settings.presence_heartbeat_seconds,
            presence_timeout_seconds=settings.presence_timeout_seconds,
            away_after_seconds=settings.away_after_seconds,
        ),
        drive=DrivePolicy(
            max_file_bytes=settings.max_file_bytes,
            workspace_quota_bytes=settings.workspace_quota_bytes,
            upload_ttl=timedelta(seconds=settings.upload_url_ttl_seconds),
            download_ttl=timedelta(seconds=settings.download_url_ttl_seconds),
            share_link_max_ttl=timedelta(seconds=settings.share_link_max_ttl_seconds),
            public_url=settings.public_url,
        ),
        apps=AppPolicy(
            access_token_ttl=timedelta(seconds=settings.app_access_token_seconds),
            refresh_token_ttl=timedelta(days=settings.app_refresh_token_days),
            code_ttl=timedelta(seconds=settings.app_code_seconds),
            allow_http=settings.apps_allow_http,
        ),
        search_prefix_min=settings.search_prefix_min,
        search_index=IndexPolicy(
            batch=settings.search_index_batch,
            delay_seconds=settings.search_index_delay_ms / 1000,
            lease_seconds=settings.search_index_lease_seconds,
        ),
        webhooks=WebhookPolicy(
            retry_base_seconds=settings.webhooks_retry_base_seconds,
            retry_max_seconds=settings.webhooks_retry_max_seconds,
            max_age=timedelta(hours=settings.webhooks_max_age_hours),
            disable_after_failures=settings.webhooks_disable_after_failures,
            lease_seconds=max(120.0, 4 * settings.webhooks_timeout_seconds),
        ),
        video=VideoPolicy(
            enabled=settings.jitsi_enabled,
            url=settings.jitsi_url,
            app_id=settings.jitsi_app_id,
            app_secret=settings.jitsi_app_secret,
            token_ttl=timedelta(seconds=settings.jitsi_token_seconds),
        ),
        office=OfficePolicy(
            enabled=settings.onlyoffice_enabled,
            server_url=settings.onlyoffice_url or "",
            jwt_secret=settings.onlyoffice_jwt_secret or "",
            public_url=settings.onlyoffice_public_url or settings.public_url,
            download_ttl=timedelta(seconds=settings.onlyoffice_download_seconds),
            session_ttl=timedelta(hours=settings.onlyoffice_session_hours),
            max_document_bytes=settings.onlyoffice_max_document_bytes,
        ),
        export=ExportPolicy(
            keep=timedelta(hours=settings.export_keep_hours),
            poll_seconds=settings.export_poll_seconds,
            lease_seconds=settings.export_lease_seconds,
            max_running=settings.export_max_running,
            history=timedelta(days=settings.export_history_days),
        ),
        keys=KeyRotationPolicy(
            refresh_seconds=settings.key_refresh_seconds,
            poll_seconds=settings.key_rotation_poll_seconds,
            lease_seconds=settings.key_rotation_lease_seconds,
            min_interval=timedelta(seconds=settings.key_rotation_min_interval_seconds),
        ),
    )


def webhook_sender_from(settings: Settings) -> WebhookSender:
    """The HTTP client of outgoing webhooks (integrations/webhook_http.py)."""
    return WebhookSender(
        allow_private=settings.webhooks_allow_private,
        connect_timeout_seconds=settings.webhooks_connect_timeout_seconds,
        timeout_seconds=settings.webhooks_timeout_seconds,
    )


def office_fetcher_from(settings: Settings) -> DocumentFetcher | None:
    """The client that fetches saved documents from the Document Server; None when off."""
    if not settings.onlyoffice_enabled or not settings.onlyoffice_url:
        return None
    return DocumentFetcher(
        settings.onlyoffice_url,
        allow_private=settings.onlyoffice_allow_private,
        timeout_seconds=settings.onlyoffice_timeout_seconds,
        max_bytes=settings.onlyoffice_max_document_bytes,
    )


def mail_policy_from(settings: Settings) -> MailPolicy:
    """The outbox worker's retries and leases."""
    return MailPolicy(
        retry_base_seconds=settings.mail_retry_base_seconds,
        retry_max_seconds=settings.mail_retry_max_seconds,
        max_age=timedelta(hours=settings.mail_max_age_hours),
        lease_seconds=max(MIN_LEASE_SECONDS, SMTP_STEPS_PER_LEASE * settings.smtp_timeout_seconds),
    )


def budget_policy_from(settings: Settings) -> BudgetPolicy:
    """Each caller's query-cost budget."""
    return BudgetPolicy(
        budget=settings.query_cost_budget,
        window_seconds=settings.query_cost_window_seconds,
    )
