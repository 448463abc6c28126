"""The app factory: one Litestar app from one Settings object."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from datetime import timedelta
from functools import partial
from typing import Any

from litestar import Litestar, Response, get
from litestar.datastructures import State
from litestar.exceptions import HTTPException
from litestar.types import ASGIApp

from api.backup_schedule import BackupScheduler
from api.bootstrap import check_root_key, load_keyring
from api.errors import http_exception_handler, internal_error_handler
from api.files import UPLOADS_STATE_KEY, file_routes
from api.graphiql import GraphiQL
from api.graphql import SERVICES_STATE_KEY, graphql_controller
from api.hooks import incoming_hook
from api.logs import configure_logging
from api.metrics import Metrics
from api.metrics_http import MetricsListener, metrics_route
from api.middleware import SecurityMiddleware
from api.oauth import OAUTH_ROUTES
from api.office import OFFICE_ROUTES
from api.policies import (
    auth_limits_from,
    budget_policy_from,
    mail_policy_from,
    office_fetcher_from,
    policy_from,
    webhook_sender_from,
)
from api.settings import Settings, SettingsError, load_settings
from api.space import probe as probe_volume
from api.space import volumes_of
from api.space import watch as watch_volumes
from api.stores import open_store
from crypto.keyring import Keyring
from crypto.passwords import Argon2Params, PasswordHasher
from integrations.blobs import BlobStore, blob_store_from_config
from integrations.breaker import CircuitBreaker
from integrations.broker import broker_from_url
from integrations.counters import counters_from_url
from integrations.mail import LogTransport, MailTransport, SmtpTransport, is_loopback_host
from integrations.search import SearchEngine, search_engine_from_config
from persistence.persisted_queries import PersistedQueryRepository
from persistence.space import StorageFull, Volume
from persistence.store import Store
from resolvers import search_sources, topics
from resolvers.cost_budget import CostBudget
from resolvers.export_worker import ExportWorker
from resolvers.mail import Mailer
from resolvers.passwords import PasswordService
from resolvers.persisted_queries import PersistedQueries
from resolvers.services import Services
from resolvers.sweeper import run_sweeper
from resolvers.workspace_keys import KeyRotationWorker
from schema.build import SchemaOptions, build_schema

log = logging.getLogger("cove")


@get("/health", sync_to_thread=False)
def health() -> dict[str, str]:
    """Liveness: the process serves."""
    return {"status": "ok"}


@get("/ready")
async def ready(state: State) -> Response[dict[str, Any]]:
    """Readiness: every configured backend answers and no local volume is full; 503 names
    the ones that fail (a full volume by its setting: `data_dir`, `blob_dir`).

    The backends are probed at once, each given `ready_timeout_seconds`; a probe still running
    then counts as down and is left to end on its own (a thread cannot be stopped), so the
    answer never waits longer, whatever a frozen backend does.
    """
    services: Services = state[SERVICES_STATE_KEY]
    settings: Settings = state["settings"]
    volumes: dict[str, Volume] = state.get(VOLUMES_STATE_KEY, {})
    backends: dict[str, Callable[[], Awaitable[None]]] = {
        "store": services.store.ping,
        "broker": services.broker.ping,
        "blobs": services.blobs.ping,
        "search": services.indexer.engine.ping,
        **{name: partial(probe_volume, volume) for name, volume in volumes.items()},
    }
    probes = {name: asyncio.ensure_future(ping()) for name, ping in backends.items()}
    await asyncio.wait(probes.values(), timeout=settings.ready_timeout_seconds)
    failed: list[str] = []
    for name, probe in probes.items():
        if not probe.done():
            log.warning("readiness: %s did not answer in time", name)
            probe.cancel()
            probe.add_done_callback(_retrieve)
            failed.append(name)
        elif not probe.cancelled() and isinstance(probe.exception(), StorageFull):
            log.warning("readiness: the %s volume is full", name)
            failed.append(name)
        elif probe.cancelled() or probe.exception() is not None:
            log.warning("readiness: %s did not answer", name, exc_info=probe.exception())
            failed.append(name)
    if failed:
        return Response(
            {"status": "unavailable", "failed": failed},
            status_code=503,
            headers={"Retry-After": str(settings.ready_timeout_seconds)},
        )
    return Response({"status": "ready"})


def _retrieve(probe: asyncio.Future[None]) -> None:
    if not probe.cancelled():
        probe.exception()  # ended after /ready answered: already counted as down


# app.state key of the local volumes watched for free space (api/space.py).
VOLUMES_STATE_KEY = "volumes"
# Leftovers of crashed uploads are swept at start and this often (an upload's intent tells a
# running one from a dead one, so nothing waits for an age); expired tokens and old audit
# events at start and every SWEEP_EVERY.
BLOB_SWEEP_EVERY = timedelta(minutes=5)
SWEEP_EVERY = timedelta(hours=1)
# How long the shutdown waits for cut uploads to remove their partial objects.
UPLOAD_CLEANUP_SECONDS = 10.0


def breaker(settings: Settings, name: str) -> CircuitBreaker:
    """A circuit breaker for one dependency, as the settings size it."""
    return CircuitBreaker(
        name, failures=settings.breaker_failures, reset_seconds=settings.breaker_reset_seconds
    )


def blob_store(settings: Settings, volume: Volume | None = None) -> BlobStore:
    """The blob store the settings name (a local one refuses uploads while `volume` is full)."""
    try:
        return blob_store_from_config(
            settings.blob_store,
            root=settings.resolved_blob_dir,
            endpoint_url=settings.s3_endpoint_url,
            region=settings.s3_region,
            bucket=settings.s3_bucket,
            access_key_id=settings.s3_access_key_id,
            secret_access_key=settings.s3_secret_access_key,
            timeout_seconds=settings.s3_timeout_seconds,
            breaker=breaker(settings, "blobs"),
            volume=volume,
        )
    except ValueError as exc:
        raise SettingsError("blob_store", str(exc)) from None


# Rows per batch of the embedded search engine on ScyllaDB.
SCYLLA_SEARCH_BATCH_ROWS = 200


def search_engine(settings: Settings, store: Store) -> SearchEngine:
    """The search engine the settings name."""
    opensearch = settings.search_engine == "opensearch"
    try:
        return search_engine_from_config(
            settings.search_engine,
            store=store,
            url=settings.opensearch_url if opensearch else settings.elasticsearch_url,
            index_prefix=(
                settings.opensearch_index_prefix
                if opensearch
                else settings.elasticsearch_index_prefix
            ),
            api_key=None if opensearch else settings.elasticsearch_api_key,
            # A document's rows still go in one batch; more rows per batch only add up to
            # logged multi-partition batches that ScyllaDB refuses past 1 MiB.
            max_ops_per_batch=SCYLLA_SEARCH_BATCH_ROWS if settings.store == "scylla" else None,
            timeout_seconds=settings.search_timeout_seconds,
            breaker=breaker(settings, "search"),
        )
    except ValueError as exc:
        raise SettingsError("search_engine", str(exc)) from None


def mail_transport(settings: Settings) -> MailTransport | None:
    """SMTP when `smtp_host` is set; in `dev` without it, the log; otherwise none."""
    if settings.smtp_host:
        if settings.smtp_security == "none" and not is_loopback_host(settings.smtp_host):
            log.warning(
                "smtp_security is none: mail goes in plain to %s; use starttls or tls unless "
                "that relay is on a network you trust",
                settings.smtp_host,
            )
        try:
            return SmtpTransport(
                host=settings.smtp_host,
                port=settings.smtp_port,
                security=settings.smtp_security,
                user=settings.smtp_user,
                password_file=settings.smtp_password_file,
                ca_file=settings.smtp_ca_file,
                timeout_seconds=settings.smtp_timeout_seconds,
            )
        except (OSError, ValueError) as exc:
            raise SettingsError("smtp_host", f"cannot set up SMTP: {exc}") from None
    if settings.dev:
        log.warning("no smtp_host: in dev, mail is written to the log instead of being sent")
        return LogTransport()
    log.warning(
        "no smtp_host: Cove cannot send mail, so what needs it (UNAVAILABLE, reason "
        "MAIL_NOT_CONFIGURED) is turned off; see docs/mail.md"
    )
    return None


def mailer(settings: Settings) -> Mailer:
    """The mailer the settings describe (unavailable without SMTP outside dev)."""
    transport = mail_transport(settings)
    if transport is None:
        return Mailer.unavailable()
    return Mailer(
        transport,
        sender=settings.smtp_sender or "Cove <cove@localhost>",
        app_url=settings.resolved_app_url,
        policy=mail_policy_from(settings),
    )


@asynccontextmanager
async def running_services(
    settings: Settings, keyring: Keyring, volumes: dict[str, Volume] | None = None
) -> AsyncIterator[Services]:
    """Open the store and build the services from settings; close them on the way out.
    `volumes` (api/space.py) are measured first (the data dir's reserve file is made then),
    and watched while the services run."""
    volumes = volumes_of(settings) if volumes is None else volumes
    for volume in volumes.values():
        await asyncio.to_thread(volume.probe)
    store = await open_store(settings, volumes.get("data_dir"))
    try:
        await check_root_key(settings, keyring, store)  # before any key is derived
    except BaseException:
        await store.close()
        raise
    broker = broker_from_url(settings.broker_url, timeout_seconds=settings.redis_timeout_seconds)
    counters = counters_from_url(settings.broker_url)  # its own 0.5 s: used on every request
    blobs = blob_store(settings, volumes.get("blob_dir"))
    engine = search_engine(settings, store)
    hasher = PasswordHasher(
        Argon2Params(
            time_cost=settings.argon2_time_cost,
            memory_kib=settings.argon2_memory_kib,
            parallelism=settings.argon2_parallelism,
        )
    )
    services = Services.build(
        store=store,
        keyring=keyring,
        read_check=topics.can_read,
        index_loader=search_sources.load_documents,
        passwords=PasswordService(hasher, settings.password_hash_concurrency),
        session_ttl=timedelta(seconds=settings.session_ttl_seconds),
        limits=auth_limits_from(settings, counters),
        policy=policy_from(settings),
        broker=broker,
        blobs=blobs,
        search_engine=engine,
        persisted_queries=PersistedQueries(
            settings.persisted_queries,
            PersistedQueryRepository(store),
            max_document_bytes=settings.max_query_bytes,
        ),
        cost_budget=CostBudget(counters, budget_policy_from(settings)),
        mailer=mailer(settings),
        webhook_sender=webhook_sender_from(settings),
        office_fetcher=office_fetcher_from(settings),
    )
    await broker.start(services.hub.on_payload)
    heartbeat = asyncio.create_task(services.presence.run(), name="cove-presence")
    history = services.notices.history
    watch = (
        asyncio.create_task(
            services.hub.watch_history(
                history.repository.heads, services.policy.realtime.history_poll_seconds
            ),
            name="cove-realtime-history",
        )
        if history is not None
        else None
    )
    sweeper = asyncio.create_task(
        run_sweeper(services, blobs_every=BLOB_SWEEP_EVERY, others_every=SWEEP_EVERY),
        name="cove-sweeper",
    )
    space = asyncio.create_task(watch_volumes(volumes), name="cove-space")
    services.mail.start()  # sends what earlier runs left in the outbox, then what is queued
    services.indexer.drainer.start()  # the same for the search outbox
    services.webhooks.start()  # and for the webhook deliveries
    # Build queued exports and run key rotations, and resume those an earlier run left.
    workers = (ExportWorker(services), KeyRotationWorker(services))
    for worker in workers:
        worker.start()
    try:
        yield services
    finally:
        # An attempt under way may finish; the rest stays in the outbox for the next start.
        await services.mail.stop()
        # Indexes what waits (within a grace); the rest stays queued for the next start.
        await services.indexer.drainer.stop()
        await services.webhooks.stop()
        for worker in workers:  # an export goes back to the queue, a rotation stops
            await worker.stop()  # where it is; both resume at the next start
        for task in (heartbeat, sweeper, watch, space):
            if task is None:
                continue
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task
        await services.audit.flush()
        await broker.close()
        await counters.close()
        await blobs.close()
        await engine.close()
        if services.office_fetcher is not None:
            await services.office_fetcher.close()
        services.close()
        await store.close()


# Allocations (less deallocations) between young collections; see settle_garbage_collector.
YOUNG_COLLECTION_ALLOCATIONS = 10_000


def settle_garbage_collector() -> None:
    """Keep the cyclic garbage collector's pauses short under many long-lived sockets.

    What start-up made (schema, libraries, services) lives as long as the process: frozen, a
    collection never walks it again. Every request leaves some 165 objects in reference
    cycles (litestar's request and scope, strawberry's loaders, graphql-core's execution
    context), which only the collector frees: a young collection walks what was allocated
    since the last one, so it runs after 10,000 allocations (about 7 ms under a thousand
    sockets) rather than 50,000 (20-90 ms, long enough to be a post's p99). Full collections
    stay as rare as before: after 50 middle ones, i.e. 10 million allocations.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_COLLECTION_ALLOCATIONS, 20, 50)


def create_app(settings: Settings, *, owns_process: bool = False) -> Litestar:
    """Build the app; backends open on start-up and close on shut-down.

    `owns_process`: the app is the process's only tenant (`cove serve` and its workers), so
    it may tune the process-wide garbage collector; embedders and tests leave it off.
    """
    configure_logging(settings.log_level)
    keyring = load_keyring(settings)  # fails fast on a readable or missing key
    metrics = Metrics()
    schema = build_schema(
        SchemaOptions(
            introspection=settings.allow_introspection,
            field_suggestions=settings.dev,
            max_depth=settings.max_query_depth,
            max_tokens=settings.max_query_tokens,
            max_aliases=settings.max_aliases,
            max_bytes=settings.max_query_bytes,
            max_cost=settings.max_query_cost,
            max_directives=settings.max_directives,
            reveal_schema=settings.dev,
            extra_extensions=(metrics.extension(),),
        )
    )

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        volumes = volumes_of(settings)
        app.state[VOLUMES_STATE_KEY] = volumes
        async with running_services(settings, keyring, volumes) as services:
            app.state[SERVICES_STATE_KEY] = services
            metrics.watch_broker_drops(lambda: services.hub.drops)
            listener = None
            if settings.metrics_bind:
                listener = MetricsListener(settings.metrics_bind, metrics, settings.metrics_token)
                await asyncio.to_thread(listener.start)
                app.state["metrics_listener"] = listener
            unwatch = None
            if owns_process:
                settle_garbage_collector()
                unwatch = metrics.watch_collector()
            uploads: set[asyncio.Task[Any]] = app.state[UPLOADS_STATE_KEY]
            backups = scheduled_backups(settings, keyring, metrics)
            try:
                yield
            finally:
                if backups is not None:
                    backups.cancel()
                    with suppress(asyncio.CancelledError):
                        await backups
                # Past shutdown_grace_seconds uvicorn cancels the requests still running and
                # goes on at once; the uploads among them remove their partial objects first.
                if uploads:
                    await asyncio.wait(list(uploads), timeout=UPLOAD_CLEANUP_SECONDS)
                if listener is not None:
                    await asyncio.to_thread(listener.stop)
                if unwatch is not None:
                    unwatch()

    graphiql = GraphiQL.load() if settings.serve_graphiql else None

    def count_requests(app: ASGIApp) -> ASGIApp:
        return metrics.http_middleware(app)

    app = Litestar(
        route_handlers=[
            graphql_controller(schema, graphiql=graphiql, max_body_bytes=settings.max_body_bytes),
            *([graphiql.route()] if graphiql else []),
            health,
            ready,
            # With its own listener, `/metrics` is absent from the main port.
            *(() if settings.metrics_bind else (metrics_route(settings.metrics_token),)),
            *file_routes(settings.max_file_bytes),
            *OAUTH_ROUTES,
            incoming_hook,
            *OFFICE_ROUTES,
        ],
        lifespan=[lifespan],
        middleware=[count_requests],
        exception_handlers={
            HTTPException: http_exception_handler,
            Exception: internal_error_handler,
        },
        state=State({"metrics": metrics, "settings": settings, UPLOADS_STATE_KEY: set()}),
        request_max_body_size=settings.max_body_bytes,
        openapi_config=None,
        logging_config=None,  # Cove configures its own JSON logs (api/logs.py)
        debug=False,
    )
    # Litestar runs middleware only for matched routes, so the router's own 404 and 405 (and
    # anything its exception handlers answer) would leave without a request id or security
    # headers. Wrapping the app's ASGI handler puts them on every HTTP answer.
    app.asgi_handler = SecurityMiddleware(app.asgi_handler)
    return app


def scheduled_backups(
    settings: Settings, keyring: Keyring, metrics: Metrics
) -> asyncio.Task[None] | None:
    """With `backup_schedule`, the task that makes the backups (api/backup_schedule.py)."""
    if settings.backup_schedule is None:
        return None
    scheduler = BackupScheduler(
        settings,
        keyring.root_key_id(),
        on_success=lambda when: metrics.backup_last_success.set(when.timestamp()),
        on_failure=metrics.backup_failures.inc,
    )
    return asyncio.create_task(scheduler.run(), name="cove-backup-schedule")


def create_app_from_environment() -> Litestar:
    """Entry point for `cove serve` and its uvicorn workers: settings come from `COVE_*`."""
    return create_app(load_settings(), owns_process=True)
