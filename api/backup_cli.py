"""`cove backup keygen | create | list | verify | prune | restore` (docs/operations.md, Backups)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from api import backup_s3
from api.backup import BackupError, backup_dir, create_backup, restore_backup, verify_backup
from api.backup_prune import archives, prune
from api.bootstrap import root_key_provider
from api.settings import Settings
from crypto.backup_seal import BackupIdentity, BackupRecipient
from crypto.errors import CryptoError
from crypto.root_key import FileKeyProvider, root_key_id, write_root_key_file
from integrations.blobs.base import BlobError
from persistence.store import StoreError

SettingsOf = Callable[[argparse.Namespace], Settings]


def _progress(message: str) -> None:
    print(f"cove backup: {message}", file=sys.stderr, flush=True)


def cmd_keygen(args: argparse.Namespace, _: SettingsOf) -> int:
    identity = BackupIdentity.generate()
    identity.save(args.out)
    print(
        f"identity written to {args.out} (keep it offline; it opens every backup)", file=sys.stderr
    )
    print(identity.recipient)
    return 0


def cmd_create(args: argparse.Namespace, settings_of: SettingsOf) -> int:
    settings = settings_of(args)
    if args.to is not None:
        settings = _with(settings, backup_dir=args.to)
    if settings.backup_recipient is None:
        raise BackupError("set backup_recipient (the public key `cove backup keygen` printed)")
    recipient = BackupRecipient.parse(settings.backup_recipient)
    key_id = root_key_id(root_key_provider(settings).load())
    archive = create_backup(settings, key_id, recipient, _progress)
    if settings.backup_s3_bucket is None:
        print(archive)
        return 0
    address = asyncio.run(backup_s3.upload(settings, archive))
    archive.unlink()
    _progress(f"uploaded to {address}")
    print(address)
    return 0


def cmd_list(args: argparse.Namespace, settings_of: SettingsOf) -> int:
    settings = settings_of(args)
    if args.dir is None and settings.backup_s3_bucket is not None:
        for when, address, size in asyncio.run(backup_s3.listing(settings)):
            print(f"{address}\t{when.isoformat()}\t{size}")
        return 0
    directory = args.dir or backup_dir(settings)
    for when, path in archives(directory):
        print(f"{path}\t{when.isoformat()}\t{path.stat().st_size}")
    return 0


def cmd_verify(args: argparse.Namespace, settings_of: SettingsOf) -> int:
    identity = BackupIdentity.load(args.identity)
    with _local(args.file, settings_of, args) as archive:
        verified = verify_backup(archive, identity)
    print(
        f"{args.file}: ok, {len(verified.entries)} entries verified "
        f"(made {verified.header['created']} by Cove {verified.header['cove_version']}, "
        f"root key id {verified.header['root_key_id']})"
    )
    return 0


def cmd_prune(args: argparse.Namespace, settings_of: SettingsOf) -> int:
    settings = settings_of(args)
    daily = settings.backup_keep_daily if args.keep_daily is None else args.keep_daily
    monthly = settings.backup_keep_monthly if args.keep_monthly is None else args.keep_monthly
    if daily < 0 or monthly < 0 or daily + monthly == 0:
        raise BackupError("prune must keep at least one archive")
    verb = "would delete" if args.dry_run else "deleted"
    if args.dir is None and settings.backup_s3_bucket is not None:
        pruned = asyncio.run(backup_s3.prune(settings, daily, monthly, dry_run=args.dry_run))
        for address in pruned:
            print(f"{verb} {address}")
        return 0
    directory = args.dir or backup_dir(settings)
    for path in prune(directory, daily, monthly, dry_run=args.dry_run):
        print(f"{verb} {path}")
    return 0


def cmd_restore(args: argparse.Namespace, settings_of: SettingsOf) -> int:
    if args.data_dir is None:
        raise BackupError("name the new data dir with --data-dir NEW")
    settings = settings_of(args)
    if args.root_key_file is not None:
        root_key: bytes | None = FileKeyProvider(args.root_key_file).load()
    elif settings.root_key is not None or settings.root_key_file is not None:
        root_key = root_key_provider(settings).load()
    else:
        root_key = None
    identity = BackupIdentity.load(args.identity)
    with _local(args.file, settings_of, args) as archive:
        verified = restore_backup(archive, identity, settings, root_key, _progress)
    if args.root_key_file is not None and root_key is not None:
        write_root_key_file(settings.resolved_root_key_file, root_key)
    salt = (
        ""
        if any(e.path == "keys/install.salt" for e in verified.entries)
        else ("; the install salt was not in the data dir: give it as COVE_INSTALL_SALT")
    )
    print(f"restored {len(verified.entries)} entries into {settings.data_dir}{salt}")
    return 0


@contextlib.contextmanager
def _local(given: str, settings_of: SettingsOf, args: argparse.Namespace) -> Iterator[Path]:
    """The archive as a local file: `s3://bucket/key` is fetched first, and removed after."""
    if not given.startswith(backup_s3.SCHEME):
        yield Path(given)
        return
    settings = settings_of(args)
    with tempfile.TemporaryDirectory(prefix="cove-backup-") as scratch:
        _progress(f"fetching {given}")
        yield asyncio.run(backup_s3.download(settings, given, Path(scratch)))


def _with(settings: Settings, **changes: Any) -> Settings:
    return dataclasses.replace(settings, **changes).validate()


def _guarded(
    command: Callable[[argparse.Namespace, SettingsOf], int], settings_of: SettingsOf
) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        try:
            return command(args, settings_of)
        except (BackupError, CryptoError, StoreError, BlobError, OSError) as exc:
            print(f"cove backup {args.verb}: {exc}", file=sys.stderr)
            return 1

    return run


def register(
    commands: Any, common: Callable[[argparse.ArgumentParser], None], settings_of: SettingsOf
) -> None:
    """Add `cove backup …` to the parser's subcommands."""
    backup = commands.add_parser("backup", help="encrypted backups: make, check, prune, restore")
    verbs = backup.add_subparsers(dest="verb", required=True)

    def verb(name: str, text: str, command: Callable[[argparse.Namespace, SettingsOf], int]) -> Any:
        sub = verbs.add_parser(name, help=text)
        common(sub)
        sub.set_defaults(run=_guarded(command, settings_of))
        return sub

    keygen = verb("keygen", "write a backup identity (0600); print its public key", cmd_keygen)
    keygen.add_argument("--out", type=Path, required=True, help="identity file to create")
    create = verb("create", "seal an online snapshot of the data dir into one archive", cmd_create)
    create.add_argument("--to", type=Path, default=None, help="directory (default backup_dir)")
    listing = verb("list", "the archives in the backup dir, newest first", cmd_list)
    listing.add_argument("--dir", type=Path, default=None, help="directory (default backup_dir)")
    check = verb("verify", "decrypt an archive and check every checksum", cmd_verify)
    check.add_argument("file", metavar="FILE", help="an archive, or s3://bucket/key")
    check.add_argument("--identity", type=Path, required=True, help="the backup identity file")
    trim = verb("prune", "delete the archives the keep policy does not keep", cmd_prune)
    trim.add_argument("--dir", type=Path, default=None, help="directory (default backup_dir)")
    trim.add_argument("--keep-daily", type=int, default=None, help="default backup_keep_daily")
    trim.add_argument("--keep-monthly", type=int, default=None, help="default backup_keep_monthly")
    trim.add_argument("--dry-run", action="store_true", help="only print what would go")
    restore = verb("restore", "restore an archive into a new, empty data dir", cmd_restore)
    restore.add_argument("file", metavar="FILE", help="an archive, or s3://bucket/key")
    restore.add_argument("--identity", type=Path, required=True, help="the backup identity file")
    restore.add_argument(
        "--root-key-file",
        type=Path,
        default=None,
        help="the root key in use when the backup was made; copied into the new data dir",
    )
