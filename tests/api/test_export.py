"""Self-service exports over the real API: what an archive holds matches what the API answers
the requester and nothing more; the download works once; the archive is sealed at rest,
survives a restart mid-build, and is deleted when it expires."""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import os
import shutil
import subprocess
import time
import zipfile
from collections.abc import AsyncIterable, AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from drive_support import CREATE_CH, CREATE_FOLDER, Drive, drive_team, services_of, upload_file

from support import (
    LOG_IN,
    PASSWORD,
    GraphQLClient,
    Server,
    error_codes,
    make_settings,
    serve,
    sqlite_only,
)

REQUEST = """mutation($w: ID) { requestExport(input: {workspaceId: $w}) {
  export { id state workspaceId } } }"""
EXPORT = """query($i: ID!) { export(id: $i) { id state objects bytes size expiresAt
  downloadUrl } }"""
POST = """mutation($c: ID!, $t: String!) {
  postMessage(input: {channelId: $c, text: $t}) { message { id } } }"""
MESSAGES = """query($c: ID!) { node(id: $c) { ... on Channel { name
  messages(first: 100) { edges { node { id text } } } } } }"""
CALENDAR = """mutation($w: ID!) { createCalendar(input: {workspaceId: $w, name: "Team days"}) {
  calendar { id } } }"""
EVENT = """mutation($c: ID!, $t: String!) { createEvent(input: {calendarId: $c, event: {title: $t,
  start: "2026-03-02T09:00:00Z", end: "2026-03-02T10:00:00Z"}}) { event { id } } }"""
BOARD = """mutation($w: ID!) { createBoard(input: {workspaceId: $w, name: "Launch"}) {
  board { id } } }"""
LIST = (
    """mutation($b: ID!) { createTaskList(input: {boardId: $b, name: "To do"}) { list { id } } }"""
)
TASK = """mutation($l: ID!, $t: String!) { createTask(input: {listId: $l, title: $t}) {
  task { id } } }"""
CANARY = "canary-7f3a9c-private-plans"
FILE_BODY = b"quarterly numbers " * 5000 + b"file-canary-51e2"


@pytest.fixture
def team(tmp_path: Path) -> Iterator[Drive]:
    data_dir = tmp_path / "data"
    with serve(make_settings(data_dir)) as server:
        yield drive_team(server, data_dir, "export.example")


def seed(team: Drive) -> dict[str, str]:
    ws = team.ids["workspace"]
    owner = team.owner
    general = owner.data(CREATE_CH, {"w": ws, "n": "general", "v": "PUBLIC"})
    secret = owner.data(CREATE_CH, {"w": ws, "n": "secret", "v": "PRIVATE"})
    general_id = general["createChannel"]["channel"]["id"]
    secret_id = secret["createChannel"]["channel"]["id"]
    owner.data(POST, {"c": general_id, "t": "hello team"})
    owner.data(POST, {"c": secret_id, "t": CANARY})
    folder = owner.data(CREATE_FOLDER, {"w": ws, "p": None, "n": "Reports"})
    folder_id = folder["createFolder"]["folder"]["id"]
    upload_file(team.server, owner, ws, FILE_BODY, name="q3.txt", parent=folder_id)
    calendar = owner.data(CALENDAR, {"w": ws})["createCalendar"]["calendar"]["id"]
    owner.data(EVENT, {"c": calendar, "t": "Offsite"})
    board = owner.data(BOARD, {"w": ws})["createBoard"]["board"]["id"]
    task_list = owner.data(LIST, {"b": board})["createTaskList"]["list"]["id"]
    owner.data(TASK, {"l": task_list, "t": "Ship it"})
    return {"general": general_id, "secret": secret_id}


def wait_ready(client: GraphQLClient, export_id: str, within: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + within
    while True:
        found: dict[str, Any] = client.data(EXPORT, {"i": export_id})["export"]
        if found["state"] in ("READY", "FAILED") or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def request(client: GraphQLClient, workspace: str | None) -> str:
    answer = client.data(REQUEST, {"w": workspace})["requestExport"]["export"]
    return str(answer["id"])


def download(server: Server, url: str) -> httpx.Response:
    with httpx.Client(base_url=server.url, timeout=60) as http:
        return http.get(url)


def fetch_archive(team: Drive, client: GraphQLClient, workspace: str | None) -> zipfile.ZipFile:
    export = wait_ready(client, request(client, workspace))
    assert export["state"] == "READY", export
    response = download(team.server, export["downloadUrl"])
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/zip"
    return zipfile.ZipFile(io.BytesIO(response.content))


def test_an_owner_export_holds_what_the_api_answers(team: Drive) -> None:
    channels = seed(team)
    archive = fetch_archive(team, team.owner, team.ids["workspace"])
    names = set(archive.namelist())
    manifest = json.loads(archive.read("export.json"))
    assert manifest["format"] == "cove-export"
    assert manifest["version"] == 1
    assert manifest["scope"] == "workspace"
    assert manifest["counts"]["messages"] == 2
    assert manifest["counts"]["files"] == 1
    listed = {c["id"]: c for c in json.loads(archive.read("channels.json"))}
    for name, channel_id in channels.items():
        api = team.owner.data(MESSAGES, {"c": channel_id})["node"]
        assert listed[channel_id]["name"] == api["name"] == name
        raw = channel_id_raw(channel_id)
        lines = [json.loads(x) for x in archive.read(f"messages/{raw}.jsonl").splitlines()]
        assert [(m["id"], m["text"]) for m in lines] == [
            (e["node"]["id"], e["node"]["text"]) for e in api["messages"]["edges"]
        ]
    assert archive.read("files/Reports/q3.txt") == FILE_BODY
    ics = archive.read("calendars/Team days.ics").decode()
    assert "BEGIN:VCALENDAR" in ics and "Offsite" in ics
    boards = json.loads(archive.read("tasks.json"))
    assert boards[0]["name"] == "Launch"
    assert boards[0]["lists"][0]["tasks"][0]["title"] == "Ship it"
    workspace = json.loads(archive.read("workspace.json"))
    assert workspace["name"] == "Acme"
    assert {"export.json", "workspace.json", "files.json", "calendars.json"} <= names


def channel_id_raw(global_id: str) -> str:
    from resolvers.global_ids import from_global_id

    parsed = from_global_id(global_id)
    assert parsed is not None
    return parsed[1]


def test_a_personal_export_holds_nothing_the_member_may_not_read(team: Drive) -> None:
    channels = seed(team)
    join = "mutation($c: ID!) { joinChannel(input: {channelId: $c}) { channel { id } } }"
    team.member.data(join, {"c": channels["general"]})
    team.member.data(POST, {"c": channels["general"], "t": "member says hi"})
    archive = fetch_archive(team, team.member, None)
    everything = b"".join(archive.read(name) for name in archive.namelist())
    assert CANARY.encode() not in everything
    assert b"file-canary-51e2" not in everything  # the owner's file, not the member's
    assert b"hello team" not in everything  # the owner's message: not authored by them
    assert b"member says hi" in everything
    profile = json.loads(archive.read("profile.json"))
    assert profile["email"] == "member@export.example"
    assert json.loads(archive.read("export.json"))["scope"] == "personal"


def test_a_workspace_export_is_for_owners_only(team: Drive) -> None:
    ws = team.ids["workspace"]
    assert error_codes(team.member.run(REQUEST, {"w": ws})) == ["FORBIDDEN"]
    assert error_codes(team.outsider.run(REQUEST, {"w": ws})) == ["NOT_FOUND"]
    assert error_codes(team.server.client().run(REQUEST, {"w": ws})) == ["UNAUTHENTICATED"]


def test_the_download_works_once_and_the_archive_is_sealed_at_rest(team: Drive) -> None:
    seed(team)
    export_id = request(team.owner, team.ids["workspace"])
    export = wait_ready(team.owner, export_id)
    stored = b"".join(p.read_bytes() for p in (team.data_dir / "blobs").rglob("*") if p.is_file())
    database = b"".join(p.read_bytes() for p in team.data_dir.rglob("*.db*") if p.is_file())
    for canary in (CANARY.encode(), b"file-canary-51e2", b"Offsite", b"Ship it"):
        assert canary not in stored
        assert canary not in database
    first, second = export["downloadUrl"], team.owner.data(EXPORT, {"i": export_id})
    assert download(team.server, first).status_code == 200
    assert download(team.server, first).status_code == 410
    assert download(team.server, second["export"]["downloadUrl"]).status_code == 410
    after = team.owner.data(EXPORT, {"i": export_id})["export"]
    assert after["state"] == "DOWNLOADED" and after["downloadUrl"] is None
    assert not list((team.data_dir / "blobs").rglob("exports*/**/*.*"))
    assert error_codes(team.member.run(EXPORT, {"i": export_id})) == ["NOT_FOUND"]


def test_an_archive_not_downloaded_is_deleted_when_it_expires(team: Drive) -> None:
    seed(team)
    export_id = request(team.owner, team.ids["workspace"])
    url = wait_ready(team.owner, export_id)["downloadUrl"]
    services = services_of(team.server)
    real_clock = services.clock
    services.clock = lambda: real_clock() + timedelta(hours=25)
    try:
        services.exports_due.set()
        deadline = time.monotonic() + 10
        while team.owner.data(EXPORT, {"i": export_id})["export"]["state"] != "EXPIRED":
            assert time.monotonic() < deadline
            time.sleep(0.1)
    finally:
        services.clock = real_clock
    assert download(team.server, url).status_code == 410


class _Stalling:
    """The real blob store, except that an export's object stalls half-way: a node stopped
    mid-build."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.stalled = asyncio.Event()
        self.stalls = 1  # how many export objects stall; those after go through

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def put_stream(self, key: str, chunks: AsyncIterable[bytes]) -> int:
        if not key.startswith("exports/") or self.stalls == 0:
            return int(await self._inner.put_stream(key, chunks))
        self.stalls -= 1

        async def stall() -> AsyncIterator[bytes]:
            async for chunk in chunks:
                yield chunk
                self.stalled.set()
                await asyncio.Event().wait()  # never set: stopped only by the shutdown

        return int(await self._inner.put_stream(key, stall()))


@sqlite_only
def test_an_export_interrupted_by_a_restart_is_built_by_the_next_start(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    settings = make_settings(data_dir)
    with serve(settings) as server:
        team = drive_team(server, data_dir, "restart.example")
        seed(team)
        services = services_of(server)
        stalling = _Stalling(services.blobs)
        services.blobs = stalling
        export_id = request(team.owner, team.ids["workspace"])
        deadline = time.monotonic() + 20
        while not stalling.stalled.is_set():
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert team.owner.data(EXPORT, {"i": export_id})["export"]["state"] == "RUNNING"
        tokens = team.owner
    with serve(settings) as server:
        owner = server.client(tokens.token)
        export = wait_ready(owner, export_id)
        assert export["state"] == "READY"
        archive = zipfile.ZipFile(io.BytesIO(download(server, export["downloadUrl"]).content))
        assert archive.read("files/Reports/q3.txt") == FILE_BODY


@sqlite_only
def test_the_operator_command_writes_the_owners_archive_with_a_progress_bar(
    tmp_path: Path,
) -> None:
    from api.export_cli import export_workspace

    data_dir = tmp_path / "data"
    settings = make_settings(data_dir)
    with serve(settings) as server:
        team = drive_team(server, data_dir, "cli.example")
        seed(team)
        workspace = team.ids["workspace"]
    out, bar = tmp_path / "acme.zip", io.StringIO()
    counts = asyncio.run(export_workspace(settings, workspace, out, None, bar))
    assert counts.objects > 0
    assert "100%" in bar.getvalue() and bar.getvalue().endswith("\n")
    assert out.stat().st_mode & 0o777 == 0o600
    archive = zipfile.ZipFile(out)
    assert archive.read("files/Reports/q3.txt") == FILE_BODY
    if shutil.which("unzip"):  # Info-ZIP reads the streamed entries (data descriptors) too
        tested = subprocess.run(["unzip", "-tq", str(out)], capture_output=True, check=False)
        assert tested.returncode == 0, tested.stdout
    assert CANARY.encode() in archive.read(
        f"messages/{channel_id_raw(seeded_secret(archive))}.jsonl"
    )
    with pytest.raises(FileExistsError):  # never overwritten
        asyncio.run(export_workspace(settings, workspace, out, None, bar))


def seeded_secret(archive: zipfile.ZipFile) -> str:
    channels = json.loads(archive.read("channels.json"))
    return str(next(c["id"] for c in channels if c["name"] == "secret"))


@sqlite_only
def test_a_big_export_streams_with_flat_memory(tmp_path: Path) -> None:
    """A file three times the allowance goes through an export without memory growing with it:
    the zip and its files are streamed, never held whole."""
    import tracemalloc

    from api.export_cli import export_workspace

    data_dir = tmp_path / "data"
    settings = make_settings(data_dir)
    big = os.urandom(1024 * 1024) * 24
    with serve(settings) as server:
        team = drive_team(server, data_dir, "big.example")
        upload_file(server, team.owner, team.ids["workspace"], big, name="big.bin")
        workspace = team.ids["workspace"]
    out = tmp_path / "big.zip"
    tracemalloc.start()
    try:
        asyncio.run(export_workspace(settings, workspace, out, None, io.StringIO()))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 * 1024 * 1024, f"peak {peak / 2**20:.1f} MiB"
    with zipfile.ZipFile(out) as archive, archive.open("files/big.bin") as stored:
        assert hashlib.sha256(stored.read()).digest() == hashlib.sha256(big).digest()


@sqlite_only
def test_a_job_left_running_by_a_dead_node_is_taken_over_after_its_lease(tmp_path: Path) -> None:
    from resolvers.export_worker import ExportWorker

    data_dir = tmp_path / "data"
    with serve(make_settings(data_dir, export_lease_seconds=5)) as server:
        team = drive_team(server, data_dir, "takeover.example")
        seed(team)
        services = services_of(server)
        stalling = _Stalling(services.blobs)
        services.blobs = stalling
        export_id = request(team.owner, team.ids["workspace"])
        deadline = time.monotonic() + 20
        while not stalling.stalled.is_set():  # this node's worker now hangs mid-build
            assert time.monotonic() < deadline
            time.sleep(0.05)
        # Another node's worker, once the hung attempt's lease has passed, builds it again.
        loop = server.server.servers[0].get_loop()
        real_clock = services.clock
        services.clock = lambda: real_clock() + timedelta(minutes=10)
        try:
            other = ExportWorker(services)
            asyncio.run_coroutine_threadsafe(other.run_due(), loop).result(timeout=30)
        finally:
            services.clock = real_clock
        export = team.owner.data(EXPORT, {"i": export_id})["export"]
        assert export["state"] == "READY"
        archive = zipfile.ZipFile(io.BytesIO(download(server, export["downloadUrl"]).content))
        assert archive.read("files/Reports/q3.txt") == FILE_BODY
    # The hung attempt, cut by the shutdown, did not put the finished job back in the queue.
    with serve(make_settings(data_dir)) as server:
        state = server.client(team.owner.token).data(EXPORT, {"i": export_id})["export"]["state"]
        assert state == "DOWNLOADED"


def test_a_download_url_ends_with_the_login_it_was_minted_in(team: Drive) -> None:
    seed(team)
    export_id = request(team.owner, team.ids["workspace"])
    wait_ready(team.owner, export_id)
    second = team.server.client()
    token = second.data(LOG_IN, {"email": "owner@export.example", "password": PASSWORD})
    other_login = team.server.client(token["logIn"]["token"])
    url = other_login.data(EXPORT, {"i": export_id})["export"]["downloadUrl"]
    other_login.data("mutation { logOut { ok } }")
    assert download(team.server, url).status_code == 404
    # The archive is still there for a URL from a live login.
    url = team.owner.data(EXPORT, {"i": export_id})["export"]["downloadUrl"]
    assert download(team.server, url).status_code == 200


def test_an_owner_no_longer_owner_cannot_download_the_workspace_export(team: Drive) -> None:
    seed(team)
    export_id = request(team.owner, team.ids["workspace"])
    url = wait_ready(team.owner, export_id)["downloadUrl"]
    role = """mutation($w: ID!, $u: ID!, $r: Role!) { changeMemberRole(input: {workspaceId: $w,
      userId: $u, role: $r}) { member { role } } }"""
    ws = team.ids["workspace"]
    team.owner.data(role, {"w": ws, "u": team.ids["member"], "r": "OWNER"})
    team.member.data(role, {"w": ws, "u": team.ids["owner"], "r": "MEMBER"})
    assert download(team.server, url).status_code == 404


AUDIT = """query($w: ID!) { node(id: $w) { ... on Workspace { auditLog(first: 5,
  kinds: [WORKSPACE_EXPORTED]) { edges { node { kind actorId targetIds clientAddress
  details { name value } } } } } } }"""


def test_the_operator_command_is_recorded_in_the_workspace_audit_log(
    team: Drive, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from api.cli import main
    from api.operator import operator_name

    seed(team)
    # The command runs in this process against the served data dir, as an operator would.
    settings = team.server.server.config.app.state["settings"]
    for name, value in settings.as_environment().items():
        monkeypatch.setenv(name, value)
    ws, out = team.ids["workspace"], tmp_path / "acme.zip"
    argv = ["export", "--workspace", ws, "--out", str(out), "--data-dir", str(team.data_dir)]
    assert main(argv) == 0
    [event] = team.owner.data(AUDIT, {"w": ws})["node"]["auditLog"]["edges"]
    node = event["node"]
    assert (node["kind"], node["actorId"], node["clientAddress"]) == (
        "WORKSPACE_EXPORTED",
        None,
        "",
    )
    assert node["targetIds"] == [team.ids["owner"]]  # the owner it was read as
    details = {d["name"]: d["value"] for d in node["details"]}
    assert details["operator"] == operator_name()
    assert details["file"] == str(out)
    assert int(details["objects"]) > 0 and int(details["bytes"]) > 0
    assert zipfile.ZipFile(out).read("files/Reports/q3.txt") == FILE_BODY
    # A refused command (the file exists) writes no event.
    with pytest.raises(FileExistsError):
        main(argv)
    assert len(team.owner.data(AUDIT, {"w": ws})["node"]["auditLog"]["edges"]) == 1


def test_an_owner_s_workspace_export_is_recorded_in_its_audit_log(team: Drive) -> None:
    ws = team.ids["workspace"]
    export_id = request(team.owner, ws)
    request(team.member, None)  # one's own data: not a workspace event
    [event] = team.owner.data(AUDIT, {"w": ws})["node"]["auditLog"]["edges"]
    node = event["node"]
    assert (node["kind"], node["actorId"]) == ("WORKSPACE_EXPORTED", team.ids["owner"])
    assert node["clientAddress"]
    assert {d["name"]: d["value"] for d in node["details"]} == {"export": export_id}
