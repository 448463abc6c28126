"""Identity you can trust and access that ends when it should (#12), on the drive and feeds:
download limits counted on what is served, moves that would change who reads an item, and
bearer URLs (share links, calendar feeds) that follow their creator's access."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from drive_support import (
    CREATE_FOLDER,
    FILE,
    SHARE,
    UNSHARE,
    Drive,
    drive_team,
    get,
    new_version,
    upload_file,
)
from worlds import join

from support import error_codes, make_settings, serve

BODY = b"0123456789" * 10  # 100 bytes
LIMITED = """mutation($f: ID!, $m: Int) {
  createShareLink(input: {fileId: $f, expiresInSeconds: 3600, maxDownloads: $m}) {
  shareLink { id url downloads } } }"""
PINNED = """mutation($f: ID!, $v: ShareLinkVersion) {
  createShareLink(input: {fileId: $f, expiresInSeconds: 3600, version: $v}) {
  shareLink { id url servesLatest versionId } } }"""
COUNTS = """query($f: ID!) { node(id: $f) { ... on File { shareLinks { downloads } } } }"""
LINKS = """query($f: ID!) { node(id: $f) { ... on File {
  shareLinks { id downloads servesLatest versionId } } } }"""
MOVE = """mutation($i: ID!, $p: ID) { moveDriveItem(input: {itemId: $i, parentId: $p}) {
  item { id } } }"""
REMOVE_WS = """mutation($w: ID!, $u: ID!) { removeMember(input: {workspaceId: $w, userId: $u}) {
  removedUserId } }"""
ROLE = """mutation($w: ID!, $u: ID!, $r: Role!) {
  changeMemberRole(input: {workspaceId: $w, userId: $u, role: $r}) { member { role } } }"""
CREATE_CAL = """mutation($w: ID!, $n: String!) {
  createCalendar(input: {workspaceId: $w, name: $n}) { calendar { id } } }"""
CREATE_EVENT = """mutation($c: ID!, $e: EventFields!) {
  createEvent(input: {calendarId: $c, event: $e}) { event { id } } }"""
FEED = "mutation($c: ID!) { createCalendarFeed(input: {calendarId: $c}) { url } }"


@pytest.fixture
def drive(tmp_path: Path) -> Iterator[Drive]:
    data_dir = tmp_path / "data"
    with serve(make_settings(data_dir)) as server:
        yield drive_team(server, data_dir, "trust.example")


def _downloads(drive: Drive, file_id: str) -> int:
    links = drive.owner.data(COUNTS, {"f": file_id})["node"]["shareLinks"]
    count: int = links[0]["downloads"]
    return count


def _limited_link(drive: Drive, limit: int) -> tuple[str, str]:
    file_id = drive.upload(BODY)
    url = drive.owner.data(LIMITED, {"f": file_id, "m": limit})["createShareLink"]["shareLink"][
        "url"
    ]
    return file_id, url


# Download limits counted on what is served


@pytest.mark.parametrize(
    "header",
    [None, "bytes=0-", "bytes=00-", "bytes=000-9", "bytes=5-", "bytes=50-59", "bytes=-10"],
)
def test_every_answer_that_serves_bytes_of_a_limited_link_counts_once(
    drive: Drive, header: str | None
) -> None:
    file_id, url = _limited_link(drive, 2)
    headers = {} if header is None else {"Range": header}
    for n in (1, 2):
        response = get(drive.server, url, **headers)
        assert response.status_code in (200, 206), response.text
        assert _downloads(drive, file_id) == n
    spent = get(drive.server, url, **headers)
    assert spent.status_code == 410
    assert _downloads(drive, file_id) == 2


@pytest.mark.parametrize(
    ("header", "status"),
    [
        ("bytes=0-1,5-6", 400),
        ("bytes=abc", 400),
        ("bytes=9-2", 400),
        ("bytes=-", 400),
        ("items=0-5", 400),
        ("bytes=100-", 416),
        ("bytes=-0", 416),
        ("bytes=" + "9" * 30 + "-", 416),
    ],
)
def test_refused_ranges_do_not_count(drive: Drive, header: str, status: int) -> None:
    file_id, url = _limited_link(drive, 1)
    response = get(drive.server, url, Range=header)
    assert response.status_code == status
    assert _downloads(drive, file_id) == 0
    assert get(drive.server, url).content == BODY  # the one download is still there


def test_head_serves_no_bytes_and_does_not_count(drive: Drive) -> None:
    file_id, url = _limited_link(drive, 1)
    with httpx.Client(base_url=drive.server.url) as http:
        response = http.head(url)
    assert response.content == b""
    assert _downloads(drive, file_id) == 0


def test_if_range_that_does_not_match_serves_the_whole_file_and_counts_once(
    drive: Drive,
) -> None:
    file_id, url = _limited_link(drive, 2)
    stale = get(drive.server, url, Range="bytes=10-", **{"If-Range": '"not-this-version"'})
    assert stale.status_code == 200 and stale.content == BODY
    assert _downloads(drive, file_id) == 1
    etag = stale.headers["etag"]
    fresh = get(drive.server, url, Range="bytes=10-", **{"If-Range": etag})
    assert fresh.status_code == 206 and fresh.content == BODY[10:]
    assert _downloads(drive, file_id) == 2


# Moves that change who may read an item


def _shared_folder(drive: Drive, name: str = "For guests") -> str:
    folder: str = drive.owner.data(CREATE_FOLDER, {"w": drive.ids["workspace"], "n": name})[
        "createFolder"
    ]["folder"]["id"]
    drive.owner.data(SHARE, {"i": folder, "u": drive.ids["guest"], "l": "READ"})
    return folder


def test_writing_is_not_enough_to_move_a_file_where_a_guest_reads_it(drive: Drive) -> None:
    folder = _shared_folder(drive)
    secret = drive.upload(b"owner's plans", name="plans.txt")
    assert drive.member.data(FILE, {"id": secret})["node"]["viewerLevel"] == "WRITE"
    refused = drive.member.run(MOVE, {"i": secret, "p": folder})
    assert error_codes(refused) == ["FORBIDDEN"]
    assert error_codes(drive.guest.run(FILE, {"id": secret})) == ["NOT_FOUND"]
    # Nor do its later versions reach the guest.
    new_version(drive.server, drive.owner, secret, b"owner's plans, v2")
    assert error_codes(drive.guest.run(FILE, {"id": secret})) == ["NOT_FOUND"]
    # Whoever manages it may; the guest then reads it through the folder.
    drive.owner.data(MOVE, {"i": secret, "p": folder})
    assert drive.guest.data(FILE, {"id": secret})["node"]["viewerLevel"] == "READ"


def test_writing_is_not_enough_to_take_a_file_away_from_its_readers(drive: Drive) -> None:
    folder = _shared_folder(drive)
    shared = drive.upload(b"for everyone", parent=folder)
    assert error_codes(drive.member.run(MOVE, {"i": shared, "p": None})) == ["FORBIDDEN"]
    assert drive.guest.data(FILE, {"id": shared})["node"]["viewerLevel"] == "READ"


def test_folders_move_under_the_same_rule(drive: Drive) -> None:
    shared = _shared_folder(drive)
    ws = drive.ids["workspace"]
    private = drive.owner.data(CREATE_FOLDER, {"w": ws, "n": "Board"})["createFolder"]["folder"]
    inside = drive.upload(b"minutes", parent=private["id"])
    assert error_codes(drive.member.run(MOVE, {"i": private["id"], "p": shared})) == ["FORBIDDEN"]
    assert error_codes(drive.guest.run(FILE, {"id": inside})) == ["NOT_FOUND"]


def test_moves_between_places_shared_alike_need_only_write(drive: Drive) -> None:
    ws = drive.ids["workspace"]
    plain = drive.owner.data(CREATE_FOLDER, {"w": ws, "n": "Plain"})["createFolder"]["folder"]
    owners = drive.upload(b"owner's notes")
    drive.member.data(MOVE, {"i": owners, "p": plain["id"]})  # root and Plain: no shares
    drive.member.data(MOVE, {"i": owners, "p": None})
    # Two folders shared with the same people at the same levels.
    first, second = _shared_folder(drive, "A"), _shared_folder(drive, "B")
    inside = drive.upload(b"shared notes", parent=first)
    drive.member.data(MOVE, {"i": inside, "p": second})
    # The member's own file: it manages it, so it may expose it.
    mine = upload_file(drive.server, drive.member, ws, b"member's file")
    drive.member.data(MOVE, {"i": mine, "p": first})
    assert drive.guest.data(FILE, {"id": mine})["node"]["viewerLevel"] == "READ"


# Share links name what they serve


def test_a_share_link_serves_the_version_it_named_unless_it_serves_the_latest(
    drive: Drive,
) -> None:
    file_id = drive.upload(b"public v1")
    pinned = drive.owner.data(PINNED, {"f": file_id})["createShareLink"]["shareLink"]
    latest = drive.owner.data(PINNED, {"f": file_id, "v": "LATEST"})["createShareLink"]["shareLink"]
    current = drive.owner.data(FILE, {"id": file_id})["node"]["versions"]["edges"][0]["node"]
    assert pinned["servesLatest"] is False and pinned["versionId"] == current["id"]
    assert latest["servesLatest"] is True and latest["versionId"] is None
    new_version(drive.server, drive.owner, file_id, b"confidential v2")
    assert get(drive.server, pinned["url"]).content == b"public v1"
    assert get(drive.server, latest["url"]).content == b"confidential v2"
    listed = {
        link["id"]: link for link in drive.owner.data(LINKS, {"f": file_id})["node"]["shareLinks"]
    }
    assert listed[pinned["id"]]["versionId"] == current["id"]
    assert listed[latest["id"]]["servesLatest"] is True


def _member_link(drive: Drive) -> tuple[str, str]:
    file_id = upload_file(drive.server, drive.member, drive.ids["workspace"], b"member's file")
    url: str = drive.member.data(PINNED, {"f": file_id})["createShareLink"]["shareLink"]["url"]
    assert get(drive.server, url).content == b"member's file"
    return file_id, url


def test_a_share_link_stops_when_its_creator_leaves_the_workspace(drive: Drive) -> None:
    _, url = _member_link(drive)
    drive.owner.data(REMOVE_WS, {"w": drive.ids["workspace"], "u": drive.ids["member"]})
    assert get(drive.server, url).status_code == 404


def test_a_share_link_stops_when_its_creator_becomes_a_guest(drive: Drive) -> None:
    _, url = _member_link(drive)
    drive.owner.data(ROLE, {"w": drive.ids["workspace"], "u": drive.ids["member"], "r": "GUEST"})
    assert get(drive.server, url).status_code == 404


def test_a_share_link_stops_when_its_creator_loses_the_share(drive: Drive) -> None:
    file_id = drive.upload(b"shared to manage")
    drive.owner.data(SHARE, {"i": file_id, "u": drive.ids["guest"], "l": "MANAGE"})
    url = drive.guest.data(PINNED, {"f": file_id})["createShareLink"]["shareLink"]["url"]
    assert get(drive.server, url).content == b"shared to manage"
    drive.owner.data(UNSHARE, {"i": file_id, "u": drive.ids["guest"]})
    assert get(drive.server, url).status_code == 404
    # Shared again: the link follows its creator's access, checked at each use.
    drive.owner.data(SHARE, {"i": file_id, "u": drive.ids["guest"], "l": "READ"})
    assert get(drive.server, url).content == b"shared to manage"


# Calendar feeds follow their creator


def _feed(drive: Drive, who: Any, calendar: str) -> str:
    url: str = who.data(FEED, {"c": calendar})["createCalendarFeed"]["url"]
    return url


def _event(drive: Drive, calendar: str, title: str) -> None:
    drive.owner.data(
        CREATE_EVENT,
        {
            "c": calendar,
            "e": {"title": title, "start": "2026-05-04T09:00:00Z", "end": "2026-05-04T10:00:00Z"},
        },
    )


def test_a_removed_admins_feed_serves_nothing_more(drive: Drive) -> None:
    ws = drive.ids["workspace"]
    admin, admin_id = join(drive.server, drive.owner, ws, "admin@trust.example", "ADMIN")
    calendar = drive.owner.data(CREATE_CAL, {"w": ws, "n": "Board"})["createCalendar"]["calendar"][
        "id"
    ]
    _event(drive, calendar, "Before")
    url = _feed(drive, admin, calendar)
    assert "Before" in get(drive.server, url).text
    drive.owner.data(REMOVE_WS, {"w": ws, "u": admin_id})
    _event(drive, calendar, "After the removal")
    response = get(drive.server, url)
    assert response.status_code == 404
    assert "After the removal" not in response.text


def test_a_feed_stops_when_its_creator_is_demoted_to_guest(drive: Drive) -> None:
    ws = drive.ids["workspace"]
    calendar = drive.member.data(CREATE_CAL, {"w": ws, "n": "Team"})["createCalendar"]["calendar"][
        "id"
    ]
    url = _feed(drive, drive.member, calendar)
    assert get(drive.server, url).status_code == 200
    drive.owner.data(ROLE, {"w": ws, "u": drive.ids["member"], "r": "GUEST"})
    assert get(drive.server, url).status_code == 404
    # Its creator back as a member: the same URL works again (access is checked at each use).
    drive.owner.data(ROLE, {"w": ws, "u": drive.ids["member"], "r": "MEMBER"})
    assert get(drive.server, url).status_code == 200
