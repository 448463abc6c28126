"""Who reaches a file: roles, shares to people and channels, attachments, public share links,
and limits (quota, file size), each refusal with its code."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest
from drive_support import (
    CREATE_CH,
    CREATE_FOLDER,
    FILE,
    LINK,
    SHARE,
    UNSHARE,
    Drive,
    begin_upload,
    download_url,
    drive_team,
    get,
    services_of,
    upload_file,
)

from support import error_codes, make_settings, serve

POST = """mutation($c: ID!, $t: String!, $a: [ID!]!) {
  postMessage(input: {channelId: $c, text: $t, attachmentIds: $a}) {
  message { id attachments { id name size downloadUrl } } } }"""
MESSAGE = """query($m: ID!) { node(id: $m) { ... on Message { attachments { id name sha256 downloadUrl
  versions(first: 5) { edges { node { number } } } } } } }"""
ADD = "mutation($c: ID!, $u: ID!) { addChannelMember(input: {channelId: $c, userId: $u}) { channel { id } } }"
REMOVE_CH = "mutation($c: ID!, $u: ID!) { removeChannelMember(input: {channelId: $c, userId: $u}) { channel { id } } }"
REMOVE_WS = "mutation($w: ID!, $u: ID!) { removeMember(input: {workspaceId: $w, userId: $u}) { removedUserId } }"


@pytest.fixture
def drive(tmp_path: Path) -> Iterator[Drive]:
    data_dir = tmp_path / "data"
    settings = make_settings(data_dir, workspace_quota_bytes=10_000, max_file_bytes=6_000)
    with serve(settings) as server:
        yield drive_team(server, data_dir, "access.example")


def test_outsiders_and_guests_see_nothing_until_shared(drive: Drive) -> None:
    file_id = drive.upload(b"plans")
    for who in (drive.outsider, drive.guest):
        assert error_codes(who.run(FILE, {"id": file_id})) == ["NOT_FOUND"]
        assert error_codes(who.run(CREATE_FOLDER, {"w": drive.ids["workspace"], "n": "x"})) == [
            "NOT_FOUND"
        ]
    # A member reads and writes what others made, but does not manage it.
    node = drive.member.data(FILE, {"id": file_id})["node"]
    assert node["viewerLevel"] == "WRITE"
    assert error_codes(
        drive.member.run(SHARE, {"i": file_id, "u": drive.ids["guest"], "l": "READ"})
    ) == ["FORBIDDEN"]
    shares = drive.owner.data(SHARE, {"i": file_id, "u": drive.ids["guest"], "l": "READ"})
    assert shares["shareDriveItem"]["shares"] == [
        {"userId": drive.ids["guest"], "channelId": None, "level": "READ"}
    ]
    node = drive.guest.data(FILE, {"id": file_id})["node"]
    assert node["viewerLevel"] == "READ"
    assert get(drive.server, node["downloadUrl"]).content == b"plans"
    refused = drive.guest.run(
        'mutation($i: ID!) { renameDriveItem(input: {itemId: $i, name: "mine"}) { item { id } } }',
        {"i": file_id},
    )
    assert error_codes(refused) == ["FORBIDDEN"]
    shared = drive.guest.data(
        "query($w: ID!) { node(id: $w) { ... on Workspace { driveSharedWithMe(first: 5) "
        "{ edges { node { id } } } } } }",
        {"w": drive.ids["workspace"]},
    )["node"]["driveSharedWithMe"]["edges"]
    assert [e["node"]["id"] for e in shared] == [file_id]
    # The outsider still cannot, even with the id; the guest loses it on unshare.
    assert error_codes(drive.outsider.run(FILE, {"id": file_id})) == ["NOT_FOUND"]
    drive.owner.data(UNSHARE, {"i": file_id, "u": drive.ids["guest"]})
    assert error_codes(drive.guest.run(FILE, {"id": file_id})) == ["NOT_FOUND"]


def test_a_share_on_a_folder_reaches_what_is_inside_and_channel_shares_follow_membership(
    drive: Drive,
) -> None:
    ws = drive.ids["workspace"]
    folder = drive.owner.data(CREATE_FOLDER, {"w": ws, "n": "Shared"})["createFolder"]["folder"]
    file_id = drive.upload(b"inside", parent=folder["id"])
    channel = drive.owner.data(CREATE_CH, {"w": ws, "n": "guests", "v": "PRIVATE"})[
        "createChannel"
    ]["channel"]["id"]
    drive.owner.data(SHARE, {"i": folder["id"], "c": channel, "l": "WRITE"})
    assert error_codes(drive.guest.run(FILE, {"id": file_id})) == ["NOT_FOUND"]
    drive.owner.data(ADD, {"c": channel, "u": drive.ids["guest"]})
    node = drive.guest.data(FILE, {"id": file_id})["node"]
    assert node["viewerLevel"] == "WRITE"
    url = node["downloadUrl"]
    assert get(drive.server, url).content == b"inside"
    # Taken out of the channel: the URL it already holds stops working at once.
    drive.owner.data(REMOVE_CH, {"c": channel, "u": drive.ids["guest"]})
    assert get(drive.server, url).status_code == 404
    assert error_codes(drive.guest.run(FILE, {"id": file_id})) == ["NOT_FOUND"]


def test_a_removed_member_can_no_longer_download(drive: Drive) -> None:
    file_id = drive.upload(b"team only")
    url = download_url(drive.member, file_id)
    assert get(drive.server, url).content == b"team only"
    drive.owner.data(REMOVE_WS, {"w": drive.ids["workspace"], "u": drive.ids["member"]})
    response = get(drive.server, url)
    assert response.status_code == 404
    assert response.json()["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    assert error_codes(drive.member.run(FILE, {"id": file_id})) == ["NOT_FOUND"]


def test_an_expired_download_url_answers_404(drive: Drive) -> None:
    url = download_url(drive.owner, drive.upload(b"brief"))
    services = services_of(drive.server)
    real_clock = services.clock
    services.clock = lambda: real_clock() + timedelta(minutes=6)
    try:
        assert get(drive.server, url).status_code == 404
    finally:
        services.clock = real_clock


def test_attachments_follow_the_message_not_the_drive(drive: Drive) -> None:
    ws = drive.ids["workspace"]
    file_id = drive.upload(b"attached v1", name="notes.txt")
    channel = drive.owner.data(CREATE_CH, {"w": ws, "n": "room", "v": "PRIVATE"})["createChannel"][
        "channel"
    ]["id"]
    drive.owner.data(ADD, {"c": channel, "u": drive.ids["guest"]})
    # Someone who cannot read the file cannot attach it.
    assert error_codes(drive.guest.run(POST, {"c": channel, "t": "mine", "a": [file_id]})) == [
        "NOT_FOUND"
    ]
    message = drive.owner.data(POST, {"c": channel, "t": "see attached", "a": [file_id]})[
        "postMessage"
    ]["message"]
    assert [a["id"] for a in message["attachments"]] == [file_id]
    # The guest has no drive access, but reads the message, so reads what is attached.
    assert error_codes(drive.guest.run(FILE, {"id": file_id})) == ["NOT_FOUND"]
    [seen] = drive.guest.data(MESSAGE, {"m": message["id"]})["node"]["attachments"]
    assert seen["name"] == "notes.txt"
    assert get(drive.server, seen["downloadUrl"]).content == b"attached v1"
    # A later version is not shown through the message: the attachment is what was sent.
    from drive_support import new_version

    new_version(drive.server, drive.owner, file_id, b"attached v2, private")
    [seen] = drive.guest.data(MESSAGE, {"m": message["id"]})["node"]["attachments"]
    assert [e["node"]["number"] for e in seen["versions"]["edges"]] == [1]
    assert get(drive.server, seen["downloadUrl"]).content == b"attached v1"
    # Out of the channel, out of the attachment.
    url = seen["downloadUrl"]
    drive.owner.data(REMOVE_CH, {"c": channel, "u": drive.ids["guest"]})
    assert get(drive.server, url).status_code == 404
    assert error_codes(drive.guest.run(MESSAGE, {"m": message["id"]})) == ["NOT_FOUND"]


def test_share_links_with_expiry_password_and_download_limit(drive: Drive) -> None:
    file_id = drive.upload(b"public brochure", name="brochure.pdf")
    link = drive.owner.data(LINK, {"f": file_id, "e": 3600})["createShareLink"]["shareLink"]
    assert link["hasPassword"] is False and link["url"].startswith("/files/share/cvs_")
    response = get(drive.server, link["url"])  # no account, no token
    assert response.status_code == 200 and response.content == b"public brochure"
    # The URL is shown once; listing shows the link without it.
    listed = drive.owner.data(
        "query($f: ID!) { node(id: $f) { ... on File { shareLinks { id url } } } }", {"f": file_id}
    )["node"]["shareLinks"]
    assert listed == [{"id": link["id"], "url": None}]

    protected = drive.owner.data(LINK, {"f": file_id, "e": 3600, "p": "open sesame 123", "m": 1})[
        "createShareLink"
    ]["shareLink"]
    assert get(drive.server, protected["url"]).status_code == 401
    import httpx

    with httpx.Client(base_url=drive.server.url) as http:
        wrong = http.post(protected["url"], json={"password": "not the password"})
        assert wrong.status_code == 403
        assert wrong.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
        malformed = http.post(protected["url"], content=b"{not json")
        assert malformed.status_code == 400
        right = http.post(protected["url"], json={"password": "open sesame 123"})
        assert right.status_code == 200 and right.content == b"public brochure"
        spent = http.post(protected["url"], json={"password": "open sesame 123"})
        assert spent.status_code == 410

    # Expiry and revocation.
    services = services_of(drive.server)
    real_clock = services.clock
    services.clock = lambda: real_clock() + timedelta(hours=2)
    try:
        assert get(drive.server, link["url"]).status_code == 404
    finally:
        services.clock = real_clock
    drive.owner.data(
        "mutation($l: ID!) { revokeShareLink(input: {shareLinkId: $l}) { revokedShareLinkId } }",
        {"l": link["id"]},
    )
    assert get(drive.server, link["url"]).status_code == 404
    # Bad input when making links.
    for variables in ({"e": 10}, {"e": 10**9}, {"e": 3600, "m": 0}, {"e": 3600, "p": "short"}):
        result = drive.owner.run(LINK, {"f": file_id, **variables})
        assert error_codes(result) == ["BAD_USER_INPUT"], variables
    # A trashed file's link stops working.
    fresh = drive.owner.data(LINK, {"f": file_id, "e": 3600})["createShareLink"]["shareLink"]
    drive.owner.data(
        "mutation($i: ID!) { trashDriveItem(input: {itemId: $i}) { item { id } } }", {"i": file_id}
    )
    assert get(drive.server, fresh["url"]).status_code == 404


def test_quota_and_largest_file_are_enforced(drive: Drive) -> None:
    ws = drive.ids["workspace"]
    too_big = drive.owner.run(
        'mutation($w: ID!) { createUpload(input: {workspaceId: $w, name: "big", size: 6001}) { upload { url } } }',
        {"w": ws},
    )
    assert error_codes(too_big) == ["BAD_USER_INPUT"]
    upload_file(drive.server, drive.owner, ws, b"x" * 6000)
    over = drive.owner.run(
        'mutation($w: ID!) { createUpload(input: {workspaceId: $w, name: "more", size: 4001}) { upload { url } } }',
        {"w": ws},
    )
    assert error_codes(over) == ["BAD_USER_INPUT"]
    assert "quota" in over["errors"][0]["message"]
    # Two uploads granted at once cannot both land past the quota.
    first = begin_upload(drive.owner, 4000, workspace=ws)
    second = begin_upload(drive.owner, 4000, workspace=ws)
    from drive_support import put

    assert put(drive.server, first["url"], b"y" * 4000).status_code == 201
    late = put(drive.server, second["url"], b"z" * 4000)
    assert late.status_code == 413
    assert "quota" in late.json()["errors"][0]["message"]
    usage = drive.owner.data(
        "query($w: ID!) { node(id: $w) { ... on Workspace { driveUsage { bytesUsed quotaBytes } } } }",
        {"w": ws},
    )["node"]["driveUsage"]
    assert usage == {"bytesUsed": 10_000, "quotaBytes": 10_000}
    assert [p for p in (drive.data_dir / "blobs").rglob("*") if p.is_file()].__len__() == 2


@pytest.mark.parametrize(
    ("content_type", "ok"),
    [
        ("text/plain", True),
        ("TEXT/HTML; charset=utf-8", True),
        ("nonsense", False),
        ("a/b\nc", False),
    ],
)
def test_content_types_are_checked(drive: Drive, content_type: str, ok: bool) -> None:
    result = drive.owner.run(
        'mutation($w: ID!, $t: String) { createUpload(input: {workspaceId: $w, name: "f", size: 1, contentType: $t}) { upload { url } } }',
        {"w": drive.ids["workspace"], "t": content_type},
    )
    assert error_codes(result) == ([] if ok else ["BAD_USER_INPUT"])


def test_wrong_share_link_passwords_are_rate_limited(drive: Drive) -> None:
    import httpx

    file_id = drive.upload(b"guarded")
    link = drive.owner.data(LINK, {"f": file_id, "e": 3600, "p": "the real password"})[
        "createShareLink"
    ]["shareLink"]
    with httpx.Client(base_url=drive.server.url) as http:
        for _ in range(10):
            assert http.post(link["url"], json={"password": "guess guess"}).status_code == 403
        limited = http.post(link["url"], json={"password": "the real password"})
        assert limited.status_code == 429
        assert limited.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
        assert int(limited.headers["retry-after"]) > 0


def test_a_concurrent_burst_of_share_link_guesses_is_held_to_the_limit(drive: Drive) -> None:
    import httpx

    file_id = drive.upload(b"guarded")
    link = drive.owner.data(LINK, {"f": file_id, "e": 3600, "p": "the real password"})[
        "createShareLink"
    ]["shareLink"]
    url = drive.server.url + link["url"]
    barrier = threading.Barrier(40)

    def guess(_: int) -> int:
        with httpx.Client(timeout=30) as http:
            barrier.wait(timeout=30)
            return http.post(url, json={"password": "guess guess"}).status_code

    with ThreadPoolExecutor(max_workers=40) as pool:
        statuses = sorted(pool.map(guess, range(40)))
    assert statuses == [403] * 10 + [429] * 30  # ten guesses per link and window, no more
    with httpx.Client(base_url=drive.server.url) as http:
        right = http.post(link["url"], json={"password": "the real password"})
        assert right.status_code == 429


def test_a_folder_listing_gives_each_child_its_own_level(drive: Drive) -> None:
    ws = drive.ids["workspace"]
    folder = drive.owner.data(CREATE_FOLDER, {"w": ws, "n": "Mixed"})["createFolder"]["folder"]
    plain = drive.upload(b"read only", parent=folder["id"], name="a.txt")
    editable = drive.upload(b"editable", parent=folder["id"], name="b.txt")
    drive.owner.data(SHARE, {"i": folder["id"], "u": drive.ids["guest"], "l": "READ"})
    drive.owner.data(SHARE, {"i": editable, "u": drive.ids["guest"], "l": "WRITE"})
    listing = drive.guest.data(
        "query($f: ID!) { node(id: $f) { ... on Folder { viewerLevel children(first: 10) "
        "{ edges { node { id name viewerLevel trashed } } } } } }",
        {"f": folder["id"]},
    )["node"]
    assert listing["viewerLevel"] == "READ"
    levels = {e["node"]["id"]: e["node"]["viewerLevel"] for e in listing["children"]["edges"]}
    assert levels == {plain: "READ", editable: "WRITE"}
    # The member sees both at WRITE (its role), the owner at MANAGE.
    for who, level in ((drive.member, "WRITE"), (drive.owner, "MANAGE")):
        edges = who.data(
            "query($f: ID!) { node(id: $f) { ... on Folder { children(first: 10) "
            "{ edges { node { viewerLevel } } } } } }",
            {"f": folder["id"]},
        )["node"]["children"]["edges"]
        assert [e["node"]["viewerLevel"] for e in edges] == [level, level]
