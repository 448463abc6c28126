"""The video room settings (`jitsi_*`, docs/integrations.md): a group of `Settings` kept in its
own module, which `Settings` inherits, so the main settings module stays in its size."""

from __future__ import annotations

from dataclasses import dataclass, field

from api.settings_apps import setting_doc as _doc


@dataclass(frozen=True)
class JitsiSettings:
    """Video rooms on a Jitsi Meet server: public, or self-hosted with token authentication."""

    jitsi_enabled: bool = field(
        default=True,
        metadata=_doc(
            "Offer video rooms (`joinVideoRoom`, `rotateVideoRoom`); `false` answers them "
            "`UNAVAILABLE` with reason `FEATURE_DISABLED`."
        ),
    )
    jitsi_url: str = field(
        default="https://meet.jit.si",
        metadata=_doc(
            "Base URL of the Jitsi Meet server rooms open on (https); a room's URL is this "
            "and the room name."
        ),
    )
    jitsi_app_id: str | None = field(
        default=None,
        metadata=_doc(
            "The `app_id` of a self-hosted Jitsi's token authentication: the tokens' `iss`; "
            "needs `jitsi_app_secret`."
        ),
    )
    jitsi_app_secret: str | None = field(
        default=None,
        metadata=_doc(
            "The `app_secret` (32+ characters) Jitsi checks tokens' HS256 signature with "
            "(`COVE_JITSI_APP_SECRET_FILE`); unset: no token, rooms open to anyone with the URL.",
            secret=True,
        ),
    )
    jitsi_token_seconds: int = field(
        default=3600,
        metadata=_doc("Lifetime of a Jitsi token from `joinVideoRoom`, seconds (60 to 86400)."),
    )
