"""Connecting to ScyllaDB or Cassandra, and awaiting the driver's futures from asyncio.

cassandra-driver runs its own I/O thread and reports results through callbacks; `run` hands
each result to the event loop with `call_soon_threadsafe`, so no request ever blocks the
loop, and pages through a result by the driver's paging state as rows are needed.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cassandra import (
    ConsistencyLevel,
    DriverException,
    OperationTimedOut,
    RequestExecutionException,
    RequestValidationException,
)
from cassandra.auth import PlainTextAuthProvider
from cassandra.cluster import (
    EXEC_PROFILE_DEFAULT,
    Cluster,
    ExecutionProfile,
    NoHostAvailable,
    ResponseFuture,
    Session,
)
from cassandra.policies import DCAwareRoundRobinPolicy, RetryPolicy, TokenAwarePolicy
from cassandra.query import tuple_factory

from persistence.store import StoreError, StoreUnavailable

CONSISTENCY_LEVELS = ("ONE", "LOCAL_ONE", "QUORUM", "LOCAL_QUORUM", "EACH_QUORUM", "ALL")
# The driver's own errors, and the server's refusals it relays: what `run` turns into
# StoreError. Unavailable, timeouts and unreachable hosts become StoreUnavailable.
DRIVER_ERRORS = (
    DriverException,
    RequestExecutionException,
    RequestValidationException,
    NoHostAvailable,
    OSError,
)
_UNAVAILABLE = (RequestExecutionException, OperationTimedOut, NoHostAvailable, OSError)


@dataclass(frozen=True)
class ScyllaConfig:
    """Where the cluster is and how to talk to it (from the `scylla_*` settings)."""

    hosts: tuple[tuple[str, int], ...]
    keyspace: str = "cove"
    consistency: str = "LOCAL_QUORUM"
    # The replication factor in every datacenter, used when Cove creates the keyspace.
    replication: int = 3
    # The local datacenter: requests go to its replicas; None takes the first host's.
    datacenter: str | None = None
    username: str | None = None
    password: str | None = None
    tls_ca_file: Path | None = None
    request_timeout: float = 10.0
    connect_timeout: float = 10.0

    def __post_init__(self) -> None:
        if not self.hosts:
            raise ValueError("scylla needs at least one host")
        ports = {port for _, port in self.hosts}
        if len(ports) != 1:
            # cassandra-driver reaches every node on one native-protocol port.
            raise ValueError(f"every scylla host must use the same port, got {sorted(ports)}")
        if self.consistency not in CONSISTENCY_LEVELS:
            raise ValueError(f"consistency must be one of {', '.join(CONSISTENCY_LEVELS)}")
        if self.replication < 1:
            raise ValueError("the replication factor must be at least 1")
        if (self.username is None) != (self.password is None):
            raise ValueError("scylla credentials need both a username and a password")

    @property
    def level(self) -> int:
        return int(ConsistencyLevel.name_to_value[self.consistency])

    @property
    def serial_level(self) -> int:
        # Lightweight transactions use Paxos among the local datacenter's replicas.
        local = self.consistency.startswith("LOCAL_")
        return int(ConsistencyLevel.LOCAL_SERIAL if local else ConsistencyLevel.SERIAL)


def connect(config: ScyllaConfig) -> tuple[Cluster, Session]:
    """A cluster handle and a session, with token-aware routing to the local datacenter.
    Blocking: call it in a thread."""
    routing = TokenAwarePolicy(DCAwareRoundRobinPolicy(local_dc=config.datacenter or ""))
    profile = ExecutionProfile(
        load_balancing_policy=routing,
        # Retries on another replica only for statements marked idempotent (the driver's rule).
        retry_policy=RetryPolicy(),
        consistency_level=config.level,
        serial_consistency_level=config.serial_level,
        request_timeout=config.request_timeout,
        row_factory=tuple_factory,
    )
    options: dict[str, Any] = {}
    if config.username is not None:
        options["auth_provider"] = PlainTextAuthProvider(config.username, config.password)
    if config.tls_ca_file is not None:
        context = ssl.create_default_context(cafile=str(config.tls_ca_file))
        options["ssl_context"] = context
    cluster = Cluster(
        contact_points=[host for host, _ in config.hosts],
        port=config.hosts[0][1],
        execution_profiles={EXEC_PROFILE_DEFAULT: profile},
        protocol_version=4,
        connect_timeout=config.connect_timeout,
        control_connection_timeout=config.connect_timeout,
        max_schema_agreement_wait=30,
        **options,
    )
    try:
        session = cluster.connect()
    except BaseException as error:
        cluster.shutdown()
        if isinstance(error, DRIVER_ERRORS):
            raise StoreUnavailable(f"no ScyllaDB/Cassandra node answered: {error}") from error
        raise
    return cluster, session


def store_error(what: str, error: BaseException) -> StoreError:
    """The Store's error for a driver failure: StoreUnavailable when retrying later may help."""
    kind = StoreUnavailable if isinstance(error, _UNAVAILABLE) else StoreError
    return kind(f"ScyllaDB {what} failed: {type(error).__name__}: {error}")


async def run(
    start: Callable[[], ResponseFuture], what: str, want: int | None = None
) -> list[Sequence[Any]]:
    """Start a request and await its rows; page on while fewer than `want` (None: every
    page) have come. A driver failure raises StoreError (StoreUnavailable if transient)."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[list[Sequence[Any]]] = loop.create_future()
    rows: list[Sequence[Any]] = []

    def settle(outcome: list[Sequence[Any]] | BaseException) -> None:
        if done.done():
            return
        if isinstance(outcome, BaseException):
            done.set_exception(outcome)
        else:
            done.set_result(outcome)

    def on_page(page: Sequence[Sequence[Any]]) -> None:
        # The driver's thread: each page arrives here; ask for the next or hand over.
        rows.extend(page or ())
        if future.has_more_pages and (want is None or len(rows) < want):
            try:
                future.start_fetching_next_page()
            except BaseException as error:
                loop.call_soon_threadsafe(settle, error)
            return
        loop.call_soon_threadsafe(settle, rows)

    def on_error(error: BaseException) -> None:
        loop.call_soon_threadsafe(settle, error)

    try:
        future = start()
        future.add_callbacks(on_page, on_error)
        return await done
    except DRIVER_ERRORS as error:
        raise store_error(what, error) from error


async def run_page(
    start: Callable[[], ResponseFuture], what: str
) -> tuple[list[Sequence[Any]], bytes | None]:
    """Start a paged request and await its first page with the paging state of the next
    (None after the last page)."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[tuple[list[Sequence[Any]], bytes | None]] = loop.create_future()

    def settle(outcome: tuple[list[Sequence[Any]], bytes | None] | BaseException) -> None:
        if done.done():
            return
        if isinstance(outcome, BaseException):
            done.set_exception(outcome)
        else:
            done.set_result(outcome)

    def on_page(page: Sequence[Sequence[Any]]) -> None:
        # The driver's own ResultSet reads the next page's state from this attribute.
        state = future._paging_state if future.has_more_pages else None
        loop.call_soon_threadsafe(settle, (list(page or ()), state))

    def on_error(error: BaseException) -> None:
        loop.call_soon_threadsafe(settle, error)

    try:
        future = start()
        future.add_callbacks(on_page, on_error)
        return await done
    except DRIVER_ERRORS as error:
        raise store_error(what, error) from error
