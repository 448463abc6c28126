"""Task boards as their users meet them: lists and tasks in a stable order, moves that touch
one task's rows, assignees, due dates in the agenda, checklists, comments, sealing."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import worlds
from drive_support import CREATE_CH, services_of
from worlds import CREATE_WS, join, team_fields

from support import (
    GraphQLClient,
    error_codes,
    make_settings,
    serve,
    settle,
    sign_up,
    stored_contents,
)

CREATE_BOARD = """mutation($w: ID!, $c: ID, $n: String!) {
  createBoard(input: {workspaceId: $w, channelId: $c, name: $n}) { board { id name viewerLevel } } }"""
CREATE_LIST = """mutation($b: ID!, $n: String!, $a: ID) {
  createTaskList(input: {boardId: $b, name: $n, afterListId: $a}) { list { id name } } }"""
CREATE_TASK = """mutation($l: ID!, $t: String!, $d: DateTime, $a: [ID!]! = [], $lab: [String!]) {
  createTask(input: {listId: $l, title: $t, dueAt: $d, assigneeIds: $a, labels: $lab}) { task { id title position } } }"""
MOVE = """mutation($t: ID!, $l: ID!, $a: ID) { moveTask(input: {taskId: $t, listId: $l, afterTaskId: $a}) {
  task { id list { id } position } } }"""
TITLES = """query($l: ID!) { node(id: $l) { ... on TaskList { tasks(first: 100) { edges { node { title } } } } } }"""
BOARD = """query($b: ID!) { node(id: $b) { ... on Board { name lists { id name } } } }"""


@dataclass
class Team(worlds.Team):
    def board(
        self, name: str = "Sprint", who: GraphQLClient | None = None, channel: str | None = None
    ) -> str:
        board: str = (who or self.owner).data(
            CREATE_BOARD, {"w": self.ids["workspace"], "c": channel, "n": name}
        )["createBoard"]["board"]["id"]
        return board

    def list(self, board: str, name: str, after: str | None = None) -> str:
        item: str = self.owner.data(CREATE_LIST, {"b": board, "n": name, "a": after})[
            "createTaskList"
        ]["list"]["id"]
        return item

    def task(self, list_id: str, title: str, **extra: Any) -> str:
        task: str = self.owner.data(CREATE_TASK, {"l": list_id, "t": title, **extra})["createTask"][
            "task"
        ]["id"]
        return task

    def titles(self, list_id: str, who: GraphQLClient | None = None) -> list[str]:
        edges = (who or self.owner).data(TITLES, {"l": list_id})["node"]["tasks"]["edges"]
        return [e["node"]["title"] for e in edges]


@pytest.fixture
def team(tmp_path: Path) -> Iterator[Team]:
    data_dir = tmp_path / "data"
    with serve(make_settings(data_dir)) as server:
        yield Team(**team_fields(server, data_dir, "tasks.example"))


def test_lists_and_tasks_keep_their_order_through_moves(team: Team) -> None:
    board = team.board()
    todo = team.list(board, "To do")
    done = team.list(board, "Done", after=todo)
    doing = team.list(board, "Doing", after=todo)
    assert [item["name"] for item in team.owner.data(BOARD, {"b": board})["node"]["lists"]] == [
        "To do",
        "Doing",
        "Done",
    ]
    ids = [team.task(todo, title) for title in ("a", "b", "c", "d")]
    assert team.titles(todo) == ["a", "b", "c", "d"]
    team.owner.data(MOVE, {"t": ids[3], "l": todo})  # to the top
    team.owner.data(MOVE, {"t": ids[0], "l": todo, "a": ids[2]})  # after c
    assert team.titles(todo) == ["d", "b", "c", "a"]
    moved = team.owner.data(MOVE, {"t": ids[1], "l": doing})["moveTask"]["task"]
    assert moved["list"]["id"] == doing
    assert team.titles(todo) == ["d", "c", "a"] and team.titles(doing) == ["b"]
    # Moving between two neighbours again and again never runs out of room.
    for _ in range(30):
        team.owner.data(MOVE, {"t": ids[2], "l": todo, "a": ids[3]})
        team.owner.data(MOVE, {"t": ids[0], "l": todo, "a": ids[3]})
    assert team.titles(todo) == ["d", "a", "c"]
    team.owner.data(
        "mutation($t: ID!) { updateTask(input: {taskId: $t, status: DONE}) { task { status completedAt } } }",
        {"t": ids[1]},
    )
    team.owner.data(MOVE, {"t": ids[1], "l": done})
    assert team.titles(done) == ["b"]


class BatchRecorder:
    """A store that notes the size of every batch written through it."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self.batches: list[int] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)

    async def batch(self, ops: Any) -> None:
        self.batches.append(len(ops))
        await self.store.batch(ops)


def test_a_move_writes_only_the_moved_task(team: Team) -> None:
    board = team.board()
    todo = team.list(board, "To do")
    ids = [team.task(todo, f"t{n}") for n in range(20)]
    services = services_of(team.server)
    recorder = BatchRecorder(services.tasks._store)
    services.tasks._store = recorder  # type: ignore[assignment]
    try:
        team.owner.data(MOVE, {"t": ids[19], "l": todo, "a": ids[0]})
    finally:
        services.tasks._store = recorder.store
    batches = recorder.batches
    assert batches == [3]  # the task's row, and its place in the list moved: nothing else
    assert team.titles(todo)[:3] == ["t0", "t19", "t1"]


def test_who_may_do_what_on_boards(team: Team) -> None:
    board = team.board()
    todo = team.list(board, "To do")
    task = team.task(todo, "Write the spec")
    assert team.titles(todo, team.member) == ["Write the spec"]
    assert error_codes(team.guest.run(BOARD, {"b": board})) == ["NOT_FOUND"]
    assert error_codes(team.outsider.run(BOARD, {"b": board})) == ["NOT_FOUND"]
    assert error_codes(team.guest.run(CREATE_BOARD, {"w": team.ids["workspace"], "n": "G"})) == [
        "FORBIDDEN"
    ]
    # A channel board: its members write (guests included), others in the workspace read it.
    channel = team.owner.data(
        CREATE_CH, {"w": team.ids["workspace"], "n": "guests", "v": "PUBLIC"}
    )["createChannel"]["channel"]["id"]
    team.owner.data(
        "mutation($c: ID!, $u: ID!) { addChannelMember(input: {channelId: $c, userId: $u}) { channel { id } } }",
        {"c": channel, "u": team.ids["guest"]},
    )
    room = team.board("Room board", channel=channel)
    room_list = team.list(room, "Ideas")
    guest_task = team.guest.data(CREATE_TASK, {"l": room_list, "t": "Guest idea"})["createTask"][
        "task"
    ]["id"]
    assert guest_task
    assert team.titles(room_list, team.member) == ["Guest idea"]
    refused = team.member.run(CREATE_TASK, {"l": room_list, "t": "Not a member of the channel"})
    assert error_codes(refused) == ["FORBIDDEN"]
    # Moving a task to another workspace's board is refused.
    other_token, _ = sign_up(team.server.client(), "other-owner@tasks.example")
    other = team.server.client(other_token)
    other_ws = other.data(CREATE_WS, {"n": "Other"})["createWorkspace"]["workspace"]["id"]
    join(team.server, other, other_ws, "member2@tasks.example", "MEMBER")
    other.data(
        "mutation($w: ID!, $e: String!) { inviteMember(input: {workspaceId: $w, email: $e, role: ADMIN}) { invitation { id } } }",
        {"w": other_ws, "e": "owner@tasks.example"},
    )
    invitation = team.owner.data("{ viewer { invitations { id } } }")["viewer"]["invitations"][0][
        "id"
    ]
    team.owner.data(
        "mutation($i: ID!) { acceptInvitation(input: {invitationId: $i}) { workspace { id } } }",
        {"i": invitation},
    )
    foreign_board = team.owner.data(CREATE_BOARD, {"w": other_ws, "n": "Theirs"})["createBoard"][
        "board"
    ]["id"]
    foreign_list = team.list(foreign_board, "Inbox")
    assert error_codes(team.owner.run(MOVE, {"t": task, "l": foreign_list})) == ["BAD_USER_INPUT"]
    # Assigning someone outside the workspace is refused.
    outsider_id = team.outsider.data("{ viewer { id } }")["viewer"]["id"]
    refused = team.owner.run(CREATE_TASK, {"l": todo, "t": "x", "a": [outsider_id]})
    assert error_codes(refused) == ["BAD_USER_INPUT"]
    assert team.titles(todo) == ["Write the spec"]


def test_due_tasks_join_events_in_the_agenda(team: Team) -> None:
    board = team.board()
    todo = team.list(board, "To do")
    team.task(todo, "Ship it", d="2026-04-10T17:00:00Z", a=[team.ids["member"]])
    team.task(todo, "Later", d="2026-06-10T17:00:00Z", a=[team.ids["member"]])
    team.task(todo, "Not mine", d="2026-04-10T17:00:00Z", a=[team.ids["owner"]])
    calendar = team.member.data(
        'mutation($w: ID!) { createCalendar(input: {workspaceId: $w, name: "Mine", personal: true}) { calendar { id } } }',
        {"w": team.ids["workspace"]},
    )["createCalendar"]["calendar"]["id"]
    team.member.data(
        'mutation($c: ID!) { createEvent(input: {calendarId: $c, event: {title: "Launch party", start: "2026-04-11T18:00:00Z", end: "2026-04-11T21:00:00Z"}}) { event { id } } }',
        {"c": calendar},
    )
    agenda = team.member.data(
        'query { viewer { agenda(from: "2026-04-01T00:00:00Z", to: "2026-05-01T00:00:00Z") { events { title } tasks { title dueAt } } } }'
    )["viewer"]["agenda"]
    assert [e["title"] for e in agenda["events"]] == ["Launch party"]
    assert [t["title"] for t in agenda["tasks"]] == ["Ship it"]


def test_checklists_comments_and_labels(team: Team) -> None:
    board = team.board()
    todo = team.list(board, "To do")
    task = team.task(todo, "Release", lab=["urgent", "urgent", "backend"])
    team.owner.data(
        'mutation($t: ID!) { addChecklistItem(input: {taskId: $t, text: "Tag"}) { task { id } } }',
        {"t": task},
    )
    team.owner.data(
        'mutation($t: ID!) { addChecklistItem(input: {taskId: $t, text: "Build"}) { task { id } } }',
        {"t": task},
    )
    read = "query($t: ID!) { node(id: $t) { ... on Task { labels checklist { id text done } comments(first: 5) { edges { node { text author { displayName } } } } } } }"
    node = team.owner.data(read, {"t": task})["node"]
    assert node["labels"] == ["urgent", "backend"]
    first = node["checklist"][0]["id"]
    team.owner.data(
        "mutation($i: ID!) { updateChecklistItem(input: {itemId: $i, done: true}) { task { id } } }",
        {"i": first},
    )
    team.member.data(
        'mutation($t: ID!) { addTaskComment(input: {taskId: $t, text: "On it"}) { task { id } } }',
        {"t": task},
    )
    node = team.owner.data(read, {"t": task})["node"]
    assert [(c["text"], c["done"]) for c in node["checklist"]] == [("Tag", True), ("Build", False)]
    assert node["comments"]["edges"][0]["node"] == {
        "text": "On it",
        "author": {"displayName": "Member"},
    }
    team.owner.data(
        "mutation($i: ID!) { updateChecklistItem(input: {itemId: $i, remove: true}) { task { id } } }",
        {"i": first},
    )
    assert [c["text"] for c in team.owner.data(read, {"t": task})["node"]["checklist"]] == ["Build"]


def test_task_canaries_stay_sealed(team: Team) -> None:
    board = team.board("heron-canary board")
    todo = team.list(board, "heron-canary list")
    task = team.task(todo, "heron-canary title", lab=["heron-canary label"])
    team.owner.data(
        'mutation($t: ID!) { updateTask(input: {taskId: $t, description: "heron-canary description"}) { task { id } } }',
        {"t": task},
    )
    team.owner.data(
        'mutation($t: ID!) { addChecklistItem(input: {taskId: $t, text: "heron-canary item"}) { task { id } } }',
        {"t": task},
    )
    team.owner.data(
        'mutation($t: ID!) { addTaskComment(input: {taskId: $t, text: "heron-canary comment"}) { task { id } } }',
        {"t": task},
    )
    settle(services_of(team.server))
    for path, content in stored_contents(team.data_dir):
        assert b"heron-canary" not in content, path
