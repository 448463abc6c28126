"""What only the SQLite engine promises: WAL, private files, migrations, threads."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import stat
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import pytest

from persistence.accounts import ACCOUNT_TABLES, USERS
from persistence.declare import Column, ColumnType, Order, Table
from persistence.migrations import MIGRATIONS, Migration, declared_tables
from persistence.sqlite import SqliteStore
from persistence.sqlite.compile import compile_table, create_table_sql
from persistence.store import Put, StoreError

NOTES = Table(
    name="notes",
    partition_key=(Column("book", ColumnType.TEXT),),
    clustering=(Column("page", ColumnType.BIGINT), Column("line", ColumnType.BIGINT)),
    order=Order.DESC,
    values=(Column("text", ColumnType.TEXT),),
)
NEXT = len(MIGRATIONS) + 1
LATER = Migration(NEXT, "notes", (NOTES,))
HISTORY = [(migration.number, migration.name) for migration in MIGRATIONS]


def note(page: int, line: int = 0, book: str = "b", text: str = "x") -> dict[str, object]:
    return {"book": book, "page": page, "line": line, "text": text}


@contextmanager
def raw(path: Path) -> Iterator[sqlite3.Connection]:
    """A plain connection beside the store, as another process would have."""
    with closing(sqlite3.connect(path, isolation_level=None)) as connection:
        yield connection


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def recorded(path: Path) -> list[tuple[int, str, int]]:
    with raw(path) as connection:
        return connection.execute(
            "SELECT number, name, applied_at FROM cove_migrations ORDER BY number"
        ).fetchall()


def tables_in(path: Path) -> set[str]:
    with raw(path) as connection:
        rows = connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        return {name for (name,) in rows}


def write_file(path: Path, content: bytes, permissions: int) -> None:
    path.write_bytes(content)
    path.chmod(permissions)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "cove.db"


# --- the file --------------------------------------------------------------------------


async def test_wal_mode_is_on(db: Path) -> None:
    store = await SqliteStore.open(db)
    try:
        with raw(db) as connection:
            assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    finally:
        await store.close()


async def test_database_and_side_files_are_private_whatever_the_umask(db: Path) -> None:
    previous = os.umask(0)
    try:
        store = await SqliteStore.open(db, [NOTES])
        await store.put(NOTES, note(1))
    finally:
        os.umask(previous)
    try:
        side_files = [db.with_name(db.name + suffix) for suffix in ("-wal", "-shm")]
        assert all(side.exists() for side in side_files)
        assert [mode(path) for path in (db, *side_files)] == [0o600, 0o600, 0o600]
    finally:
        await store.close()


async def test_an_existing_database_file_is_made_private(db: Path) -> None:
    write_file(db, b"", 0o644)
    store = await SqliteStore.open(db)
    await store.close()
    assert mode(db) == 0o600


async def test_a_missing_directory_is_a_store_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="nowhere"):
        await SqliteStore.open(tmp_path / "nowhere" / "cove.db")


async def test_a_file_that_is_not_a_database_is_a_store_error(db: Path) -> None:
    write_file(db, b"not a database, just bytes long enough to be read as one" * 100, 0o600)
    with pytest.raises(StoreError):
        await SqliteStore.open(db)


# --- migrations ------------------------------------------------------------------------


async def test_migrations_are_recorded_once(db: Path) -> None:
    await (await SqliteStore.open(db)).close()
    first = recorded(db)
    assert [(number, name) for number, name, _ in first] == HISTORY
    await (await SqliteStore.open(db)).close()
    assert recorded(db) == first
    assert tables_in(db) == {
        "cove_migrations",
        *(table.name for table in declared_tables(MIGRATIONS)),
    }
    assert {table.name for table in ACCOUNT_TABLES} <= tables_in(db)


async def test_a_later_migration_adds_its_tables(db: Path) -> None:
    await (await SqliteStore.open(db)).close()
    store = await SqliteStore.open(db, migrations=(*MIGRATIONS, LATER))
    try:
        await store.put(NOTES, note(1))
        assert await store.get(NOTES, {"book": "b", "page": 1, "line": 0}) == note(1)
    finally:
        await store.close()
    assert [(number, name) for number, name, _ in recorded(db)] == [*HISTORY, (NEXT, "notes")]


async def test_a_database_from_a_newer_cove_is_refused(db: Path) -> None:
    await (await SqliteStore.open(db, migrations=(*MIGRATIONS, LATER))).close()
    with pytest.raises(StoreError, match="newer"):
        await SqliteStore.open(db)


async def test_a_database_with_another_history_is_refused(db: Path) -> None:
    await (await SqliteStore.open(db)).close()
    renamed = (Migration(1, "something-else", MIGRATIONS[0].creates), *MIGRATIONS[1:])
    with pytest.raises(StoreError, match="something-else"):
        await SqliteStore.open(db, migrations=renamed)


async def test_a_failing_migration_applies_nothing(db: Path) -> None:
    with raw(db) as connection:
        connection.execute("CREATE TABLE notes (anything)")
    with pytest.raises(StoreError, match="notes"):
        await SqliteStore.open(db, migrations=(*MIGRATIONS, LATER))
    # Not even the migrations table: the whole open ran as one transaction.
    assert tables_in(db) == {"notes"}


async def test_a_table_that_drifted_from_its_declaration_is_refused(db: Path) -> None:
    await (await SqliteStore.open(db, [NOTES])).close()
    changed = Table(
        name="notes",
        partition_key=NOTES.partition_key,
        clustering=NOTES.clustering,
        values=(*NOTES.values, Column("tags", ColumnType.TEXT)),
    )
    with pytest.raises(StoreError, match="does not match"):
        await SqliteStore.open(db, [changed])


@pytest.mark.parametrize(
    "migrations",
    [
        (Migration(2, "two", ()),),
        (*MIGRATIONS, Migration(NEXT + 1, "skipped one", ())),
        (*MIGRATIONS, Migration(NEXT, "again", (USERS,))),
    ],
    ids=["not-from-1", "gap", "table-twice"],
)
async def test_malformed_migrations_are_refused_before_touching_the_file(
    db: Path, migrations: tuple[Migration, ...]
) -> None:
    with pytest.raises(ValueError):
        await SqliteStore.open(db, migrations=migrations)
    assert tables_in(db) == set()


async def test_reserved_and_conflicting_table_names_are_refused(db: Path) -> None:
    reserved = Table("cove_migrations", partition_key=(Column("number", ColumnType.BIGINT),))
    with pytest.raises(ValueError, match="reserved"):
        await SqliteStore.open(db, [reserved])
    impostor = Table("users", partition_key=(Column("email", ColumnType.TEXT),))
    with pytest.raises(ValueError, match="users"):
        await SqliteStore.open(db, [impostor])


# --- statements ------------------------------------------------------------------------


def test_ddl_is_compiled_from_the_declaration() -> None:
    assert create_table_sql(NOTES) == (
        'CREATE TABLE "notes" ("book" TEXT NOT NULL, "page" INTEGER NOT NULL, '
        '"line" INTEGER NOT NULL, "text" TEXT, PRIMARY KEY ("book", "page", "line")) '
        "WITHOUT ROWID"
    )
    assert compile_table(NOTES).scan(after=True, before=False, ascending=False) == (
        'SELECT "book", "page", "line", "text" FROM "notes" WHERE "book" = ? '
        'AND ("page", "line") < (?, ?) ORDER BY "page" DESC, "line" DESC LIMIT ?'
    )


async def test_every_statement_uses_the_primary_key_without_sorting(db: Path) -> None:
    await (await SqliteStore.open(db, [NOTES])).close()
    statements = compile_table(NOTES)
    with raw(db) as connection:
        for sql in [statements.select, statements.delete, *statements.scans.values()]:
            plan = " ".join(
                str(row[-1])
                for row in connection.execute(f"EXPLAIN QUERY PLAN {sql}", [1] * sql.count("?"))
            )
            assert "USING PRIMARY KEY" in plan, (sql, plan)
            assert "TEMP B-TREE" not in plan, (sql, plan)


# --- transactions and threads ----------------------------------------------------------


async def test_a_batch_is_rolled_back_when_the_database_fails_midway(db: Path) -> None:
    store = await SqliteStore.open(db, [NOTES])
    try:
        with raw(db) as connection:
            # A trigger stands in for any failure SQLite reports after the first write.
            connection.execute(
                "CREATE TRIGGER refuse BEFORE INSERT ON notes WHEN NEW.text = 'boom' "
                "BEGIN SELECT RAISE(ABORT, 'refused by trigger'); END"
            )
        with pytest.raises(StoreError, match="refused by trigger"):
            await store.batch([Put(NOTES, note(1)), Put(NOTES, note(2, text="boom"))])
        assert await store.scan(NOTES, {"book": "b"}, limit=10) == []
        await store.batch([Put(NOTES, note(1))])
        assert len(await store.scan(NOTES, {"book": "b"}, limit=10)) == 1
    finally:
        await store.close()


async def test_writes_made_together_commit_together_and_fail_alone(db: Path) -> None:
    store = await SqliteStore.open(db, [NOTES])
    try:
        with raw(db) as connection:
            connection.execute(
                "CREATE TRIGGER refuse BEFORE INSERT ON notes WHEN NEW.text = 'boom' "
                "BEGIN SELECT RAISE(ABORT, 'refused by trigger'); END"
            )
        # Made in one turn of the loop, these reach the writer in one hand-off and share one
        # transaction; the refused batch is undone alone, and the others are answered only
        # once committed.
        outcomes = await asyncio.gather(
            *(store.batch([Put(NOTES, note(n, 0)), Put(NOTES, note(n, 1))]) for n in range(5)),
            store.batch([Put(NOTES, note(9, 0)), Put(NOTES, note(9, 1, text="boom"))]),
            *(store.put(NOTES, note(n, 2)) for n in range(5)),
            store.put_if_absent(NOTES, note(0, 0)),
            store.put_if_absent(NOTES, note(7, 0)),
            return_exceptions=True,
        )
        assert outcomes[:5] == [None] * 5 and outcomes[6:11] == [None] * 5
        assert isinstance(outcomes[5], StoreError) and "refused by trigger" in str(outcomes[5])
        assert outcomes[11:] == [False, True]
        with raw(db) as other:  # another connection sees every committed write
            pages = other.execute("SELECT page, line FROM notes ORDER BY page, line").fetchall()
        assert pages == [(n, line) for n in range(5) for line in range(3)] + [(7, 0)]
    finally:
        await store.close()


async def test_the_event_loop_runs_while_a_write_waits_for_the_lock(db: Path) -> None:
    store = await SqliteStore.open(db, [NOTES])
    try:
        await store.put(NOTES, note(0))
        with raw(db) as other:
            # Another process holds the write lock, so the batch must wait in its thread.
            other.execute("BEGIN IMMEDIATE")
            batch = asyncio.create_task(store.batch([Put(NOTES, note(n)) for n in range(5000)]))
            for _ in range(20):
                await asyncio.sleep(0.005)
            assert not batch.done()
            # Reads go on meanwhile: WAL readers do not wait for writers.
            assert await store.get(NOTES, {"book": "b", "page": 0, "line": 0}) == note(0)
            other.execute("ROLLBACK")
        await asyncio.wait_for(batch, timeout=30)
        assert len(await store.scan(NOTES, {"book": "b"}, limit=10_000)) == 5000
    finally:
        await store.close()


async def test_the_event_loop_ticks_while_a_large_batch_runs(db: Path) -> None:
    store = await SqliteStore.open(db, [NOTES])
    try:
        ops = [Put(NOTES, note(n, line, text="t" * 100)) for n in range(200) for line in range(50)]
        batch = asyncio.create_task(store.batch(ops))
        ticks = 0
        while not batch.done():
            ticks += 1
            await asyncio.sleep(0)
        await batch
        # Had the batch run on the loop, the ticker would never have seen it unfinished.
        assert ticks >= 1
    finally:
        await store.close()


async def test_many_tasks_read_concurrently(db: Path) -> None:
    store = await SqliteStore.open(db, [NOTES], readers=4)
    try:
        await store.batch(
            [
                Put(NOTES, note(page, line, book=f"b{book}"))
                for book in range(20)
                for page in range(5)
                for line in range(4)
            ]
        )
        books = [f"b{n % 20}" for n in range(100)]
        gets = [store.get(NOTES, {"book": book, "page": 2, "line": 3}) for book in books]
        scans = [store.scan(NOTES, {"book": book}, limit=7) for book in books]
        got, scanned = await asyncio.gather(asyncio.gather(*gets), asyncio.gather(*scans))
        assert got == [note(2, 3, book=book) for book in books]
        for book, rows in zip(books, scanned, strict=True):
            assert [(row["page"], row["line"]) for row in rows] == [
                (4, 3),
                (4, 2),
                (4, 1),
                (4, 0),
                (3, 3),
                (3, 2),
                (3, 1),
            ]
            assert {row["book"] for row in rows} == {book}
    finally:
        await store.close()


async def test_reader_connections_cannot_write(db: Path) -> None:
    store = await SqliteStore.open(db, [NOTES])
    try:
        with pytest.raises(StoreError, match=r"readonly|read-only"):
            await store._read("write attempt", lambda c: c.execute("DELETE FROM notes"))
    finally:
        await store.close()


async def test_a_store_answers_calls_from_another_event_loop_too(db: Path) -> None:
    """A script or test reaching the services of a running server calls the store from a
    loop of its own (asyncio.run in another thread): both loops get their answers."""
    import threading

    store = await SqliteStore.open(db, [NOTES])
    try:
        await store.put(NOTES, note(1))
        answers: list[object] = []

        def other_loop() -> None:
            async def calls() -> None:
                for line in range(50):
                    await store.put(NOTES, note(2, line))
                answers.append(await store.count(NOTES, {"book": "b"}, limit=1000))

            answers.append(asyncio.run(asyncio.wait_for(calls(), 30)))

        thread = threading.Thread(target=other_loop)
        thread.start()
        for line in range(50):  # this loop keeps the threads busy meanwhile
            await store.put(NOTES, note(3, line))
            assert await store.get(NOTES, {"book": "b", "page": 3, "line": line}) is not None
        await asyncio.to_thread(thread.join, 30)
        assert not thread.is_alive()
        seen_there, finished = answers
        assert finished is None and isinstance(seen_there, int) and seen_there >= 51
        assert await store.count(NOTES, {"book": "b"}, limit=1000) == 101
    finally:
        await store.close()
