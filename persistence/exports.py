"""Export jobs: who asked for which export, how far it got, where its sealed archive lies.

A job row is found by its id; each requester's jobs are listed from `export_jobs_by_user`;
the jobs still alive (queued, running, or ready and waiting for their download) sit in one
small partition of `export_queue`, which the worker reads. A claim row (insert-if-absent)
makes one node run each attempt and one request download the archive. A download URL is
kept only as the hash of its token (`export_tokens`). Nothing here is sensitive: ids,
states, counters and times; the archive itself is sealed in the blob store.

Nothing is kept for ever: `export_expiry` (migration 28) files each download token under the
hour it lapses in, and each finished job under the hour its history lapses in
(`export_history_days` after it was downloaded, expired or failed), so the sweeper forgets
them an hour at a time (persistence/expiry.py), as it forgets the drive's tokens.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from persistence.declare import Column, ColumnType, Row, Table
from persistence.expiry import expiry_hour, forget_hour
from persistence.store import Delete, Put, Store, Update

_TEXT = ColumnType.TEXT
_TIME = ColumnType.TIMESTAMP
_INT = ColumnType.BIGINT

EXPORT_JOBS = Table(
    name="export_jobs",
    partition_key=(Column("job_id", _TEXT),),
    values=(
        Column("requester_id", _TEXT),
        Column("workspace_id", _TEXT),  # "" for a personal export
        Column("state", _TEXT),  # QUEUED, RUNNING, READY, DOWNLOADED, EXPIRED, FAILED
        Column("objects", _INT),  # JSON documents, lines and files written so far
        Column("bytes", _INT),  # plaintext bytes written into the archive so far
        Column("attempts", _INT),
        Column("lease_until", _TIME),  # a RUNNING job not renewed by then is taken again
        Column("created_at", _TIME),
        Column("finished_at", _TIME),
        Column("expires_at", _TIME),  # set when READY: the archive is deleted then
        Column("blob_key", _TEXT),
        Column("archive_size", _INT),  # the zip's size in bytes (plaintext), once READY
    ),
)

EXPORT_JOBS_BY_USER = Table(
    name="export_jobs_by_user",
    partition_key=(Column("user_id", _TEXT),),
    clustering=(Column("job_id", _TEXT),),
    values=(Column("workspace_id", _TEXT),),
)

QUEUE = "export"
EXPORT_QUEUE = Table(
    name="export_queue",
    partition_key=(Column("queue", _TEXT),),
    clustering=(Column("job_id", _TEXT),),
    values=(Column("created_at", _TIME),),
)

# "<attempt>" for the node running that attempt, "download" for the one download.
EXPORT_CLAIMS = Table(
    name="export_claims",
    partition_key=(Column("job_id", _TEXT),),
    clustering=(Column("claim", _TEXT),),
    values=(Column("node_id", _TEXT), Column("claimed_at", _TIME)),
)

EXPORT_TOKENS = Table(
    name="export_tokens",
    partition_key=(Column("token_hash", ColumnType.BLOB),),
    values=(
        Column("job_id", _TEXT),
        Column("session_id", _TEXT),  # the login it was minted in: it ends with it
        Column("expires_at", _TIME),
    ),
)

EXPORT_TABLES = (EXPORT_JOBS, EXPORT_JOBS_BY_USER, EXPORT_QUEUE, EXPORT_CLAIMS, EXPORT_TOKENS)

# What to forget in each hour: kind "token" (token_hash: the download token's hash) or "job"
# (token_hash: the job id's bytes; user_id: its requester, whose listing it leaves).
EXPORT_EXPIRY = Table(
    name="export_expiry",
    partition_key=(Column("hour", _INT),),
    clustering=(Column("kind", _TEXT), Column("token_hash", ColumnType.BLOB)),
    values=(Column("expires_at", _TIME), Column("user_id", _TEXT)),
)

EXPORT_EXPIRY_TABLES = (EXPORT_EXPIRY,)
_TOKEN, _JOB = "token", "job"

DOWNLOAD_CLAIM = "download"
# Where archives lie in the blob store: `exports/<job id>/<attempt>`, one object per attempt,
# so a stale attempt never writes over the one that took it over.
EXPORT_PREFIX = "exports/"

QUEUED, RUNNING, READY = "QUEUED", "RUNNING", "READY"
DOWNLOADED, EXPIRED, FAILED = "DOWNLOADED", "EXPIRED", "FAILED"


@dataclass(frozen=True, slots=True)
class ExportJobRecord:
    job_id: str
    requester_id: str
    workspace_id: str
    state: str
    objects: int
    bytes: int
    attempts: int
    lease_until: datetime | None
    created_at: datetime
    finished_at: datetime | None
    expires_at: datetime | None
    blob_key: str
    archive_size: int


def _record(row: Row) -> ExportJobRecord | None:
    if row["requester_id"] is None or row["created_at"] is None:
        return None  # a row recreated by a late update of a job already forgotten
    return ExportJobRecord(
        job_id=row["job_id"],
        requester_id=row["requester_id"],
        workspace_id=row["workspace_id"] or "",
        state=row["state"] or "QUEUED",
        objects=row["objects"] or 0,
        bytes=row["bytes"] or 0,
        attempts=row["attempts"] or 0,
        lease_until=row["lease_until"],
        created_at=row["created_at"],
        finished_at=row["finished_at"],
        expires_at=row["expires_at"],
        blob_key=row["blob_key"] or "",
        archive_size=row["archive_size"] or 0,
    )


def archive_blob_key(job_id: str, attempt: int) -> str:
    return f"{EXPORT_PREFIX}{job_id}/{attempt}"


def archive_key_parts(key: str) -> tuple[str, int] | None:
    """(job id, attempt) of an archive's blob key; None for any other key."""
    parts = key.removeprefix(EXPORT_PREFIX).split("/")
    if not key.startswith(EXPORT_PREFIX) or len(parts) != 2 or not parts[1].isdigit():
        return None
    return parts[0], int(parts[1])


def is_building(
    record: ExportJobRecord | None, attempt: int, now: datetime, slack: timedelta
) -> bool:
    """Whether a worker may still be writing that attempt's archive (it is the job's current
    attempt, and its lease, with `slack` for clocks that disagree, has not run out)."""
    if record is None or record.state != RUNNING or record.lease_until is None:
        return False
    return record.attempts == attempt and record.lease_until + slack > now


class ExportRepository:
    def __init__(self, store: Store) -> None:
        self._store = store

    async def add(self, record: ExportJobRecord) -> None:
        await self._store.put(
            EXPORT_JOBS,
            {
                "job_id": record.job_id,
                "requester_id": record.requester_id,
                "workspace_id": record.workspace_id,
                "state": record.state,
                "objects": 0,
                "bytes": 0,
                "attempts": 0,
                "created_at": record.created_at,
                "blob_key": record.blob_key,
            },
        )
        await self._store.put(
            EXPORT_JOBS_BY_USER,
            {
                "user_id": record.requester_id,
                "job_id": record.job_id,
                "workspace_id": record.workspace_id,
            },
        )
        row = {"queue": QUEUE, "job_id": record.job_id, "created_at": record.created_at}
        await self._store.put(EXPORT_QUEUE, row)

    async def get(self, job_id: str) -> ExportJobRecord | None:
        row = await self._store.get(EXPORT_JOBS, {"job_id": job_id})
        return None if row is None else _record(row)

    async def of_user(self, user_id: str, *, limit: int) -> list[ExportJobRecord]:
        """The user's jobs, newest first."""
        rows = await self._store.scan(
            EXPORT_JOBS_BY_USER, {"user_id": user_id}, limit=limit, reverse=True
        )
        found = await self._store.get_many(EXPORT_JOBS, [{"job_id": r["job_id"]} for r in rows])
        return [r for r in (_record(row) for row in found if row is not None) if r is not None]

    async def live(self, *, limit: int, after: str | None = None) -> list[str]:
        """Ids of jobs not yet finished with (queued, running, or ready), oldest first."""
        rows = await self._store.scan(
            EXPORT_QUEUE, {"queue": QUEUE}, limit=limit, after=None if after is None else (after,)
        )
        return [row["job_id"] for row in rows]

    async def update(self, job_id: str, **values: object) -> None:
        await self._store.update(EXPORT_JOBS, {"job_id": job_id}, values)

    async def claim(self, job_id: str, claim: str, node_id: str, at: datetime) -> bool:
        """Take an attempt (or the download): True for the one caller whose insert landed."""
        row = {"job_id": job_id, "claim": claim, "node_id": node_id, "claimed_at": at}
        return await self._store.put_if_absent(EXPORT_CLAIMS, row)

    async def release(self, job_id: str, claim: str) -> None:
        await self._store.delete(EXPORT_CLAIMS, {"job_id": job_id, "claim": claim})

    async def dequeue(self, job_id: str) -> None:
        """The job needs the worker no more (its archive is gone, or it failed)."""
        await self._store.delete(EXPORT_QUEUE, {"queue": QUEUE, "job_id": job_id})
        await self._store.delete_partition(EXPORT_CLAIMS, {"job_id": job_id})

    async def finish(
        self, job: ExportJobRecord, state: str, at: datetime, forget_at: datetime
    ) -> None:
        """Mark the job done with (`DOWNLOADED`, `EXPIRED` or `FAILED`) and file it to be
        forgotten at `forget_at`, in one batch: no finished job is left unfiled."""
        forget = _expiry(_JOB, job.job_id.encode(), forget_at, job.requester_id)
        update = Update(EXPORT_JOBS, {"job_id": job.job_id}, {"state": state, "finished_at": at})
        await self._store.batch([update, forget])

    async def add_token(
        self, token_hash: bytes, job_id: str, session_id: str, expires_at: datetime
    ) -> None:
        row = {
            "token_hash": token_hash,
            "job_id": job_id,
            "session_id": session_id,
            "expires_at": expires_at,
        }
        await self._store.batch(
            [Put(EXPORT_TOKENS, row), _expiry(_TOKEN, token_hash, expires_at, "")]
        )

    async def forget_expired(self, hour: int) -> int:
        """Delete the download tokens that lapsed within one hour, and the jobs whose history
        lapsed within it (the job and its place in its requester's list; its archive, queue
        entry and claims went when it finished); a count."""

        def deletes(row: Row) -> list[Delete]:
            if row["kind"] == _TOKEN:
                return [Delete(EXPORT_TOKENS, {"token_hash": row["token_hash"]})]
            job_id = bytes(row["token_hash"]).decode()
            listing = {"user_id": row["user_id"] or "", "job_id": job_id}
            return [Delete(EXPORT_JOBS, {"job_id": job_id}), Delete(EXPORT_JOBS_BY_USER, listing)]

        return await forget_hour(self._store, EXPORT_EXPIRY, hour, deletes)

    async def token(self, token_hash: bytes) -> tuple[str, str, datetime] | None:
        """(job id, session id, expiry) of a download URL's token."""
        row = await self._store.get(EXPORT_TOKENS, {"token_hash": token_hash})
        if row is None or row["job_id"] is None or row["expires_at"] is None:
            return None
        return row["job_id"], row["session_id"] or "", row["expires_at"]


def _expiry(kind: str, key: bytes, expires_at: datetime, user_id: str) -> Put:
    row = {
        "hour": expiry_hour(expires_at),
        "kind": kind,
        "token_hash": key,
        "expires_at": expires_at,
        "user_id": user_id,
    }
    return Put(EXPORT_EXPIRY, row)
