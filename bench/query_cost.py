"""Query-cost benchmark: what cost analysis and budget accounting add to the
`messages(first: 50)` page (the page of bench/messages.py, same document, same seed).

Measured in the same run, on the same data:

1. In process, the cost work alone for that exact document and its exact answer:
   `document_cost(schema, document, None, variables)`, `answer_cost(data)`, and
   `CostBudget.reserve` + `settle` on `MemoryCounters` (and on `RedisCounters` against a
   throwaway redis-server on a free loopback port, when redis-server is installed); plus the
   Documents extension's cache-hit path (`DocumentCache.parse` + `validate` on a cached
   document), with the miss path beside it for scale. Each figure is the best of
   BENCH_ROUNDS rounds of a fixed number of calls (hot caches: a lower bound of the real cost).
   The request's budget key needs the caller, which the resolvers look up anyway (once per
   request), so it is not counted as cost work. When the answer's actual cost equals the
   requested one, `settle` makes no call to the counters.
2. In process, `schema.execute` of the page with the QueryCost extension present and with it
   removed (2 x BENCH_ROUNDS rounds of 100, interleaved, best of each): the whole extension (its hooks, the walk, the
   budget, the report in `extensions.cost`) as strawberry runs it, without HTTP noise.
3. Over HTTP, one uvicorn worker each on 127.0.0.1, rounds interleaved, best of each: the
   page through GraphQL with QueryCost (memory counters, the default), without QueryCost,
   and with QueryCost on Redis counters (`COVE_BROKER_URL=redis://…`, when redis-server is
   installed), and the plain Litestar route of bench/messages.py. The request time is the
   worker's time per request at saturation (1 / throughput with 8 requests in flight).

How "without QueryCost" is made: `build_schema` always adds QueryCost, so the server (and
the in-process schema) of that variant is built with `schema.build.CoveSchema` replaced by a
subclass that drops the QueryCost factory from the extension list before strawberry sees it.
Nothing else changes: same settings, same other extensions, same route; the response merely
lacks `extensions.cost` and the RateLimit-* headers, which are part of what is measured. A
no-op `on_execute` would leave strawberry's per-hook overhead in, and a huge
`max_query_cost` would still walk and charge, so neither would measure what the issue asks.

The budget is raised (COVE_QUERY_COST_BUDGET) so that thousands of page requests are never
refused: a refusal is a fast 200 with an error, which would inflate throughput. The counting
work is the same whatever the budget. Every answer measured is checked once before and once
after the timed runs.

Run: `python -m bench.query_cost` (BENCH_MESSAGES=10000 seeded, BENCH_REQUESTS=1000 per HTTP
run, BENCH_ROUNDS=5 by default). Every loop is bounded in count; servers bind 127.0.0.1, and
Cove's mail (the seed's invitations) goes to a real SMTP sink in this process.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx
import strawberry
from graphql import parse
from litestar import Litestar
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import validate_document

import schema.build as schema_build
from api.app import running_services
from api.bootstrap import init_data_dir, load_keyring
from api.policies import budget_policy_from
from api.settings import Settings, load_settings
from bench import messages as page_bench
from bench.load import free_port, mail_env, server_process, throughput
from crypto.keyring import Keyring
from integrations.counters import Counters, MemoryCounters, RedisCounters
from resolvers.context import RequestContext
from resolvers.cost_budget import CostBudget
from resolvers.services import Services
from schema.build import SchemaOptions, build_schema
from schema.context import CONTEXT_KEY
from schema.cost import QueryCost, answer_cost, document_cost
from schema.documents import Documents
from schema.relay import to_global_id
from tests.mail_sink import MailSink

PAGE = page_bench.PAGE
BUDGET_ENV = {"COVE_QUERY_COST_BUDGET": str(10**15)}
VARIANT_ENV = "BENCH_QUERY_COST"  # "off": the server's schema is built without QueryCost


class _WithoutQueryCost(schema_build.CoveSchema):
    """Cove's schema with the QueryCost extension left out, everything else as built."""

    def __init__(self, *args: Any, extensions: Sequence[Any] = (), **kwargs: Any) -> None:
        kept = [factory for factory in extensions if not isinstance(factory(), QueryCost)]
        assert len(kept) == len(extensions) - 1, "QueryCost not found among the extensions"
        super().__init__(*args, extensions=kept, **kwargs)


def schema_without_query_cost(options: SchemaOptions | None = None) -> strawberry.Schema:
    original = schema_build.CoveSchema
    schema_build.CoveSchema = _WithoutQueryCost  # type: ignore[misc]
    try:
        return build_schema(options)
    finally:
        schema_build.CoveSchema = original  # type: ignore[misc]


def bench_app() -> Litestar:
    """The app of bench/messages.py (Cove plus the plain route), with or without QueryCost."""
    if os.environ.get(VARIANT_ENV) == "off":
        schema_build.CoveSchema = _WithoutQueryCost  # type: ignore[misc]
    return page_bench.bench_app()


def us(seconds: float) -> str:
    return f"{seconds * 1e6:.1f} µs"


def best_of(fn: Callable[[], object], number: int, rounds: int) -> float:
    """Seconds per call: the best of `rounds` rounds of `number` calls."""
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        for _ in range(number):
            fn()
        best = min(best, (time.perf_counter() - started) / number)
    return best


async def best_of_async(fn: Callable[[], Awaitable[object]], number: int, rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        for _ in range(number):
            await fn()
        best = min(best, (time.perf_counter() - started) / number)
    return best


class _Spy(SchemaExtension):
    """Keeps the last execution's validation rules (the cache keys on them)."""

    rules: tuple[Any, ...] = ()

    def on_execute(self) -> Any:
        _Spy.rules = tuple(self.execution_context.validation_rules)
        yield


def documents_cache_of(schema: strawberry.Schema) -> Any:
    for factory in schema.extensions:
        extension = factory()  # type: ignore[operator]
        if isinstance(extension, Documents):
            return extension._cache
    raise RuntimeError("no Documents extension in the schema")


def ctx(services: Services, token: str) -> dict[str, Any]:
    return {CONTEXT_KEY: RequestContext(services, "bench", token)}


async def budget_round_trip(counters: Counters, requested: int, actual: int, rounds: int) -> float:
    """Seconds for one request's reserve + settle on `counters` (the work QueryCost awaits)."""
    unlimited = load_settings(environ={}, overrides={"query_cost_budget": 10**15})
    budget = CostBudget(counters, budget_policy_from(unlimited))

    async def once() -> None:
        reserved = await budget.reserve("user:bench", requested)
        await budget.settle("user:bench", reserved, requested, actual)

    for _ in range(50):
        await once()
    return await best_of_async(once, 500, rounds)


async def in_process(
    settings: Settings,
    keyring: Keyring,
    token: str,
    channel_id: str,
    rounds: int,
    redis: str | None,
) -> dict[str, Any]:
    """The cost work alone, the Documents hit path, and execute with and without QueryCost."""
    options = SchemaOptions(extra_extensions=(_Spy,))
    with_cost = build_schema(options)
    without_cost = schema_without_query_cost(options)
    gschema = with_cost._schema
    variables = {"c": to_global_id("Channel", channel_id)}
    out: dict[str, Any] = {}
    async with running_services(settings, keyring) as services:
        result = await with_cost.execute(
            PAGE, variable_values=variables, context_value=ctx(services, token)
        )
        assert result.errors is None, result.errors
        data = result.data
        assert len(data["node"]["messages"]["edges"]) == 50  # type: ignore[index]
        document = parse(PAGE)
        cost = document_cost(gschema, document, None, variables)
        actual = answer_cost(data) + cost.weights
        reported = (result.extensions or {}).get("cost", {})
        assert reported.get("requested") == cost.total, reported
        assert reported.get("actual") == actual, reported
        out["requested"], out["actual"] = cost.total, actual

        out["document_cost"] = best_of(
            lambda: document_cost(gschema, document, None, variables), 2000, rounds
        )
        out["answer_cost"] = best_of(lambda: answer_cost(data), 2000, rounds)
        out["memory"] = await budget_round_trip(MemoryCounters(), cost.total, actual, rounds)
        if redis is not None:
            counters = RedisCounters(redis)
            try:
                out["redis"] = await budget_round_trip(counters, cost.total, actual, rounds)
            finally:
                await counters.close()

        cache = documents_cache_of(with_cost)
        rules = _Spy.rules
        assert rules, "no validation rules seen"

        def hit() -> None:
            digest, doc = cache.parse(PAGE)
            errors = cache.validate(gschema, digest, doc, rules)
            assert not errors

        hit()
        assert len(cache.validated) >= 1
        out["documents_hit"] = best_of(hit, 2000, rounds)
        out["documents_miss"] = best_of(
            lambda: validate_document(gschema, parse(PAGE, max_tokens=2000), rules), 100, rounds
        )

        async def execute(schema: strawberry.Schema) -> None:
            run = await schema.execute(
                PAGE, variable_values=variables, context_value=ctx(services, token)
            )
            assert run.errors is None, run.errors

        for schema in (with_cost, without_cost):  # warm caches first
            for _ in range(20):
                await execute(schema)
        best_with = best_without = float("inf")
        for _ in range(2 * rounds):  # interleaved, so that drift touches both alike
            best_with = min(best_with, await best_of_async(lambda: execute(with_cost), 100, 1))
            best_without = min(
                best_without, await best_of_async(lambda: execute(without_cost), 100, 1)
            )
        out["execute_with"], out["execute_without"] = best_with, best_without
    return out


def check_page(url: str, body: bytes, headers: Mapping[str, str], expect_cost: bool) -> None:
    """The page answers its 50 messages, not a refusal; RateLimit-* only where QueryCost is."""
    response = httpx.post(url + "/graphql", content=body, headers=dict(headers))
    answer = response.json()
    assert response.status_code == 200, answer
    assert "errors" not in answer, answer
    assert len(answer["data"]["node"]["messages"]["edges"]) == 50, answer
    assert ("cost" in (answer.get("extensions") or {})) == expect_cost, answer.get("extensions")
    assert ("ratelimit-remaining" in response.headers) == expect_cost, response.headers
    if expect_cost:
        assert int(response.headers["ratelimit-remaining"]) > 0, response.headers


def over_http(
    env: dict[str, str],
    token: str,
    channel_id: str,
    requests: int,
    rounds: int,
    redis: str | None,
) -> dict[str, float]:
    """Best throughput of each variant over interleaved rounds, one worker each."""
    auth = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    body = json.dumps({"query": PAGE, "variables": {"c": to_global_id("Channel", channel_id)}})
    page_body = body.encode()
    plain_path = f"/bench/messages/{channel_id}"
    variants: dict[str, dict[str, str]] = {
        "with": {**env},
        "without": {**env, VARIANT_ENV: "off"},
    }
    if redis is not None:
        variants["redis"] = {**env, "COVE_BROKER_URL": redis}
    command = [sys.executable, "-m", "uvicorn", "bench.query_cost:bench_app", "--factory"]
    command += ["--host", "127.0.0.1", "--log-level", "warning", "--no-access-log"]
    ports = {name: free_port() for name in variants}
    best = {name: 0.0 for name in [*variants, "plain"]}
    with (
        server_process(
            [*command, "--port", str(ports["with"])], variants["with"], ports["with"]
        ) as with_cost,
        server_process(
            [*command, "--port", str(ports["without"])], variants["without"], ports["without"]
        ) as without_cost,
    ):
        urls = {"with": with_cost.url, "without": without_cost.url}

        def measure() -> None:
            for name, url in urls.items():
                check_page(url, page_body, auth, expect_cost=name != "without")

            async def run() -> None:
                for port in (ports[name] for name in urls):  # warm-up
                    await throughput(port, "POST", "/graphql", page_body, auth, 200, 8)
                await throughput(ports["with"], "GET", plain_path, b"", auth, 200, 8)
                for _ in range(rounds):
                    best["plain"] = max(
                        best["plain"],
                        await throughput(ports["with"], "GET", plain_path, b"", auth, requests, 8),
                    )
                    for name in urls:
                        rate = await throughput(
                            ports[name], "POST", "/graphql", page_body, auth, requests, 8
                        )
                        best[name] = max(best[name], rate)

            asyncio.run(run())
            for name, url in urls.items():
                check_page(url, page_body, auth, expect_cost=name != "without")

        if redis is None:
            measure()
        else:
            with server_process(
                [*command, "--port", str(ports["redis"])], variants["redis"], ports["redis"]
            ) as on_redis:
                urls["redis"] = on_redis.url
                measure()
    return best


def redis_url(directory: Path) -> tuple[Any, str] | None:
    """A throwaway redis-server on a free loopback port, or None where none is installed."""
    if shutil.which("redis-server") is None:
        return None
    from tests.redis_server import RedisServer  # imports pytest: only when used

    server = RedisServer(directory)
    server.start()
    return server, server.url


def main() -> None:
    count = int(os.environ.get("BENCH_MESSAGES", "10000"))
    requests = int(os.environ.get("BENCH_REQUESTS", "1000"))
    rounds = int(os.environ.get("BENCH_ROUNDS", "5"))
    with tempfile.TemporaryDirectory() as tmp, MailSink() as sink:
        env = {
            **os.environ,
            **page_bench.BENCH_ENV,
            **BUDGET_ENV,
            **mail_env(sink),
            "COVE_DATA_DIR": str(Path(tmp) / "data"),
        }
        settings = load_settings(environ=env)
        init_data_dir(settings)
        keyring = load_keyring(settings)
        started = time.perf_counter()
        token, channel_id = asyncio.run(page_bench.seed(settings, keyring, count))
        print(f"seeded {count} messages in {time.perf_counter() - started:.1f} s")
        (Path(tmp) / "redis").mkdir()
        found = redis_url(Path(tmp) / "redis")
        redis = found[1] if found else None
        try:
            local = asyncio.run(
                in_process(settings, load_keyring(settings), token, channel_id, rounds, redis)
            )
            http = over_http(env, token, channel_id, requests, rounds, redis)
        finally:
            if found:
                found[0].stop()

    request = 1 / http["with"]
    cost_work = local["document_cost"] + local["answer_cost"] + local["memory"]
    extension = local["execute_with"] - local["execute_without"]
    settles = "settle adds nothing" if local["requested"] == local["actual"] else "settle adds"
    print(
        f"document: messages(first: 50) with authors; requested cost {local['requested']}, "
        f"actual {local['actual']} ({settles})"
    )
    print(
        f"GraphQL {http['with']:.0f} req/s with QueryCost, {http['without']:.0f} req/s without; "
        f"plain route {http['plain']:.0f} req/s  (one worker, 8 in flight, best of {rounds})"
    )
    print(
        f"ratio GraphQL / plain route: {http['with'] / http['plain']:.2f} with QueryCost, "
        f"{http['without'] / http['plain']:.2f} without  (bar: at least 0.45)"
    )
    print(f"request time over HTTP (1 / throughput, one worker): {us(request)}")
    print(
        f"cost work alone: document_cost {us(local['document_cost'])}, answer_cost "
        f"{us(local['answer_cost'])}, reserve + settle (memory) {us(local['memory'])}; "
        f"total {us(cost_work)} = {cost_work / request * 100:.2f}% of request time  (bar: under 3%)"
    )
    print(
        f"QueryCost extension, in-process execute: {us(local['execute_with'])} with, "
        f"{us(local['execute_without'])} without: {us(extension)} = "
        f"{extension / request * 100:.2f}% of request time "
        f"({extension / local['execute_with'] * 100:.2f}% of in-process execute)"
    )
    print(
        f"QueryCost extension, over HTTP: {(1 - http['with'] / http['without']) * 100:.2f}% of "
        "request time (1 - throughput with / without; noise of a few % either way)"
    )
    print(
        f"Documents cache hit (parse + validate): {us(local['documents_hit'])} = "
        f"{local['documents_hit'] / request * 100:.2f}% of request time  "
        f"(a miss: {us(local['documents_miss'])})"
    )
    if redis is not None:
        redis_work = local["document_cost"] + local["answer_cost"] + local["redis"]
        print(
            f"reserve + settle on Redis (loopback): {us(local['redis'])} awaited per request "
            f"(memory: {us(local['memory'])}); cost work on Redis {us(redis_work)} = "
            f"{redis_work / request * 100:.2f}% of request time"
        )
        print(
            f"GraphQL with QueryCost on Redis counters: {http['redis']:.0f} req/s "
            f"({(1 - http['redis'] / http['with']) * 100:.2f}% below memory counters); "
            f"ratio to plain route {http['redis'] / http['plain']:.2f}"
        )


if __name__ == "__main__":
    main()
