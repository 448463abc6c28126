"""Workspace names, channel names and topics, messages, replies, invitations and reactions
never reach the disk in plaintext, and a deleted message's ciphertext leaves every file."""

from __future__ import annotations

import asyncio
from pathlib import Path

from persistence.messages import MessageLocation
from support import make_settings, on_scylla, serve, settle, sign_up, stored_contents

CANARY = "quokkacanary"


def files_of(directory: Path) -> list[tuple[Path, bytes]]:
    return stored_contents(directory)


def found_in(directory: Path, needle: bytes) -> list[Path]:
    return [path for path, content in files_of(directory) if needle in content]


def test_collaboration_canaries_stay_sealed_and_deleted_text_is_erased(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with serve(make_settings(data)) as server:
        token, _ = sign_up(server.client(), "owner@sealed.example")
        owner = server.client(token)
        ws = owner.data(
            "mutation($n: String!) { createWorkspace(input: {name: $n}) { workspace { id } } }",
            {"n": f"{CANARY} workspace"},
        )["createWorkspace"]["workspace"]["id"]
        owner.data(
            "mutation($w: ID!, $e: String!) { inviteMember(input: {workspaceId: $w, email: $e}) { invitation { id } } }",
            {"w": ws, "e": f"{CANARY}@invitee.example"},
        )
        channel = owner.data(
            "mutation($w: ID!, $n: String!, $t: String!) { createChannel(input: {workspaceId: $w, name: $n, topic: $t}) { channel { id } } }",
            {"w": ws, "n": f"{CANARY}-room", "t": f"{CANARY} topic"},
        )["createChannel"]["channel"]["id"]
        post = "mutation($c: ID!, $t: String!, $r: ID) { postMessage(input: {channelId: $c, text: $t, replyToId: $r}) { message { id } } }"
        kept = owner.data(post, {"c": channel, "t": f"{CANARY} kept"})["postMessage"]["message"][
            "id"
        ]
        owner.data(post, {"c": channel, "t": f"{CANARY} in a thread", "r": kept})
        owner.data(
            "mutation($m: ID!, $t: String!) { editMessage(input: {messageId: $m, text: $t}) { message { id } } }",
            {"m": kept, "t": f"{CANARY} edited"},
        )
        owner.data(
            "mutation($m: ID!, $e: String!) { addReaction(input: {messageId: $m, emoji: $e}) { message { id } } }",
            {"m": kept, "e": f"{CANARY}emoji"},
        )
        doomed = owner.data(post, {"c": channel, "t": "to be erased"})["postMessage"]["message"][
            "id"
        ]

        services = server.server.config.app.state["services"]
        raw_id = _raw(doomed)
        location = asyncio.run(services.messages.location(raw_id))
        assert isinstance(location, MessageLocation)
        record = asyncio.run(services.messages.get(location))
        ciphertext = record.text_sealed
        settle(services)
        # The test can fail: before the delete, the ciphertext is in the files.
        assert found_in(data, ciphertext)

        owner.data(
            "mutation($m: ID!) { deleteMessage(input: {messageId: $m}) { deletedMessageId } }",
            {"m": doomed},
        )
        settle(services)
        if not on_scylla():
            # SQLite overwrites deleted pages (secure_delete); ScyllaDB keeps the sealed
            # bytes in its commit log and SSTables until compaction (SECURITY.md).
            assert found_in(data, ciphertext) == []
        for needle in (CANARY.encode(), CANARY.encode("utf-16-le"), b"to be erased"):
            assert found_in(data, needle) == [], needle


def _raw(global_id: str) -> str:
    import base64

    return (
        base64.urlsafe_b64decode(global_id + "=" * (-len(global_id) % 4)).decode().split(":", 1)[1]
    )
