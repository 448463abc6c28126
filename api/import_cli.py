"""`cove import slack FILE --workspace W [--dry-run]` (docs/operations.md, Import from Slack).

An import that writes is recorded in the workspace's audit log (`SLACK_IMPORTED`): the file,
what was imported and skipped, and the operator (api/operator.py); one stopped by an error
is recorded too, saying so. A dry run, or one refused before writing, records nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from api.bootstrap import load_keyring
from api.operator import operator_name
from api.settings import Settings
from resolvers.audit import AuditKind
from resolvers.global_ids import from_global_id
from resolvers.services import Services
from resolvers.slack_export import SlackExportError, read_export
from resolvers.slack_import import ImportRefused, ImportReport, import_export

SettingsOf = Callable[[argparse.Namespace], Settings]


def _progress(message: str) -> None:
    print(f"cove import: {message}", file=sys.stderr, flush=True)


def cmd_import_slack(args: argparse.Namespace, settings_of: SettingsOf) -> int:
    from api.app import running_services

    settings = settings_of(args)
    keyring = load_keyring(settings)
    parsed = from_global_id(args.workspace)
    workspace_id = parsed[1] if parsed and parsed[0] == "Workspace" else args.workspace
    try:
        export = read_export(args.file)  # all of it read and checked before any write
    except SlackExportError as error:
        print(f"cove import: {error}", file=sys.stderr)
        return 2

    async def audit(services: Services, details: dict[str, str]) -> None:
        if not args.dry_run:
            details = {"file": Path(args.file).name, **details}
            await services.audit.operator_event(
                workspace_id, AuditKind.SLACK_IMPORTED, operator=operator_name(), details=details
            )

    async def run() -> ImportReport:
        async with running_services(settings, keyring) as services:
            try:
                report = await import_export(
                    services, workspace_id, export, dry_run=args.dry_run, progress=_progress
                )
            except ImportRefused:
                raise  # refused before anything was written
            except Exception as error:
                await audit(services, {"stopped": f"by an error ({type(error).__name__})"})
                raise
            await audit(services, report.summary())
            return report

    try:
        report = asyncio.run(run())
    except ImportRefused as error:
        print(f"cove import: {error}", file=sys.stderr)
        return 2
    if args.dry_run:
        print("dry run: nothing was written")
    for line in report.lines():
        print(line)
    return 0


def register(
    commands: Any, common: Callable[[argparse.ArgumentParser], None], settings_of: SettingsOf
) -> None:
    """Add `cove import slack` to the command line."""
    imports = commands.add_parser("import", help="import another tool's data into a workspace")
    sources = imports.add_subparsers(dest="source", required=True)
    slack = sources.add_parser("slack", help="a Slack workspace export (.zip)")
    common(slack)
    slack.add_argument("file", type=Path, metavar="FILE", help="the export zip Slack made")
    slack.add_argument("--workspace", required=True, help="workspace id (as the API shows it)")
    slack.add_argument("--dry-run", action="store_true", help="report only; write nothing")
    slack.set_defaults(run=lambda args: cmd_import_slack(args, settings_of))
