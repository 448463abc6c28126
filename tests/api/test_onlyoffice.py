"""ONLYOFFICE editing end to end, against a Document Server double speaking the real protocol
over HTTP (tests/onlyoffice_double.py): the signed configuration, the one-time download, the
signed callback that saves a new version sealed at rest, and every refusal saving nothing."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from drive_support import FILE, Drive, drive_team, get, new_version, services_of, upload_file
from onlyoffice_double import DocumentServer, NotSigned, Opened, document_server
from worlds import join

from api.settings import SettingsError, load_settings
from support import error_codes, make_settings, serve, settle, stored_contents

SECRET = "s3cret-of-the-document-server-0123456789"
MAX_DOCUMENT = 1024 * 1024
DOCX = "Plan.docx"
OPEN = """mutation($f: ID!, $m: DocumentMode!) { openDocument(input: {fileId: $f, mode: $m}) {
  documentServerUrl config token } }"""
SHARE = """mutation($i: ID!, $u: ID!, $l: AccessLevel!) {
  shareDriveItem(input: {itemId: $i, userId: $u, level: $l}) { shares { level } } }"""
AUDIT = """query($w: ID!) { node(id: $w) { ... on Workspace { auditLog(first: 1,
  kinds: [DOCUMENT_SAVE_REFUSED]) { edges { node { kind actorId targetIds clientAddress
  details { name value } } } } } } }"""
REMOVE = """mutation($w: ID!, $u: ID!) { removeMember(input: {workspaceId: $w, userId: $u}) {
  removedUserId } }"""


@dataclass
class Office:
    drive: Drive
    docs: DocumentServer

    def new_docx(self, body: bytes = b"PK original document") -> str:
        return upload_file(
            self.drive.server,
            self.drive.owner,
            self.drive.ids["workspace"],
            body,
            name=DOCX,
            content_type="application/octet-stream",
        )

    def open(self, file_id: str, mode: str = "EDIT", who: Any = None) -> dict[str, Any]:
        client = who or self.drive.owner
        opened: dict[str, Any] = client.data(OPEN, {"f": file_id, "m": mode})["openDocument"]
        return opened

    def open_in_double(self, file_id: str, who: Any = None) -> Opened:
        answer = self.open(file_id, who=who)
        return self.docs.open(answer["config"], answer["token"])

    def versions(self, file_id: str) -> list[dict[str, Any]]:
        node = self.drive.owner.data(FILE, {"id": file_id})["node"]
        return [edge["node"] for edge in node["versions"]["edges"]]

    def contents(self, file_id: str) -> bytes:
        url = self.drive.owner.data(FILE, {"id": file_id})["node"]["downloadUrl"]
        response = get(self.drive.server, url)
        assert response.status_code == 200, response.text
        return response.content


@pytest.fixture(scope="module")
def office(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Office]:
    data_dir = tmp_path_factory.mktemp("office") / "data"
    with document_server(SECRET) as docs:
        settings = make_settings(
            data_dir,
            onlyoffice_enabled=True,
            onlyoffice_url=docs.url,
            onlyoffice_jwt_secret=SECRET,
            onlyoffice_allow_private=True,  # the double listens on 127.0.0.1
            onlyoffice_max_document_bytes=MAX_DOCUMENT,
            # Cove's own address is known once it listens (below).
            onlyoffice_public_url="http://127.0.0.1:9/",
        )
        with serve(settings) as server:
            services = services_of(server)
            policy = services.policy
            office = replace(policy.office, public_url=server.url)
            services.policy = replace(policy, office=office)
            yield Office(drive_team(server, data_dir, "office.example"), docs)


def test_the_configuration_is_signed_and_co_editors_share_its_key(office: Office) -> None:
    file_id = office.new_docx()
    answer = office.open(file_id)
    config = answer["config"]
    assert answer["documentServerUrl"] == office.docs.url
    assert jwt.decode(answer["token"], SECRET, algorithms=["HS256"]) == config
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(answer["token"], "another secret of thirty-two chars!", algorithms=["HS256"])
    assert config["documentType"] == "word"
    assert config["document"]["fileType"] == "docx"
    assert config["document"]["title"] == DOCX
    assert config["document"]["permissions"]["edit"] is True
    assert config["editorConfig"]["mode"] == "edit"
    assert config["editorConfig"]["user"] == {"id": office.drive.ids["owner"], "name": "Olive"}
    key = config["document"]["key"]
    assert len(key) <= 128 and key.replace("-", "").replace("_", "").isalnum()
    # Everyone who opens the same version gets the same key; their own URLs and tokens.
    other = office.open(file_id, who=office.drive.member)["config"]
    assert other["document"]["key"] == key
    assert other["document"]["url"] != config["document"]["url"]
    assert other["editorConfig"]["callbackUrl"] != config["editorConfig"]["callbackUrl"]
    viewing = office.open(file_id, "VIEW", who=office.drive.member)["config"]
    assert viewing["document"]["permissions"]["edit"] is False
    assert viewing["editorConfig"]["mode"] == "view"


def test_the_download_url_serves_that_version_once(office: Office) -> None:
    body = os.urandom(200_000)
    file_id = office.new_docx(body)
    url = office.open(file_id)["config"]["document"]["url"]
    first = httpx.get(url)
    assert first.status_code == 200 and first.content == body
    second = httpx.get(url)
    assert second.status_code == 410 and error_codes(second.json()) == ["BAD_USER_INPUT"]
    assert httpx.get(url + "x").status_code == 404
    # A URL for a version no longer current serves nothing.
    stale = office.open(file_id)["config"]["document"]["url"]
    office.docs.edit_and_save(office.open_in_double(file_id), b"PK newer")
    assert httpx.get(stale).status_code == 404


def test_the_download_url_lapses_after_its_few_minutes(office: Office) -> None:
    file_id = office.new_docx(b"PK not for late comers")
    url = office.open(file_id)["config"]["document"]["url"]
    services = services_of(office.drive.server)
    real_clock = services.clock
    lapse = services.policy.office.download_ttl + timedelta(seconds=1)
    services.clock = lambda: real_clock() + lapse
    try:
        late = httpx.get(url)
    finally:
        services.clock = real_clock
    assert late.status_code == 410 and b"late comers" not in late.content


def test_the_double_refuses_a_configuration_cove_did_not_sign(office: Office) -> None:
    answer = office.open(office.new_docx())
    tampered = {**answer["config"], "documentType": "cell"}
    with pytest.raises(NotSigned):
        office.docs.open(tampered, answer["token"])


def test_a_signed_callback_saves_a_new_version_sealed_at_rest(office: Office) -> None:
    file_id = office.new_docx(b"PK first draft")
    opened = office.open_in_double(file_id)
    assert opened.original == b"PK first draft"
    canary = b"PK onlyoffice-canary-8d1f Quokka edited text"
    answer = office.docs.edit_and_save(opened, canary)
    assert answer.status_code == 200 and answer.json() == {"error": 0}
    versions = office.versions(file_id)
    assert [v["number"] for v in versions] == [2, 1]
    assert office.contents(file_id) == canary
    # The saved version has a new key; the old key's session saves no more.
    assert office.open(file_id)["config"]["document"]["key"] != opened.config["document"]["key"]
    replay = office.docs.edit_and_save(opened, b"PK replayed")
    assert replay.status_code in (409, 410) and replay.json()["error"] == 1
    assert len(office.versions(file_id)) == 2
    settle(services_of(office.drive.server))
    for path, content in stored_contents(office.drive.data_dir):
        assert b"onlyoffice-canary" not in content, f"plaintext found in {path}"


def test_force_save_then_final_save_through_the_header_jwt(office: Office) -> None:
    file_id = office.new_docx()
    opened = office.open_in_double(file_id)
    docs = office.docs
    forced_body = docs.callback_body(opened, 6, docs.serve(b"PK forced"))
    forced = docs.call_back(opened, forced_body, via="header")
    assert forced.json() == {"error": 0}
    # The very same signed request again (as an eavesdropper would replay it) saves nothing.
    replayed = httpx.post(
        opened.config["editorConfig"]["callbackUrl"],
        content=forced.request.content,
        headers={"Authorization": forced.request.headers["authorization"]},
    )
    assert replayed.status_code == 410 and replayed.json()["error"] == 1
    # ... nor sent to a co-editor's callback URL (same document key, another URL).
    co_editor = office.open(file_id, who=office.drive.member)["config"]
    assert co_editor["document"]["key"] == opened.config["document"]["key"]
    elsewhere = httpx.post(
        co_editor["editorConfig"]["callbackUrl"],
        content=forced.request.content,
        headers={"Authorization": forced.request.headers["authorization"]},
    )
    assert elsewhere.status_code == 410
    again = docs.call_back(
        opened, docs.callback_body(opened, 6, docs.serve(b"PK forced")), via="header"
    )
    assert again.json() == {"error": 0}  # a second force save of the session's newer version
    final = docs.edit_and_save(opened, b"PK final")
    assert final.json() == {"error": 0}
    assert [v["number"] for v in office.versions(file_id)] == [4, 3, 2, 1]
    assert office.contents(file_id) == b"PK final"
    for status in (1, 3, 4, 7):
        assert docs.call_back(opened, docs.callback_body(opened, status)).json() == {"error": 0}
    assert len(office.versions(file_id)) == 4


@pytest.mark.parametrize(
    ("how", "status"),
    [
        ({"via": "none"}, 401),
        ({"secret": "not the secret, but just as long as it"}, 403),
        ({"age": 3600}, 403),  # expired
        ({"via": "header", "secret": "not the secret, but just as long as it"}, 403),
    ],
)
def test_unsigned_or_badly_signed_callbacks_save_nothing(
    office: Office, how: dict[str, Any], status: int
) -> None:
    file_id = office.new_docx()
    opened = office.open_in_double(file_id)
    body = office.docs.callback_body(opened, 2, office.docs.serve(b"PK forged"))
    answer = office.docs.call_back(opened, body, **how)
    assert answer.status_code == status and answer.json()["error"] == 1
    assert len(office.versions(file_id)) == 1


def test_a_callback_pointing_off_the_document_servers_origin_saves_nothing(office: Office) -> None:
    file_id = office.new_docx()
    opened = office.open_in_double(file_id)
    with document_server(SECRET) as elsewhere:
        foreign = elsewhere.serve(b"PK from elsewhere")
        answer = office.docs.call_back(opened, office.docs.callback_body(opened, 2, foreign))
    assert answer.status_code == 400 and answer.json()["error"] == 1
    internal = office.docs.callback_body(opened, 2, "http://169.254.169.254/latest/meta-data")
    assert office.docs.call_back(opened, internal).status_code == 400
    # A key of another document, under this session's callback URL, is refused too.
    other = office.open_in_double(office.new_docx())
    crossed = office.docs.callback_body(other, 2, office.docs.serve(b"PK crossed"))
    assert office.docs.call_back(opened, crossed).status_code == 403
    assert len(office.versions(file_id)) == 1


def test_too_big_or_another_type_saves_nothing(office: Office) -> None:
    file_id = office.new_docx()
    opened = office.open_in_double(file_id)
    big = office.docs.serve(b"P" * (MAX_DOCUMENT + 1))
    answer = office.docs.call_back(opened, office.docs.callback_body(opened, 2, big))
    assert answer.status_code == 413
    other_type = office.docs.callback_body(opened, 2, office.docs.serve(b"PK"), filetype="xlsx")
    assert office.docs.call_back(opened, other_type).status_code == 400
    assert len(office.versions(file_id)) == 1
    assert office.docs.edit_and_save(opened, b"PK fine").json() == {"error": 0}


@pytest.mark.parametrize("limit", ["workspace_quota_bytes", "max_file_bytes"])
def test_a_save_over_the_drives_quota_or_file_cap_saves_nothing(office: Office, limit: str) -> None:
    file_id = office.new_docx()
    opened = office.open_in_double(file_id)
    services = services_of(office.drive.server)
    policy = services.policy
    # 1,000 bytes: under the 2,000 saved below, and under what the workspace already holds.
    services.policy = replace(policy, drive=replace(policy.drive, **{limit: 1000}))
    try:
        answer = office.docs.edit_and_save(opened, b"P" * 2000)
    finally:
        services.policy = policy
    assert answer.status_code == 413 and answer.json()["error"] == 1
    assert len(office.versions(file_id)) == 1
    # The refused save claimed nothing: the same session saves once the drive allows it.
    assert office.docs.edit_and_save(opened, b"PK fine").json() == {"error": 0}
    assert len(office.versions(file_id)) == 2


def test_a_key_whose_version_is_no_longer_current_saves_nothing(office: Office) -> None:
    file_id = office.new_docx()
    opened = office.open_in_double(file_id)
    new_version(office.drive.server, office.drive.owner, file_id, b"PK uploaded meanwhile")
    answer = office.docs.edit_and_save(opened, b"PK edited from the older version")
    assert answer.status_code == 409 and answer.json()["error"] == 1
    assert office.contents(file_id) == b"PK uploaded meanwhile"
    assert len(office.versions(file_id)) == 2


def test_an_editor_who_lost_access_saves_nothing(
    office: Office, caplog: pytest.LogCaptureFixture
) -> None:
    drive = office.drive
    joiner, joiner_id = join(
        drive.server, drive.owner, drive.ids["workspace"], "leaver@office.example", "MEMBER"
    )
    file_id = office.new_docx()
    opened = office.open_in_double(file_id, who=joiner)
    drive.owner.data(REMOVE, {"w": drive.ids["workspace"], "u": joiner_id})
    answer = office.docs.edit_and_save(opened, b"PK after removal")
    assert answer.status_code == 403 and answer.json()["error"] == 1
    assert "the editor lost access" in caplog.text
    log = drive.owner.data(AUDIT, {"w": drive.ids["workspace"]})["node"]["auditLog"]
    event = log["edges"][0]["node"]
    assert event["kind"] == "DOCUMENT_SAVE_REFUSED"
    assert event["actorId"] == joiner_id and event["targetIds"] == [file_id]
    assert event["details"] == [{"name": "reason", "value": "the editor lost access"}]
    assert event["clientAddress"] == "127.0.0.1"  # the Document Server's, as the route saw it
    assert len(office.versions(file_id)) == 1


def test_who_may_open_what(office: Office) -> None:
    drive = office.drive
    file_id = office.new_docx()
    assert error_codes(drive.guest.run(OPEN, {"f": file_id, "m": "VIEW"})) == ["NOT_FOUND"]
    assert error_codes(drive.outsider.run(OPEN, {"f": file_id, "m": "VIEW"})) == ["NOT_FOUND"]
    drive.owner.data(SHARE, {"i": file_id, "u": drive.ids["guest"], "l": "READ"})
    assert office.open(file_id, "VIEW", who=drive.guest)["config"]["editorConfig"]["mode"] == "view"
    assert error_codes(drive.guest.run(OPEN, {"f": file_id, "m": "EDIT"})) == ["FORBIDDEN"]
    # A reader's session saves nothing, even with a valid signature.
    viewer = office.open(file_id, "VIEW", who=drive.guest)
    opened = office.docs.open(viewer["config"], viewer["token"])
    assert office.docs.edit_and_save(opened, b"PK by a reader").status_code == 403
    zip_id = upload_file(drive.server, drive.owner, drive.ids["workspace"], b"PK", name="a.zip")
    assert error_codes(drive.owner.run(OPEN, {"f": zip_id, "m": "VIEW"})) == ["BAD_USER_INPUT"]
    pdf_id = upload_file(drive.server, drive.owner, drive.ids["workspace"], b"%PDF", name="a.pdf")
    assert office.open(pdf_id, "VIEW")["config"]["documentType"] == "pdf"
    assert error_codes(drive.owner.run(OPEN, {"f": pdf_id, "m": "EDIT"})) == ["BAD_USER_INPUT"]
    big_id = office.new_docx(b"P" * (MAX_DOCUMENT + 1))
    assert error_codes(drive.owner.run(OPEN, {"f": big_id, "m": "EDIT"})) == ["BAD_USER_INPUT"]


def test_an_enabled_integration_needs_its_server_and_a_long_secret(tmp_path: Path) -> None:
    base = {"data_dir": tmp_path, "onlyoffice_enabled": True}
    with pytest.raises(SettingsError, match="onlyoffice_url"):
        load_settings(environ={}, overrides=base)
    with pytest.raises(SettingsError, match="onlyoffice_jwt_secret"):
        load_settings(environ={}, overrides={**base, "onlyoffice_url": "https://docs.example"})
    short = {**base, "onlyoffice_url": "https://docs.example", "onlyoffice_jwt_secret": "short"}
    with pytest.raises(SettingsError, match="onlyoffice_jwt_secret"):
        load_settings(environ={}, overrides=short)
    no_address = {**base, "onlyoffice_url": "https://docs.example"}
    with pytest.raises(SettingsError, match="onlyoffice_public_url"):  # Cove's own, absolute
        load_settings(environ={"COVE_ONLYOFFICE_JWT_SECRET": SECRET}, overrides=no_address)
    settings = load_settings(
        environ={"COVE_ONLYOFFICE_JWT_SECRET": SECRET},
        overrides={**no_address, "public_url": "https://cove.example"},
    )
    assert settings.onlyoffice_jwt_secret == SECRET
