"""The export settings (`export_*`, docs/export.md): a group of `Settings` kept in its own
module, which `Settings` inherits, so the main settings module stays in its size."""

from __future__ import annotations

from dataclasses import dataclass, field

from api.settings_apps import setting_doc as _doc


@dataclass(frozen=True)
class ExportSettings:
    """Self-service exports (`requestExport`) and their sealed archives."""

    export_keep_hours: int = field(
        default=24,
        metadata=_doc(
            "Hours a finished export's sealed archive is kept for its one download; it is "
            "deleted then, or at once after the download (1 to 720)."
        ),
    )
    export_poll_seconds: int = field(
        default=30,
        metadata=_doc(
            "How often the export worker looks for queued, interrupted and expired exports "
            "when nothing wakes it, seconds (1 to 3600)."
        ),
    )
    export_lease_seconds: int = field(
        default=120,
        metadata=_doc(
            "A running export not heard of for this long is presumed dead (its node stopped) "
            "and built again from the start by another worker, seconds (5 to 3600)."
        ),
    )
    export_max_running: int = field(
        default=5,
        metadata=_doc("Exports one user may have queued or running at once (1 to 100)."),
    )
    export_history_days: int = field(
        default=30,
        metadata=_doc(
            "Days a finished export (downloaded, expired or failed) stays listed in `exports` "
            "after it finished; the hourly sweep then forgets it (1 to 3650)."
        ),
    )
