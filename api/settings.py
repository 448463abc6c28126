"""One typed settings object, read once from defaults, a TOML file, `COVE_*` variables and flags.

Precedence, lowest first: field defaults, the TOML file, environment variables, command-line
flags. A secret setting may also be given as a path in `COVE_<NAME>_FILE`. A bad value stops the
start with a `SettingsError` that names the setting.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, get_type_hints

from api.settings_apps import setting_doc as _doc
from api.settings_checks import SettingsError, check_settings
from api.settings_groups import GROUPS, SettingGroups
from api.settings_values import convert

__all__ = [
    "ENV_PREFIX",
    "Settings",
    "SettingsError",
    "describe_settings",
    "load_settings",
    "settings_table",
]

ENV_PREFIX = "COVE_"


@dataclass(frozen=True)
class Settings(SettingGroups):
    """Everything Cove reads at start. Every field has a doc string in its metadata."""

    data_dir: Path = field(
        default=Path(".cove"), metadata=_doc("Data directory (embedded store, keys).")
    )
    host: str = field(default="127.0.0.1", metadata=_doc("Address to listen on."))
    port: int = field(default=8000, metadata=_doc("TCP port to listen on."))
    workers: int = field(default=1, metadata=_doc("Number of uvicorn worker processes."))
    dev: bool = field(
        default=False, metadata=_doc("Development mode: GraphiQL, introspection, suggestions.")
    )
    introspection: bool | Literal["authenticated"] | None = field(
        default=None,
        metadata=_doc(
            "Schema introspection: `true`, `false`, or `authenticated` (signed-in callers "
            "only); defaults to the value of `dev`."
        ),
    )
    graphiql: bool | None = field(
        default=None,
        metadata=_doc(
            "Serve the GraphiQL IDE (bundled, no CDN) to browsers at `/graphql`; defaults to "
            "the value of `dev`."
        ),
    )
    ssl_certfile: Path | None = field(
        default=None, metadata=_doc("TLS certificate (PEM); enables HTTPS/WSS.")
    )
    ssl_keyfile: Path | None = field(default=None, metadata=_doc("TLS private key (PEM)."))
    store: Literal["sqlite", "scylla"] = field(
        default="sqlite",
        metadata=_doc(
            "Record store engine: `sqlite` (embedded, in the data dir) or `scylla` (a ScyllaDB "
            "or Apache Cassandra cluster; see docs/operations.md)."
        ),
    )
    scylla_hosts: str = field(
        default="127.0.0.1:9042", metadata=_doc("Contact points, `host:port` separated by commas.")
    )
    scylla_keyspace: str = field(
        default="cove", metadata=_doc("Keyspace of Cove's tables (created if absent).")
    )
    scylla_consistency: Literal["LOCAL_QUORUM", "QUORUM", "EACH_QUORUM", "ALL"] = field(
        default="LOCAL_QUORUM",
        metadata=_doc("Consistency level of every read and write (a quorum or stronger)."),
    )
    scylla_replication: int = field(
        default=3,
        metadata=_doc("Replicas per datacenter when Cove creates the keyspace (1 for one node)."),
    )
    scylla_datacenter: str | None = field(
        default=None,
        metadata=_doc(
            "The local datacenter, whose replicas serve requests; default the first host's."
        ),
    )
    scylla_username: str | None = field(
        default=None, metadata=_doc("User to sign in as; needs `scylla_password_file`.")
    )
    scylla_password_file: Path | None = field(
        default=None, metadata=_doc("File holding the cluster password (read at start).")
    )
    scylla_tls_ca_file: Path | None = field(
        default=None,
        metadata=_doc("CA certificate (PEM) of the cluster's TLS; setting it turns TLS on."),
    )
    scylla_request_timeout_seconds: int = field(
        default=10, metadata=_doc("How long one request to the cluster may take.")
    )
    root_key_file: Path | None = field(
        default=None,
        metadata=_doc("Root key file (mode 0600); default `<data_dir>/keys/root.key`."),
    )
    root_key: str | None = field(
        default=None,
        metadata=_doc(
            "Root key as base64 (env COVE_ROOT_KEY only); overrides the key file.", secret=True
        ),
    )
    install_salt: str | None = field(
        default=None,
        metadata=_doc(
            "Install salt as base64; default read from `<data_dir>/keys/install.salt`.", secret=True
        ),
    )
    session_ttl_seconds: int = field(
        default=14 * 24 * 3600, metadata=_doc("Lifetime of a login session, in seconds.")
    )
    argon2_time_cost: int = field(default=3, metadata=_doc("Argon2id passes (at least 2)."))
    argon2_memory_kib: int = field(
        default=65536, metadata=_doc("Argon2id memory in KiB (at least 19456).")
    )
    argon2_parallelism: int = field(default=4, metadata=_doc("Argon2id lanes (at least 1)."))
    password_hash_concurrency: int = field(
        default=4, metadata=_doc("Password hashes computed at once; bounds memory under load.")
    )
    login_attempts_per_ip_per_minute: int = field(
        default=30, metadata=_doc("Sign-in attempts allowed per client address per minute.")
    )
    login_failures_per_account: int = field(
        default=10, metadata=_doc("Failed sign-ins per email before it is paused for the window.")
    )
    login_failure_window_seconds: int = field(
        default=900, metadata=_doc("Window over which failed sign-ins per email are counted.")
    )
    signups_per_ip_per_hour: int = field(
        default=20, metadata=_doc("Accounts created per client address per hour.")
    )
    password_change_failures_per_account: int = field(
        default=5,
        metadata=_doc(
            "Wrong current passwords `changePassword` takes per account in "
            "`login_failure_window_seconds` before it is refused."
        ),
    )
    second_factor_failures_per_account: int = field(
        default=5,
        metadata=_doc(
            "Wrong two-factor codes (TOTP or recovery) taken per account in "
            "`login_failure_window_seconds` before more are refused."
        ),
    )
    token_failures_per_ip: int = field(
        default=20,
        metadata=_doc(
            "Wrong, expired or spent links sent by mail (verification, password reset, email "
            "change, invitation) taken per client address in `login_failure_window_seconds`; "
            "refused `/oauth/token` and `/oauth/revoke` requests are counted apart, to the same "
            "limit."
        ),
    )
    mail_requests_per_ip_per_hour: int = field(
        default=30,
        metadata=_doc(
            "Password-reset and verification mails one client address may ask for per hour."
        ),
    )
    mails_per_address_per_hour: int = field(
        default=10,
        metadata=_doc(
            "Mails that requests may cause to one email address per hour (sign-up, reset, "
            "email change, verification); more are refused with RATE_LIMITED."
        ),
    )
    max_message_length: int = field(
        default=40_000, metadata=_doc("Longest message text, in characters.")
    )
    invitation_ttl_seconds: int = field(
        default=7 * 24 * 3600, metadata=_doc("How long an invitation to a workspace stays valid.")
    )
    audit_retention_days: int = field(
        default=365,
        metadata=_doc(
            "Days audit events are kept; the hourly sweeper deletes older ones (1 to 36,500)."
        ),
    )
    broker_url: str | None = field(
        default=None,
        metadata=_doc(
            "Realtime broker: unset for in-process (one node), `redis://host:6379/0` for many.",
            secret=True,
        ),
    )
    realtime_rotate_seconds: int = field(
        default=300, metadata=_doc("A subscriber's key changes after at most this many seconds.")
    )
    realtime_rotate_events: int = field(
        default=10_000, metadata=_doc("A subscriber's key changes after at most this many events.")
    )
    realtime_queue_limit: int = field(
        default=1_000, metadata=_doc("Events queued for one subscriber before it is closed.")
    )
    realtime_max_topics: int = field(default=100, metadata=_doc("Topics in one subscription."))
    realtime_history_events: int = field(
        default=1_000,
        metadata=_doc(
            "Notices kept (sealed) per topic, for subscribers that resume or missed some; "
            "further back they get a `resync` event (10 to 100,000)."
        ),
    )
    realtime_history_poll_seconds: int = field(
        default=1,
        metadata=_doc(
            "How often a node compares its subscribers' positions with the store's, to "
            "deliver from the history what the broker lost (1 to 60)."
        ),
    )
    realtime_max_sessions_per_user: int = field(
        default=20, metadata=_doc("Open realtime sessions per user.")
    )
    presence_heartbeat_seconds: int = field(
        default=30, metadata=_doc("How often a node records who is subscribed (presence).")
    )
    presence_timeout_seconds: int = field(
        default=90, metadata=_doc("No heartbeat for this long: the person is OFFLINE.")
    )
    away_after_seconds: int = field(
        default=300, metadata=_doc("Subscribed but idle for this long: the person is AWAY.")
    )
    blob_store: Literal["local", "s3"] = field(
        default="local",
        metadata=_doc("Where sealed file contents go: `local` (a directory) or `s3`."),
    )
    blob_dir: Path | None = field(
        default=None,
        metadata=_doc("Directory of the local blob store; default `<data_dir>/blobs`."),
    )
    s3_endpoint_url: str | None = field(
        default=None,
        metadata=_doc("S3 endpoint (MinIO, Swift s3api); unset for AWS's default endpoints."),
    )
    s3_region: str | None = field(default=None, metadata=_doc("S3 region, e.g. `eu-west-1`."))
    s3_bucket: str | None = field(default=None, metadata=_doc("S3 bucket holding sealed files."))
    s3_access_key_id: str | None = field(
        default=None, metadata=_doc("S3 access key id.", secret=True)
    )
    s3_secret_access_key: str | None = field(
        default=None, metadata=_doc("S3 secret access key.", secret=True)
    )
    s3_timeout_seconds: int = field(
        default=5, metadata=_doc("Connect and read timeout of one S3 request (tried twice).")
    )
    redis_timeout_seconds: int = field(
        default=1, metadata=_doc("Connect and answer timeout of one Redis command.")
    )
    search_timeout_seconds: int = field(
        default=10, metadata=_doc("Timeout of one Elasticsearch / OpenSearch request.")
    )
    ready_timeout_seconds: int = field(
        default=2, metadata=_doc("`/ready` counts a backend that has not answered by then as down.")
    )
    min_free_bytes: int = field(
        default=64 * 1024**2,
        metadata=_doc(
            "Below this many free bytes the data dir's or local blob root's volume counts as "
            "full: `/ready` is red, writes other than deletes are refused (docs/operations.md)."
        ),
    )
    breaker_failures: int = field(
        default=5, metadata=_doc("Failures in a row after which S3 or search is refused at once.")
    )
    breaker_reset_seconds: int = field(
        default=10, metadata=_doc("How long a tripped breaker refuses before a trial call.")
    )
    shutdown_grace_seconds: int = field(
        default=20, metadata=_doc("On SIGTERM, requests still running after this are cut.")
    )
    max_file_bytes: int = field(
        default=10 * 1024**3, metadata=_doc("Largest file (one version) accepted, bytes.")
    )
    workspace_quota_bytes: int = field(
        default=100 * 1024**3,
        metadata=_doc("Bytes of files (every version, trash included) one workspace may hold."),
    )
    upload_url_ttl_seconds: int = field(
        default=3600, metadata=_doc("How long an upload URL may be started.")
    )
    download_url_ttl_seconds: int = field(
        default=300, metadata=_doc("How long a download URL answers.")
    )
    share_link_max_ttl_seconds: int = field(
        default=90 * 24 * 3600, metadata=_doc("Longest lifetime of a public share link.")
    )
    public_url: str = field(
        default="",
        metadata=_doc("Base of the upload, download and share URLs handed out; empty: relative."),
    )
    search_engine: Literal["embedded", "elasticsearch", "opensearch"] = field(
        default="embedded",
        metadata=_doc(
            "Search index: `embedded` (tables in the store), `elasticsearch` or `opensearch`."
        ),
    )
    elasticsearch_url: str | None = field(
        default=None,
        metadata=_doc("Elasticsearch address, e.g. `http://127.0.0.1:9200`.", secret=True),
    )
    elasticsearch_api_key: str | None = field(
        default=None, metadata=_doc("Elasticsearch API key, if the cluster needs one.", secret=True)
    )
    elasticsearch_index_prefix: str = field(
        default="cove-search", metadata=_doc("Name (prefix) of Cove's Elasticsearch index.")
    )
    opensearch_url: str | None = field(
        default=None,
        metadata=_doc(
            "OpenSearch address, e.g. `http://127.0.0.1:9200` (credentials in it if needed).",
            secret=True,
        ),
    )
    opensearch_index_prefix: str = field(
        default="cove-search", metadata=_doc("Name (prefix) of Cove's OpenSearch index.")
    )
    search_prefix_min: int = field(
        default=3, metadata=_doc("Shortest word start indexed (`rep` finds `report`); 0: none.")
    )
    search_index_batch: int = field(
        default=500, metadata=_doc("Search outbox entries a node indexes at a time (1 to 1,000).")
    )
    search_index_delay_ms: int = field(
        default=50, metadata=_doc("Pause before indexing new writes, so one batch gathers many.")
    )
    search_index_lease_seconds: int = field(
        default=30, metadata=_doc("How long a node keeps a search outbox shard it claimed.")
    )
    max_body_bytes: int = field(
        default=1024 * 1024, metadata=_doc("Largest GraphQL request body, bytes.")
    )
    max_query_depth: int = field(default=12, metadata=_doc("Deepest selection nesting allowed."))
    max_query_tokens: int = field(
        default=2000, metadata=_doc("Most lexical tokens in one document.")
    )
    max_aliases: int = field(default=20, metadata=_doc("Most field aliases in one document."))
    max_query_bytes: int = field(
        default=64 * 1024,
        metadata=_doc("Longest GraphQL document, in bytes (comments count); refused beyond."),
    )
    max_query_cost: int = field(
        default=10_000,
        metadata=_doc(
            "Highest worst-case cost of one document (fields x page sizes); refused beyond."
        ),
    )
    query_cost_budget: int = field(
        default=2_000_000,
        metadata=_doc(
            "Cost points each account (or anonymous address) may spend per budget window."
        ),
    )
    query_cost_window_seconds: int = field(
        default=3600, metadata=_doc("Length of the query-cost budget window, in seconds.")
    )
    persisted_queries: Literal["off", "automatic", "only"] = field(
        default="automatic",
        metadata=_doc(
            "`automatic`: clients may send a document's SHA-256 instead of its text (APQ); "
            "`only`: run only documents registered with `cove queries register`; `off`."
        ),
    )
    max_directives: int = field(
        default=50, metadata=_doc("Most directives (`@include`, `@skip`, …) in one document.")
    )
    metrics_bind: str = field(
        default="",
        metadata=_doc(
            "Serve `/metrics` on its own `host:port` (e.g. `127.0.0.1:9100`), not the main "
            "port; empty: on the main port."
        ),
    )
    metrics_token: str | None = field(
        default=None,
        metadata=_doc(
            "Bearer token `/metrics` requires (16+ characters; `COVE_METRICS_TOKEN_FILE`); "
            "unset: none.",
            secret=True,
        ),
    )
    ics_max_events: int = field(
        default=1000, metadata=_doc("Most events (VEVENTs, changed occurrences too) in one .ics.")
    )
    ics_check_seconds: int = field(
        default=10,
        metadata=_doc("Longest time reading and checking one .ics import may take, in seconds."),
    )
    http_header_timeout_seconds: int = field(
        default=10,
        metadata=_doc(
            "A connection whose request line and headers have not all arrived this many seconds "
            "after it opened (or after its last response) is closed."
        ),
    )
    max_connections: int = field(
        default=10_000,
        metadata=_doc(
            "Open connections (realtime sockets included) and running requests per worker; "
            "beyond it requests get 503."
        ),
    )
    smtp_host: str | None = field(
        default=None,
        metadata=_doc(
            "SMTP server for outbound mail (docs/mail.md); unset: no mail (in `dev`, mail is "
            "written to the log instead), and what needs mail is refused with `UNAVAILABLE`."
        ),
    )
    smtp_port: int | None = field(
        default=None,
        metadata=_doc("SMTP port; default 587 for `starttls`, 465 for `tls`, 25 for `none`."),
    )
    smtp_security: Literal["starttls", "tls", "none"] = field(
        default="starttls",
        metadata=_doc(
            "`starttls` (required, never falls back to plain), `tls` (implicit TLS), or `none` "
            "(plain; only for a relay on this machine: refused with credentials to another host)."
        ),
    )
    smtp_user: str | None = field(
        default=None, metadata=_doc("SMTP user to sign in as; needs `smtp_password_file`.")
    )
    smtp_password_file: Path | None = field(
        default=None,
        metadata=_doc("File holding the SMTP password (read at start; never a plain setting)."),
    )
    smtp_sender: str | None = field(
        default=None,
        metadata=_doc(
            "From address of Cove's mail, e.g. `Cove <cove@example.org>`; required with "
            "`smtp_host`."
        ),
    )
    smtp_timeout_seconds: int = field(
        default=30, metadata=_doc("Timeout of each step of an SMTP exchange, in seconds.")
    )
    smtp_ca_file: Path | None = field(
        default=None,
        metadata=_doc(
            "CA certificates (PEM) the SMTP server's certificate is checked against (a "
            "private CA); unset: the system's."
        ),
    )
    app_url: str = field(
        default="",
        metadata=_doc(
            "Base URL of the client app that opens links sent by mail (verify-email, "
            "reset-password, accept-invitation, confirm-email-change); defaults to "
            "`public_url`, then to http://127.0.0.1:8000."
        ),
    )
    mail_retry_base_seconds: int = field(
        default=15, metadata=_doc("Wait before retrying a mail not taken; doubled at each failure.")
    )
    mail_retry_max_seconds: int = field(
        default=3600, metadata=_doc("Longest wait between two attempts to send one mail.")
    )
    mail_max_age_hours: int = field(
        default=72,
        metadata=_doc("A mail not sent this many hours after it was queued is dropped (logged)."),
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = field(
        default="INFO", metadata=_doc("Log level.")
    )

    @property
    def allow_introspection(self) -> bool | Literal["authenticated"]:
        return self.dev if self.introspection is None else self.introspection

    @property
    def serve_graphiql(self) -> bool:
        return self.dev if self.graphiql is None else self.graphiql

    @property
    def resolved_app_url(self) -> str:
        return (self.app_url or self.public_url or "http://127.0.0.1:8000").rstrip("/")

    @property
    def keys_dir(self) -> Path:
        return self.data_dir / "keys"

    @property
    def resolved_root_key_file(self) -> Path:
        return self.root_key_file or self.keys_dir / "root.key"

    @property
    def install_salt_file(self) -> Path:
        return self.keys_dir / "install.salt"

    @property
    def resolved_blob_dir(self) -> Path:
        return self.blob_dir or self.data_dir / "blobs"

    @property
    def database_file(self) -> Path:
        return self.data_dir / "cove.db"

    def validate(self) -> Settings:
        """Check ranges and combinations (api/settings_checks.py); return self so calls chain."""
        check_settings(self)
        return self

    def as_environment(self) -> dict[str, str]:
        """Render as `COVE_*` variables, so worker processes rebuild the same settings."""
        env: dict[str, str] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if value is None:
                continue
            text = ("true" if value else "false") if isinstance(value, bool) else str(value)
            env[ENV_PREFIX + f.name.upper()] = text
        return env


def load_settings(
    config_file: Path | None = None,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, object] | None = None,
) -> Settings:
    """Build and validate the settings from a TOML file, the environment and explicit overrides."""
    env = os.environ if environ is None else environ
    if config_file is None and env.get(ENV_PREFIX + "CONFIG"):
        config_file = Path(env[ENV_PREFIX + "CONFIG"])
    fields = {f.name: f for f in dataclasses.fields(Settings)}
    hints = get_type_hints(Settings)
    values: dict[str, object] = {}

    if config_file is not None:
        try:
            document = tomllib.loads(Path(config_file).read_text(encoding="utf-8"))
        except OSError as exc:
            raise SettingsError("config", f"cannot read {config_file}: {exc.strerror}") from None
        except tomllib.TOMLDecodeError as exc:
            raise SettingsError("config", f"{config_file} is not valid TOML: {exc}") from None
        for key, raw in document.items():
            if key not in fields:
                raise SettingsError(key, f"unknown setting in {config_file}")
            if fields[key].metadata.get("secret"):
                raise SettingsError(
                    key, f"secrets are not read from the config file; use COVE_{key.upper()}_FILE"
                )
            values[key] = convert(key, hints[key], raw)

    for name, f in fields.items():
        variable = ENV_PREFIX + name.upper()
        if variable in env:
            values[name] = convert(name, hints[name], env[variable])
        file_variable = variable + "_FILE"
        has_file_field = name + "_file" in fields
        if f.metadata.get("secret") and not has_file_field and file_variable in env:
            secret_path = Path(env[file_variable])
            try:
                values[name] = secret_path.read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise SettingsError(name, f"cannot read {secret_path}: {exc.strerror}") from None

    for name, raw in (overrides or {}).items():
        if raw is None:
            continue
        if name not in fields:
            raise SettingsError(name, "unknown setting")
        values[name] = raw if not isinstance(raw, str) else convert(name, hints[name], raw)

    return Settings(**values).validate()  # type: ignore[arg-type]


def describe_settings() -> list[tuple[str, str, str]]:
    """Name, default and documentation of every setting, for the docs and `cove --help`."""
    rows = []
    # The groups Settings inherits (api/settings_groups.py) come last.
    inherited = {f.name for group in GROUPS for f in dataclasses.fields(group)}
    for f in sorted(dataclasses.fields(Settings), key=lambda f: f.name in inherited):
        default = f.default if f.default is not dataclasses.MISSING else ""
        rows.append((f.name, str(default), str(f.metadata["doc"])))
    return rows


def settings_table() -> str:
    """The settings as the Markdown table of docs/configuration.md (`make docs` rewrites it)."""
    secret = {f.name for f in dataclasses.fields(Settings) if f.metadata.get("secret")}
    rows = ["| setting | default | meaning |", "|---|---|---|"]
    for name, default, doc in describe_settings():
        shown = default if default not in ("", "None") else "—"
        rows.append(f"| `{name}` | `{shown}` | {doc}{' *secret*' if name in secret else ''} |")
    return "\n".join(rows) + "\n"
