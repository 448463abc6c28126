"""Search timing against files the caller cannot see: a guest's query, with 0 and 2,000 hidden
files whose names match it, on the embedded engine, in process.

A guest reads one shared folder (5 matching files); an owner's private folder holds N more
files that match the same word. Prints the guest's p50/p99 search time and its store reads
for each N: neither should grow with N (only the engine's scan of postings rows does).
Run: `python -m bench.search_hidden` (BENCH_HIDDEN=2000, BENCH_REPEATS=50 by default).
"""

from __future__ import annotations

import asyncio
import os
import statistics
import tempfile
import time
from pathlib import Path

from bench.accounts import ms, percentile
from persistence.sqlite.engine import SqliteStore
from resolvers import drive, invitations, search, workspaces
from resolvers.context import RequestContext
from resolvers.roles import AccessLevel, Role
from tests.accounts_support import signed_up
from tests.inprocess import build_services, plant_files
from tests.support import CountingStore

PASSWORD = "correct horse battery"


async def run(hidden: int, repeats: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = await SqliteStore.open(Path(tmp) / "cove.db")
        counting = CountingStore(store)
        # Inviting mails a link; in process, it is queued and never sent.
        services = build_services(counting)  # type: ignore[arg-type]

        def ctx(token: str) -> RequestContext:
            return RequestContext(services=services, request_id="bench", bearer_token=token)

        owner = await signed_up(ctx(""), "owner@bench.example", PASSWORD, "Owner")
        guest = await signed_up(ctx(""), "guest@bench.example", PASSWORD, "Guest")
        ws = await workspaces.create_workspace(ctx(owner.token), "Bench")
        email = await guest.user.email()
        assert email is not None
        invitation = await invitations.invite_member(ctx(owner.token), ws.id, email, Role.GUEST)
        await invitations.accept_invitation(ctx(guest.token), invitation.id)
        shared = await drive.create_folder(ctx(owner.token), ws.id, None, "shared")
        secret = await drive.create_folder(ctx(owner.token), ws.id, None, "secret")
        await drive.share_item(ctx(owner.token), shared.id, guest.user.id, None, AccessLevel.READ)
        owner_id = owner.user.id
        await plant_files(services, ws.id, shared.id, owner_id, [f"plan {n}" for n in range(5)])
        await plant_files(
            services, ws.id, secret.id, owner_id, [f"plan secret {n}" for n in range(hidden)]
        )
        timings: list[float] = []
        reads = found = 0
        for _ in range(repeats):
            counting.reads = 0
            started = time.perf_counter()
            page = await search.search(
                ctx(guest.token),
                ws.id,
                "plan",
                kinds=None,
                channel_id=None,
                author_id=None,
                since=None,
                until=None,
                first=20,
                after=None,
            )
            timings.append(time.perf_counter() - started)
            reads = counting.reads
            found = len(page.edges)
        print(
            f"hidden={hidden:>5}  p50 {ms(statistics.median(timings))}  "
            f"p99 {ms(percentile(timings, 0.99))}  store reads {reads}  results {found}",
            flush=True,
        )
        services.close()
        await store.close()


async def main() -> None:
    repeats = int(os.environ.get("BENCH_REPEATS", "50"))
    for hidden in (0, int(os.environ.get("BENCH_HIDDEN", "2000"))):
        await run(hidden, repeats)


if __name__ == "__main__":
    asyncio.run(main())
