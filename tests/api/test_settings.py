"""Settings: TOML, environment, secret files, and refusals that name the setting."""

from __future__ import annotations

from pathlib import Path

import pytest

from api.policies import policy_from
from api.settings import (
    Settings,
    SettingsError,
    describe_settings,
    load_settings,
    settings_table,
)


def test_defaults_serve_one_machine() -> None:
    settings = load_settings(environ={})
    assert settings.data_dir == Path(".cove")
    assert settings.store == "sqlite"
    assert settings.allow_introspection is False
    assert settings.max_body_bytes == 1024 * 1024


def test_environment_wins_over_toml(tmp_path: Path) -> None:
    config = tmp_path / "cove.toml"
    config.write_text('port = 9000\nhost = "0.0.0.0"\ndev = true\n')
    settings = load_settings(config, environ={"COVE_PORT": "9100"})
    assert (settings.port, settings.host, settings.dev) == (9100, "0.0.0.0", True)
    assert settings.allow_introspection is True
    assert (
        load_settings(config, environ={"COVE_INTROSPECTION": "false"}).allow_introspection is False
    )


def test_flags_win_over_environment() -> None:
    settings = load_settings(environ={"COVE_PORT": "9100"}, overrides={"port": 9200})
    assert settings.port == 9200


def test_secret_from_file(tmp_path: Path) -> None:
    secret = tmp_path / "salt"
    secret.write_text("c2FsdHNhbHRzYWx0c2FsdA==\n")
    settings = load_settings(environ={"COVE_INSTALL_SALT_FILE": str(secret)})
    assert settings.install_salt == "c2FsdHNhbHRzYWx0c2FsdA=="


@pytest.mark.parametrize(
    ("environ", "toml", "setting"),
    [
        ({"COVE_PORT": "eighty"}, "", "port"),
        ({"COVE_PORT": "70000"}, "", "port"),
        ({"COVE_DEV": "maybe"}, "", "dev"),
        ({"COVE_STORE": "postgres"}, "", "store"),
        ({"COVE_ARGON2_MEMORY_KIB": "1024"}, "", "argon2_memory_kib"),
        ({"COVE_ARGON2_TIME_COST": "1"}, "", "argon2_time_cost"),
        ({}, "colour = 'blue'\n", "colour"),
        ({}, "root_key = 'abc'\n", "root_key"),
        ({}, "session_ttl_seconds = 5\n", "session_ttl_seconds"),
        ({"COVE_SSL_CERTFILE": "/nonexistent.pem"}, "", "ssl_certfile"),
        ({"COVE_INSTALL_SALT_FILE": "/nonexistent"}, "", "install_salt"),
        ({}, "port = \n", "config"),
        ({"COVE_SEARCH_ENGINE": "opensearch"}, "", "opensearch_url"),
        ({"COVE_SEARCH_ENGINE": "solr"}, "", "search_engine"),
        ({}, "jitsi_app_secret = 'x'\n", "jitsi_app_secret"),
        ({"COVE_JITSI_URL": "http://meet.example.org"}, "", "jitsi_url"),
        ({"COVE_JITSI_TOKEN_SECONDS": "10"}, "", "jitsi_token_seconds"),
        ({"COVE_JITSI_TOKEN_SECONDS": "90000"}, "", "jitsi_token_seconds"),
        ({"COVE_JITSI_APP_ID": "cove"}, "", "jitsi_app_secret"),
        ({"COVE_JITSI_APP_ID": "cove", "COVE_JITSI_APP_SECRET": "short"}, "", "jitsi_app_secret"),
        ({"COVE_KEY_REFRESH_SECONDS": "soon"}, "", "key_refresh_seconds"),
        ({"COVE_KEY_REFRESH_SECONDS": "nan"}, "", "key_refresh_seconds"),
        ({"COVE_KEY_REFRESH_SECONDS": "0.01"}, "", "key_refresh_seconds"),
        ({}, "key_refresh_seconds = true\n", "key_refresh_seconds"),
        ({"COVE_KEY_ROTATION_LEASE_SECONDS": "1"}, "", "key_rotation_lease_seconds"),
    ],
)
def test_bad_settings_are_named(
    tmp_path: Path, environ: dict[str, str], toml: str, setting: str
) -> None:
    config = tmp_path / "cove.toml"
    config.write_text(toml)
    with pytest.raises(SettingsError) as caught:
        load_settings(config, environ=environ)
    assert caught.value.setting == setting
    assert setting in str(caught.value)


def test_a_fractional_setting_is_read_from_the_environment_and_toml(tmp_path: Path) -> None:
    config = tmp_path / "cove.toml"
    config.write_text("key_refresh_seconds = 2\n")
    assert load_settings(config, environ={}).key_refresh_seconds == 2.0
    environ = {"COVE_KEY_REFRESH_SECONDS": "0.25"}
    assert load_settings(config, environ=environ).key_refresh_seconds == 0.25


def test_the_jitsi_secret_comes_from_a_file_and_stays_out_of_reprs(tmp_path: Path) -> None:
    secret = tmp_path / "jitsi"
    secret.write_text("j" * 40 + "\n")
    environ = {"COVE_JITSI_APP_ID": "cove", "COVE_JITSI_APP_SECRET_FILE": str(secret)}
    settings = load_settings(environ=environ)
    assert settings.jitsi_app_secret == "j" * 40
    assert "j" * 40 not in repr(policy_from(settings).video)
    row = next(r for r in settings_table().splitlines() if r.startswith("| `jitsi_app_secret`"))
    assert row.endswith("*secret* |")


def test_environment_round_trip() -> None:
    settings = load_settings(environ={}, overrides={"port": 8123, "dev": True})
    again = load_settings(environ=settings.as_environment())
    assert again == settings
    assert isinstance(again, Settings)


def test_every_setting_is_documented_for_operators() -> None:
    docs = (Path(__file__).resolve().parents[2] / "docs" / "configuration.md").read_text()
    assert settings_table() in docs, "run `make docs` to rewrite the table in docs/configuration.md"
    for name, default, _ in describe_settings():
        assert f"| `{name}` | `{default if default not in ('', 'None') else '—'}` |" in docs
