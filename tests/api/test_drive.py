"""The drive as its users meet it: folders, uploads, downloads with Range, versions, trash,
sharing and share links, quotas, every refusal coded, and the blob store left clean."""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from drive_support import (
    CREATE_FOLDER,
    FILE,
    Drive,
    begin_upload,
    download_url,
    drive_team,
    get,
    new_version,
    put,
    services_of,
)

from resolvers.global_ids import from_global_id
from support import error_codes, make_settings, serve, sqlite_only

SEGMENT = 64 * 1024
MOVE = """mutation($i: ID!, $p: ID) { moveDriveItem(input: {itemId: $i, parentId: $p}) {
  item { id parent { id } } } }"""
RENAME = """mutation($i: ID!, $n: String!) { renameDriveItem(input: {itemId: $i, name: $n}) {
  item { id name } } }"""
TRASH = "mutation($i: ID!) { trashDriveItem(input: {itemId: $i}) { item { id trashed } } }"
RESTORE = "mutation($i: ID!) { restoreDriveItem(input: {itemId: $i}) { item { id trashed parent { id } } } }"
DELETE = "mutation($i: ID!) { deleteDriveItem(input: {itemId: $i}) { deletedItemId } }"


@pytest.fixture
def drive(tmp_path: Path) -> Iterator[Drive]:
    data_dir = tmp_path / "data"
    with serve(make_settings(data_dir)) as server:
        yield drive_team(server, data_dir, "drive.example")


def all_bytes_under(path: Path) -> bytes:
    return b"".join(p.read_bytes() for p in path.rglob("*") if p.is_file())


def test_upload_then_download_round_trip_with_hash_and_headers(drive: Drive) -> None:
    body = os.urandom(3 * SEGMENT + 123)
    file_id = drive.upload(body, name="Q3 report.pdf")
    node = drive.owner.data(FILE, {"id": file_id})["node"]
    assert node["name"] == "Q3 report.pdf"
    assert node["size"] == len(body)
    assert node["contentType"] == "application/pdf"
    assert node["sha256"] == hashlib.sha256(body).hexdigest()
    assert node["viewerLevel"] == "MANAGE"
    [version] = [e["node"] for e in node["versions"]["edges"]]
    assert version["number"] == 1 and version["size"] == len(body)
    response = get(drive.server, node["downloadUrl"])
    assert response.status_code == 200
    assert response.content == body
    assert response.headers["content-length"] == str(len(body))
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["accept-ranges"] == "bytes"
    assert response.headers["x-content-type-options"] == "nosniff"
    disposition = response.headers["content-disposition"]
    assert disposition.startswith("attachment;")
    assert "filename*=UTF-8''Q3%20report.pdf" in disposition
    # The URL may be fetched again while it lives (resumed downloads, ranges).
    assert get(drive.server, node["downloadUrl"]).content == body


def test_an_empty_file_round_trips(drive: Drive) -> None:
    file_id = drive.upload(b"", name="empty.txt", content_type="text/plain")
    response = get(drive.server, download_url(drive.owner, file_id))
    assert response.status_code == 200 and response.content == b""
    assert drive.owner.data(FILE, {"id": file_id})["node"]["sha256"] == hashlib.sha256().hexdigest()


@pytest.mark.parametrize(
    ("header", "start", "end"),
    [
        ("bytes=0-0", 0, 0),
        ("bytes=10-20", 10, 20),
        (f"bytes={SEGMENT - 5}-{SEGMENT + 5}", SEGMENT - 5, SEGMENT + 5),  # across a boundary
        (f"bytes={2 * SEGMENT}-", 2 * SEGMENT, 3 * SEGMENT + 99),  # to the end
        ("bytes=-100", 3 * SEGMENT, 3 * SEGMENT + 99),  # the last 100 bytes
        ("bytes=5-999999999", 5, 3 * SEGMENT + 99),  # an end past the file is clamped
    ],
)
def test_range_requests_serve_exactly_the_bytes_asked(
    drive: Drive, header: str, start: int, end: int
) -> None:
    body = os.urandom(3 * SEGMENT + 100)
    url = download_url(drive.owner, drive.upload(body))
    response = get(drive.server, url, Range=header)
    assert response.status_code == 206
    assert response.content == body[start : end + 1]
    assert response.headers["content-range"] == f"bytes {start}-{end}/{len(body)}"
    assert response.headers["content-length"] == str(end - start + 1)


@pytest.mark.parametrize(
    ("header", "status"),
    [
        ("bytes=abc", 400),
        ("bytes=5-1", 400),
        ("bytes=0-1,5-6", 400),
        ("items=0-1", 400),
        ("bytes=-", 400),
        ("bytes=1000-", 416),
        ("bytes=-0", 416),
        # Numbers no file reaches (int() alone would refuse the 5,000-digit ones: a 500).
        ("bytes=" + "9" * 5000 + "-", 416),
        ("bytes=0-" + "9" * 5000, 416),
        ("bytes=-" + "9" * 5000, 416),
        ("bytes=" + "1" * 19 + "-", 416),
    ],
)
def test_bad_ranges_are_refused_with_a_coded_json_error(
    drive: Drive, header: str, status: int
) -> None:
    url = download_url(drive.owner, drive.upload(b"x" * 1000))
    response = get(drive.server, url, Range=header)
    assert response.status_code == status
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    if status == 416:
        assert response.headers["content-range"] == "bytes */1000"


def test_an_upload_url_works_once_and_a_wrong_one_not_at_all(drive: Drive) -> None:
    upload = begin_upload(drive.owner, 5, workspace=drive.ids["workspace"])
    assert put(drive.server, upload["url"], b"hello").status_code == 201
    again = put(drive.server, upload["url"], b"hello")
    assert again.status_code == 410
    assert again.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    wrong = put(drive.server, "/files/upload/cvu_not-a-real-token", b"hello")
    assert wrong.status_code == 404
    assert wrong.json()["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    assert len(drive.children()) == 1


def test_an_expired_upload_url_is_refused(drive: Drive) -> None:
    services = services_of(drive.server)
    upload = begin_upload(drive.owner, 5, workspace=drive.ids["workspace"])
    real_clock = services.clock
    services.clock = lambda: real_clock() + timedelta(hours=2)
    try:
        assert put(drive.server, upload["url"], b"hello").status_code == 410
    finally:
        services.clock = real_clock
    assert drive.children() == []


@pytest.mark.parametrize(("declared", "sent"), [(10, b"x" * 11), (10, b"x" * 9)])
def test_a_body_longer_or_shorter_than_declared_stores_nothing(
    drive: Drive, declared: int, sent: bytes
) -> None:
    upload = begin_upload(drive.owner, declared, workspace=drive.ids["workspace"])
    response = put(drive.server, upload["url"], sent)
    assert response.status_code in (400, 413)
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert drive.children() == []
    assert list((drive.data_dir / "blobs").rglob("*.*")) == []  # no object, no partial

    # The same, streamed without Content-Length (chunked), so only counting can tell.
    upload = begin_upload(drive.owner, declared, workspace=drive.ids["workspace"])

    def chunks() -> Iterator[bytes]:
        yield sent[:4]
        yield sent[4:]

    with httpx.Client(base_url=drive.server.url, timeout=30) as http:
        response = http.put(upload["url"], content=chunks())
    assert response.status_code in (400, 413)
    assert drive.children() == []
    assert [p for p in (drive.data_dir / "blobs").rglob("*") if p.is_file()] == []


def test_canary_in_a_file_is_absent_from_the_blob_dir_and_the_data_dir(drive: Drive) -> None:
    canary = b"CANARY-drive-7f3a9e " * 5000
    file_id = drive.upload(canary, name="canary-name-5c1e.txt", content_type="text/plain")
    assert get(drive.server, download_url(drive.owner, file_id)).content == canary
    everything = all_bytes_under(drive.data_dir)
    assert b"CANARY-drive-7f3a9e" not in everything
    assert b"canary-name-5c1e" not in everything
    assert hashlib.sha256(canary).hexdigest().encode() not in everything
    assert hashlib.sha256(canary).digest() not in everything


def test_versions_each_have_their_own_contents_and_can_be_restored(drive: Drive) -> None:
    file_id = drive.upload(b"first contents")
    new_version(drive.server, drive.owner, file_id, b"second contents, longer")
    node = drive.owner.data(FILE, {"id": file_id})["node"]
    numbers = [e["node"]["number"] for e in node["versions"]["edges"]]
    assert numbers == [2, 1]
    assert node["size"] == len(b"second contents, longer")
    assert get(drive.server, node["downloadUrl"]).content == b"second contents, longer"
    first = node["versions"]["edges"][1]["node"]
    old = drive.owner.data(
        "query($id: ID!) { node(id: $id) { ... on FileVersion { number downloadUrl } } }",
        {"id": first["id"]},
    )["node"]
    assert get(drive.server, old["downloadUrl"]).content == b"first contents"
    restored = drive.owner.data(
        "mutation($f: ID!, $v: ID!) { restoreFileVersion(input: {fileId: $f, versionId: $v}) "
        "{ file { size sha256 } } }",
        {"f": file_id, "v": first["id"]},
    )["restoreFileVersion"]["file"]
    assert restored == {
        "size": len(b"first contents"),
        "sha256": hashlib.sha256(b"first contents").hexdigest(),
    }
    usage = drive.owner.data(
        "query($w: ID!) { node(id: $w) { ... on Workspace { driveUsage { bytesUsed quotaBytes } } } }",
        {"w": drive.ids["workspace"]},
    )["node"]["driveUsage"]
    assert usage["bytesUsed"] == len(b"first contents") + len(b"second contents, longer")


def test_folders_names_moves_and_the_trash(drive: Drive) -> None:
    ws = drive.ids["workspace"]
    specs = drive.owner.data(CREATE_FOLDER, {"w": ws, "n": "Specs"})["createFolder"]["folder"]
    inner = drive.owner.data(CREATE_FOLDER, {"w": ws, "p": specs["id"], "n": "Drafts"})[
        "createFolder"
    ]["folder"]
    file_id = drive.upload(b"draft", parent=inner["id"], name="draft.txt")
    for bad in ("a/b", "..", ".", "back\\slash", "tab\there", "", "x" * 256, "nul\x00"):
        result = drive.owner.run(CREATE_FOLDER, {"w": ws, "n": bad})
        assert error_codes(result) == ["BAD_USER_INPUT"], bad
    # A folder cannot go into itself or below itself.
    assert error_codes(drive.owner.run(MOVE, {"i": specs["id"], "p": inner["id"]})) == [
        "BAD_USER_INPUT"
    ]
    assert error_codes(drive.owner.run(MOVE, {"i": specs["id"], "p": specs["id"]})) == [
        "BAD_USER_INPUT"
    ]
    moved = drive.owner.data(MOVE, {"i": file_id, "p": specs["id"]})["moveDriveItem"]["item"]
    assert moved["parent"]["id"] == specs["id"]
    renamed = drive.owner.data(RENAME, {"i": file_id, "n": "final.txt"})["renameDriveItem"]
    assert renamed["item"]["name"] == "final.txt"
    # Trash: the folder leaves the listing, its contents are trashed with it.
    drive.owner.data(TRASH, {"i": specs["id"]})
    assert drive.children() == []
    assert drive.owner.run(FILE, {"id": file_id})["data"]["node"]["trashed"] is True
    refused = drive.owner.run(
        "query($id: ID!) { node(id: $id) { ... on File { downloadUrl } } }", {"id": file_id}
    )
    assert error_codes(refused) == ["BAD_USER_INPUT"]
    trash = drive.owner.data(
        "query($w: ID!) { node(id: $w) { ... on Workspace { driveTrash(first: 10) "
        "{ edges { node { id } } } } } }",
        {"w": ws},
    )["node"]["driveTrash"]["edges"]
    assert [e["node"]["id"] for e in trash] == [specs["id"]]
    restored = drive.owner.data(RESTORE, {"i": specs["id"]})["restoreDriveItem"]["item"]
    assert restored["trashed"] is False
    assert [c["id"] for c in drive.children()] == [specs["id"]]
    # Deleting for good needs the trash first.
    assert error_codes(drive.owner.run(DELETE, {"i": specs["id"]})) == ["BAD_USER_INPUT"]


def raw_id(global_id: str) -> str:
    parsed = from_global_id(global_id)
    assert parsed is not None
    return parsed[1]


@sqlite_only  # ScyllaDB keeps deleted bytes until compaction (SECURITY.md)
def test_permanent_delete_destroys_file_keys_and_contents(drive: Drive) -> None:
    file_id = drive.upload(b"secret plans " * 1000)
    new_version(drive.server, drive.owner, file_id, b"more secret plans")
    services = services_of(drive.server)
    versions = asyncio.run(services.drive.versions(raw_id(file_id), limit=10))
    sealed_keys = [v.key_sealed for v in versions]
    asyncio.run(services.store.checkpoint())
    # The test can fail: before the delete, the sealed file keys are in the database.
    everything = all_bytes_under(drive.data_dir)
    assert all(key in everything for key in sealed_keys)
    blob_files = [p for p in (drive.data_dir / "blobs").rglob("*") if p.is_file()]
    assert len(blob_files) == 2
    drive.owner.data(TRASH, {"i": file_id})
    assert drive.owner.data(DELETE, {"i": file_id})["deleteDriveItem"]["deletedItemId"] == file_id
    assert error_codes(drive.owner.run(FILE, {"id": file_id})) == ["NOT_FOUND"]
    asyncio.run(services.store.checkpoint())
    everything = all_bytes_under(drive.data_dir)
    assert not any(key in everything for key in sealed_keys)  # crypto-shredded
    assert [p for p in (drive.data_dir / "blobs").rglob("*") if p.is_file()] == []
    usage = drive.owner.data(
        "query($w: ID!) { node(id: $w) { ... on Workspace { driveUsage { bytesUsed } } } }",
        {"w": drive.ids["workspace"]},
    )["node"]["driveUsage"]
    assert usage["bytesUsed"] == 0


def test_a_client_gone_half_way_leaves_no_file_and_no_blob(drive: Drive) -> None:
    import socket
    import time
    from urllib.parse import urlsplit

    size = 1024 * 1024
    upload = begin_upload(drive.owner, size, workspace=drive.ids["workspace"])
    address = urlsplit(drive.server.url)
    with socket.create_connection((address.hostname, address.port), timeout=10) as sock:
        head = (
            f"PUT {upload['url']} HTTP/1.1\r\nHost: {address.netloc}\r\n"
            f"Content-Length: {size}\r\nContent-Type: application/octet-stream\r\n\r\n"
        )
        sock.sendall(head.encode() + os.urandom(200 * 1024))
        time.sleep(0.2)  # let the server start sealing and storing
    blobs = drive.data_dir / "blobs"
    deadline = time.monotonic() + 10
    while any(p.is_file() for p in blobs.rglob("*")) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [p for p in blobs.rglob("*") if p.is_file()] == []  # no object, no partial
    assert drive.children() == []
    # The URL was claimed by the broken attempt: it cannot be replayed.
    assert put(drive.server, upload["url"], b"x" * size).status_code == 410
