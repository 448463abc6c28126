"""The `cove` command: init, serve, check, reindex, audit, queries, backup, keys, import."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from api import backup_cli, export_cli, import_cli, keys_cli
from api.bootstrap import InitError, init_data_dir, is_initialised, load_keyring
from api.settings import Settings, SettingsError, load_settings


def _settings(args: argparse.Namespace) -> Settings:
    overrides = {
        name: getattr(args, name, None)
        for name in ("data_dir", "host", "port", "workers", "ssl_certfile", "ssl_keyfile")
    }
    if getattr(args, "dev", False):
        overrides["dev"] = True
    return load_settings(config_file=args.config, overrides=overrides)


def cmd_init(args: argparse.Namespace) -> int:
    settings = _settings(args)
    made = init_data_dir(settings)
    for path in made:
        print(f"created {path}")
    print(f"Cove data directory ready: {settings.data_dir}")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from api import http_server

    settings = _settings(args)
    if not is_initialised(settings):
        for path in init_data_dir(settings):
            print(f"created {path}", file=sys.stderr)
    _check_root_key(settings)  # refuse a key others can read, or one that opens nothing here
    # Workers rebuild the same settings from the environment.
    os.environ.update(settings.as_environment())
    scheme = "https" if settings.ssl_certfile else "http"
    print(f"Cove serving on {scheme}://{settings.host}:{settings.port}/graphql", file=sys.stderr)
    config = http_server.server_config(
        settings,
        "api.app:create_app_from_environment",
        factory=True,
        workers=settings.workers,
        ssl_certfile=str(settings.ssl_certfile) if settings.ssl_certfile else None,
        ssl_keyfile=str(settings.ssl_keyfile) if settings.ssl_keyfile else None,
    )
    return 0 if http_server.run(config) else 3


def _check_root_key(settings: Settings) -> None:
    """Before any worker runs: the root key file is private and opens this install's keys."""
    from api.bootstrap import check_root_key
    from api.stores import open_store

    keyring = load_keyring(settings)

    async def check() -> None:
        store = await open_store(settings)
        try:
            await check_root_key(settings, keyring, store)
        finally:
            await store.close()

    asyncio.run(check())


def cmd_check(args: argparse.Namespace) -> int:
    from api.bootstrap import check_root_key
    from api.stores import describe_store, open_store
    from integrations.broker import broker_from_url

    settings = _settings(args)
    keyring = load_keyring(settings)
    print(
        "keys: ok",
        f"({'environment' if settings.root_key else settings.resolved_root_key_file})",
    )

    async def reach_store() -> None:
        store = await open_store(settings)
        try:
            await store.ping()
            await check_root_key(settings, keyring, store)  # the key opens this install's keys
        finally:
            await store.close()

    asyncio.run(reach_store())
    print(f"store: ok ({describe_store(settings)})")

    async def reach_broker() -> None:
        broker = broker_from_url(settings.broker_url)
        try:
            await broker.ping()
        finally:
            await broker.close()

    asyncio.run(reach_broker())
    print(f"broker: ok ({broker_from_url(settings.broker_url).name})")

    async def reach_blobs() -> None:
        from api.app import blob_store

        blobs = blob_store(settings)
        try:
            await blobs.ping()
        finally:
            await blobs.close()

    asyncio.run(reach_blobs())
    where = settings.s3_bucket if settings.blob_store == "s3" else settings.resolved_blob_dir
    print(f"blobs: ok ({settings.blob_store} {where})")

    async def reach_search() -> None:
        from api.app import search_engine

        store = await open_store(settings)
        engine = search_engine(settings, store)
        try:
            await engine.ping()
        finally:
            await engine.close()
            await store.close()

    asyncio.run(reach_search())
    print(f"search: ok ({settings.search_engine})")
    return 0


def cmd_reindex(args: argparse.Namespace) -> int:
    """Rebuild the search index of the workspaces named, from the sealed rows of the store."""
    from api.app import running_services
    from resolvers.global_ids import from_global_id
    from resolvers.search import reindex_workspace

    settings = _settings(args)
    keyring = load_keyring(settings)
    workspace_ids = []
    for given in args.workspace:
        parsed = from_global_id(given)
        workspace_ids.append(parsed[1] if parsed and parsed[0] == "Workspace" else given)

    async def run() -> dict[str, dict[str, int]]:
        done: dict[str, dict[str, int]] = {}
        async with running_services(settings, keyring) as services:
            for workspace_id in workspace_ids:
                if await services.workspaces.get(workspace_id) is None:
                    raise SystemExit(f"cove: no workspace {workspace_id}")

                def report(kind: str, count: int, ws: str = workspace_id) -> None:
                    print(f"{ws}: {kind}s indexed: {count}", file=sys.stderr, flush=True)

                done[workspace_id] = await reindex_workspace(services, workspace_id, report)
        return done

    for workspace_id, counts in asyncio.run(run()).items():
        summary = ", ".join(
            f"{count} damaged, left out" if kind == "damaged" else f"{count} {kind}s"
            for kind, count in counts.items()
        )
        print(f"reindexed {workspace_id}: {summary}")
    return 0


def cmd_audit(args: argparse.Namespace) -> int:
    """Print a workspace's or an account's audit events as JSON lines, newest first."""
    from api.app import running_services
    from persistence.audit import account_log, workspace_log
    from resolvers.audit import AuditFilter, AuditKind
    from resolvers.global_ids import from_global_id

    settings = _settings(args)
    keyring = load_keyring(settings)

    def raw(given: str, type_name: str) -> str:
        parsed = from_global_id(given)
        return parsed[1] if parsed and parsed[0] == type_name else given

    if args.workspace:
        workspace_id = raw(args.workspace, "Workspace")
        log_id, scope = workspace_log(workspace_id), workspace_id
    else:
        log_id, scope = account_log(raw(args.user, "User")), ""
    try:
        wanted = AuditFilter(
            kinds=frozenset(AuditKind(k) for k in args.kind or ()),
            since=None if args.since is None else datetime.fromisoformat(args.since),
        )
    except ValueError as error:
        raise SystemExit(f"cove: {error}") from None

    async def run() -> None:
        async with running_services(settings, keyring) as services:
            after: str | None = None
            while True:
                page = await services.audit.page(
                    log_id,
                    lambda r: services.authz.system_audit(scope, r.event_id),
                    100,
                    after,
                    wanted,
                )
                for _, entry in page.edges:
                    print(json.dumps(entry.as_json()), flush=True)
                if not page.has_next_page:
                    return
                after = page.end_cursor

    asyncio.run(run())
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cove", description="Cove: secure team collaboration.")
    commands = parser.add_subparsers(dest="command", required=True)

    def common(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--config", type=Path, default=None, help="TOML configuration file")
        sub.add_argument(
            "--data-dir", type=Path, default=None, help="data directory (default ./.cove)"
        )

    init = commands.add_parser("init", help="create the data dir, root key and install salt")
    common(init)
    init.set_defaults(run=cmd_init)

    serve = commands.add_parser("serve", help="run the API")
    common(serve)
    serve.add_argument("--host", default=None)
    serve.add_argument("--port", type=int, default=None)
    serve.add_argument("--workers", type=int, default=None)
    serve.add_argument("--dev", action="store_true", help="GraphiQL, introspection, suggestions")
    serve.add_argument("--ssl-certfile", type=Path, default=None, help="TLS certificate (PEM)")
    serve.add_argument("--ssl-keyfile", type=Path, default=None, help="TLS private key (PEM)")
    serve.set_defaults(run=cmd_serve)

    check = commands.add_parser("check", help="validate configuration and reach every backend")
    common(check)
    check.set_defaults(run=cmd_check)

    reindex = commands.add_parser(
        "reindex", help="rebuild a workspace's search index from the store"
    )
    common(reindex)
    reindex.add_argument(
        "--workspace",
        action="append",
        required=True,
        help="workspace id (as the API shows it); repeat for several",
    )
    reindex.set_defaults(run=cmd_reindex)

    audit = commands.add_parser("audit", help="print audit events as JSON lines, newest first")
    common(audit)
    whose = audit.add_mutually_exclusive_group(required=True)
    whose.add_argument("--workspace", help="a workspace's log (its id as the API shows it)")
    whose.add_argument("--user", help="an account's security log (its user id)")
    audit.add_argument("--since", default=None, help="ISO 8601 time with offset; newer only")
    audit.add_argument("--kind", action="append", help="only this kind; repeat for several")
    audit.set_defaults(run=cmd_audit)

    queries = commands.add_parser("queries", help="the documents persisted_queries = only runs")
    verbs = queries.add_subparsers(dest="verb", required=True)
    register = verbs.add_parser(
        "register", help="register GraphQL documents (.graphql files or JSON manifests)"
    )
    common(register)
    register.add_argument("files", nargs="+", type=Path, metavar="FILE")
    register.set_defaults(run=cmd_queries)
    backup_cli.register(commands, common, _settings)
    keys_cli.register(commands, common, _settings)
    import_cli.register(commands, common, _settings)
    export_cli.register(commands, common, _settings)
    return parser


def cmd_queries(args: argparse.Namespace) -> int:
    from api.queries_cli import ManifestError, cmd_queries_register

    try:
        return cmd_queries_register(args, _settings(args))
    except ManifestError as exc:
        print(f"cove queries: {exc}", file=sys.stderr)
        return 2


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args))
    except (SettingsError, InitError) as exc:
        print(f"cove: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # a backend that does not answer, reported without a traceback
        if args.command != "check":
            raise
        print(f"cove check: failed: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
