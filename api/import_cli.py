"""`cove import slack FILE --workspace W [--dry-run]` (docs/operations.md, Import from Slack)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from api.bootstrap import load_keyring
from api.settings import Settings
from resolvers.global_ids import from_global_id
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

    async def run() -> ImportReport:
        async with running_services(settings, keyring) as services:
            return await import_export(
                services, workspace_id, export, dry_run=args.dry_run, progress=_progress
            )

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
