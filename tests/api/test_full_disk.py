"""A full disk, for real: the data dir (SQLite and the local blobs) on a small tmpfs that the
test fills with a file, then frees.

A full volume must answer a clear code (UNAVAILABLE / STORAGE_FULL, HTTP 507), turn `/ready`
red, leave reads and downloads working, let deletes through to free space, and, once space
returns, let writes work again without a restart.
"""

from __future__ import annotations

import errno
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from drive_support import (
    CREATE_CH,
    FILE,
    Drive,
    begin_upload,
    download_url,
    drive_team,
    get,
    put,
)

from persistence.space import RESERVE_NAME
from support import make_settings, on_scylla, serve

MiB = 1024 * 1024
VOLUME = 32 * MiB
MIN_FREE = 4 * MiB
POST = """mutation($c: ID!, $t: String!) {
  postMessage(input: {channelId: $c, text: $t}) { message { id text } } }"""
MESSAGES = """query($c: ID!) { node(id: $c) { ... on Channel {
  messages(first: 20) { edges { node { id text } } } } } }"""
DELETE_MESSAGE = "mutation($m: ID!) { deleteMessage(input: {messageId: $m}) { deletedMessageId } }"
TRASH = "mutation($i: ID!) { trashDriveItem(input: {itemId: $i}) { item { id trashed } } }"
DELETE_ITEM = "mutation($i: ID!) { deleteDriveItem(input: {itemId: $i}) { deletedItemId } }"

pytestmark = pytest.mark.skipif(
    on_scylla(), reason="ScyllaDB's disk is the node's business; this fills a local data dir"
)


@pytest.fixture
def volume(tmp_path: Path) -> Iterator[Path]:
    """A tmpfs of VOLUME bytes, unmounted at the end; skipped where mounting is refused."""
    mount_point = tmp_path / "volume"
    mount_point.mkdir()
    try:
        mounted = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={VOLUME},mode=0700", "tmpfs", str(mount_point)],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        pytest.skip(f"cannot mount a tmpfs to fill up here ({exc})")
    if mounted.returncode != 0:
        reason = mounted.stderr.strip() or f"exit status {mounted.returncode}"
        pytest.skip(f"this machine refuses to mount a tmpfs to fill up ({reason})")
    try:
        yield mount_point
    finally:
        subprocess.run(
            ["umount", "-l", str(mount_point)], capture_output=True, timeout=30, check=False
        )


def fill(path: Path) -> int:
    """Write a file until the volume refuses more (ENOSPC); the bytes it holds."""
    written = 0
    chunk = b"\0" * (256 * 1024)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        for _ in range(2 * VOLUME // len(chunk)):  # the volume ends it long before
            try:
                written += os.write(fd, chunk)
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
                break
        else:
            raise AssertionError("the volume never filled")
        for size in (4096, 512, 1):  # the last pages too
            for _ in range(len(chunk) // size):
                try:
                    written += os.write(fd, b"\0" * size)
                except OSError:
                    break
    finally:
        os.close(fd)
    return written


def storage_full(result: dict[str, object]) -> dict[str, object]:
    errors = result.get("errors")
    assert isinstance(errors, list) and len(errors) == 1, result
    extensions: dict[str, object] = errors[0]["extensions"]
    return extensions


def test_a_full_data_volume_refuses_clearly_keeps_reads_frees_by_deleting_and_recovers(
    volume: Path,
) -> None:
    data_dir = volume / "data"
    settings = make_settings(data_dir, min_free_bytes=MIN_FREE)
    with serve(settings) as server:
        drive: Drive = drive_team(server, data_dir, "full.example")
        owner = drive.owner
        channel = owner.data(
            CREATE_CH, {"w": drive.ids["workspace"], "n": "general", "v": "PUBLIC"}
        )["createChannel"]["channel"]["id"]
        kept = owner.data(POST, {"c": channel, "t": "kept"})["postMessage"]["message"]["id"]
        doomed = owner.data(POST, {"c": channel, "t": "doomed"})["postMessage"]["message"]["id"]
        body = os.urandom(300 * 1024)
        file_id = drive.upload(body, name="kept.bin")
        other_body = os.urandom(200 * 1024)
        other_id = drive.upload(other_body, name="doomed.bin")
        later = begin_upload(owner, 100 * 1024, workspace=drive.ids["workspace"], name="later")
        assert server.client().http.get("/ready").status_code == 200
        reserve = data_dir / RESERVE_NAME
        assert reserve.stat().st_size == MIN_FREE // 4
        blobs = sorted((data_dir / "blobs" / "drive").rglob("*"))
        assert len([path for path in blobs if path.is_file()]) == 2

        filler = volume / "filler"
        fill(filler)

        # A write gets a clear code, not INTERNAL.
        extensions = storage_full(server.client(owner.token).run(POST, {"c": channel, "t": "x"}))
        assert extensions["code"] == "UNAVAILABLE", extensions
        assert extensions["reason"] == "STORAGE_FULL"
        assert isinstance(extensions["retryAfterSeconds"], int)
        # An upload is refused with 507 and Retry-After; its URL stays good for later.
        refused = put(server, later["url"], os.urandom(100 * 1024))
        assert refused.status_code == 507, refused.text
        assert refused.headers["retry-after"].isdigit()
        error = refused.json()["errors"][0]["extensions"]
        assert error["code"] == "UNAVAILABLE" and error["reason"] == "STORAGE_FULL"
        assert not list((data_dir / "blobs" / ".partial").glob("*"))
        # /ready is red and names the full volume.
        ready = server.client().http.get("/ready")
        assert ready.status_code == 503, ready.text
        assert "data_dir" in ready.json()["failed"]
        assert not reserve.exists()  # released for the deletes below

        # Reads and downloads work.
        texts = {
            e["node"]["text"]
            for e in owner.data(MESSAGES, {"c": channel})["node"]["messages"]["edges"]
        }
        assert {"kept", "doomed"} <= texts
        downloaded = get(server, download_url(owner, file_id))
        assert downloaded.status_code == 200 and downloaded.content == body
        assert owner.data(FILE, {"id": file_id})["node"]["size"] == len(body)

        # Deleting frees space through the API.
        owner.data(DELETE_MESSAGE, {"m": doomed})
        owner.data(TRASH, {"i": other_id})
        owner.data(DELETE_ITEM, {"i": other_id})
        texts = {
            e["node"]["text"]
            for e in owner.data(MESSAGES, {"c": channel})["node"]["messages"]["edges"]
        }
        assert texts == {"kept"}
        blobs = sorted((data_dir / "blobs" / "drive").rglob("*"))
        assert len([path for path in blobs if path.is_file()]) == 1  # the file's contents went

        # Space returns: green again by itself, and writes work without a restart.
        filler.unlink()
        ready = server.client().http.get("/ready")
        assert ready.status_code == 200, ready.text
        assert reserve.stat().st_size == MIN_FREE // 4  # made again
        owner.data(POST, {"c": channel, "t": "after"})
        stored = put(server, later["url"], os.urandom(100 * 1024))
        assert stored.status_code == 201, stored.text
        assert get(server, download_url(owner, file_id)).content == body
        assert kept in {
            e["node"]["id"]
            for e in owner.data(MESSAGES, {"c": channel})["node"]["messages"]["edges"]
        }
