"""Apps and planning and search (#16 item 3): calendars and task boards reach a bot as they
reach a guest (shared with it or with a channel it is in), under calendars:* and tasks:*;
search finds only what the bot reads, and only the kinds its scopes read."""

from __future__ import annotations

from typing import Any

import pytest
from apps_support import ADD, CREATE_CH, CREATE_WS, POST, install_app

from support import GraphQLClient, Server, error_codes, sign_up

CALENDAR = """mutation($w: ID!, $n: String!) {
  createCalendar(input: {workspaceId: $w, name: $n}) { calendar { id } } }"""
SHARE = """mutation($c: ID!, $ch: ID!) {
  shareCalendar(input: {calendarId: $c, channelId: $ch, level: WRITE}) { calendar { id } } }"""
EVENT = """mutation($c: ID!, $t: String!) { createEvent(input: {calendarId: $c, event: {
  title: $t, start: "2026-03-02T09:00:00Z", end: "2026-03-02T10:00:00Z"}}) { event { id } } }"""
CALENDARS = """query($w: ID!) { node(id: $w) { ... on Workspace { calendars { id name } } } }"""
EVENTS = """query($c: ID!) { node(id: $c) { ... on Calendar {
  events(from: "2026-03-01T00:00:00Z", to: "2026-03-31T00:00:00Z") { title } } } }"""
BOARD = """mutation($w: ID!, $c: ID, $n: String!) {
  createBoard(input: {workspaceId: $w, channelId: $c, name: $n}) { board { id } } }"""
LIST = """mutation($b: ID!) { createTaskList(input: {boardId: $b, name: "To do"}) {
  list { id } } }"""
TASK = """mutation($l: ID!, $t: String!) { createTask(input: {listId: $l, title: $t}) {
  task { id } } }"""
BOARDS = """query($c: ID!) { node(id: $c) { ... on Channel { boards { id name } } } }"""
TASKS = """query($b: ID!) { node(id: $b) { ... on Board { lists {
  tasks(first: 10) { edges { node { title } } } } } } }"""
SEARCH = """query($w: ID!, $q: String!, $k: [SearchKind!]) {
  search(workspaceId: $w, query: $q, kinds: $k) { edges { node {
    ... on Message { text } ... on Task { title } } } } }"""
SCOPES = [
    "workspaces:read",
    "channels:read",
    "messages:read",
    "calendars:read",
    "calendars:write",
    "tasks:read",
    "tasks:write",
    "search:read",
]


@pytest.fixture
def office(shared_server: Server, email: str) -> dict[str, Any]:
    token, _ = sign_up(shared_server.client(), email, name="Olga")
    owner = shared_server.client(token)
    ws = owner.data(CREATE_WS)["createWorkspace"]["workspace"]["id"]
    team, secret = (
        owner.data(CREATE_CH, {"w": ws, "n": n, "v": v})["createChannel"]["channel"]["id"]
        for n, v in (("team", "PUBLIC"), ("secret", "PRIVATE"))
    )
    app = install_app(shared_server, owner, ws, SCOPES, name="Planner")
    owner.data(ADD, {"c": team, "u": app.bot_user_id})
    return {"owner": owner, "ws": ws, "team": team, "secret": secret, "app": app}


def test_calendars_shared_with_the_bots_channel_and_no_other(office: dict[str, Any]) -> None:
    owner: GraphQLClient = office["owner"]
    bot: GraphQLClient = office["app"].bot
    shared = owner.data(CALENDAR, {"w": office["ws"], "n": "Team"})["createCalendar"]
    shared_id = shared["calendar"]["id"]
    hidden = owner.data(CALENDAR, {"w": office["ws"], "n": "Board meetings"})["createCalendar"]
    owner.data(SHARE, {"c": shared_id, "ch": office["team"]})
    owner.data(EVENT, {"c": hidden["calendar"]["id"], "t": "Budget"})
    bot.data(EVENT, {"c": shared_id, "t": "Standup"})  # calendars:write, WRITE by the share
    refused = bot.run(EVENT, {"c": hidden["calendar"]["id"], "t": "Sneak"})
    assert error_codes(refused) == ["NOT_FOUND"]
    seen = bot.data(CALENDARS, {"w": office["ws"]})["node"]["calendars"]
    assert seen == [{"id": shared_id, "name": "Team"}]
    assert bot.data(EVENTS, {"c": shared_id})["node"]["events"] == [{"title": "Standup"}]


def test_boards_of_the_bots_channel_and_no_other(office: dict[str, Any]) -> None:
    owner: GraphQLClient = office["owner"]
    bot: GraphQLClient = office["app"].bot
    board = owner.data(BOARD, {"w": office["ws"], "c": office["team"], "n": "Team board"})
    todo = owner.data(LIST, {"b": board["createBoard"]["board"]["id"]})["createTaskList"]
    owner.data(TASK, {"l": todo["list"]["id"], "t": "Write the notes"})
    private = owner.data(BOARD, {"w": office["ws"], "c": office["secret"], "n": "Secret board"})
    secret_list = owner.data(LIST, {"b": private["createBoard"]["board"]["id"]})
    bot.data(TASK, {"l": todo["list"]["id"], "t": "Remind everyone"})  # tasks:write
    refused = bot.run(TASK, {"l": secret_list["createTaskList"]["list"]["id"], "t": "x"})
    assert error_codes(refused) == ["NOT_FOUND"]
    boards = bot.data(BOARDS, {"c": office["team"]})["node"]["boards"]
    assert [b["name"] for b in boards] == ["Team board"]
    lists = bot.data(TASKS, {"b": boards[0]["id"]})["node"]["lists"]
    titles = [e["node"]["title"] for e in lists[0]["tasks"]["edges"]]
    assert sorted(titles) == ["Remind everyone", "Write the notes"]
    assert error_codes(bot.run(BOARDS, {"c": office["secret"]})) == ["NOT_FOUND"]


def test_search_finds_what_the_bot_reads_in_kinds_its_scopes_read(
    shared_server: Server, office: dict[str, Any]
) -> None:
    owner: GraphQLClient = office["owner"]
    owner.data(POST, {"c": office["team"], "t": "zebra crossing at noon"})
    owner.data(POST, {"c": office["secret"], "t": "zebra secret plans"})
    found = office["app"].bot.data(SEARCH, {"w": office["ws"], "q": "zebra", "k": ["MESSAGE"]})
    assert [e["node"] for e in found["search"]["edges"]] == [{"text": "zebra crossing at noon"}]
    # An app that may search but not read messages finds none of them.
    blind = install_app(shared_server, owner, office["ws"], ["search:read", "tasks:read"])
    owner.data(ADD, {"c": office["team"], "u": blind.bot_user_id})
    refused = blind.bot.run(SEARCH, {"w": office["ws"], "q": "zebra", "k": ["MESSAGE"]})
    assert error_codes(refused) == ["FORBIDDEN"]
    assert "messages:read" in refused["errors"][0]["message"]
    tasks = SEARCH.replace("... on Message { text } ", "")
    tasks_only = blind.bot.data(tasks, {"w": office["ws"], "q": "zebra", "k": None})
    assert tasks_only["search"]["edges"] == []  # no task matches; messages not searched
