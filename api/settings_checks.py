"""The checks of a `Settings` (ranges and combinations), apart from its fields, so each
module stays short. `SettingsError` names the setting at fault."""

from __future__ import annotations

from email.utils import parseaddr
from pathlib import Path
from typing import TYPE_CHECKING

from api.backup_times import schedule_times
from crypto.backup_seal import BackupRecipient
from crypto.errors import CryptoError
from integrations.mail.smtp import is_loopback_host
from persistence.scylla.hosts import parse_hosts

if TYPE_CHECKING:
    from api.settings import Settings


class SettingsError(ValueError):
    """A setting is missing, malformed or out of range; the message names it."""

    def __init__(self, setting: str, problem: str) -> None:
        super().__init__(f"setting {setting!r}: {problem}")
        self.setting = setting


def _at_least(name: str, value: int, low: int) -> None:
    if value < low:
        raise SettingsError(name, f"must be at least {low}, got {value}")


def _at_most(name: str, value: int, high: int) -> None:
    if value > high:
        raise SettingsError(name, f"must be at most {high}, got {value}")


def _identity_limits(s: Settings) -> None:
    _at_least("token_failures_per_ip", s.token_failures_per_ip, 1)
    _at_least("mail_requests_per_ip_per_hour", s.mail_requests_per_ip_per_hour, 1)
    _at_least("mails_per_address_per_hour", s.mails_per_address_per_hour, 1)


# Characters a message may hold on ScyllaDB: 4 bytes each at most, sealed, under 1 MiB.
MAX_SCYLLA_MESSAGE_LENGTH = 200_000


def _check_dependencies(s: Settings) -> None:
    """Timeouts, breakers and the shutdown deadline."""
    for name in ("s3_timeout_seconds", "redis_timeout_seconds", "search_timeout_seconds"):
        _at_least(name, getattr(s, name), 1)
        _at_most(name, getattr(s, name), 300)
    _at_least("ready_timeout_seconds", s.ready_timeout_seconds, 1)
    _at_least("breaker_failures", s.breaker_failures, 1)
    _at_least("breaker_reset_seconds", s.breaker_reset_seconds, 1)
    _at_least("shutdown_grace_seconds", s.shutdown_grace_seconds, 0)
    _at_least("min_free_bytes", s.min_free_bytes, 0)


# RFC 7518 §3.2: an HS256 key is at least as long as the hash, 256 bits.
MIN_JITSI_SECRET_LENGTH = 32


def _jitsi(s: Settings) -> None:
    if not s.jitsi_url.startswith("https://") or any(c.isspace() for c in s.jitsi_url):
        raise SettingsError("jitsi_url", "must be an https:// URL")
    _at_least("jitsi_token_seconds", s.jitsi_token_seconds, 60)
    _at_most("jitsi_token_seconds", s.jitsi_token_seconds, 24 * 3600)
    if bool(s.jitsi_app_id) != bool(s.jitsi_app_secret):
        raise SettingsError("jitsi_app_secret", "jitsi_app_id and jitsi_app_secret go together")
    if s.jitsi_app_secret and len(s.jitsi_app_secret) < MIN_JITSI_SECRET_LENGTH:
        raise SettingsError(
            "jitsi_app_secret",
            f"must be at least {MIN_JITSI_SECRET_LENGTH} characters (an HS256 key of 256 bits)",
        )


def _check_apps(s: Settings) -> None:
    _at_least("app_access_token_seconds", s.app_access_token_seconds, 60)
    _at_least("app_refresh_token_days", s.app_refresh_token_days, 1)
    _at_least("app_code_seconds", s.app_code_seconds, 1)
    _jitsi(s)
    _at_most("app_code_seconds", s.app_code_seconds, 600)


def _check_backups(s: Settings) -> None:
    _at_least("backup_keep_daily", s.backup_keep_daily, 0)
    _at_least("backup_keep_monthly", s.backup_keep_monthly, 0)
    if s.backup_keep_daily + s.backup_keep_monthly == 0:
        raise SettingsError("backup_keep_daily", "prune would keep no backup at all")
    if s.backup_recipient is not None:
        try:
            BackupRecipient.parse(s.backup_recipient)
        except CryptoError as exc:
            raise SettingsError("backup_recipient", str(exc)) from None
    if s.backup_schedule is not None:
        try:
            schedule_times(s.backup_schedule)
        except ValueError as exc:
            raise SettingsError("backup_schedule", str(exc)) from None
        if s.backup_recipient is None:
            raise SettingsError("backup_schedule", "needs backup_recipient")
        if s.store != "sqlite":
            raise SettingsError("backup_schedule", "backs up the sqlite store only")


def _check_groups(s: Settings) -> None:
    """The groups kept in modules of their own (api/settings_apps.py and its siblings)."""
    _check_apps(s)
    _check_backups(s)
    _check_exports(s)
    _check_key_rotation(s)


def _check_key_rotation(s: Settings) -> None:
    if not 0.05 <= s.key_refresh_seconds <= 600:
        raise SettingsError("key_refresh_seconds", "must be from 0.05 to 600 seconds")
    _at_least("key_rotation_poll_seconds", s.key_rotation_poll_seconds, 1)
    _at_most("key_rotation_poll_seconds", s.key_rotation_poll_seconds, 3600)
    _at_least("key_rotation_lease_seconds", s.key_rotation_lease_seconds, 5)
    _at_most("key_rotation_lease_seconds", s.key_rotation_lease_seconds, 3600)
    _at_least("key_rotation_min_interval_seconds", s.key_rotation_min_interval_seconds, 0)
    _at_most("key_rotation_min_interval_seconds", s.key_rotation_min_interval_seconds, 86400)


def _check_exports(s: Settings) -> None:
    _at_least("export_keep_hours", s.export_keep_hours, 1)
    _at_most("export_keep_hours", s.export_keep_hours, 720)
    _at_least("export_max_running", s.export_max_running, 1)
    _at_most("export_max_running", s.export_max_running, 100)
    _at_least("export_history_days", s.export_history_days, 1)
    _at_most("export_history_days", s.export_history_days, 3650)
    _at_least("export_poll_seconds", s.export_poll_seconds, 1)
    _at_most("export_poll_seconds", s.export_poll_seconds, 3600)
    _at_least("export_lease_seconds", s.export_lease_seconds, 5)
    _at_most("export_lease_seconds", s.export_lease_seconds, 3600)


def check_settings(s: Settings) -> None:
    """Check ranges and combinations; raise SettingsError naming the first setting off."""
    _at_least("port", s.port, 1)
    _check_groups(s)
    _at_most("port", s.port, 65535)
    _at_least("workers", s.workers, 1)
    _at_least("session_ttl_seconds", s.session_ttl_seconds, 60)
    _at_most("session_ttl_seconds", s.session_ttl_seconds, 366 * 24 * 3600)
    _at_least("argon2_time_cost", s.argon2_time_cost, 2)
    _at_least("argon2_memory_kib", s.argon2_memory_kib, 19456)
    _at_least("argon2_parallelism", s.argon2_parallelism, 1)
    _at_least("password_hash_concurrency", s.password_hash_concurrency, 1)
    _at_least("login_attempts_per_ip_per_minute", s.login_attempts_per_ip_per_minute, 1)
    _at_least("login_failures_per_account", s.login_failures_per_account, 1)
    _at_least("login_failure_window_seconds", s.login_failure_window_seconds, 1)
    _at_least("signups_per_ip_per_hour", s.signups_per_ip_per_hour, 1)
    _at_least("password_change_failures_per_account", s.password_change_failures_per_account, 1)
    _at_least("second_factor_failures_per_account", s.second_factor_failures_per_account, 1)
    _identity_limits(s)
    _scylla(s)
    _at_least("max_message_length", s.max_message_length, 1)
    _at_most("max_message_length", s.max_message_length, 1_000_000)
    _at_least("invitation_ttl_seconds", s.invitation_ttl_seconds, 60)
    _at_least("audit_retention_days", s.audit_retention_days, 1)
    _at_most("audit_retention_days", s.audit_retention_days, 36_500)
    _realtime_limits(s)
    if s.workers > 1 and s.broker_url in (None, "memory://"):
        raise SettingsError(
            "broker_url",
            "more than one worker needs a shared broker (redis://…) so that realtime "
            "events reach the subscribers of every worker",
        )
    if s.broker_url is not None and not s.broker_url.startswith(
        ("memory://", "redis://", "rediss://")
    ):
        raise SettingsError("broker_url", "must start with redis://, rediss:// or memory://")
    _realtime_history(s)
    _at_least("presence_heartbeat_seconds", s.presence_heartbeat_seconds, 1)
    if s.presence_timeout_seconds <= s.presence_heartbeat_seconds:
        raise SettingsError(
            "presence_timeout_seconds", "must be longer than presence_heartbeat_seconds"
        )
    _at_least("away_after_seconds", s.away_after_seconds, 1)
    _at_least("max_body_bytes", s.max_body_bytes, 1024)
    _files_and_search(s)
    _graphql_limits(s)
    _metrics(s)
    _mail(s)
    _ics(s)
    _at_least("http_header_timeout_seconds", s.http_header_timeout_seconds, 1)
    _check_dependencies(s)
    _at_least("max_connections", s.max_connections, 1)
    _tls(s)
    _onlyoffice(s)


def _ics(s: Settings) -> None:
    _at_least("ics_max_events", s.ics_max_events, 1)
    _at_most("ics_max_events", s.ics_max_events, 100_000)
    _at_least("ics_check_seconds", s.ics_check_seconds, 1)


def _tls(s: Settings) -> None:
    if (s.ssl_certfile is None) != (s.ssl_keyfile is None):
        raise SettingsError("ssl_certfile", "ssl_certfile and ssl_keyfile go together")
    for name in ("ssl_certfile", "ssl_keyfile"):
        path = getattr(s, name)
        if path is not None and not Path(path).is_file():
            raise SettingsError(name, f"no such file: {path}")


def _onlyoffice(s: Settings) -> None:
    # Imported here: the ONLYOFFICE group takes SettingsError from this module.
    from api.settings_onlyoffice import check_onlyoffice

    check_onlyoffice(s, s.public_url)


def _metrics(s: Settings) -> None:
    if s.metrics_bind:
        host, sep, port = s.metrics_bind.rpartition(":")
        host = host.removeprefix("[").removesuffix("]")
        if not sep or not host or not port.isdigit() or not 1 <= int(port) <= 65535:
            raise SettingsError("metrics_bind", "expected host:port, e.g. 127.0.0.1:9100")
        if int(port) == s.port and host in (s.host, "0.0.0.0", "::"):  # noqa: S104
            raise SettingsError("metrics_bind", "must differ from the main host and port")
    if s.metrics_token is not None and len(s.metrics_token) < 16:
        raise SettingsError("metrics_token", "must be at least 16 characters")


def _mail(s: Settings) -> None:
    if s.app_url and not s.app_url.startswith(("http://", "https://")):
        raise SettingsError("app_url", "must start with http:// or https://")
    if s.smtp_port is not None:
        _at_least("smtp_port", s.smtp_port, 1)
        _at_most("smtp_port", s.smtp_port, 65535)
    _at_least("smtp_timeout_seconds", s.smtp_timeout_seconds, 1)
    _at_most("smtp_timeout_seconds", s.smtp_timeout_seconds, 600)
    _at_least("mail_retry_base_seconds", s.mail_retry_base_seconds, 1)
    _at_least("mail_retry_max_seconds", s.mail_retry_max_seconds, s.mail_retry_base_seconds)
    _at_least("mail_max_age_hours", s.mail_max_age_hours, 1)
    _at_most("mail_max_age_hours", s.mail_max_age_hours, 30 * 24)
    _at_least("webhooks_connect_timeout_seconds", s.webhooks_connect_timeout_seconds, 1)
    _at_least("webhooks_timeout_seconds", s.webhooks_timeout_seconds, 1)
    _at_most("webhooks_timeout_seconds", s.webhooks_timeout_seconds, 120)
    _at_least("webhooks_retry_base_seconds", s.webhooks_retry_base_seconds, 1)
    _at_least("webhooks_retry_max_seconds", s.webhooks_retry_max_seconds, 1)
    _at_least("webhooks_max_age_hours", s.webhooks_max_age_hours, 1)
    _at_most("webhooks_max_age_hours", s.webhooks_max_age_hours, 7 * 24)
    _at_least("webhooks_disable_after_failures", s.webhooks_disable_after_failures, 1)
    _at_least("incoming_webhooks_per_minute", s.incoming_webhooks_per_minute, 1)
    if not s.smtp_host:
        return
    if not s.smtp_sender or "@" not in parseaddr(s.smtp_sender)[1]:
        raise SettingsError(
            "smtp_sender", "smtp_host needs a sender address, e.g. cove@example.org"
        )
    if any(c in s.smtp_sender for c in "\r\n"):
        raise SettingsError("smtp_sender", "must be one line")
    if s.smtp_user and s.smtp_password_file is None:
        raise SettingsError("smtp_password_file", "smtp_user needs smtp_password_file")
    if s.smtp_password_file is not None:
        if not s.smtp_user:
            raise SettingsError("smtp_user", "smtp_password_file needs smtp_user")
        if not Path(s.smtp_password_file).is_file():
            raise SettingsError("smtp_password_file", f"no such file: {s.smtp_password_file}")
    if s.smtp_ca_file is not None and not Path(s.smtp_ca_file).is_file():
        raise SettingsError("smtp_ca_file", f"no such file: {s.smtp_ca_file}")
    if s.smtp_security == "none" and s.smtp_user and not is_loopback_host(s.smtp_host):
        raise SettingsError(
            "smtp_security",
            "`none` sends the SMTP password in plain: with a user it is allowed only to a "
            "relay on this machine (localhost, 127.0.0.1, ::1); use starttls or tls",
        )


def _graphql_limits(s: Settings) -> None:
    _at_least("max_query_depth", s.max_query_depth, 2)
    _at_least("max_query_tokens", s.max_query_tokens, 50)
    _at_least("max_aliases", s.max_aliases, 1)
    _at_least("max_query_bytes", s.max_query_bytes, 1024)
    _at_least("max_query_cost", s.max_query_cost, 100)
    _at_least("query_cost_window_seconds", s.query_cost_window_seconds, 1)
    # A budget smaller than one document's limit would refuse documents the limit allows.
    _at_least("query_cost_budget", s.query_cost_budget, s.max_query_cost)
    _at_least("max_directives", s.max_directives, 1)


def _files_and_search(s: Settings) -> None:
    _at_least("search_prefix_min", s.search_prefix_min, 0)
    _at_least("search_index_batch", s.search_index_batch, 1)
    _at_most("search_index_batch", s.search_index_batch, 1000)
    _at_least("search_index_delay_ms", s.search_index_delay_ms, 0)
    _at_most("search_index_delay_ms", s.search_index_delay_ms, 10_000)
    _at_least("search_index_lease_seconds", s.search_index_lease_seconds, 1)
    if s.search_engine == "elasticsearch" and not s.elasticsearch_url:
        raise SettingsError("elasticsearch_url", "the elasticsearch engine needs an address")
    if s.search_engine == "opensearch" and not s.opensearch_url:
        raise SettingsError("opensearch_url", "the opensearch engine needs an address")
    _at_least("max_file_bytes", s.max_file_bytes, 1)
    _at_least("workspace_quota_bytes", s.workspace_quota_bytes, 1)
    _at_least("upload_url_ttl_seconds", s.upload_url_ttl_seconds, 10)
    _at_least("download_url_ttl_seconds", s.download_url_ttl_seconds, 10)
    _at_most("download_url_ttl_seconds", s.download_url_ttl_seconds, 24 * 3600)
    _at_least("share_link_max_ttl_seconds", s.share_link_max_ttl_seconds, 60)
    if s.public_url and not s.public_url.startswith(("http://", "https://")):
        raise SettingsError("public_url", "must start with http:// or https://")
    if s.blob_store == "s3" and not s.s3_bucket:
        raise SettingsError("s3_bucket", "the s3 blob store needs a bucket")


def _scylla(s: Settings) -> None:
    try:
        parse_hosts(s.scylla_hosts)
    except ValueError as error:
        raise SettingsError("scylla_hosts", f"{error}; give host:port, host:port") from None
    if len({port for _, port in parse_hosts(s.scylla_hosts)}) != 1:
        raise SettingsError("scylla_hosts", "every host must use the same port")
    _at_least("scylla_replication", s.scylla_replication, 1)
    _at_least("scylla_request_timeout_seconds", s.scylla_request_timeout_seconds, 1)
    _at_most("scylla_request_timeout_seconds", s.scylla_request_timeout_seconds, 120)
    if (s.scylla_username is None) != (s.scylla_password_file is None):
        raise SettingsError(
            "scylla_password_file", "scylla_username and scylla_password_file go together"
        )
    for name in ("scylla_password_file", "scylla_tls_ca_file"):
        path = getattr(s, name)
        if path is not None and not Path(path).is_file():
            raise SettingsError(name, f"no such file: {path}")
    if s.store == "scylla" and s.max_message_length > MAX_SCYLLA_MESSAGE_LENGTH:
        # A message, sealed, goes in one batch: ScyllaDB refuses batches past 1 MiB.
        raise SettingsError(
            "max_message_length",
            f"at most {MAX_SCYLLA_MESSAGE_LENGTH} with store = scylla (batches stay under 1 MiB)",
        )


def _realtime_limits(s: Settings) -> None:
    _at_least("realtime_rotate_seconds", s.realtime_rotate_seconds, 10)
    _at_least("realtime_rotate_events", s.realtime_rotate_events, 1)
    _at_least("realtime_queue_limit", s.realtime_queue_limit, 10)
    _at_least("realtime_max_topics", s.realtime_max_topics, 1)
    _at_least("realtime_max_sessions_per_user", s.realtime_max_sessions_per_user, 1)


def _realtime_history(s: Settings) -> None:
    _at_least("realtime_history_events", s.realtime_history_events, 10)
    _at_most("realtime_history_events", s.realtime_history_events, 100_000)
    _at_least("realtime_history_poll_seconds", s.realtime_history_poll_seconds, 1)
    _at_most("realtime_history_poll_seconds", s.realtime_history_poll_seconds, 60)
