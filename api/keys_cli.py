"""`cove keys new-root-key | rotate-root` (docs/operations.md, Key rotation)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from api.bootstrap import InitError, load_install_salt, root_key_provider
from api.settings import Settings
from crypto.errors import CryptoError, KeyFileError
from crypto.keyring import Keyring
from crypto.root_key import (
    FileKeyProvider,
    SecretFileKeyProvider,
    generate_root_key,
    root_key_id,
    write_root_key_file,
)
from persistence.keys import DataKeyRepository
from persistence.store import StoreError
from resolvers.key_rotation import RootKeyMismatch, adopt_stored_master, rotate_root

SettingsOf = Callable[[argparse.Namespace], Settings]


def _say(message: str) -> None:
    print(f"cove keys: {message}", file=sys.stderr, flush=True)


def cmd_new_root_key(args: argparse.Namespace, _: SettingsOf) -> int:
    key = generate_root_key()
    write_root_key_file(args.out, key)
    _say(f"new root key written to {args.out} (mode 0600)")
    print(root_key_id(key))
    return 0


def _old_key(settings: Settings, new_key: bytes) -> bytes:
    """The key being retired: the configured root key, or (when servers already run with the
    new key as root key) the configured previous one."""
    configured = [root_key_provider(settings)]
    if settings.root_key_previous_file is not None:
        configured.append(SecretFileKeyProvider(settings.root_key_previous_file))
    for provider in configured:
        key = provider.load()
        if key != new_key:
            return key
    raise InitError(
        "the new key is the only root key configured: set root_key_file (or "
        "root_key_previous_file) to the key being retired"
    )


def cmd_rotate_root(args: argparse.Namespace, settings_of: SettingsOf) -> int:
    from api.stores import open_store

    settings = settings_of(args)
    new_key = FileKeyProvider(args.new_key_file).load()
    old_key = _old_key(settings, new_key)
    keyring = Keyring(new_key, load_install_salt(settings), old_key)
    new_id, old_id = keyring.root_key_id(), root_key_id(old_key)
    _say(f"re-wrapping every stored key from root key {old_id} to {new_id}")

    def progress(done: int, total: int) -> None:
        _say(f"re-wrapped {done} (of {total} keys)")

    async def run() -> None:
        store = await open_store(settings)
        try:
            repo = DataKeyRepository(store)
            report = await rotate_root(
                keyring, repo, lambda: datetime.now(UTC), progress, args.test_pause
            )
            # What a server started with the new key alone will do first.
            await adopt_stored_master(Keyring(new_key, load_install_salt(settings)), repo)
        finally:
            await store.close()
        _say(
            f"done: all {report.keys} stored keys are wrapped under root key {new_id} "
            f"({report.rewrapped} re-wrapped by this run, {report.passes} passes)"
        )

    asyncio.run(run())
    print(new_id)
    _say(
        f"now restart every server with root_key_file = {args.new_key_file} and no "
        "root_key_previous_file; then destroy the old key (keep it while backups made "
        "before now are kept: they need it)"
    )
    return 0


def register(
    commands: Any, common: Callable[[argparse.ArgumentParser], None], settings_of: SettingsOf
) -> None:
    """Add `cove keys …` to the parser's subcommands."""
    keys = commands.add_parser("keys", help="root key rotation")
    verbs = keys.add_subparsers(dest="verb", required=True)

    def verb(name: str, text: str, command: Callable[[argparse.Namespace, SettingsOf], int]) -> Any:
        sub = verbs.add_parser(name, help=text)
        common(sub)
        sub.set_defaults(run=_guarded(command, settings_of))
        return sub

    new = verb("new-root-key", "write a new root key file (0600); print its id", cmd_new_root_key)
    new.add_argument("--out", type=Path, required=True, help="key file to create")
    rotate = verb(
        "rotate-root", "re-wrap every stored key under a new root key (resumable)", cmd_rotate_root
    )
    rotate.add_argument(
        "--new-key-file", type=Path, required=True, help="the new root key (mode 0600)"
    )
    # Tests only: a pause after each re-wrapped key, so a test can kill the rotation mid-way.
    rotate.add_argument("--test-pause", type=float, default=0.0, help=argparse.SUPPRESS)


def _guarded(
    command: Callable[[argparse.Namespace, SettingsOf], int], settings_of: SettingsOf
) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        try:
            return command(args, settings_of)
        except KeyFileError as exc:  # a key that cannot be read or written: exit status 2
            raise InitError(str(exc)) from None
        except (CryptoError, RootKeyMismatch, StoreError, OSError) as exc:
            print(f"cove keys {args.verb}: {exc}", file=sys.stderr)
            return 1

    return run
