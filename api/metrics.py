"""Prometheus metrics, per app (no global registry). Labels hold schema names, never user data."""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Iterator, Mapping

from graphql import DocumentNode, FieldNode, GraphQLSchema, OperationDefinitionNode
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector
from strawberry.extensions import SchemaExtension

_MAX_ROOT_FIELDS = 3
BROKER_DROP_REASONS = ("unauthentic", "stale", "future", "replayed")


class Metrics:
    """The app's metrics and the registry they are exposed from."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.http_requests = Counter(
            "cove_http_requests",
            "HTTP requests by method, route template and status class.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.graphql_requests = Counter(
            "cove_graphql_operations",
            "GraphQL operations by operation (type and root fields) and outcome.",
            ["operation", "outcome"],
            registry=self.registry,
        )
        self.graphql_seconds = Histogram(
            "cove_graphql_operation_seconds",
            "GraphQL operation latency by operation (type and root fields).",
            ["operation"],
            registry=self.registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
        )
        self.backup_last_success = Gauge(
            "cove_backup_last_success_timestamp_seconds",
            "Unix time of the last scheduled backup this process made (0: none since start).",
            registry=self.registry,
        )
        self.backup_failures = Counter(
            "cove_backup_failures",
            "Scheduled backups this process tried and failed to make.",
            registry=self.registry,
        )
        self.gc_pauses = Histogram(
            "cove_gc_pause_seconds",
            "Pauses of Python's cyclic garbage collector by generation (0 young, 2 full), "
            "while this process watches them (`cove serve`).",
            ["generation"],
            registry=self.registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0),
        )
        self._broker_drops = _BrokerDrops()
        self.registry.register(self._broker_drops)

    def watch_collector(self) -> Callable[[], None]:
        """Time each garbage collection of this process into `cove_gc_pause_seconds`; the
        answer stops watching. The collector is process-wide: only the process's only app
        (`cove serve`) watches it."""
        pauses = [self.gc_pauses.labels(str(generation)) for generation in range(3)]
        # A collection starts only when a tracked object (a container) is allocated; under its
        # locks `observe` adds floats only, so a collection never starts while it holds one.

        started = 0.0

        def timed(phase: str, info: Mapping[str, int]) -> None:
            nonlocal started
            if phase == "start":
                started = time.perf_counter()
            else:
                pauses[info["generation"]].observe(time.perf_counter() - started)

        gc.callbacks.append(timed)
        return lambda: gc.callbacks.remove(timed)

    def watch_broker_drops(self, drops: Callable[[], Mapping[str, int]]) -> None:
        """Expose the realtime hub's dropped envelopes, read from `drops` at each scrape."""
        self._broker_drops.source = drops

    def http_middleware(self, app: ASGIApp) -> ASGIApp:
        """Count each routed HTTP request by method, route template and status class."""
        counter = self.http_requests

        async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != ScopeType.HTTP:
                await app(scope, receive, send)
                return
            status = 500

            async def record_status(message: Message) -> None:
                nonlocal status
                if message["type"] == "http.response.start":
                    status = message["status"]
                await send(message)

            try:
                await app(scope, receive, record_status)
            finally:
                route = scope.get("path_template") or "unmatched"
                counter.labels(scope.get("method", "-"), route, f"{status // 100}xx").inc()

        return middleware

    def render(self) -> bytes:
        return generate_latest(self.registry)

    def extension(self) -> type[SchemaExtension]:
        """A schema extension class that records each operation into these metrics."""
        metrics = self

        class GraphQLMetrics(SchemaExtension):
            def on_operation(self) -> Iterator[None]:
                started = time.perf_counter()
                yield
                context = self.execution_context
                operation = _operation_label(
                    context.schema._schema, context.graphql_document, context.operation_name
                )
                outcome = "error" if getattr(context.result, "errors", None) else "ok"
                metrics.graphql_requests.labels(operation, outcome).inc()
                metrics.graphql_seconds.labels(operation).observe(time.perf_counter() - started)

        return GraphQLMetrics


class _BrokerDrops(Collector):
    """`cove_broker_envelopes_dropped_total{reason}`, kept by the hub and read at scrape time."""

    def __init__(self) -> None:
        self.source: Callable[[], Mapping[str, int]] | None = None

    def collect(self) -> Iterator[CounterMetricFamily]:
        if self.source is None:  # no services yet
            return
        counts = self.source()
        family = CounterMetricFamily(
            "cove_broker_envelopes_dropped",
            "Realtime broker envelopes dropped by reason: unauthentic, stale, future, replayed.",
            labels=["reason"],
        )
        for reason in BROKER_DROP_REASONS:
            family.add_metric([reason], counts.get(reason, 0))
        yield family


def _operation_label(
    schema: GraphQLSchema, document: DocumentNode | None, operation_name: str | None
) -> str:
    """`query:viewer`: the operation type and root field names, when the schema defines them.

    Client-chosen operation names and aliases are user data and never become labels; a
    document that names fields the schema lacks is labelled `invalid`.
    """
    operations = [
        d
        for d in (document.definitions if document else ())
        if isinstance(d, OperationDefinitionNode)
    ]
    if operation_name is not None:
        operations = [o for o in operations if o.name and o.name.value == operation_name]
    if len(operations) != 1:
        return "invalid"
    operation = operations[0]
    root = schema.get_root_type(operation.operation)
    names = {s.name.value for s in operation.selection_set.selections if isinstance(s, FieldNode)}
    if (
        root is None
        or not names
        or not names <= (set(root.fields) | {"__typename", "__schema", "__type"})
    ):
        return "invalid"
    ordered = sorted(names)
    label = ",".join(ordered[:_MAX_ROOT_FIELDS]) + ("+" if len(ordered) > _MAX_ROOT_FIELDS else "")
    return f"{operation.operation.value}:{label}"
