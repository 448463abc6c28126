"""The key rotation settings (#18): a group of `Settings` kept in its own module."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from api.settings_apps import setting_doc as _doc


@dataclass(frozen=True)
class KeySettings:
    """A previous root key, accepted alongside the root key while a rotation runs; and how
    workspace key rotations (`rotateWorkspaceKey`) run."""

    root_key_previous_file: Path | None = field(
        default=None,
        metadata=_doc(
            "The root key being retired (file, mode 0600), during `cove keys rotate-root` "
            "only: it opens keys it wrapped, never wraps new ones. Remove it once the "
            "rotation has finished (docs/operations.md, Key rotation)."
        ),
    )
    key_refresh_seconds: float = field(
        default=10.0,
        metadata=_doc(
            "How long a server keeps sealing with the data key version it knows before it "
            "looks for a newer one (a workspace key rotation on another server), seconds "
            "(0.05 to 600). A rotation waits this long before its checking pass."
        ),
    )
    key_rotation_poll_seconds: int = field(
        default=30,
        metadata=_doc(
            "How often the key rotation worker looks for rotations to run or resume when "
            "nothing wakes it, seconds (1 to 3600)."
        ),
    )
    key_rotation_lease_seconds: int = field(
        default=60,
        metadata=_doc(
            "A running workspace key rotation not heard of for this long is presumed dead "
            "(its server stopped) and resumed by another server where it stopped, seconds "
            "(5 to 3600)."
        ),
    )
    key_rotation_min_interval_seconds: int = field(
        default=600,
        metadata=_doc(
            "Least time between the end of a workspace key rotation and the start of the "
            "next one in that workspace (each walks the whole database), seconds (0 to "
            "86400); sooner is RATE_LIMITED with retryAfter."
        ),
    )
