"""What a Slack import made: each Slack channel and message of a workspace's import, by its
Slack key, with the Cove id made for it, so running the import again adds nothing twice."""

from __future__ import annotations

from collections.abc import Sequence

from persistence.declare import Column, ColumnType, Table
from persistence.store import Put, Store

_TEXT = ColumnType.TEXT

# slack_key is "channel:<Slack channel id>", "message:<Slack channel id>:<ts>" or
# "file:<Slack file id>" (whose cove_id is "<file id> <version id>").
SLACK_IMPORTS = Table(
    name="slack_imports",
    partition_key=(Column("workspace_id", _TEXT),),
    clustering=(Column("slack_key", _TEXT),),
    values=(Column("cove_id", _TEXT),),
)

SLACK_IMPORT_TABLES = (SLACK_IMPORTS,)


def channel_key(channel_id: str) -> str:
    return f"channel:{channel_id}"


def message_key(channel_id: str, ts: str) -> str:
    return f"message:{channel_id}:{ts}"


def file_key(file_id: str) -> str:
    return f"file:{file_id}"


class SlackImportRepository:
    """Slack key -> Cove id, per workspace; the row goes in the batch of what it names."""

    def __init__(self, store: Store) -> None:
        self._store = store

    @staticmethod
    def put(workspace_id: str, slack_key: str, cove_id: str) -> Put:
        return Put(
            SLACK_IMPORTS,
            {"workspace_id": workspace_id, "slack_key": slack_key, "cove_id": cove_id},
        )

    async def find_many(self, workspace_id: str, slack_keys: Sequence[str]) -> list[str | None]:
        """The Cove id of each Slack key, in order (None where none was imported)."""
        rows = await self._store.get_many(
            SLACK_IMPORTS, [{"workspace_id": workspace_id, "slack_key": k} for k in slack_keys]
        )
        return [None if row is None else str(row["cove_id"]) for row in rows]

    async def record(self, workspace_id: str, slack_key: str, cove_id: str) -> None:
        await self._store.batch([self.put(workspace_id, slack_key, cove_id)])
