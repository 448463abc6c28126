"""A bounded write load through Cove's ScyllaDB engine while one of three Cassandra nodes is
killed and brought back: how many writes fail, how slow they get, and whether every
acknowledged write is still there afterwards.

Run: `python -m bench.cluster_failover` (starts three nodes on free 127.0.0.x addresses and
ports, about two minutes; needs Java 17 and Maven). tests/integrations/test_cassandra_cluster.py
runs the same `failover` and asserts on what it returns.
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
import socket
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench.load import free_port
from persistence.declare import Column, ColumnType, Table
from persistence.scylla.engine import ScyllaStore
from persistence.scylla.session import ScyllaConfig
from persistence.store import StoreError, StoreUnavailable
from tools import cassandra_cluster as nodes

ROOT = Path(__file__).resolve().parents[1]

NOTES = Table(
    name="failover_notes",
    partition_key=(Column("id", ColumnType.BIGINT),),
    values=(Column("body", ColumnType.TEXT),),
)
IN_FLIGHT = 8
MAX_WRITES = 200_000  # a bound on the load whatever the phases take


@dataclass
class Phase:
    """Writes tried in one phase: latencies of those acknowledged, and the failures."""

    name: str
    latencies: list[float] = field(default_factory=list)
    failures: int = 0

    @property
    def tried(self) -> int:
        return len(self.latencies) + self.failures

    @property
    def error_rate(self) -> float:
        return self.failures / self.tried if self.tried else 0.0

    @property
    def p99_ms(self) -> float:
        if len(self.latencies) < 2:
            return 0.0
        return statistics.quantiles(self.latencies, n=100)[98] * 1000

    def line(self) -> str:
        return (
            f"{self.name:<22} writes {self.tried:>6}  errors {self.failures:>4} "
            f"({self.error_rate:.2%})  p99 {self.p99_ms:7.1f} ms"
        )


@dataclass
class Outcome:
    phases: list[Phase]
    acknowledged: set[int]
    missing: set[int]
    unavailable_at_all: bool


async def failover(
    config: ScyllaConfig,
    kill: Callable[[], Awaitable[None]],
    restart: Callable[[], Awaitable[None]],
    settle_seconds: float = 3.0,
) -> Outcome:
    """Write with IN_FLIGHT writers through phases: before, while one node is down (`kill`
    returns once the others see it down), and after `restart` (once it is back). Then read
    back every acknowledged write."""
    store = await ScyllaStore.open(config, (NOTES,), migrations=())
    acknowledged: set[int] = set()
    phases = [Phase("before"), Phase("one node down"), Phase("after it rejoined")]
    current = phases[0]
    counter = iter(range(MAX_WRITES))
    stop = asyncio.Event()

    async def writer() -> None:
        while not stop.is_set():
            number = next(counter, None)
            if number is None:
                return
            phase, began = current, time.perf_counter()
            try:
                await store.put(NOTES, {"id": number, "body": f"note {number}"})
            except StoreError:
                phase.failures += 1
                await asyncio.sleep(0.05)
            else:
                phase.latencies.append(time.perf_counter() - began)
                acknowledged.add(number)

    writers = [asyncio.create_task(writer()) for _ in range(IN_FLIGHT)]
    try:
        await asyncio.sleep(settle_seconds)
        await kill()
        current = phases[1]
        await asyncio.sleep(settle_seconds)
        every = dataclasses.replace(config, consistency="ALL")
        unavailable_at_all = False
        try:
            strict = await ScyllaStore.open(every, (NOTES,), migrations=())
            try:
                await strict.get(NOTES, {"id": 0})
            finally:
                await strict.close()
        except StoreUnavailable:
            unavailable_at_all = True
        await restart()
        current = phases[2]
        await asyncio.sleep(settle_seconds)
    finally:
        stop.set()
        await asyncio.gather(*writers)
    keys = [{"id": number} for number in sorted(acknowledged)]
    found: set[int] = set()
    for start in range(0, len(keys), 1000):
        rows = await store.get_many(NOTES, keys[start : start + 1000])
        found |= {row["id"] for row in rows if row is not None}
    await store.close()
    return Outcome(phases, acknowledged, acknowledged - found, unavailable_at_all)


def free_addresses() -> tuple[tuple[str, ...], int, int]:
    """Three loopback addresses 127.0.0.x (x from 10) and two ports free on each."""
    chooser = random.SystemRandom()
    for _ in range(50):
        first = chooser.randrange(10, 250)
        addresses = tuple(f"127.0.0.{first + offset}" for offset in range(3))
        cql, storage = free_port(), free_port()
        if cql != storage and all(_free(a, p) for a in addresses for p in (cql, storage)):
            return addresses, cql, storage
    raise RuntimeError("no free loopback addresses and ports found")


def _free(address: str, port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind((address, port))
        except OSError:
            return False
    return True


def run_failover(folder: Path, where: tuple[tuple[str, ...], int, int] | None = None) -> Outcome:
    """Three nodes (on `where`: addresses, CQL port, storage port; free ones by default);
    Cove's engine writes through a kill -9 of one node and its restart (RF 3, LOCAL_QUORUM)."""
    addresses, cql, storage = where or free_addresses()
    cluster = nodes.Cluster(
        ROOT / ".cassandra",
        addresses=addresses,
        port=cql,
        storage_port=storage,
        jmx_ports=(free_port(), free_port(), free_port()),
        directory=folder / "cluster",
    )
    seed, victim, third = cluster.nodes
    config = ScyllaConfig(hosts=tuple((a, cql) for a in addresses), keyspace="failover")

    async def kill() -> None:
        nodes.kill(victim)
        await asyncio.to_thread(
            nodes.wait_for_states, cluster, {victim.address: "DN"}, [seed, third]
        )

    async def restart() -> None:
        await asyncio.to_thread(nodes.restart, cluster, victim)
        await asyncio.to_thread(nodes.wait_for_states, cluster, nodes.all_normal(cluster))

    try:
        nodes.cluster_up(cluster)
        return asyncio.run(failover(config, kill, restart))
    finally:
        nodes.cluster_down(cluster)


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        outcome = run_failover(Path(folder))
    for phase in outcome.phases:
        print(phase.line())
    print(f"acknowledged {len(outcome.acknowledged)}, lost {len(outcome.missing)}")
    print(f"a read at ALL with a node down refused: {outcome.unavailable_at_all}")


if __name__ == "__main__":
    main()
