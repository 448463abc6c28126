"""Helpers for drive tests: uploads over real HTTP, and reaching the running server's services."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from worlds import Team, team_fields

from resolvers.services import Services
from support import GraphQLClient, Server

CREATE_CH = """mutation($w: ID!, $n: String!, $v: ChannelVisibility!) {
  createChannel(input: {workspaceId: $w, name: $n, visibility: $v}) { channel { id name } } }"""
CREATE_UPLOAD = """mutation($w: ID, $p: ID, $f: ID, $n: String, $s: Long!, $t: String) {
  createUpload(input: {workspaceId: $w, parentId: $p, fileId: $f, name: $n, size: $s,
    contentType: $t}) { upload { id url expiresAt fileId } } }"""
CREATE_FOLDER = """mutation($w: ID!, $p: ID, $n: String!) {
  createFolder(input: {workspaceId: $w, parentId: $p, name: $n}) { folder { id name } } }"""
FILE = """query($id: ID!) { node(id: $id) { ... on File { id name size contentType sha256
  downloadUrl trashed viewerLevel parent { id }
  versions(first: 10) { edges { node { id number size createdAt } } } } } }"""


ROOT = """query($w: ID!) { node(id: $w) { ... on Workspace { drive { id name
  children(first: 50) { edges { node { id name ... on File { size } } } } } } } }"""
SHARE = """mutation($i: ID!, $u: ID, $c: ID, $l: AccessLevel!) {
  shareDriveItem(input: {itemId: $i, userId: $u, channelId: $c, level: $l}) {
  shares { userId channelId level } } }"""
UNSHARE = """mutation($i: ID!, $u: ID, $c: ID) {
  unshareDriveItem(input: {itemId: $i, userId: $u, channelId: $c}) { shares { userId } } }"""
LINK = """mutation($f: ID!, $e: Int!, $p: String, $m: Int) {
  createShareLink(input: {fileId: $f, expiresInSeconds: $e, password: $p, maxDownloads: $m}) {
  shareLink { id url expiresAt hasPassword maxDownloads downloads } } }"""


@dataclass
class Drive(Team):
    def children(self, who: GraphQLClient | None = None) -> list[dict[str, Any]]:
        root = (who or self.owner).data(ROOT, {"w": self.ids["workspace"]})
        return [e["node"] for e in root["node"]["drive"]["children"]["edges"]]

    def upload(self, body: bytes, **kwargs: Any) -> str:
        return upload_file(self.server, self.owner, self.ids["workspace"], body, **kwargs)


def drive_team(server: Server, data_dir: Path, domain: str) -> Drive:
    """An owner's workspace with a member, a guest, and an outsider, on a running server."""
    return Drive(**team_fields(server, data_dir, domain))


def services_of(server: Server) -> Services:
    """The services of a server run by `support.serve` (same process), for time travel."""
    services: Services = server.server.config.app.state["services"]
    return services


def begin_upload(
    client: GraphQLClient,
    size: int,
    *,
    workspace: str | None = None,
    parent: str | None = None,
    file: str | None = None,
    name: str | None = "report.pdf",
    content_type: str | None = "application/pdf",
) -> dict[str, Any]:
    upload: dict[str, Any] = client.data(
        CREATE_UPLOAD,
        {"w": workspace, "p": parent, "f": file, "n": name, "s": size, "t": content_type},
    )["createUpload"]["upload"]
    return upload


def put(server: Server, url: str, body: bytes, **headers: str) -> httpx.Response:
    with httpx.Client(base_url=server.url, timeout=60) as http:
        return http.put(url, content=body, headers=headers)


def upload_file(
    server: Server,
    client: GraphQLClient,
    workspace: str,
    body: bytes,
    *,
    name: str = "report.pdf",
    parent: str | None = None,
    content_type: str = "application/pdf",
) -> str:
    """Upload a new file and return its id."""
    upload = begin_upload(
        client, len(body), workspace=workspace, parent=parent, name=name, content_type=content_type
    )
    response = put(server, upload["url"], body)
    assert response.status_code == 201, response.text
    file_id: str = response.json()["fileId"]
    assert file_id == upload["fileId"]
    return file_id


def new_version(server: Server, client: GraphQLClient, file_id: str, body: bytes) -> str:
    upload = begin_upload(client, len(body), file=file_id, name=None, content_type="text/plain")
    response = put(server, upload["url"], body)
    assert response.status_code == 201, response.text
    version: str = response.json()["versionId"]
    return version


def download_url(client: GraphQLClient, file_id: str) -> str:
    url: str = client.data(FILE, {"id": file_id})["node"]["downloadUrl"]
    return url


def get(server: Server, url: str, **headers: str) -> httpx.Response:
    with httpx.Client(base_url=server.url, timeout=60) as http:
        return http.get(url, headers=headers)
