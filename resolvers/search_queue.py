"""The search outbox's drainer: indexes what the store says is waiting, on any node.

Resolvers write an outbox entry (`persistence/search_outbox.py`) in the same batch as the
message, file, event or task it names, so nothing is acknowledged without it. Each node runs
a `SearchDrainer`: it claims the outbox shards it can (`put_if_absent` on a claim row per
shard and lease slot), reads their waiting entries oldest first, rebuilds each named
document from the record as it is now (through `load`, given by the layer that can open
every kind) and writes them to the search engine in batches, then deletes the entries. An
entry whose record is gone removes its document. A node that dies leaves its entries and
its claims: the next node to claim the shard after the lease indexes them. Documents are
rebuilt from the records, so an entry applied twice, or two nodes briefly on one shard at a
slot's edge, leave the index as the records are.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from integrations.search import SearchDocument, SearchEngine
from integrations.search.base import MAX_DOCUMENTS_PER_CALL, SearchUnavailable
from persistence.ids import new_id
from persistence.search_outbox import (
    BUCKET_SECONDS,
    SHARDS,
    OutboxEntry,
    SearchOutboxRepository,
    bucket_of,
)
from persistence.timestamps import to_millis

log = logging.getLogger("cove.search")

# How often a node looks for entries it was not woken for (other nodes', retries); no
# setting controls it.
INDEX_POLL_SECONDS = 5.0
# A bucket is written only while it is current; once it ended this long ago (room for a
# late batch and for clocks that differ between nodes), a drained bucket stays empty and the
# shard's cursor moves past it.
SETTLE_SECONDS = 120.0
# Where a shard's cursor starts when none was ever recorded: a day back.
LOOKBACK_BUCKETS = 24 * 3600 // BUCKET_SECONDS
# Buckets read in one pass, however far behind a cursor is.
MAX_BUCKETS_PER_PASS = 64
# Passes of one `drain` call: it returns, and the next wake or poll goes on.
MAX_PASSES = 1000
# The longest a search waits for its node's writes to be indexed.
FLUSH_SECONDS = 2.0

# (workspace id, kind, raw ids) -> each one's document as its record is now, or None when
# the record is gone (its document is then removed).
LoadDocuments = Callable[[str, str, Sequence[str]], Awaitable[list[SearchDocument | None]]]


@dataclass(frozen=True)
class IndexPolicy:
    """The drainer's batch, pause and lease (settings `search_index_*`, `api/policies.py`)."""

    batch: int  # entries indexed at a time (at most the engines' 1,000 per call)
    delay_seconds: float  # pause after a wake, so that one batch gathers concurrent writes
    lease_seconds: float  # how long a claim on a shard lasts
    poll_seconds: float = INDEX_POLL_SECONDS


class SearchDrainer:
    """Drains the search outbox into the engine; `start`/`stop` with the app."""

    def __init__(
        self,
        outbox: SearchOutboxRepository,
        engine: SearchEngine,
        policy: IndexPolicy,
        clock: Callable[[], datetime],
        load: LoadDocuments | None = None,
    ) -> None:
        self.node_id = new_id()
        self.outbox = outbox
        self._engine = engine
        self._policy = policy
        self._clock = clock
        self._load = load
        self._held: dict[int, set[int]] = {}  # shard -> lease slots this node claimed
        self._refused: set[tuple[int, int]] = set()  # (shard, slot) another node holds
        self._cursors: dict[int, int] = {}  # shard -> oldest bucket that may hold entries
        self._lock = asyncio.Lock()  # held for one pass at a time: a flush can go between
        self._wake = asyncio.Event()
        # Wakes counted (each one after entries were written) and the count the last complete
        # pass began at: a flush waits until every wake before it was passed.
        self._woken = 0
        self._passed = 0
        self._noted: set[int] = set()  # buckets this node queued in since its last drain
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self.applied = 0  # entries this node has indexed or removed (for tests and metrics)

    def bind(self, load: LoadDocuments) -> None:
        """Give the drainer the loader that opens records into documents."""
        self._load = load

    def note(self, bucket: int) -> None:
        """An entry is being queued in `bucket` on this node: drains look there even when a
        cursor has passed it (a clock moved back, a cursor never recorded)."""
        self._noted.add(bucket)

    def wake(self) -> None:
        """Something was queued on this node: drain soon, and before this node's searches."""
        self._woken += 1
        self._wake.set()

    async def flush(self) -> None:
        """Index what this node queued before a search on it, so it finds what it wrote.
        Waits for a pass under way, then reads only the buckets this node wrote in (not a
        cursor's catch-up); behind a long backlog the search waits at most `FLUSH_SECONDS`
        (the drainer goes on)."""
        target = self._woken
        if self._passed >= target or self._load is None:
            return
        try:
            async with asyncio.timeout(FLUSH_SECONDS):
                while self._passed < target:
                    async with self._lock:
                        if self._passed < target:
                            await self._own_pass()
        except TimeoutError:
            log.info("search outbox backlog: a search did not wait for all of it")

    # The worker

    def start(self) -> None:
        if self._task is None and self._load is not None:
            self._stopping = False
            self._task = asyncio.create_task(self.run(), name="cove-search-index")

    async def stop(self, grace_seconds: float = 5.0) -> None:
        """Index what waits (up to `grace_seconds`), then give up this node's claims; what is
        left stays in the outbox for the next node."""
        task, self._task = self._task, None
        if task is None:
            return
        self._stopping = True
        self._wake.set()
        done, _ = await asyncio.wait({task}, timeout=grace_seconds)
        if not done:
            task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass
        except Exception:
            log.warning("the search drainer failed while stopping", exc_info=True)
        try:
            await self.outbox.release([(s, k) for s, slots in self._held.items() for k in slots])
        except Exception:  # the lease frees them later
            log.debug("could not release search outbox claims", exc_info=True)
        self._held.clear()

    async def run(self) -> None:
        """Drain until stopped: at once (what earlier runs left), when woken, and every
        `poll_seconds`; a last time when stopping."""
        while True:
            self._wake.clear()
            try:
                await self.drain()
            except Exception:
                log.warning("draining the search outbox failed; will try again", exc_info=True)
            if self._stopping:
                return
            try:
                async with asyncio.timeout(self._policy.poll_seconds):
                    await self._wake.wait()
            except TimeoutError:
                pass
            if self._policy.delay_seconds > 0 and not self._stopping:
                await asyncio.sleep(self._policy.delay_seconds)

    async def drain(self) -> int:
        """Index what waits in every shard this node holds or can claim, until those are
        empty (bounded); returns how many entries were applied. The lock is taken for each
        pass, so that a search's flush waits for one pass, not for a long catch-up."""
        if self._load is None:
            return 0
        noted: set[int] = set()
        total = 0
        for _ in range(MAX_PASSES):
            async with self._lock:
                woken = self._woken
                noted |= self._noted
                self._noted = set()
                try:
                    applied, more = await self._pass(noted)
                except BaseException:
                    self._noted |= noted  # not read: keep looking there
                    raise
                if not more:
                    self._passed = max(self._passed, woken)
            total += applied
            if not more:
                return total
        self._noted |= noted  # not done: keep looking there
        return total

    async def _own_pass(self) -> None:
        """One read of the buckets this node wrote in lately, in the shards it holds; counts
        as passed once nothing is left there."""
        woken = self._woken
        now = self._clock()
        shards = await self._claim(now)
        current = bucket_of(now)
        buckets = self._noted | {current - 1, current}
        partitions = [(shard, bucket) for shard in shards for bucket in sorted(buckets)]
        batch = self._policy.batch
        entries = await self.outbox.read(partitions, limit_per_partition=batch)
        entries.sort(key=lambda e: e.entry_id)
        taken = entries[:batch]
        if taken:
            await self._apply(taken)
            await self.outbox.remove(taken)
            self.applied += len(taken)
        if len(entries) < batch:  # every partition read to its end, and all of it applied
            self._passed = max(self._passed, woken)

    async def _pass(self, noted: set[int]) -> tuple[int, bool]:
        now = self._clock()
        shards = await self._claim(now)
        if not shards:
            return 0, False
        current = bucket_of(now)
        partitions: list[tuple[int, int]] = []
        behind = False  # a cursor so far back that this pass does not reach the present
        for shard in shards:
            first = self._cursors[shard]
            last = min(current, first + MAX_BUCKETS_PER_PASS - 1)
            behind = behind or last < current
            buckets = set(range(first, last + 1)) | {b for b in noted if b < first or b > last}
            partitions += [(shard, bucket) for bucket in sorted(buckets)]
        batch = self._policy.batch
        entries = await self.outbox.read(partitions, limit_per_partition=batch)
        entries.sort(key=lambda e: e.entry_id)
        taken = entries[:batch]
        if taken:
            await self._apply(taken)
            await self.outbox.remove(taken)
            self.applied += len(taken)
        # A bucket may hold more than was read when its read reached the limit.
        read: dict[tuple[int, int], int] = {}
        for entry in entries:
            read[(entry.shard, entry.bucket)] = read.get((entry.shard, entry.bucket), 0) + 1
        nonempty = {(e.shard, e.bucket) for e in entries[batch:]}
        nonempty |= {partition for partition, count in read.items() if count >= batch}
        await self._advance(shards, partitions, nonempty, now)
        return len(taken), len(entries) > batch or behind or (len(taken) == batch)

    async def _apply(self, entries: Sequence[OutboxEntry]) -> None:
        assert self._load is not None
        groups: dict[tuple[str, str], list[str]] = {}
        for entry in entries:
            ids = groups.setdefault((entry.workspace_id, entry.kind), [])
            if entry.raw_id not in ids:
                ids.append(entry.raw_id)
        for (workspace_id, kind), raw_ids in groups.items():
            documents = await self._load(workspace_id, kind, raw_ids)
            found = [d for d in documents if d is not None]
            gone = [f"{kind}:{r}" for r, d in zip(raw_ids, documents, strict=True) if d is None]
            try:
                for start in range(0, len(found), MAX_DOCUMENTS_PER_CALL):
                    chunk = found[start : start + MAX_DOCUMENTS_PER_CALL]
                    await self._engine.index(workspace_id, chunk)
                if gone:
                    await self._engine.delete(workspace_id, gone)
            except SearchUnavailable:
                raise  # the entries stay queued and are tried again at the next poll
            except Exception:
                # Refused for good (bad input): retrying would block the shard.
                log.warning("search index refused %s entries; dropped", kind, exc_info=True)

    async def _claim(self, now: datetime) -> list[int]:
        """The shards this node may drain now: it holds the current lease slot, and the next
        one too once the current one is near its end (else another node may be taking over)."""
        lease = self._policy.lease_seconds
        seconds = to_millis(now) / 1000
        slot = int(seconds // lease)
        late = seconds - slot * lease > lease * 2 / 3
        wanted = (slot, slot + 1) if late else (slot,)
        ready: list[int] = []
        stale: list[tuple[int, int]] = []
        for shard in range(SHARDS):
            held = self._held.setdefault(shard, set())
            stale += [(shard, k) for k in held if k < slot]
            held.intersection_update(k for k in held if k >= slot)
            for k in wanted:
                if k in held or (shard, k) in self._refused:
                    continue
                if await self.outbox.claim(shard, k, self.node_id, now):
                    held.add(k)
                    self._cursors.pop(shard, None)  # another node may have moved it meanwhile
                else:
                    self._refused.add((shard, k))
            if all(k in held for k in wanted):
                ready.append(shard)
        self._refused = {(s, k) for s, k in self._refused if k >= slot}
        if stale:
            await self.outbox.release(stale)
        missing = [s for s in ready if s not in self._cursors]
        if missing:
            recorded = await self.outbox.cursors()
            for shard in missing:
                start = recorded[shard]
                self._cursors[shard] = bucket_of(now) - LOOKBACK_BUCKETS if start is None else start
        return ready

    async def _advance(
        self,
        shards: Sequence[int],
        partitions: Sequence[tuple[int, int]],
        nonempty: set[tuple[int, int]],
        now: datetime,
    ) -> None:
        """Move each shard's cursor past the settled buckets found empty in this pass."""
        settled = (to_millis(now) / 1000 - SETTLE_SECONDS) // BUCKET_SECONDS
        for shard in shards:
            cursor = start = self._cursors[shard]
            for s, bucket in partitions:
                if s != shard or bucket != cursor:
                    continue
                if bucket >= settled or (s, bucket) in nonempty:
                    break
                cursor = bucket + 1
            if cursor != start:
                self._cursors[shard] = cursor
                await self.outbox.set_cursor(shard, cursor)

    # For operators, tests and benchmarks

    async def pending(self, *, limit: int = 100_000) -> int:
        """Entries waiting in the buckets the cursors say may hold some (all nodes')."""
        now = self._clock()
        recorded = await self.outbox.cursors()
        current = bucket_of(now)
        total = 0
        for shard, start in enumerate(recorded):
            first = current - LOOKBACK_BUCKETS if start is None else start
            for bucket in range(first, current + 1):
                total += await self.outbox.count(shard, bucket, limit=limit)
        return total
