"""The resolvers' policies come from `Settings` alone: built from the default settings they
hold the settings' defaults, and their dataclasses write no default of their own."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Any

import pytest

from api.policies import auth_limits_from, budget_policy_from, mail_policy_from, policy_from
from api.settings import Settings, load_settings
from integrations.mail import LogTransport
from resolvers.cost_budget import BudgetPolicy
from resolvers.drive_policy import DrivePolicy
from resolvers.mail import OUTBOX_PAGE_SIZE, OUTBOX_POLL_SECONDS, Mailer, MailPolicy
from resolvers.search_queue import INDEX_POLL_SECONDS, IndexPolicy
from resolvers.services import Policy, RealtimePolicy

# Fields no setting controls: their defaults are named module constants.
INTERNAL = {
    (MailPolicy, "poll_seconds"),
    (MailPolicy, "page_size"),
    (IndexPolicy, "poll_seconds"),
}


def default(name: str) -> Any:
    """The default `Settings` declares for `name`."""
    return {f.name: f.default for f in dataclasses.fields(Settings)}[name]


def test_the_policy_of_the_default_settings_holds_their_defaults() -> None:
    policy = policy_from(load_settings(environ={}))
    assert policy.max_message_length == default("max_message_length")
    assert policy.invitation_ttl == timedelta(seconds=default("invitation_ttl_seconds"))
    assert policy.audit_retention == timedelta(days=default("audit_retention_days"))
    assert policy.ics_max_events == default("ics_max_events")
    assert policy.ics_check_seconds == default("ics_check_seconds")
    assert policy.search_prefix_min == default("search_prefix_min")
    assert policy.search_index.batch == default("search_index_batch")
    assert policy.search_index.delay_seconds == default("search_index_delay_ms") / 1000
    assert policy.search_index.lease_seconds == default("search_index_lease_seconds")
    assert policy.search_index.poll_seconds == INDEX_POLL_SECONDS
    assert policy.realtime.rotate_events == default("realtime_rotate_events")
    assert policy.realtime.queue_limit == default("realtime_queue_limit")
    assert policy.realtime.away_after_seconds == default("away_after_seconds")
    assert policy.drive.max_file_bytes == default("max_file_bytes")
    assert policy.drive.upload_ttl == timedelta(seconds=default("upload_url_ttl_seconds"))
    assert policy.drive.public_url == default("public_url")


def test_the_mail_and_budget_policies_of_the_default_settings_hold_their_defaults() -> None:
    settings = load_settings(environ={})
    mail = mail_policy_from(settings)
    assert mail.retry_base_seconds == default("mail_retry_base_seconds")
    assert mail.retry_max_seconds == default("mail_retry_max_seconds")
    assert mail.max_age == timedelta(hours=default("mail_max_age_hours"))
    assert mail.lease_seconds >= 4 * default("smtp_timeout_seconds")
    assert (mail.poll_seconds, mail.page_size) == (OUTBOX_POLL_SECONDS, OUTBOX_PAGE_SIZE)
    budget = budget_policy_from(settings)
    assert budget.budget == default("query_cost_budget")
    assert budget.window_seconds == default("query_cost_window_seconds")


def test_a_changed_setting_reaches_the_policy() -> None:
    settings = load_settings(
        environ={"COVE_REALTIME_ROTATE_EVENTS": "7"}, overrides={"public_url": "https://x.test"}
    )
    policy = policy_from(settings)
    assert policy.realtime.rotate_events == 7
    assert policy.drive.url("/files/a") == "https://x.test/files/a"


@pytest.mark.parametrize(
    "policy",
    [Policy, RealtimePolicy, DrivePolicy, MailPolicy, BudgetPolicy, IndexPolicy],
    ids=repr,
)
def test_a_policy_repeats_no_default_of_the_settings(policy: type) -> None:
    defaulted = {
        f.name
        for f in dataclasses.fields(policy)
        if f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING
    }
    assert defaulted == {name for owner, name in INTERNAL if owner is policy}


def test_a_mailer_that_sends_needs_its_policy() -> None:
    with pytest.raises(ValueError, match="policy"):
        Mailer(LogTransport(), sender="cove@test.invalid")
    with pytest.raises(RuntimeError):
        _ = Mailer.unavailable().policy


def test_the_limits_of_the_default_settings_hold_their_defaults() -> None:
    settings = load_settings(environ={})
    limits = auth_limits_from(settings)
    window = settings.login_failure_window_seconds
    assert (limits.logins_per_ip.limit.count, limits.logins_per_ip.limit.seconds) == (
        settings.login_attempts_per_ip_per_minute,
        60,
    )
    assert limits.signups_per_ip.limit.count == settings.signups_per_ip_per_hour
    counted = {
        limits.login_failures: settings.login_failures_per_account,
        limits.password_change_failures: settings.password_change_failures_per_account,
        limits.second_factor_failures: settings.second_factor_failures_per_account,
        limits.token_failures: settings.token_failures_per_ip,
    }
    for limit, count in counted.items():
        assert (limit.limit.count, limit.limit.seconds) == (count, window)
    assert limits.mail_requests_per_ip.limit.count == settings.mail_requests_per_ip_per_hour
    assert limits.mail_per_address.limit.count == settings.mails_per_address_per_hour
