"""The ONLYOFFICE settings (`onlyoffice_*`): a group of `Settings` kept in its own module,
which `Settings` inherits, so the main settings module stays in its size."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlsplit

from api.settings_apps import setting_doc as _doc
from api.settings_checks import SettingsError

# The shortest JWT secret accepted: HS256 with fewer than 32 bytes is guessable offline.
MIN_JWT_SECRET_LENGTH = 32


@dataclass(frozen=True)
class OnlyofficeSettings:
    """Document editing through an ONLYOFFICE Document Server (docs/integrations.md)."""

    onlyoffice_enabled: bool = field(
        default=False,
        metadata=_doc(
            "Offer `openDocument` and the document server's download and callback routes; "
            "needs `onlyoffice_url` and `onlyoffice_jwt_secret`."
        ),
    )
    onlyoffice_url: str | None = field(
        default=None,
        metadata=_doc(
            "The Document Server's address as browsers reach it, e.g. "
            "`https://docs.example.com/`; edited files are fetched from its origin only."
        ),
    )
    onlyoffice_jwt_secret: str | None = field(
        default=None,
        metadata=_doc(
            "The Document Server's JWT secret (its `services.CoAuthoring.secret`, "
            f"`JWT_SECRET` in its container), at least {MIN_JWT_SECRET_LENGTH} characters.",
            secret=True,
        ),
    )
    onlyoffice_public_url: str | None = field(
        default=None,
        metadata=_doc(
            "Cove's address as the Document Server reaches it (download and callback URLs); "
            "defaults to `public_url`."
        ),
    )
    onlyoffice_download_seconds: int = field(
        default=300,
        metadata=_doc("Lifetime of the one-time URL the Document Server fetches a file by."),
    )
    onlyoffice_session_hours: int = field(
        default=24,
        metadata=_doc("How long after opening a document its save callback is accepted."),
    )
    onlyoffice_max_document_bytes: int = field(
        default=100 * 1024 * 1024,
        metadata=_doc("Largest document opened in, or saved from, the editor."),
    )
    onlyoffice_timeout_seconds: int = field(
        default=60,
        metadata=_doc(
            "Longest wait on the Document Server when fetching a saved document (to connect, "
            "or for the next bytes)."
        ),
    )
    onlyoffice_allow_private: bool = field(
        default=False,
        metadata=_doc(
            "Let the Document Server be on a private or loopback address (a server in the "
            "same network; tests). Saved files still come from its origin only."
        ),
    )


def _origin(name: str, url: str | None) -> None:
    parts = urlsplit(url or "")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SettingsError(name, "must be an http(s) URL with a host")
    if parts.username is not None or parts.password is not None:
        raise SettingsError(name, "must not carry credentials")


def check_onlyoffice(s: OnlyofficeSettings, public_url: str) -> None:
    """Refuse an enabled integration without its server or secret, or with bad values;
    `public_url` is Cove's, the default of `onlyoffice_public_url`."""
    for name in (
        "onlyoffice_download_seconds",
        "onlyoffice_session_hours",
        "onlyoffice_max_document_bytes",
        "onlyoffice_timeout_seconds",
    ):
        if getattr(s, name) < 1:
            raise SettingsError(name, f"must be at least 1, got {getattr(s, name)}")
    if s.onlyoffice_download_seconds > 3600:
        raise SettingsError("onlyoffice_download_seconds", "must be at most 3600")
    if not s.onlyoffice_enabled:
        return
    _origin("onlyoffice_url", s.onlyoffice_url)
    secret = s.onlyoffice_jwt_secret or ""
    if len(secret) < MIN_JWT_SECRET_LENGTH:
        raise SettingsError(
            "onlyoffice_jwt_secret",
            f"ONLYOFFICE needs a JWT secret of at least {MIN_JWT_SECRET_LENGTH} characters "
            "(COVE_ONLYOFFICE_JWT_SECRET or COVE_ONLYOFFICE_JWT_SECRET_FILE), the one the "
            "Document Server checks",
        )
    if s.onlyoffice_public_url is not None or not public_url:
        # The Document Server needs absolute URLs to fetch and call back.
        _origin("onlyoffice_public_url", s.onlyoffice_public_url)
