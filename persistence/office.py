"""ONLYOFFICE editing sessions: who opened which version under which document key, and the
one-time download and callback tokens handed to the Document Server (kept as hashes).

A session is found by its document key (`document.key`); its `version_id` is the version it
edits, moved on by each save it makes. A token row is found by the hash of its token; a
claim row (insert-if-absent) makes a download work once and a save happen once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from persistence.declare import Column, ColumnType, Row, Table
from persistence.expiry import expiry_hour
from persistence.rows import from_row, to_row
from persistence.store import Delete, Put, Store, Update

_TEXT = ColumnType.TEXT
_BLOB = ColumnType.BLOB
_TIME = ColumnType.TIMESTAMP

OFFICE_SESSIONS = Table(
    name="office_sessions",
    partition_key=(Column("doc_key", _TEXT),),
    values=(
        Column("file_id", _TEXT),
        Column("workspace_id", _TEXT),
        Column("version_id", _TEXT),  # the version the session edits; moved on by its saves
        Column("created_at", _TIME),
        Column("expires_at", _TIME),  # its newest callback URL's; forgotten after it
    ),
)

# Who opened a session, with the login they opened it in (a save is made as them).
OFFICE_EDITORS = Table(
    name="office_editors",
    partition_key=(Column("doc_key", _TEXT),),
    clustering=(Column("user_id", _TEXT),),
    values=(
        Column("session_id", _TEXT),
        Column("can_edit", ColumnType.BOOLEAN),
        Column("opened_at", _TIME),
    ),
)

OFFICE_TOKENS = Table(
    name="office_tokens",
    partition_key=(Column("token_hash", _BLOB),),
    values=(
        Column("kind", _TEXT),  # "download" or "callback"
        Column("doc_key", _TEXT),
        Column("file_id", _TEXT),
        Column("version_id", _TEXT),
        Column("workspace_id", _TEXT),
        Column("user_id", _TEXT),
        Column("session_id", _TEXT),
        Column("expires_at", _TIME),
    ),
)

# A download token's one use ("download"); a session's save of one version and of one signed
# request (under the hash of "office-session:<document key>").
OFFICE_CLAIMS = Table(
    name="office_claims",
    partition_key=(Column("token_hash", _BLOB),),
    clustering=(Column("what", _TEXT),),
    values=(Column("claimed_at", _TIME),),
)

OFFICE_TOKEN_EXPIRY = Table(
    name="office_token_expiry",
    partition_key=(Column("hour", ColumnType.BIGINT),),
    clustering=(Column("kind", _TEXT), Column("token_hash", _BLOB)),
    values=(Column("expires_at", _TIME),),
)

# The session a force save left editing a version: who opens that version joins it.
_PAGE = 500

OFFICE_LIVE_KEYS = Table(
    name="office_live_keys",
    partition_key=(Column("version_id", _TEXT),),
    values=(Column("doc_key", _TEXT),),
)

OFFICE_TABLES = (
    OFFICE_SESSIONS,
    OFFICE_EDITORS,
    OFFICE_TOKENS,
    OFFICE_CLAIMS,
    OFFICE_TOKEN_EXPIRY,
    OFFICE_LIVE_KEYS,
)

DOWNLOAD = "download"
CALLBACK = "callback"
SESSION = "session"  # an expiry row of a whole session, keyed by `_session_partition`


def _session_partition(doc_key: str) -> bytes:
    """Where a session's expiry row and its save claims live (beside the tokens' hashes)."""
    return b"office-session:" + doc_key.encode()


def _expiry(kind: str, partition: bytes, expires_at: datetime) -> Put:
    row = {
        "hour": expiry_hour(expires_at),
        "kind": kind,
        "token_hash": partition,
        "expires_at": expires_at,
    }
    return Put(OFFICE_TOKEN_EXPIRY, row)


@dataclass(frozen=True, slots=True)
class OfficeSessionRecord:
    doc_key: str
    file_id: str
    workspace_id: str
    version_id: str
    created_at: datetime
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class OfficeEditorRecord:
    doc_key: str
    user_id: str
    session_id: str
    can_edit: bool
    opened_at: datetime


@dataclass(frozen=True, slots=True)
class OfficeTokenRecord:
    token_hash: bytes
    kind: str
    doc_key: str
    file_id: str
    version_id: str
    workspace_id: str
    user_id: str
    session_id: str
    expires_at: datetime


class OfficeRepository:
    def __init__(self, store: Store) -> None:
        self._store = store

    async def open(
        self,
        session: OfficeSessionRecord,
        editor: OfficeEditorRecord,
        tokens: list[OfficeTokenRecord],
    ) -> None:
        """The session (kept while it edits this version: a co-editor joins it, and it lives
        until the newest callback URL expires; started afresh when it ended, as a restored
        version opens again), its editor and tokens."""
        key = session.doc_key
        ops: list[Put | Delete | Update] = [
            Put(OFFICE_EDITORS, to_row(editor)),
            _expiry(SESSION, _session_partition(key), session.expires_at),
        ]
        existing = await self.session(key)
        if existing is None or existing.version_id != session.version_id:
            ops.append(Put(OFFICE_SESSIONS, to_row(session)))
        else:
            ops.append(
                Update(OFFICE_SESSIONS, {"doc_key": key}, {"expires_at": session.expires_at})
            )
        for token in tokens:
            ops.append(Put(OFFICE_TOKENS, to_row(token)))
            ops.append(_expiry(token.kind, token.token_hash, token.expires_at))
        await self._store.batch(ops)

    async def session(self, doc_key: str) -> OfficeSessionRecord | None:
        row = await self._store.get(OFFICE_SESSIONS, {"doc_key": doc_key})
        return None if row is None else from_row(OfficeSessionRecord, row)

    async def move_session(self, doc_key: str, version_id: str) -> None:
        """The session now edits `version_id` (it force-saved it), or ended ("")."""
        ops: list[Put | Delete | Update] = [
            Update(OFFICE_SESSIONS, {"doc_key": doc_key}, {"version_id": version_id})
        ]
        if version_id:
            ops.append(Put(OFFICE_LIVE_KEYS, {"version_id": version_id, "doc_key": doc_key}))
        await self._store.batch(ops)

    async def live_key(self, version_id: str) -> str | None:
        """The key of the session still editing `version_id` after force-saving it, if any."""
        row = await self._store.get(OFFICE_LIVE_KEYS, {"version_id": version_id})
        if row is None:
            return None
        session = await self.session(str(row["doc_key"]))
        return session.doc_key if session and session.version_id == version_id else None

    async def editor(self, doc_key: str, user_id: str) -> OfficeEditorRecord | None:
        row = await self._store.get(OFFICE_EDITORS, {"doc_key": doc_key, "user_id": user_id})
        return None if row is None else from_row(OfficeEditorRecord, row)

    async def token(self, token_hash: bytes) -> OfficeTokenRecord | None:
        row = await self._store.get(OFFICE_TOKENS, {"token_hash": token_hash})
        return None if row is None else from_row(OfficeTokenRecord, row)

    async def claim(self, token_hash: bytes, what: str, now: datetime) -> bool:
        """True for the one request that may use this token for `what`."""
        return await self._store.put_if_absent(
            OFFICE_CLAIMS, {"token_hash": token_hash, "what": what, "claimed_at": now}
        )

    async def release(self, token_hash: bytes, what: str) -> None:
        """Let the token be used for `what` again (the use failed through no fault of its
        holder)."""
        await self._store.delete(OFFICE_CLAIMS, {"token_hash": token_hash, "what": what})

    async def claim_save(self, doc_key: str, what: str, now: datetime) -> bool:
        """True for the one callback that may save `what` (a version, a signed request) in
        this session, whichever of its callback URLs it came to."""
        return await self.claim(_session_partition(doc_key), what, now)

    async def release_save(self, doc_key: str, what: str) -> None:
        await self.release(_session_partition(doc_key), what)

    async def forget_expired(self, hour: int) -> int:
        """Delete the tokens, and the sessions, that expired within one hour, with their
        claims (a session is kept while a later callback URL of it lives); a count."""
        forgotten = 0
        while True:  # each round deletes what it read, so the partition empties
            rows = await self._store.scan(OFFICE_TOKEN_EXPIRY, {"hour": hour}, limit=_PAGE)
            if not rows:
                return forgotten
            for row in rows:
                await self._forget(row)
                key = {"hour": hour, "kind": row["kind"], "token_hash": row["token_hash"]}
                await self._store.delete(OFFICE_TOKEN_EXPIRY, key)
            forgotten += len(rows)

    async def _forget(self, row: Row) -> None:
        partition: bytes = row["token_hash"]
        if row["kind"] != SESSION:
            await self._store.delete(OFFICE_TOKENS, {"token_hash": partition})
            await self._store.delete_partition(OFFICE_CLAIMS, {"token_hash": partition})
            return
        doc_key = partition.removeprefix(b"office-session:").decode()
        session = await self.session(doc_key)
        if session is not None and session.expires_at > row["expires_at"]:
            return  # opened again since: its newer expiry row will come
        if session is not None and session.version_id:
            await self._store.delete(OFFICE_LIVE_KEYS, {"version_id": session.version_id})
        await self._store.delete_partition(OFFICE_EDITORS, {"doc_key": doc_key})
        await self._store.delete_partition(OFFICE_CLAIMS, {"token_hash": partition})
        await self._store.delete(OFFICE_SESSIONS, {"doc_key": doc_key})
