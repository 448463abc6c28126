from __future__ import annotations

import base64
import os
import stat
from pathlib import Path

import pytest

from crypto.errors import KeyFileError
from crypto.root_key import (
    EnvKeyProvider,
    FileKeyProvider,
    KeyProvider,
    SecretFileKeyProvider,
    generate_install_salt,
    generate_root_key,
    read_secret_file,
    root_key_id,
    write_root_key_file,
    write_secret_file,
)

KEY = bytes(range(32))
KEY_TEXT = base64.b64encode(KEY).decode()


def key_file(tmp_path: Path, text: str, mode: int = 0o600) -> Path:
    path = tmp_path / "root.key"
    path.write_text(text)
    path.chmod(mode)
    return path


@pytest.mark.parametrize("provider_type", [FileKeyProvider, SecretFileKeyProvider])
@pytest.mark.parametrize("mode", [0o640, 0o644, 0o604, 0o620, 0o602, 0o660])
def test_group_or_other_access_is_refused(
    tmp_path: Path, provider_type: type[FileKeyProvider], mode: int
) -> None:
    path = key_file(tmp_path, KEY_TEXT, mode)
    with pytest.raises(KeyFileError, match="must be mode 0600") as refused:
        provider_type(path).load()
    assert str(path) in str(refused.value)


@pytest.mark.parametrize("provider_type", [FileKeyProvider, SecretFileKeyProvider])
@pytest.mark.parametrize("mode", [0o600, 0o400])
def test_owner_only_file_is_accepted(
    tmp_path: Path, provider_type: type[FileKeyProvider], mode: int
) -> None:
    path = key_file(tmp_path, f"  {KEY_TEXT}\n\n", mode)
    provider: KeyProvider = provider_type(path)
    assert provider.load() == KEY
    assert str(path) in provider.describe()
    assert KEY_TEXT not in provider.describe()


def test_missing_file_is_refused_by_name(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.key"
    with pytest.raises(KeyFileError, match="missing") as refused:
        FileKeyProvider(path).load()
    assert str(path) in str(refused.value)


def test_directory_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "dir.key"
    path.mkdir(mode=0o700)
    with pytest.raises(KeyFileError, match="not a regular file"):
        FileKeyProvider(path).load()


@pytest.mark.parametrize(
    "text",
    ["not base64!", "", "   \n", base64.b64encode(bytes(31)).decode(), KEY_TEXT + "AAAA"],
    ids=["garbage", "empty", "blank", "31-bytes", "35-bytes"],
)
def test_bad_contents_are_refused_by_name(tmp_path: Path, text: str) -> None:
    path = key_file(tmp_path, text)
    with pytest.raises(KeyFileError) as refused:
        FileKeyProvider(path).load()
    assert str(path) in str(refused.value)


def test_non_ascii_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "root.key"
    path.write_bytes(b"\xff\xfe" + KEY_TEXT.encode())
    path.chmod(0o600)
    with pytest.raises(KeyFileError, match="not valid base64"):
        FileKeyProvider(path).load()


def test_write_creates_private_file_and_dirs_then_reads_back(tmp_path: Path) -> None:
    path = tmp_path / "data" / "keys" / "root.key"
    write_root_key_file(path, KEY)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert FileKeyProvider(path).load() == KEY


def test_write_never_overwrites(tmp_path: Path) -> None:
    path = tmp_path / "root.key"
    write_root_key_file(path, KEY)
    with pytest.raises(KeyFileError, match="already exists") as refused:
        write_root_key_file(path, generate_root_key())
    assert str(path) in str(refused.value)
    assert FileKeyProvider(path).load() == KEY


def test_write_refuses_wrong_key_length(tmp_path: Path) -> None:
    path = tmp_path / "root.key"
    with pytest.raises(KeyFileError):
        write_root_key_file(path, bytes(16))
    assert not path.exists()


def test_install_salt_file_roundtrip(tmp_path: Path) -> None:
    salt = generate_install_salt()
    path = tmp_path / "install.salt"
    write_secret_file(path, salt)
    assert read_secret_file(path) == salt
    with pytest.raises(KeyFileError, match="already exists"):
        write_secret_file(path, generate_install_salt())
    os.chmod(path, 0o644)
    with pytest.raises(KeyFileError, match="must be mode 0600"):
        read_secret_file(path)


def test_generated_secrets_are_32_random_bytes() -> None:
    assert len(generate_root_key()) == len(generate_install_salt()) == 32
    assert generate_root_key() != generate_root_key()
    assert generate_install_salt() != generate_install_salt()


def test_env_provider_reads_base64() -> None:
    provider = EnvKeyProvider(environ={"COVE_ROOT_KEY": f" {KEY_TEXT}\n"})
    assert provider.load() == KEY
    assert provider.describe() == "environment variable COVE_ROOT_KEY"
    assert KEY_TEXT not in repr(provider)


def test_env_provider_uses_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COVE_TEST_ROOT_KEY", KEY_TEXT)
    assert EnvKeyProvider("COVE_TEST_ROOT_KEY").load() == KEY


@pytest.mark.parametrize(
    "environ",
    [{}, {"COVE_ROOT_KEY": ""}, {"COVE_ROOT_KEY": "%%%"}, {"COVE_ROOT_KEY": "AAAA"}],
    ids=["missing", "empty", "garbage", "short"],
)
def test_env_provider_refuses_by_variable_name(environ: dict[str, str]) -> None:
    with pytest.raises(KeyFileError, match="COVE_ROOT_KEY"):
        EnvKeyProvider(environ=environ).load()


def test_root_key_id_names_a_key_without_revealing_it() -> None:
    key = generate_root_key()
    assert root_key_id(key) == root_key_id(bytes(key))
    assert len(root_key_id(key)) == 16 and int(root_key_id(key), 16) >= 0
    assert root_key_id(key) != root_key_id(generate_root_key())
    assert root_key_id(key) not in key.hex()
