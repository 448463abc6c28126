"""One id everywhere: every id an HTTP file route answers is a global id `node(id:)` resolves,
to who may read the file and to nobody else."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from drive_support import (
    LINK,
    Drive,
    begin_upload,
    download_url,
    get,
    put,
)
from worlds import CREATE_WS, join

from support import GraphQLClient, error_codes, make_settings, serve, sign_up

NODE = """query($id: ID!) { node(id: $id) { id __typename
  ... on FileVersion { number size downloadUrl } ... on File { name } } }"""
VERSIONS = """query($id: ID!) { node(id: $id) { ... on File {
  currentVersion { id } versions(first: 5) { edges { node { id } } } } } }"""


@pytest.fixture
def drive(tmp_path: Path) -> Iterator[Drive]:
    with serve(make_settings(tmp_path / "data")) as server:
        token, owner_user = sign_up(server.client(), "owner@ids.example", name="Olive")
        owner = server.client(token)
        workspace = owner.data(CREATE_WS, {"n": "Acme"})["createWorkspace"]["workspace"]["id"]
        member, member_id = join(server, owner, workspace, "member@ids.example", "MEMBER")
        guest, _ = join(server, owner, workspace, "guest@ids.example", "GUEST")
        outsider_token, _ = sign_up(server.client(), "outsider@ids.example")
        ids = {"workspace": workspace, "owner": owner_user["id"], "member": member_id}
        yield Drive(
            server, owner, member, guest, server.client(outsider_token), ids, tmp_path / "data"
        )


def _put(drive: Drive, body: bytes, file: str | None = None) -> dict[str, Any]:
    if file is None:
        upload = begin_upload(drive.owner, len(body), workspace=drive.ids["workspace"])
    else:
        upload = begin_upload(drive.owner, len(body), file=file, name=None)
    response = put(drive.server, upload["url"], body)
    assert response.status_code == 201, response.text
    answer: dict[str, Any] = response.json()
    assert answer["fileId"] == upload["fileId"]
    return answer


def _node(client: GraphQLClient, global_id: str) -> dict[str, Any] | None:
    node: dict[str, Any] | None = client.data(NODE, {"id": global_id})["node"]
    return node


def test_the_upload_answers_ids_that_node_resolves(drive: Drive) -> None:
    first = _put(drive, b"first")
    second = _put(drive, b"second!", file=first["fileId"])
    assert _node(drive.owner, first["fileId"]) == {
        "id": first["fileId"],
        "__typename": "File",
        "name": "report.pdf",
    }
    for answer, number, size in ((first, 1, 5), (second, 2, 7)):
        version = _node(drive.owner, answer["versionId"])
        assert version is not None
        assert (version["id"], version["__typename"]) == (answer["versionId"], "FileVersion")
        assert (version["number"], version["size"]) == (number, size)
    # The same ids the schema hands out for the file's versions.
    listed = drive.owner.data(VERSIONS, {"id": first["fileId"]})["node"]
    assert listed["currentVersion"]["id"] == second["versionId"]
    edges = [e["node"]["id"] for e in listed["versions"]["edges"]]
    assert edges == [second["versionId"], first["versionId"]]


def test_a_version_id_resolves_only_for_who_may_read_the_file(drive: Drive) -> None:
    answer = _put(drive, b"members only")
    assert _node(drive.member, answer["versionId"]) is not None
    for who in (drive.guest, drive.outsider, drive.server.client()):
        result = who.run(NODE, {"id": answer["versionId"]})
        assert result["data"]["node"] is None
        assert error_codes(result) == ["NOT_FOUND"]


def test_download_and_share_link_name_the_version_by_its_global_id(drive: Drive) -> None:
    answer = _put(drive, b"shared contents")
    downloaded = get(drive.server, download_url(drive.owner, answer["fileId"]))
    assert downloaded.status_code == 200
    assert downloaded.headers["ETag"] == f'"{answer["versionId"]}"'
    link = drive.owner.data(LINK, {"f": answer["fileId"], "e": 3600})["createShareLink"]
    shared = get(drive.server, link["shareLink"]["url"])
    assert shared.status_code == 200
    assert shared.headers["ETag"] == f'"{answer["versionId"]}"'
    # What an HTTP route names, node() opens (for who may read it).
    etag = downloaded.headers["ETag"].strip('"')
    resolved = _node(drive.owner, etag)
    assert resolved is not None and resolved["__typename"] == "FileVersion"
