"""Workspace key rotation (`rotateWorkspaceKey`) over a workspace of `--rows` messages, against
reading and opening those same rows once, in the same run, on the same SQLite store.

The messages are written straight into the store (as posts write them: a row, its location,
its bucket) with their text sealed under the workspace's key, so that seeding 100,000 takes
seconds. The baseline is the least a per-row pass costs: walk the message table and open
every text. The rotation then runs whole, as a node's worker runs it: the re-sealing pass, a
checking pass (which finds nothing), and the search reindex of the workspace (which reads
and indexes every message again). `--others` messages of another workspace sit in the same
tables, as they would on a shared install: the walk reads them and leaves them alone.
Run: python -m bench.workspace_rotation [--rows 100000] [--others 0]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from api.app import running_services
from api.bootstrap import init_data_dir, load_keyring
from api.settings import load_settings
from crypto.field_seal import _open_field, sealed_key_version
from persistence.ids import new_id
from persistence.key_rotations import RUNNING, KeyRotationRecord, KeyRotationRepository
from persistence.messages import CHANNEL_MESSAGES, MessageRecord, MessageRepository
from resolvers import channels, messages, workspaces
from resolvers.roles import Visibility
from resolvers.search import reindex_workspace
from resolvers.services import Services
from resolvers.workspace_keys import _Run
from tests.accounts_support import signed_up
from tests.inprocess import ctx

TEXT = "the quarterly numbers are in the shared folder, " * 4  # about 200 bytes
BATCH = 500


async def seed(services: Services, user_id: str, token: str, name: str, rows: int) -> str:
    workspace = await workspaces.create_workspace(ctx(services, token), name)
    room = await channels.create_channel(
        ctx(services, token), workspace.id, "general", Visibility.PUBLIC, None
    )
    repo = MessageRepository(services.store)
    start = datetime.now(UTC) - timedelta(days=30)
    for first in range(0, rows, BATCH):
        ops = []
        for n in range(first, min(rows, first + BATCH)):
            at = start + timedelta(seconds=n)
            message_id = new_id(at=at)
            sealed = await services.keys.seal_text(
                messages.text_ref(message_id, workspace.id), TEXT
            )
            record = MessageRecord(
                message_id, room.id, workspace.id, "", user_id, sealed, (), at, None
            )
            ops += repo.post_ops(record)
        await services.store.batch(ops)
    return workspace.id


async def read_and_open(services: Services, workspace_id: str) -> tuple[float, int]:
    """Walk the message table and open every text of the workspace (key already loaded)."""
    key = await services.keys.current(workspace_id)

    begun = time.perf_counter()
    opened = 0
    cursor = None
    while True:
        rows, cursor = await services.store.scan_table(CHANNEL_MESSAGES, limit=200, cursor=cursor)
        for row in rows:
            ref = messages.text_ref(row["message_id"], workspace_id)
            if sealed_key_version(row["text_sealed"]) == key.version:
                try:
                    _open_field(key, ref, row["text_sealed"])
                    opened += 1
                except Exception:  # another workspace's row: not ours to open
                    continue
        if cursor is None:
            return time.perf_counter() - begun, opened


async def rotate(services: Services, workspace_id: str, user_id: str) -> tuple[float, int]:
    begun = time.perf_counter()
    key = await services.keys.add_version(workspace_id)
    record = KeyRotationRecord(
        workspace_id, key.version, RUNNING, "RESEALING", user_id, services.clock()
    )
    repo = KeyRotationRepository(services.store)
    await repo.add(record)
    await _Run(services, "bench", record).run()
    done = await repo.get(workspace_id, key.version)
    assert done is not None
    assert done.state == "DONE", done
    return time.perf_counter() - begun, done.resealed


async def main(rows: int, others: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        settings = load_settings(
            None,
            environ={},
            overrides={
                "data_dir": Path(folder) / "data",
                "key_refresh_seconds": 0.05,
                "argon2_memory_kib": 19 * 1024,
                "argon2_time_cost": 2,
            },
        )
        init_data_dir(settings)
        async with running_services(settings, load_keyring(settings)) as services:
            person = await signed_up(ctx(services, None), "bench@example.org", "pw-" * 4, "B")
            begun = time.perf_counter()
            workspace = await seed(services, person.user.id, person.token, "Bench", rows)
            if others:
                await seed(services, person.user.id, person.token, "Other", others)
            print(f"seeded {rows} + {others} messages in {time.perf_counter() - begun:.1f} s")
            baseline, opened = await read_and_open(services, workspace)
            assert opened == rows, opened
            took, resealed = await rotate(services, workspace, person.user.id)
            begun = time.perf_counter()
            await reindex_workspace(services, workspace, lambda kind, count: None)
            reindex = time.perf_counter() - begun
            print(f"read and open every row: {baseline:.2f} s ({rows / baseline:,.0f} rows/s)")
            print(
                f"rotateWorkspaceKey: {took:.2f} s ({resealed} values sealed again, "
                f"{rows / took:,.0f} rows/s), {took / baseline:.1f} x baseline"
            )
            print(
                f"  of which the search reindex (cove reindex alone: {reindex:.2f} s); "
                f"re-sealing and checking: {took - reindex:.2f} s, "
                f"{(took - reindex) / baseline:.1f} x baseline"
            )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--others", type=int, default=0)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.rows, arguments.others))
