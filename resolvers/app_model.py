"""Third-party apps: the scopes an app may ask for, its token prefix, and the checks on what a
developer registers (names, URLs, scopes, webhook events)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from ipaddress import ip_address
from urllib.parse import urlsplit

from resolvers.errors import bad_input
from resolvers.notice_types import ChannelNotice, MessageNotice, WorkspaceNotice

APP_TOKEN_PREFIX = "cove_app_"  # noqa: S105 - a public marker, not a secret
REFRESH_TOKEN_PREFIX = "cove_refresh_"  # noqa: S105
CLIENT_SECRET_PREFIX = "cove_secret_"  # noqa: S105
WEBHOOK_SECRET_PREFIX = "whsec_"  # noqa: S105 - the Standard Webhooks secret form
CODE_PREFIX = "cove_code_"

MAX_APP_NAME = 80
MAX_DESCRIPTION = 1000
MAX_URL = 2000
MAX_REDIRECT_URIS = 10
MAX_APPS_PER_DEVELOPER = 100


class AppScope(StrEnum):
    """A scope an app may ask for: `<resource>:<read|write>`."""

    WORKSPACES_READ = "workspaces:read"
    WORKSPACES_WRITE = "workspaces:write"
    CHANNELS_READ = "channels:read"
    CHANNELS_WRITE = "channels:write"
    MESSAGES_READ = "messages:read"
    MESSAGES_WRITE = "messages:write"
    FILES_READ = "files:read"
    FILES_WRITE = "files:write"
    CALENDARS_READ = "calendars:read"
    CALENDARS_WRITE = "calendars:write"
    TASKS_READ = "tasks:read"
    TASKS_WRITE = "tasks:write"
    SEARCH_READ = "search:read"
    USERS_READ = "users:read"
    REALTIME_READ = "realtime:read"

    @property
    def description(self) -> str:
        return SCOPE_DESCRIPTIONS[self]


SCOPE_DESCRIPTIONS: dict[AppScope, str] = {
    AppScope.WORKSPACES_READ: "See the workspace's name and its members.",
    # Apps do not administer workspaces (schema/app_scopes.py closes every such field).
    AppScope.WORKSPACES_WRITE: "Nothing yet: reserved; apps do not change workspaces.",
    AppScope.CHANNELS_READ: "See the channels the app was added to, their names and members.",
    AppScope.CHANNELS_WRITE: "Create channels, rename them and add people to them.",
    AppScope.MESSAGES_READ: "Read the messages of the channels the app was added to.",
    AppScope.MESSAGES_WRITE: "Post, edit and react to messages as the app.",
    AppScope.FILES_READ: "See and download the workspace's files the app may reach.",
    AppScope.FILES_WRITE: "Upload files and change them as the app.",
    AppScope.CALENDARS_READ: "See calendars and their events.",
    AppScope.CALENDARS_WRITE: "Create and change calendars and events.",
    AppScope.TASKS_READ: "See task boards, lists and tasks.",
    AppScope.TASKS_WRITE: "Create and change task boards, lists and tasks.",
    AppScope.SEARCH_READ: "Search the content the app may read.",
    AppScope.USERS_READ: "See the display names of the workspace's members.",
    AppScope.REALTIME_READ: "Receive live events of what the app may read.",
}

# The events an app's webhook may subscribe to (resolvers/app_events.py): the realtime notice
# types (docs/realtime.md) of messages, channels and workspaces, but for typing, plus the
# app's own uninstall.
APP_UNINSTALLED = "app.uninstalled"
WEBHOOK_EVENTS = frozenset(
    {
        str(kind)
        for domain in (MessageNotice, ChannelNotice, WorkspaceNotice)
        for kind in domain
        if kind != ChannelNotice.TYPING
    }
    | {APP_UNINSTALLED}
)


@dataclass(frozen=True)
class AppPolicy:
    """Apps' settings (`app_*`, api/settings_apps.py)."""

    access_token_ttl: timedelta
    refresh_token_ttl: timedelta
    code_ttl: timedelta
    # Plain http for every URL an app registers (tests); else https, or http on loopback
    # for redirect URIs only (RFC 8252 §7.3).
    allow_http: bool


def parse_scopes(names: Iterable[str], *, field: str = "scopes") -> frozenset[str]:
    """The scopes named, each one Cove knows; BAD_USER_INPUT names the first it does not."""
    known = {scope.value for scope in AppScope}
    chosen = set()
    for name in names:
        if name not in known:
            raise bad_input(f"Unknown scope {name!r}; see appScopes.", field=field)
        chosen.add(name)
    return frozenset(chosen)


def scope_text(scopes: Iterable[str]) -> str:
    """Scopes as OAuth writes them: space-separated, here in a stable order."""
    return " ".join(sorted(scopes))


def scope_set(text: str) -> frozenset[str]:
    return frozenset(text.split())


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ip_address(host).is_loopback
    except ValueError:
        return False


def check_url(url: str, *, field: str, allow_http: bool, loopback_http: bool = False) -> str:
    """An absolute https URL (http when allowed) with a host and no fragment."""
    if len(url) > MAX_URL:
        raise bad_input(f"A URL is at most {MAX_URL} characters.", field=field)
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
    except ValueError:
        raise bad_input(f"{url!r} is not a URL.", field=field) from None
    if not host or parts.fragment or any(c.isspace() for c in url):
        raise bad_input(f"{url!r} is not an absolute URL without a fragment.", field=field)
    if parts.scheme == "https":
        return url
    if parts.scheme == "http" and (allow_http or (loopback_http and _loopback(host))):
        return url
    raise bad_input(f"{url!r} must use https.", field=field)


def check_redirect_uris(uris: Sequence[str], *, allow_http: bool) -> str:
    if not uris:
        raise bad_input("Register at least one redirect URI.", field="redirectUris")
    if len(uris) > MAX_REDIRECT_URIS:
        raise bad_input(
            f"Register at most {MAX_REDIRECT_URIS} redirect URIs.", field="redirectUris"
        )
    for uri in uris:
        check_url(uri, field="redirectUris", allow_http=allow_http, loopback_http=True)
    return "\n".join(dict.fromkeys(uris))


def check_webhook_events(events: Sequence[str]) -> str:
    for event in events:
        if event not in WEBHOOK_EVENTS:
            raise bad_input(f"Unknown webhook event {event!r}.", field="webhookEvents")
    return " ".join(sorted(set(events)))
