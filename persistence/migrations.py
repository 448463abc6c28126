"""Numbered schema migrations, each creating declared tables, applied in order at open."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from persistence.accounts import ACCOUNT_TABLES
from persistence.apps import APP_EXPIRY_TABLES, APP_INSTALL_INDEX_TABLES, APP_TABLES
from persistence.audit import AUDIT_TABLES
from persistence.blob_intents import BLOB_INTENT_TABLES
from persistence.calendars_tables import CALENDAR_FEED_CREATORS, CALENDAR_TABLES
from persistence.channels import CHANNEL_TABLES
from persistence.declare import Copy, Table
from persistence.drive_tables import DRIVE_TABLES, SHARE_LINK_VERSIONS
from persistence.exports import EXPORT_EXPIRY_TABLES, EXPORT_TABLES
from persistence.identity import IDENTITY_TABLES
from persistence.incoming_webhooks import INCOMING_WEBHOOK_TABLES
from persistence.key_rotations import KEY_ROTATION_TABLES
from persistence.keys import DATA_KEY_INDEX_COPIES, DATA_KEY_INDEX_TABLES, DATA_KEY_TABLES
from persistence.messages import BUCKETED_MESSAGE_COPIES, BUCKETED_MESSAGE_TABLES, MESSAGE_TABLES
from persistence.office import OFFICE_TABLES
from persistence.outbox import OUTBOX_TABLES
from persistence.persisted_queries import PERSISTED_QUERY_TABLES
from persistence.realtime import PRESENCE_TABLES, REALTIME_TABLES
from persistence.realtime_history import REALTIME_HISTORY_TABLES
from persistence.search import SEARCH_TABLES
from persistence.search_outbox import SEARCH_OUTBOX_TABLES
from persistence.slack_imports import SLACK_IMPORT_TABLES
from persistence.store import StoreError
from persistence.tasks import TASK_TABLES
from persistence.two_factor import TWO_FACTOR_TABLES
from persistence.video_rooms import VIDEO_ROOM_TABLES
from persistence.webhooks import WEBHOOK_TABLES
from persistence.workspaces import PENDING_INVITATION_TABLES, WORKSPACE_TABLES


@dataclass(frozen=True)
class Migration:
    """Migration `number` creates the tables in `creates`, then fills some from older ones."""

    number: int
    name: str
    creates: tuple[Table, ...]
    copies: tuple[Copy, ...] = ()


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "accounts", (*ACCOUNT_TABLES, *DATA_KEY_TABLES)),
    Migration(
        2,
        "workspaces, channels and messages",
        (*WORKSPACE_TABLES, *CHANNEL_TABLES, *MESSAGE_TABLES),
    ),
    Migration(3, "realtime sessions and keys", REALTIME_TABLES),
    Migration(4, "presence", PRESENCE_TABLES),
    Migration(5, "drive", DRIVE_TABLES),
    Migration(6, "calendars", CALENDAR_TABLES),
    Migration(7, "task boards", TASK_TABLES),
    Migration(8, "search index", SEARCH_TABLES),
    Migration(9, "persisted queries", PERSISTED_QUERY_TABLES),
    Migration(
        10, "share link versions and feed creators", (SHARE_LINK_VERSIONS, CALENDAR_FEED_CREATORS)
    ),
    Migration(11, "audit log", AUDIT_TABLES),
    Migration(12, "two-factor sign-in", TWO_FACTOR_TABLES),
    Migration(13, "mail outbox", OUTBOX_TABLES),
    Migration(
        14,
        "email verification, tokens sent by mail, pending invitations",
        (*IDENTITY_TABLES, *PENDING_INVITATION_TABLES),
    ),
    Migration(15, "search outbox", SEARCH_OUTBOX_TABLES),
    Migration(
        16,
        "channel messages in ten-day buckets",
        BUCKETED_MESSAGE_TABLES,
        BUCKETED_MESSAGE_COPIES,
    ),
    Migration(17, "realtime positions and history", REALTIME_HISTORY_TABLES),
    Migration(18, "upload intents", BLOB_INTENT_TABLES),
    Migration(19, "third-party apps, installs and their tokens", APP_TABLES),
    Migration(20, "outgoing and incoming webhooks", (*WEBHOOK_TABLES, *INCOMING_WEBHOOK_TABLES)),
    Migration(21, "apps installed in each workspace", APP_INSTALL_INDEX_TABLES),
    Migration(22, "video rooms", VIDEO_ROOM_TABLES),
    Migration(23, "ONLYOFFICE sessions and tokens", OFFICE_TABLES),
    Migration(24, "apps' codes and tokens by expiry", APP_EXPIRY_TABLES),
    Migration(25, "index of wrapped keys", DATA_KEY_INDEX_TABLES, DATA_KEY_INDEX_COPIES),
    Migration(26, "Slack import mappings", SLACK_IMPORT_TABLES),
    Migration(27, "export jobs and their download tokens", EXPORT_TABLES),
    Migration(28, "workspace key rotations", KEY_ROTATION_TABLES),
    Migration(29, "export tokens and finished exports by expiry", EXPORT_EXPIRY_TABLES),
)


def check_migrations(migrations: Sequence[Migration]) -> None:
    """Refuse migrations not numbered 1, 2, 3... creating one table name twice, or copying
    from a table no earlier migration made into one this migration does not make."""
    names: set[str] = set()
    for position, migration in enumerate(migrations, start=1):
        if migration.number != position:
            raise ValueError(
                f"migration {migration.name!r} is number {migration.number}, "
                f"expected {position}: numbers run 1, 2, 3... without gaps"
            )
        for copy in migration.copies:
            if copy.source.name not in names or copy.target not in migration.creates:
                raise ValueError(
                    f"migration {migration.number} copies {copy.source.name!r} into "
                    f"{copy.target.name!r}: the source must be older, the target its own"
                )
        for table in migration.creates:
            if table.name in names:
                raise ValueError(f"migration {migration.number} creates {table.name!r} again")
            names.add(table.name)


def pending(
    migrations: Sequence[Migration], applied: Sequence[tuple[int, str]]
) -> tuple[Migration, ...]:
    """The migrations still to apply, given the (number, name) pairs already recorded."""
    check_migrations(migrations)
    known = len(migrations)
    newest = max((number for number, _ in applied), default=0)
    if newest > known:
        raise StoreError(
            f"the database is at schema version {newest} but this Cove knows only up to "
            f"{known}: it was written by a newer Cove; upgrade instead of downgrading"
        )
    for position, (number, name) in enumerate(sorted(applied), start=1):
        # The first mismatch comes at a position <= known, as no number exceeds known.
        expected = migrations[position - 1].name
        if number != position or name != expected:
            raise StoreError(
                f"the database records migration {number} {name!r} where this Cove has "
                f"migration {position} {expected!r}: the database belongs to another history"
            )
    return tuple(migrations[len(applied) :])


def declared_tables(migrations: Sequence[Migration]) -> tuple[Table, ...]:
    """Every table the migrations create, in the order they create them."""
    return tuple(table for migration in migrations for table in migration.creates)
