"""Root key rotation (`cove keys rotate-root`, docs/operations.md "Key rotation"): rotate while
Cove serves, `kill -9` the rotation mid-way, resume it, then start Cove with the new key
alone and read everything back; the old key alone, or a wrong one, is refused by name."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from drive_support import CREATE_CH, download_url, drive_team, get, upload_file

from api.app import running_services
from api.bootstrap import InitError, load_keyring
from api.cli import main
from api.settings import Settings
from api.stores import open_store
from crypto.keyring import MASTER_SCOPE, Keyring
from crypto.root_key import generate_root_key, write_root_key_file
from persistence.keys import DataKeyRepository
from support import LOG_IN, PASSWORD, make_settings, serve

POST = """mutation($c: ID!, $t: String!) { postMessage(input: {channelId: $c, text: $t}) {
  message { id } } }"""
REACT = """mutation($m: ID!) { addReaction(input: {messageId: $m, emoji: "tada"}) {
  message { id } } }"""
CREATE_WS = "mutation($n: String!) { createWorkspace(input: {name: $n}) { workspace { id } } }"
STATE = """query($w: ID!) { viewer { id email displayName }
  node(id: $w) { ... on Workspace { id name
    members(first: 10) { edges { node { role user { id displayName } } } }
    channels(first: 5) { edges { node { id name
      messages(first: 10) { edges { node { id text reactions { emoji count } } } } } } } } } }"""


def rotate(settings: Settings, new_key: Path, *extra: str) -> subprocess.Popen[str]:
    """`cove keys rotate-root` in a process of its own, with the server's settings."""
    env = {**os.environ, **settings.as_environment()}
    command = [sys.executable, "-m", "api.cli", "keys", "rotate-root", "--new-key-file"]
    return subprocess.Popen(
        [*command, str(new_key), *extra], env=env, stderr=subprocess.PIPE, text=True
    )


def wrapped_by(settings: Settings) -> dict[tuple[str, int], str]:
    """The root key id each stored key was last wrapped under, from the index."""

    async def read() -> dict[tuple[str, int], str]:
        store = await open_store(settings)
        try:
            entries = await DataKeyRepository(store).index_page(1000)
        finally:
            await store.close()
        return {(scope, version): by for scope, version, by in entries}

    return asyncio.run(read())


def start(settings: Settings) -> None:
    """What a server does first on start: load the keys and open the store."""

    async def run() -> None:
        async with running_services(settings, load_keyring(settings)):
            pass

    asyncio.run(run())


def test_rotate_while_serving_kill_resume_then_start_with_the_new_key_alone(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    old_key_file = data / "keys" / "root.key"
    settings = make_settings(data, max_query_cost=10**10)
    with serve(settings) as server:
        team = drive_team(server, data, "rotate.example")
        workspace, owner = team.ids["workspace"], team.owner
        channel = owner.data(CREATE_CH, {"w": workspace, "n": "general", "v": "PUBLIC"})
        channel_id = channel["createChannel"]["channel"]["id"]
        first = owner.data(POST, {"c": channel_id, "t": "sealed before rotation"})
        owner.data(REACT, {"m": first["postMessage"]["message"]["id"]})  # a blind index
        file_id = upload_file(server, owner, workspace, b"a sealed file " * 4000, name="a.pdf")
        body = get(server, download_url(owner, file_id)).content
        for n in range(6):  # more workspaces, more data keys: a rotation long enough to cut
            owner.data(CREATE_WS, {"n": f"Extra {n}"})
        before = owner.data(STATE, {"w": workspace})
    old_id = load_keyring(settings).root_key_id()

    new_key_file = tmp_path / "new.key"
    assert main(["keys", "new-root-key", "--out", str(new_key_file)]) == 0
    window = make_settings(
        data,
        max_query_cost=10**10,
        root_key_file=new_key_file,
        root_key_previous_file=old_key_file,
    )
    new_id = load_keyring(window).root_key_id()

    # Servers restarted with the new key and the old one as previous keep serving throughout.
    with serve(window) as server:
        client = server.client()
        token = client.data(LOG_IN, {"email": "owner@rotate.example", "password": PASSWORD})
        owner = server.client(token["logIn"]["token"])
        assert owner.data(STATE, {"w": workspace}) == before

        process = rotate(window, new_key_file, "--test-pause", "0.3")
        assert process.stderr is not None
        for line in process.stderr:
            if "re-wrapped 3 " in line:
                process.send_signal(signal.SIGKILL)
                break
        process.wait(timeout=30)
        assert process.returncode == -signal.SIGKILL
        cut = wrapped_by(window)
        assert cut[(MASTER_SCOPE, 1)] == new_id
        assert new_id in cut.values() and set(cut.values()) - {new_id}, cut  # some left behind

        # Served while cut: old and new wrappings both open, and new writes go on.
        owner.data(POST, {"c": channel_id, "t": "written mid-rotation"})
        during = owner.data(STATE, {"w": workspace})
        assert get(server, download_url(owner, file_id)).content == body

        resumed = rotate(window, new_key_file)
        _, errors = resumed.communicate(timeout=120)
        assert resumed.returncode == 0, errors
        assert f"wrapped under root key {new_id}" in errors
        assert set(wrapped_by(window).values()) == {new_id}

    alone = make_settings(data, max_query_cost=10**10, root_key_file=new_key_file)
    with serve(alone) as server:
        client = server.client()
        token = client.data(LOG_IN, {"email": "owner@rotate.example", "password": PASSWORD})
        owner = server.client(token["logIn"]["token"])  # the email's blind index still finds it
        assert owner.data(STATE, {"w": workspace}) == during
        assert get(server, download_url(owner, file_id)).content == body
        # A session from before the rotation still works.
        assert server.client(team.member.token).data("{ viewer { id } }")["viewer"]["id"]

    # The old key alone no longer opens anything, and says which key is needed.
    with pytest.raises(InitError, match=f"{old_key_file}: .*wrapped under root key {new_id}"):
        start(make_settings(data, root_key_file=old_key_file))
    assert old_id != new_id


def test_a_wrong_root_key_is_refused_by_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    settings = make_settings(data, max_query_cost=10**10)
    with serve(settings) as server:
        drive_team(server, data, "wrong.example")
    wrong = tmp_path / "wrong.key"
    write_root_key_file(wrong, generate_root_key())
    # Before any rotation: the first stored key does not open.
    with pytest.raises(InitError, match=f"file {wrong}: this install's key"):
        start(make_settings(data, root_key_file=wrong))

    new = tmp_path / "new.key"
    write_root_key_file(new, generate_root_key())
    process = rotate(settings, new)
    _, errors = process.communicate(timeout=120)
    assert process.returncode == 0, errors
    with pytest.raises(InitError, match=f"file {wrong}: this install's key"):
        start(make_settings(data, root_key_file=wrong))
    for name, value in make_settings(data, root_key_file=wrong).as_environment().items():
        monkeypatch.setenv(name, value)
    capsys.readouterr()
    assert main(["serve", "--data-dir", str(data), "--port", "1"]) == 2  # before any worker
    assert f"secret file {wrong}: this install's key install/master v1" in capsys.readouterr().err
    monkeypatch.undo()
    # A rotation that holds neither the old key nor the new one stops before writing.
    other = tmp_path / "other.key"
    write_root_key_file(other, generate_root_key())
    refused = rotate(make_settings(data, root_key_file=wrong), other)
    _, errors = refused.communicate(timeout=120)
    assert refused.returncode == 1
    assert "is wrapped under root key" in errors
    assert "neither the new root key" in errors
    start(make_settings(data, root_key_file=new))


def test_derived_keys_survive_the_first_rotation() -> None:
    old, new, salt = generate_root_key(), generate_root_key(), b"s" * 32
    before = Keyring(old, salt)
    during = Keyring(new, salt, old)  # the legacy master: the old root key
    wrapped = during.wrap_master()
    after = Keyring(new, salt)
    after.adopt_master(wrapped)
    for ring in (during, after):
        assert ring.derive(b"realtime broker") == before.derive(b"realtime broker")
        assert ring.blind_index("email", "a@b.c") == before.blind_index("email", "a@b.c")
    key, blob = before.new_data_key("ws", 1)
    assert during.unwrap("ws", 1, blob) == key
    assert not during.wrapped_under_root("ws", 1, blob)
    assert during.wrapped_under_root("ws", 1, during.wrap(key))
    assert after.unwrap("ws", 1, during.wrap(key)) == key


def test_key_files_that_cannot_be_used_are_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    for name, value in make_settings(data).as_environment().items():
        monkeypatch.setenv(name, value)
    current = data / "keys" / "root.key"
    missing = tmp_path / "missing.key"
    rotate_root = ["keys", "rotate-root", "--data-dir", str(data), "--new-key-file"]
    assert main([*rotate_root, str(missing)]) == 2
    assert f"{missing}: missing" in capsys.readouterr().err
    assert main([*rotate_root, str(current)]) == 2  # the new key is the one in use
    assert "the new key is the only root key configured" in capsys.readouterr().err
    assert main(["keys", "new-root-key", "--out", str(current)]) == 2
    assert "refusing to overwrite a key" in capsys.readouterr().err
    readable = tmp_path / "readable.key"
    assert main(["keys", "new-root-key", "--out", str(readable)]) == 0
    readable.chmod(0o644)
    assert main([*rotate_root, str(readable)]) == 2
    assert f"{readable}: must be mode 0600" in capsys.readouterr().err
