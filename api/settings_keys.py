"""The root key rotation setting (#18): a group of `Settings` kept in its own module."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from api.settings_apps import setting_doc as _doc


@dataclass(frozen=True)
class KeySettings:
    """A previous root key, accepted alongside the root key while a rotation runs."""

    root_key_previous_file: Path | None = field(
        default=None,
        metadata=_doc(
            "The root key being retired (file, mode 0600), during `cove keys rotate-root` "
            "only: it opens keys it wrapped, never wraps new ones. Remove it once the "
            "rotation has finished (docs/operations.md, Key rotation)."
        ),
    )
