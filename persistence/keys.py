"""Versions of each scope's data key, wrapped by the root key: table, record, repository."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from persistence.declare import Column, ColumnType, Copy, Order, Row, Table
from persistence.store import Store
from persistence.validate import MAX_LIMIT

_TEXT = ColumnType.TEXT
_BLOB = ColumnType.BLOB
_TIME = ColumnType.TIMESTAMP

DATA_KEYS = Table(
    name="data_keys",
    partition_key=(Column("scope", _TEXT),),
    clustering=(Column("version", ColumnType.BIGINT),),
    order=Order.DESC,
    values=(Column("wrapped", _BLOB), Column("created_at", _TIME)),
)

DATA_KEY_TABLES = (DATA_KEYS,)

# Every wrapped key in one partition, so a root key rotation can list them all (the store
# reads one partition at a time), each with the id of the root key that last wrapped it
# (empty for keys from before this table: the rotation then tries the keys it holds).
DATA_KEY_INDEX = Table(
    name="data_key_index",
    partition_key=(Column("shard", _TEXT),),
    clustering=(Column("scope", _TEXT), Column("version", ColumnType.BIGINT)),
    values=(Column("root_key_id", _TEXT),),
)
_SHARD = "all"


def _index_row(row: Row) -> Row:
    return {"shard": _SHARD, "scope": row["scope"], "version": row["version"], "root_key_id": ""}


DATA_KEY_INDEX_TABLES = (DATA_KEY_INDEX,)
DATA_KEY_INDEX_COPIES = (Copy(DATA_KEYS, DATA_KEY_INDEX, _index_row),)


@dataclass(frozen=True, slots=True)
class DataKeyRecord:
    """One version of a scope's data key, wrapped by the root key."""

    scope: str
    version: int
    wrapped: bytes
    created_at: datetime


_PAGE = 100


def _record(row: Row) -> DataKeyRecord:
    return DataKeyRecord(
        scope=row["scope"],
        version=row["version"],
        wrapped=row["wrapped"],
        created_at=row["created_at"],
    )


class DataKeyRepository:
    """Wrapped data keys by scope (a workspace id, say) and version."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def list_versions(self, scope: str) -> list[DataKeyRecord]:
        """Every version of the scope's key, newest first."""
        records: list[DataKeyRecord] = []
        after: tuple[int] | None = None
        while True:
            rows = await self._store.scan(DATA_KEYS, {"scope": scope}, limit=_PAGE, after=after)
            records.extend(_record(row) for row in rows)
            if len(rows) < _PAGE:
                return records
            after = (records[-1].version,)

    async def get(self, scope: str, version: int) -> DataKeyRecord | None:
        """One version of a scope's key, or None."""
        row = await self._store.get(DATA_KEYS, {"scope": scope, "version": version})
        return None if row is None else _record(row)

    async def add_if_absent(self, record: DataKeyRecord, root_key_id: str = "") -> bool:
        """Store a new key version; False if that version exists (another node made it).
        Its index entry goes first, so no stored key is ever missing from the index."""
        await self._store.put(DATA_KEY_INDEX, _entry(record.scope, record.version, root_key_id))
        return await self._store.put_if_absent(
            DATA_KEYS,
            {
                "scope": record.scope,
                "version": record.version,
                "wrapped": record.wrapped,
                "created_at": record.created_at,
            },
        )

    async def rewrap(self, record: DataKeyRecord, wrapped: bytes, root_key_id: str) -> bool:
        """Replace a key version's wrapping (same key, another root key) if it is still
        `record.wrapped`, then its index entry; False when another writer changed it first
        (read it again). A compare-and-set, as the row was made by one: on ScyllaDB a plain
        write could lose to the lightweight transaction on timestamps and never show."""
        key = {"scope": record.scope, "version": record.version}
        if not await self._store.update_if(
            DATA_KEYS, key, {"wrapped": wrapped}, {"wrapped": record.wrapped}
        ):
            return False
        await self._store.put(DATA_KEY_INDEX, _entry(record.scope, record.version, root_key_id))
        return True

    async def wrapped_by(self, scope: str, version: int) -> str:
        """The id of the root key that last wrapped this key version, if known; else ""."""
        key = {"shard": _SHARD, "scope": scope, "version": version}
        row = await self._store.get(DATA_KEY_INDEX, key)
        return "" if row is None else row["root_key_id"] or ""

    async def count(self) -> int:
        """How many keys the index lists."""
        return await self._store.count(DATA_KEY_INDEX, {"shard": _SHARD}, limit=MAX_LIMIT)

    async def index_page(
        self, limit: int, after: tuple[str, int] | None = None
    ) -> list[tuple[str, int, str]]:
        """A page of (scope, version, root key id) of every stored key, in key order."""
        rows = await self._store.scan(DATA_KEY_INDEX, {"shard": _SHARD}, limit=limit, after=after)
        return [(row["scope"], row["version"], row["root_key_id"] or "") for row in rows]


def _entry(scope: str, version: int, root_key_id: str) -> Row:
    return {"shard": _SHARD, "scope": scope, "version": version, "root_key_id": root_key_id}
