"""The settings of third-party apps (#16), a base of `Settings` kept apart for size."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


def setting_doc(text: str, *, secret: bool = False) -> dict[str, Any]:
    """A setting's metadata: its documentation, and whether it is a secret."""
    return {"doc": text, "secret": secret}


@dataclass(frozen=True)
class AppSettings:
    """`app_*` settings; `Settings` inherits them, so they load and document like the rest."""

    app_access_token_seconds: int = field(
        default=3600,
        metadata=setting_doc("Lifetime of an app's access token (`cove_app_…`), seconds."),
    )
    app_refresh_token_days: int = field(
        default=30, metadata=setting_doc("Lifetime of an app's refresh token, in days.")
    )
    app_code_seconds: int = field(
        default=60,
        metadata=setting_doc(
            "Lifetime of an authorization code from `approveAppInstall`, seconds."
        ),
    )
    apps_allow_http: bool = field(
        default=False,
        metadata=setting_doc(
            "Let apps register plain-http homepage, redirect and webhook URLs (tests only); "
            "otherwise https, and http redirect URIs on loopback hosts only."
        ),
    )
