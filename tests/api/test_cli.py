"""The command line: init, check, and the refusals that stop a start."""

from __future__ import annotations

import socket
import stat
from pathlib import Path

import pytest

from api.cli import main
from support import store_under_test


def init(data: Path) -> None:
    """`cove init`, and on ScyllaDB an emptied keyspace, as a new SQLite file would be: the
    keyspace of the run holds the keys of the test before, under another root key, which
    `cove check` rightly refuses (another install's keys)."""
    main(["init", "--data-dir", str(data)])
    store_under_test(data)


def test_init_creates_private_keys_and_refuses_to_overwrite(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    assert main(["init", "--data-dir", str(data)]) == 0
    key = data / "keys" / "root.key"
    salt = data / "keys" / "install.salt"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert stat.S_IMODE(salt.stat().st_mode) == 0o600
    assert stat.S_IMODE((data / "keys").stat().st_mode) == 0o700
    before = key.read_bytes()
    assert main(["init", "--data-dir", str(data)]) == 2
    assert "refusing to overwrite" in capsys.readouterr().err
    assert key.read_bytes() == before


def test_check_reaches_the_store(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data"
    init(data)
    assert main(["check", "--data-dir", str(data)]) == 0
    out = capsys.readouterr().out
    assert "keys: ok" in out and "store: ok" in out


def test_check_fails_without_keys(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--data-dir", str(tmp_path / "empty")]) == 2
    assert "root.key" in capsys.readouterr().err


def test_serve_refuses_a_root_key_readable_by_others(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    main(["init", "--data-dir", str(data)])
    (data / "keys" / "root.key").chmod(0o640)
    assert main(["serve", "--data-dir", str(data), "--port", "1"]) == 2
    err = capsys.readouterr().err
    assert "root.key" in err and "0600" in err


def test_bad_setting_names_the_setting(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "cove.toml"
    config.write_text('session_ttl_seconds = "soon"\n')
    assert main(["check", "--config", str(config), "--data-dir", str(tmp_path)]) == 2
    assert "session_ttl_seconds" in capsys.readouterr().err


def test_check_reaches_the_broker_and_names_it_when_down(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "data"
    init(data)
    assert main(["check", "--data-dir", str(data)]) == 0
    assert "broker: ok (memory)" in capsys.readouterr().out
    # A Redis nobody listens on: check fails and says so.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("COVE_BROKER_URL", f"redis://127.0.0.1:{port}/0")
    assert main(["check", "--data-dir", str(data)]) == 1
    assert "failed" in capsys.readouterr().err
