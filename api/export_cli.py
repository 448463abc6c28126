"""`cove export --workspace W --out FILE`: an operator's export of one workspace.

It runs in this process against the data dir (as `cove reindex` does), as one of the
workspace's owners (the longest-standing, or `--as` another owner), through the same
resolvers as `requestExport`: the archive is the one that owner would download, in the
format of docs/export.md. It is written in clear to FILE (created 0600, never overwritten):
keep it as you would the data. A progress bar goes to stderr. Each export written is recorded
in the workspace's audit log (`WORKSPACE_EXPORTED`, targeting the owner it was read as, with
the operator who ran it: api/operator.py).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from api.operator import operator_name
from api.settings import Settings
from persistence.ids import new_id
from resolvers.audit import AuditKind
from resolvers.authz import Principal
from resolvers.context import RequestContext
from resolvers.errors import CoveError
from resolvers.export_archive import Counts, ExportScope, archive_chunks
from resolvers.global_ids import from_global_id, to_global_id
from resolvers.roles import Role

SettingsOf = Callable[[argparse.Namespace], Settings]
_BAR = 30


def _raw(given: str, type_name: str) -> str:
    parsed = from_global_id(given)
    return parsed[1] if parsed and parsed[0] == type_name else given


class ProgressBar:
    """One line on stderr: a bar of bytes written against the drive's size (the bulk of any
    export), the objects and bytes so far."""

    def __init__(self, expected_bytes: int, out: IO[str]) -> None:
        self._expected = max(expected_bytes, 1)
        self._out = out
        self._started = time.monotonic()
        self._shown = 0.0

    def show(self, counts: Counts, *, done: bool = False) -> None:
        now = time.monotonic()
        if not done and now - self._shown < 0.2:
            return
        self._shown = now
        share = 1.0 if done else min(counts.bytes / self._expected, 0.99)
        filled = int(share * _BAR)
        rate = counts.bytes / max(now - self._started, 1e-6) / 1e6
        line = (
            f"\r[{'#' * filled}{'.' * (_BAR - filled)}] {share:4.0%} "
            f"{counts.objects} objects, {counts.bytes / 1e6:.1f} MB, {rate:.1f} MB/s"
        )
        self._out.write(line + ("\n" if done else ""))
        self._out.flush()


async def export_workspace(
    settings: Settings, workspace: str, out: Path, owner: str | None, bar_to: IO[str]
) -> Counts:
    """Write the workspace's archive to `out`, as an owner of it."""
    from api.app import running_services
    from api.bootstrap import load_keyring

    workspace_id = _raw(workspace, "Workspace")
    async with running_services(settings, load_keyring(settings)) as services:
        members = await services.workspaces.list_members(workspace_id, limit=1000)
        owners = sorted(
            (m for m in members if m.role == Role.OWNER.value), key=lambda m: m.joined_at
        )
        if not owners:
            raise SystemExit(f"cove export: no workspace {workspace_id}")
        chosen = owners[0].user_id if owner is None else _raw(owner, "User")
        if chosen not in {m.user_id for m in owners}:
            raise SystemExit(f"cove export: {chosen} is not an owner of {workspace_id}")
        ctx = RequestContext.for_principal(services, Principal(chosen, ""), "cli-export")
        scope = ExportScope(chosen, workspace_id, datetime.now(UTC), new_id())
        bar = ProgressBar(await services.drive.bytes_used(workspace_id), bar_to)
        last = Counts()

        async def progress(counts: Counts) -> None:
            last.objects, last.bytes = counts.objects, counts.bytes
            bar.show(counts)

        descriptor = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(descriptor, "wb") as file:
                async for chunk in archive_chunks(ctx, scope, progress):
                    await asyncio.to_thread(file.write, chunk)
        except BaseException as error:
            await asyncio.to_thread(out.unlink, missing_ok=True)  # no half archive left
            if isinstance(error, CoveError):
                raise SystemExit(f"cove export: {error.message}") from None
            raise
        bar.show(last, done=True)
        await services.audit.operator_event(
            workspace_id,
            AuditKind.WORKSPACE_EXPORTED,
            operator=operator_name(),
            targets=(to_global_id("User", chosen),),
            details={"file": str(out), "objects": str(last.objects), "bytes": str(last.bytes)},
        )
        return last


def cmd_export(args: argparse.Namespace, settings_of: SettingsOf) -> int:
    settings = settings_of(args)
    counts = asyncio.run(
        export_workspace(settings, args.workspace, args.out, args.as_owner, sys.stderr)
    )
    print(f"exported {counts.objects} objects ({counts.bytes} bytes) to {args.out}")
    return 0


def register(
    commands: Any, common: Callable[[argparse.ArgumentParser], None], settings_of: SettingsOf
) -> None:
    """Add `cove export` to the parser's subcommands."""
    export = commands.add_parser(
        "export", help="write a workspace's export archive (docs/export.md) to a file"
    )
    common(export)
    export.add_argument("--workspace", required=True, help="the workspace's id (global or raw)")
    export.add_argument("--out", type=Path, required=True, help="the zip file to create")
    export.add_argument(
        "--as", dest="as_owner", default=None, help="export as this owner (default: the first)"
    )
    export.set_defaults(run=lambda args: cmd_export(args, settings_of))
