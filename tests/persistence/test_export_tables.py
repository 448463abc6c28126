"""The export tables on every engine: their migrations (27, 29), jobs listed
newest first, the live queue, claims taken once, tokens by hash, finished jobs and lapsed
tokens forgotten by the hour, and whether a job's archive may still be being written."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from persistence.expiry import expiry_hour
from persistence.exports import (
    DOWNLOAD_CLAIM,
    DOWNLOADED,
    EXPORT_EXPIRY_TABLES,
    EXPORT_TABLES,
    QUEUED,
    RUNNING,
    ExportJobRecord,
    ExportRepository,
    archive_blob_key,
    archive_key_parts,
    is_building,
)
from persistence.migrations import MIGRATIONS
from persistence.scylla.cql import create_table_cql
from persistence.store import Store

AT = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)


def test_the_export_tables_are_a_migration_and_compile_to_cql() -> None:
    migration = next(m for m in MIGRATIONS if m.creates == EXPORT_TABLES)
    assert migration.name == "export jobs and their download tokens"
    later = next(m for m in MIGRATIONS if m.creates == EXPORT_EXPIRY_TABLES)
    assert later.name == "export tokens and finished exports by expiry"
    assert later.number == migration.number + 2  # 28 is the key rotations'
    for table in (*EXPORT_TABLES, *EXPORT_EXPIRY_TABLES):
        assert create_table_cql(table, "cove").startswith("CREATE TABLE")


def _job(job_id: str, user: str = "u") -> ExportJobRecord:
    return ExportJobRecord(job_id, user, "w", QUEUED, 0, 0, 0, None, AT, None, None, "", 0)


async def test_jobs_queue_claims_and_tokens(store: Store) -> None:
    repo = ExportRepository(store)
    await repo.add(_job("01a"))
    await repo.add(_job("01b"))
    await repo.add(_job("01c", user="other"))
    assert [j.job_id for j in await repo.of_user("u", limit=10)] == ["01b", "01a"]
    assert await repo.live(limit=10) == ["01a", "01b", "01c"]
    await repo.update("01a", state=RUNNING, attempts=1, lease_until=AT)
    job = await repo.get("01a")
    assert job is not None and job.state == RUNNING and job.attempts == 1
    assert await repo.claim("01a", DOWNLOAD_CLAIM, "n1", AT)
    assert not await repo.claim("01a", DOWNLOAD_CLAIM, "n2", AT)
    await repo.release("01a", DOWNLOAD_CLAIM)
    assert await repo.claim("01a", DOWNLOAD_CLAIM, "n2", AT)
    await repo.dequeue("01a")
    assert await repo.live(limit=10) == ["01b", "01c"]
    assert await repo.claim("01a", DOWNLOAD_CLAIM, "n3", AT)  # its claims went with it
    await repo.add_token(b"h" * 32, "01b", "s1", AT)
    assert await repo.token(b"h" * 32) == ("01b", "s1", AT)
    assert await repo.token(b"x" * 32) is None


async def test_finished_jobs_and_lapsed_tokens_are_forgotten_in_their_hour(store: Store) -> None:
    repo = ExportRepository(store)
    for job_id in ("02a", "02b"):
        await repo.add(_job(job_id))
        await repo.dequeue(job_id)
    old, young = await repo.get("02a"), await repo.get("02b")
    assert old is not None and young is not None
    await repo.finish(old, DOWNLOADED, AT, AT + timedelta(days=30))
    await repo.finish(young, DOWNLOADED, AT, AT + timedelta(days=31))
    await repo.add_token(b"t" * 32, "02a", "s1", AT + timedelta(minutes=5))
    finished = await repo.get("02a")
    assert finished is not None and (finished.state, finished.finished_at) == (DOWNLOADED, AT)
    # Nothing is due in the hours before.
    assert await repo.forget_expired(expiry_hour(AT) - 1) == 0
    assert await repo.forget_expired(expiry_hour(AT)) == 1  # the token's hour
    assert await repo.token(b"t" * 32) is None
    assert await repo.forget_expired(expiry_hour(AT + timedelta(days=30))) == 1
    assert await repo.get("02a") is None
    assert [j.job_id for j in await repo.of_user("u", limit=10)] == ["02b"]
    assert await repo.forget_expired(expiry_hour(AT + timedelta(days=30))) == 0
    assert await repo.forget_expired(expiry_hour(AT + timedelta(days=31))) == 1
    assert await repo.of_user("u", limit=10) == []


def test_an_attempt_is_building_while_current_and_under_its_lease() -> None:
    slack = timedelta(seconds=30)
    running = replace(_job("j"), state=RUNNING, lease_until=AT, attempts=2)
    assert is_building(running, 2, AT + timedelta(seconds=29), slack)
    assert not is_building(running, 2, AT + timedelta(seconds=31), slack)
    assert not is_building(running, 1, AT, slack)  # taken over by attempt 2
    assert not is_building(_job("j"), 0, AT, slack)
    assert not is_building(None, 1, AT, slack)
    assert archive_key_parts(archive_blob_key("01abc", 3)) == ("01abc", 3)
    assert archive_key_parts("drive/w/f/v") is None
    assert archive_key_parts("exports/01abc") is None
