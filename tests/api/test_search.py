"""Search over messages, files, events and tasks: found by words and word starts, checked
result by result, reflecting edits and deletes at once, and never holding plaintext."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import worlds
from drive_support import CREATE_CH, services_of, upload_file
from worlds import team_fields

from resolvers.global_ids import from_global_id
from support import GraphQLClient, error_codes, make_settings, serve, settle, stored_contents

SEARCH = """query($w: ID!, $q: String!, $k: [SearchKind!], $c: ID, $a: ID, $s: DateTime, $u: DateTime, $f: Int = 20, $after: String) {
  search(workspaceId: $w, query: $q, kinds: $k, channelId: $c, authorId: $a, since: $s, until: $u, first: $f, after: $after) {
    edges { cursor node { __typename ... on Message { id text } ... on File { id name } ... on Event { id title } ... on Task { id title } } }
    pageInfo { hasNextPage endCursor } } }"""
POST = "mutation($c: ID!, $t: String!) { postMessage(input: {channelId: $c, text: $t}) { message { id } } }"


@dataclass
class Team(worlds.Team):
    settings: Any = None

    def search(
        self, query: str, who: GraphQLClient | None = None, **extra: Any
    ) -> list[dict[str, Any]]:
        result = (who or self.owner).data(SEARCH, {"w": self.ids["workspace"], "q": query, **extra})
        return [e["node"] for e in result["search"]["edges"]]

    def channel(self, name: str, visibility: str = "PUBLIC") -> str:
        channel: str = self.owner.data(
            CREATE_CH, {"w": self.ids["workspace"], "n": name, "v": visibility}
        )["createChannel"]["channel"]["id"]
        return channel

    def post(self, channel: str, text: str, who: GraphQLClient | None = None) -> str:
        message: str = (who or self.owner).data(POST, {"c": channel, "t": text})["postMessage"][
            "message"
        ]["id"]
        return message


@pytest.fixture
def team(tmp_path: Path) -> Iterator[Team]:
    data_dir = tmp_path / "data"
    settings = make_settings(data_dir)
    with serve(settings) as server:
        yield Team(**team_fields(server, data_dir, "search.example"), settings=settings)


def kinds(results: list[dict[str, Any]]) -> list[str]:
    return [r["__typename"] for r in results]


def seed_everything(team: Team) -> dict[str, str]:
    general = team.channel("general")
    found = {"message": team.post(general, "The quarterly zanzibarreport is ready for review")}
    found["file"] = upload_file(
        team.server, team.owner, team.ids["workspace"], b"pdf", name="zanzibarreport final.pdf"
    )
    calendar = team.owner.data(
        'mutation($w: ID!) { createCalendar(input: {workspaceId: $w, name: "Team"}) { calendar { id } } }',
        {"w": team.ids["workspace"]},
    )["createCalendar"]["calendar"]["id"]
    found["event"] = team.owner.data(
        'mutation($c: ID!) { createEvent(input: {calendarId: $c, event: {title: "Zanzibarreport review", description: "bring coffee", start: "2026-05-04T09:00:00Z", end: "2026-05-04T10:00:00Z"}}) { event { id } } }',
        {"c": calendar},
    )["createEvent"]["event"]["id"]
    board = team.owner.data(
        'mutation($w: ID!) { createBoard(input: {workspaceId: $w, name: "B"}) { board { id } } }',
        {"w": team.ids["workspace"]},
    )["createBoard"]["board"]["id"]
    todo = team.owner.data(
        'mutation($b: ID!) { createTaskList(input: {boardId: $b, name: "L"}) { list { id } } }',
        {"b": board},
    )["createTaskList"]["list"]["id"]
    found["task"] = team.owner.data(
        'mutation($l: ID!) { createTask(input: {listId: $l, title: "Proofread the zanzibarreport"}) { task { id } } }',
        {"l": todo},
    )["createTask"]["task"]["id"]
    found["channel"] = general
    return found


def test_canaries_are_found_everywhere_and_the_index_holds_none_of_them(team: Team) -> None:
    ids = seed_everything(team)
    results = team.search("zanzibarreport")
    assert sorted(kinds(results)) == ["Event", "File", "Message", "Task"]
    assert {r["id"] for r in results} == {ids["message"], ids["file"], ids["event"], ids["task"]}
    # Word starts, case and accents: "zanz" and "ZANZÌBAR" find it too.
    assert len(team.search("zanz")) == 4
    assert len(team.search("ZANZÌBARREPORT")) == 4
    assert team.search("za") == []  # shorter than the 3-letter minimum: whole words only
    assert kinds(team.search("zanzibarreport", k=["EVENT", "TASK"])) in (
        ["Event", "Task"],
        ["Task", "Event"],
    )
    settle(services_of(team.server))
    for path, content in stored_contents(team.data_dir):
        for needle in (b"zanzibarreport", b"zanzibar", b"Zanzibarreport", b"coffee", b"quarterly"):
            assert needle not in content, (path, needle)


def test_results_follow_rights_and_removal_is_at_once(team: Team) -> None:
    public = team.channel("public")
    private = team.channel("private", "PRIVATE")
    team.post(public, "octopus in the open")
    team.post(private, "octopus behind doors")
    assert len(team.search("octopus")) == 2
    assert [r["text"] for r in team.search("octopus", team.member)] == ["octopus in the open"]
    assert team.search("octopus", team.guest) == []  # guests see only their channels
    team.owner.data(
        "mutation($c: ID!, $u: ID!) { addChannelMember(input: {channelId: $c, userId: $u}) { channel { id } } }",
        {"c": private, "u": team.ids["guest"]},
    )
    assert [r["text"] for r in team.search("octopus", team.guest)] == ["octopus behind doors"]
    team.owner.data(
        "mutation($c: ID!, $u: ID!) { removeChannelMember(input: {channelId: $c, userId: $u}) { channel { id } } }",
        {"c": private, "u": team.ids["guest"]},
    )
    assert team.search("octopus", team.guest) == []
    assert error_codes(team.outsider.run(SEARCH, {"w": team.ids["workspace"], "q": "octopus"})) == [
        "NOT_FOUND"
    ]
    # Hits the caller may not see do not shorten its pages: 3 visible of 8, pages of 2.
    for n in range(5):
        team.post(private, f"octopus secret {n}")
    for n in range(3):
        team.post(public, f"octopus public {n}")
    first = team.member.data(SEARCH, {"w": team.ids["workspace"], "q": "octopus", "f": 2})["search"]
    assert len(first["edges"]) == 2 and first["pageInfo"]["hasNextPage"] is True
    second = team.member.data(
        SEARCH,
        {
            "w": team.ids["workspace"],
            "q": "octopus",
            "f": 2,
            "after": first["pageInfo"]["endCursor"],
        },
    )["search"]
    seen = [e["node"]["text"] for e in first["edges"] + second["edges"]]
    assert sorted(seen) == sorted(
        ["octopus in the open", "octopus public 0", "octopus public 1", "octopus public 2"]
    )


def test_edits_and_deletes_show_at_once_and_ranking_prefers_more_words(team: Team) -> None:
    channel = team.channel("general")
    message = team.post(channel, "pelican draft")
    older = team.post(channel, "pelican and flamingo together")
    newest = team.post(channel, "just a pelican")
    ranked = [r["id"] for r in team.search("pelican flamingo")]
    assert ranked[0] == older  # both words beat newer single matches
    assert ranked[1:] == [newest, message]
    team.owner.data(
        'mutation($m: ID!) { editMessage(input: {messageId: $m, text: "cormorant final"}) { message { id } } }',
        {"m": message},
    )
    assert message not in [r["id"] for r in team.search("pelican")]
    assert [r["id"] for r in team.search("cormorant")] == [message]
    team.owner.data(
        "mutation($m: ID!) { deleteMessage(input: {messageId: $m}) { deletedMessageId } }",
        {"m": message},
    )
    assert team.search("cormorant") == []


def test_filters_by_channel_author_and_date(team: Team) -> None:
    one = team.channel("one")
    two = team.channel("two")
    team.member.data(
        "mutation($c: ID!) { joinChannel(input: {channelId: $c}) { channel { id } } }", {"c": one}
    )
    team.post(one, "walrus from the owner")
    team.post(one, "walrus from the member", team.member)
    team.post(two, "walrus elsewhere")
    assert len(team.search("walrus", c=one)) == 2
    assert [r["text"] for r in team.search("walrus", a=team.ids["member"])] == [
        "walrus from the member"
    ]
    assert team.search("walrus", s="2999-01-01T00:00:00Z") == []
    assert len(team.search("walrus", u="2999-01-01T00:00:00Z")) == 3


@pytest.mark.parametrize(
    ("variables", "code"),
    [
        ({"q": "x" * 201}, "BAD_USER_INPUT"),
        ({"q": "walrus", "f": 101}, "BAD_USER_INPUT"),
        ({"q": "walrus", "f": 0}, "BAD_USER_INPUT"),
        ({"q": "a b c d e f g h i"}, "BAD_USER_INPUT"),
        ({"q": "walrus", "after": "not-a-cursor"}, "BAD_USER_INPUT"),
        ({"q": "walrus", "w": "V29ya3NwYWNlOm5vcGU"}, "NOT_FOUND"),
    ],
)
def test_bad_searches_are_refused(team: Team, variables: dict[str, Any], code: str) -> None:
    result = team.owner.run(SEARCH, {"w": team.ids["workspace"], **variables})
    assert error_codes(result) == [code]


def test_an_empty_query_finds_nothing(team: Team) -> None:
    team.post(team.channel("general"), "anything")
    assert team.search("   ") == []
    assert team.search("!!! ...") == []


def test_reindex_rebuilds_a_wiped_index_to_the_same_results(team: Team) -> None:
    seed_everything(team)
    channel = team.channel("threads")
    parent = team.post(channel, "parent about zanzibarreport")
    team.owner.data(
        'mutation($c: ID!, $r: ID!) { postMessage(input: {channelId: $c, text: "a zanzibarreport reply", replyToId: $r}) { message { id } } }',
        {"c": channel, "r": parent},
    )
    before = sorted(r["id"] for r in team.search("zanzibarreport"))
    assert len(before) == 6
    services = services_of(team.server)
    workspace = from_global_id(team.ids["workspace"])
    assert workspace is not None
    asyncio.run(services.indexer.engine.clear(workspace[1]))
    assert team.search("zanzibarreport") == []
    env = {**os.environ, **team.settings.as_environment()}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "api.cli",
            "reindex",
            "--data-dir",
            str(team.data_dir),
            "--workspace",
            team.ids["workspace"],
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "4 messages" in done.stdout or "messages" in done.stdout
    assert sorted(r["id"] for r in team.search("zanzibarreport")) == before
