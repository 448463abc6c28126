"""Reading a Slack export: its users, channels, messages day by day, and Slack's markup."""

from __future__ import annotations

from pathlib import Path

import pytest
from slack_fixture import CANARY, PARENT, TRIO, write_export

from persistence.migrations import MIGRATIONS
from persistence.scylla.cql import create_table_cql
from persistence.slack_imports import SLACK_IMPORT_TABLES
from resolvers.slack_export import SlackExportError, emoji_of, plain_text, read_export


def test_the_export_reads_as_slack_documents_it(tmp_path: Path) -> None:
    export = read_export(write_export(tmp_path / "export.zip"))
    assert [u.email for u in export.users] == [
        "owner@slack.example",
        "Member@Slack.Example",
        "zed@elsewhere.example",
        "guest@slack.example",
    ]
    assert [u.name for u in export.users] == [
        "Olive Owner",
        "Mia Member",
        "Zed Stranger",
        "Gus Guest",
    ]
    general, random = export.channels
    assert (general.name, general.topic, general.private) == ("general", "Company-wide news", False)
    assert random.topic is None
    # Both days, oldest first, whatever the order of the files in the zip.
    assert [m.ts for m in general.messages] == sorted((m.ts for m in general.messages), key=float)
    assert len(general.messages) == 7
    assert general.messages[0].subtype == "channel_join"
    assert CANARY in general.messages[1].text
    replies = [m for m in general.messages if m.is_reply]
    assert [m.thread_ts for m in replies] == [PARENT, PARENT]
    parent = next(m for m in general.messages if m.ts == PARENT)
    assert not parent.is_reply
    assert parent.reactions == (("+1", ("U0OLIVE", "U0ZED")),)
    shared = next(m for m in general.messages if m.subtype == "file_share")
    assert [(f.id, f.name, f.content) for f in shared.files] == [("F0PLAN", "plan.pdf", None)]
    # Direct messages: a folder named by the conversation's id, group ones by their name.
    pair, other, trio = export.directs
    assert all(d.direct and d.private and not d.archived for d in export.directs)
    assert (pair.id, pair.name, pair.members) == ("D0OLIVEMIA", "D0OLIVEMIA", ("U0OLIVE", "U0MIA"))
    assert [m.text for m in pair.messages] == [
        f"Just between us: {CANARY}-dm",
        "Understood <@U0OLIVE>",
    ]
    assert [m.user for m in other.messages] == ["U0ZED"]
    assert (trio.id, trio.name, trio.topic) == ("G0TRIO", TRIO, None)
    assert trio.members == ("U0OLIVE", "U0MIA", "U0GUS")
    assert len(trio.messages) == 2
    assert export.channels == tuple(c for c in export.channels if not c.direct)


def test_a_bot_message_keeps_the_name_it_was_posted_under(tmp_path: Path) -> None:
    bot = {
        "type": "message",
        "subtype": "bot_message",
        "bot_id": "B1",
        "username": "deploybot",
        "text": "deployed",
        "ts": "1677751200.000100",
    }
    path = write_export(tmp_path / "export.zip", more={"random/2023-03-03.json": [bot]})
    [said] = [m for m in read_export(path).channels[1].messages if m.subtype == "bot_message"]
    assert (said.user, said.username, said.text) == (None, "deploybot", "deployed")


def test_files_carried_in_the_export_are_found(tmp_path: Path) -> None:
    import zipfile

    path = write_export(tmp_path / "export.zip")
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr("__uploads/F0PLAN/plan.pdf", b"%PDF")
    export = read_export(path)
    shared = next(m for m in export.channels[0].messages if m.files)
    assert shared.files[0].content == "__uploads/F0PLAN/plan.pdf"


def test_an_export_without_direct_messages_has_none(tmp_path: Path) -> None:
    path = write_export(tmp_path / "export.zip", more={"dms.json": [], "mpims.json": []})
    assert read_export(path).directs == ()
    public_only = tmp_path / "public.zip"
    write_export(public_only, more={"dms.json": []}, without="mpims.json")
    assert read_export(public_only).directs == ()


def test_slack_markup_becomes_readable_text() -> None:
    people = {"U1": "Mia Member"}
    text, mentioned = plain_text(
        "Hi <@U1> and <@U9>, see <#C1|general>, <https://a.example|the doc>, "
        "<https://b.example> &lt;b&gt; &amp; <!here>",
        people,
        {"C1": "general"},
    )
    assert text == (
        "Hi @Mia Member and @U9, see #general, the doc (https://a.example), "
        "https://b.example <b> & @here"
    )
    assert mentioned == ["U1", "U9"]
    assert emoji_of("+1") == "👍"
    assert emoji_of("thumbsup::skin-tone-3") == "👍"
    assert emoji_of("party_parrot") == ":party_parrot:"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"not a zip", "is not a zip file"),
        (None, "has no users.json"),
    ],
)
def test_what_is_not_an_export_is_refused_by_name(
    tmp_path: Path, content: bytes | None, message: str
) -> None:
    path = tmp_path / "export.zip"
    if content is None:
        write_export(path, without="users.json")
    else:
        path.write_bytes(content)
    with pytest.raises(SlackExportError, match=message):
        read_export(path)


@pytest.mark.parametrize(
    ("listing", "content", "message"),
    [
        ("dms.json", [{"members": ["U0OLIVE", "U0MIA"]}], "a direct conversation has no usable id"),
        ("mpims.json", [{"id": "G1", "name": "../up"}], "a direct conversation has no usable id"),
        ("mpims.json", {"not": "a list"}, "mpims.json is not a list of objects"),
    ],
)
def test_a_direct_message_listing_slack_would_not_write_is_refused(
    tmp_path: Path, listing: str, content: object, message: str
) -> None:
    path = write_export(tmp_path / "export.zip", more={listing: content})
    with pytest.raises(SlackExportError, match=message):
        read_export(path)


def test_a_day_that_is_not_a_list_of_messages_is_refused(tmp_path: Path) -> None:
    import zipfile

    path = write_export(tmp_path / "export.zip")
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr("random/2023-03-03.json", '{"not": "a list"}')
    with pytest.raises(SlackExportError, match=r"random/2023-03-03\.json"):
        read_export(path)


def test_the_mapping_table_is_a_migration_and_compiles_to_cql() -> None:
    migration = next(m for m in MIGRATIONS if m.creates == SLACK_IMPORT_TABLES)
    assert migration.name == "Slack import mappings"
    for table in SLACK_IMPORT_TABLES:
        assert create_table_cql(table, "cove").startswith("CREATE TABLE")
