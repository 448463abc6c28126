"""Stored file contents are trusted only once they authenticate: tampering, truncation and a
lost key part all fail; orphans are swept; the same drive runs on S3 with no plaintext there."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from drive_support import (
    FILE,
    download_url,
    get,
    services_of,
    upload_file,
)
from worlds import CREATE_WS

from api.bootstrap import load_install_salt
from crypto import stream
from crypto.errors import SealError
from crypto.field_seal import _open_field
from persistence.blob_intents import BlobIntentRecord
from persistence.ids import new_id
from resolvers.blob_leases import intent_hour
from resolvers.drive_access import version_ref
from resolvers.global_ids import from_global_id
from resolvers.sweeper import sweep_blobs, sweep_orphans
from support import Server, make_settings, serve, sign_up
from tests.integrations.blob_fixtures import DUMMY_CREDENTIALS

SEGMENT = stream.SEGMENT_BYTES


def raw(global_id: str) -> str:
    parsed = from_global_id(global_id)
    assert parsed is not None
    return parsed[1]


def owner_and_workspace(server: Server) -> tuple[Any, str]:
    token, _ = sign_up(server.client(), "owner@integrity.example")
    owner = server.client(token)
    workspace = owner.data(CREATE_WS, {"n": "Acme"})["createWorkspace"]["workspace"]["id"]
    return owner, workspace


def the_blob(data_dir: Path) -> Path:
    [blob] = [p for p in (data_dir / "blobs").rglob("*") if p.is_file()]
    return blob


def stream_until_it_breaks(server: Server, url: str) -> tuple[int, bytes, bool]:
    """Status, the bytes received, and whether the body ended short of its Content-Length."""
    received = bytearray()
    with httpx.Client(base_url=server.url, timeout=30) as http, http.stream("GET", url) as response:
        try:
            for chunk in response.iter_raw():
                received += chunk
        except httpx.RemoteProtocolError:
            return response.status_code, bytes(received), True
        return response.status_code, bytes(received), False


def test_a_flipped_byte_stops_the_download_at_its_segment(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    with serve(make_settings(data_dir)) as server:
        owner, ws = owner_and_workspace(server)
        body = os.urandom(4 * SEGMENT + 10)
        file_id = upload_file(server, owner, ws, body)
        blob = the_blob(data_dir)
        sealed = bytearray(blob.read_bytes())
        offset, _ = stream.segment_span(2, len(body))
        sealed[offset + 100] ^= 0x01  # inside segment 2
        blob.write_bytes(bytes(sealed))
        status, received, cut_short = stream_until_it_breaks(server, download_url(owner, file_id))
        assert status == 200
        assert cut_short
        # Only verified segments went out: at most segments 0 and 1, and exactly their bytes.
        assert len(received) <= 2 * SEGMENT
        assert received == body[: len(received)]
        # A range that avoids segment 2 is still served; one that needs it is not.
        ok = get(server, download_url(owner, file_id), Range=f"bytes=0-{2 * SEGMENT - 1}")
        assert ok.status_code == 206 and ok.content == body[: 2 * SEGMENT]
        bad = get(server, download_url(owner, file_id), Range=f"bytes={2 * SEGMENT}-")
        assert bad.status_code == 500
        assert bad.json()["errors"][0]["extensions"]["code"] == "INTERNAL"


@pytest.mark.parametrize("damage", ["flip-first-segment", "truncate", "pad", "flip-header"])
def test_damage_before_any_byte_is_sent_is_an_error_response(tmp_path: Path, damage: str) -> None:
    data_dir = tmp_path / "data"
    with serve(make_settings(data_dir)) as server:
        owner, ws = owner_and_workspace(server)
        body = os.urandom(2 * SEGMENT + 5)
        file_id = upload_file(server, owner, ws, body)
        blob = the_blob(data_dir)
        sealed = bytearray(blob.read_bytes())
        if damage == "flip-first-segment":
            sealed[stream.HEADER_BYTES + 7] ^= 0x80
        elif damage == "truncate":
            del sealed[-16:]
        elif damage == "pad":
            sealed += b"\x00" * 16
        else:
            sealed[3] ^= 0x01  # the nonce prefix, which every segment's nonce carries
        blob.write_bytes(bytes(sealed))
        response = get(server, download_url(owner, file_id))
        assert response.status_code == 500
        assert body[:64] not in response.content


def test_each_of_the_three_key_parts_is_needed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rebuild the content key from what is stored (sealed file key, install salt, the code's
    pepper): with all three the blob opens; with any one of them wrong it does not."""
    data_dir = tmp_path / "data"
    settings = make_settings(data_dir)
    with serve(settings) as server:
        owner, ws = owner_and_workspace(server)
        body = b"three parts " * 10_000
        file_id = upload_file(server, owner, ws, body)
        services = services_of(server)
        [version] = asyncio.run(services.drive.versions(raw(file_id), limit=5))
        data_key = asyncio.run(services.keys.version(version.workspace_id, 1))
        ref = version_ref("key", version.version_id, version.workspace_id)
        file_key = _open_field(data_key, ref, version.key_sealed)
        salt = load_install_salt(settings)
        sealed = the_blob(data_dir).read_bytes()

        def opens(key_bytes: bytes, salt_bytes: bytes) -> bool:
            key = stream.content_key(key_bytes, salt_bytes, version.file_id, version.version_id)
            try:
                return b"".join(stream.decrypt_object(key, [sealed], len(body))) == body
            except SealError:
                return False

        assert opens(file_key, salt)
        assert not opens(os.urandom(32), salt)  # the file key (destroyed on permanent delete)
        assert not opens(file_key, os.urandom(len(salt)))  # the install salt
        monkeypatch.setattr(stream, "CODE_PEPPER", os.urandom(32))  # the constant in code
        assert not opens(file_key, salt)


def test_sweep_removes_orphans_at_once_but_keeps_live_files_and_running_uploads(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    with serve(make_settings(data_dir)) as server:
        owner, ws = owner_and_workspace(server)
        upload_file(server, owner, ws, b"kept")
        services = services_of(server)
        ws_raw = raw(ws)
        long_ago = services.clock() - timedelta(days=3)

        def key(version_id: str) -> str:
            return f"drive/{ws_raw}/{new_id()}/{version_id}"

        crashed = key(new_id())  # made a moment ago; its upload's intent lapsed
        running = key(new_id())  # an upload on another node, about to write its version row
        older_cove = key(new_id())  # no intent: a node not yet upgraded may be uploading it
        forgotten = key(new_id(at=long_ago))  # no intent, and older than any upload

        async def chunks() -> Any:
            yield b"orphan ciphertext"

        async def hold(blob: str, alive_for: timedelta) -> None:
            hour = intent_hour(blob)
            assert hour is not None
            alive_until = services.clock() + alive_for
            await services.blob_intents.hold(BlobIntentRecord(hour, blob, "n:1", alive_until))

        async def scenario() -> tuple[int, list[str]]:
            await hold(crashed, -timedelta(minutes=2))
            await hold(running, timedelta(minutes=1))
            for blob in (crashed, running, older_cove, forgotten):
                await services.blobs.put_stream(blob, chunks())
            removed = await sweep_blobs(services)  # every few minutes: the lapsed intent
            removed += await sweep_orphans(services)  # hourly: every object
            return removed, [k async for k in services.blobs.keys("drive/")]

        removed, left = asyncio.run(scenario())
        assert removed == 2
        assert crashed not in left and forgotten not in left
        assert running in left and older_cove in left
        assert len(left) == 3  # with the live file


def test_the_drive_on_s3_keeps_only_ciphertext_in_the_bucket(
    tmp_path: Path, s3_endpoint_url: str, s3_bucket: str, s3_client: Any
) -> None:
    settings = make_settings(
        tmp_path / "data",
        blob_store="s3",
        s3_endpoint_url=s3_endpoint_url,
        s3_bucket=s3_bucket,
        s3_region="us-east-1",
        s3_access_key_id=DUMMY_CREDENTIALS["access_key_id"],
        s3_secret_access_key=DUMMY_CREDENTIALS["secret_access_key"],
    )
    with serve(settings) as server:
        owner, ws = owner_and_workspace(server)
        canary = b"S3-CANARY-d41c " * 20_000  # several segments
        file_id = upload_file(server, owner, ws, canary, name="s3-canary-name.txt")
        node = owner.data(FILE, {"id": file_id})["node"]
        assert node["sha256"] == hashlib.sha256(canary).hexdigest()
        assert get(server, node["downloadUrl"]).content == canary
        ranged = get(server, download_url(owner, file_id), Range="bytes=70000-70099")
        assert ranged.status_code == 206 and ranged.content == canary[70000:70100]
        objects = s3_client.list_objects_v2(Bucket=s3_bucket).get("Contents", [])
        assert len(objects) == 1
        stored = s3_client.get_object(Bucket=s3_bucket, Key=objects[0]["Key"])["Body"].read()
        assert len(stored) == stream.ciphertext_size(len(canary))
        for needle in (b"S3-CANARY-d41c", b"s3-canary-name", base64.b64encode(canary[:30])):
            assert needle not in stored
            assert needle not in objects[0]["Key"].encode()
        ready = httpx.get(server.url + "/ready")
        assert ready.status_code == 200


def test_expired_upload_and_download_tokens_are_forgotten(tmp_path: Path) -> None:
    from resolvers.sweeper import sweep_tokens

    with serve(make_settings(tmp_path / "data")) as server:
        owner, ws = owner_and_workspace(server)
        file_id = upload_file(server, owner, ws, b"short-lived")
        url = download_url(owner, file_id)
        unused = owner.data(
            'mutation($w: ID!) { createUpload(input: {workspaceId: $w, name: "n", size: 1}) { upload { url } } }',
            {"w": ws},
        )["createUpload"]["upload"]["url"]
        services = services_of(server)
        assert asyncio.run(sweep_tokens(services)) == 0  # nothing has expired yet
        real_clock = services.clock
        services.clock = lambda: real_clock() + timedelta(hours=3)
        try:
            # Two uploads (the used one's claim, the unused one) and one download token.
            assert asyncio.run(sweep_tokens(services)) == 3
            assert asyncio.run(sweep_tokens(services)) == 0
        finally:
            services.clock = real_clock
        token_hash = hashlib.sha256(url.rsplit("/", 1)[1].encode()).digest()
        assert asyncio.run(services.drive.download_token(token_hash)) is None
        assert get(server, url).status_code == 404
        assert httpx.put(server.url + unused, content=b"x").status_code == 404
