"""`/metrics` behind a bearer token, or on its own listener and absent from the main port."""

from __future__ import annotations

import socket
from pathlib import Path

import httpx
import pytest

from api.settings import SettingsError, load_settings
from support import error_codes, make_settings, serve

TOKEN = "metrics-" + "s3cret" * 4


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_token_guards_metrics_on_the_main_port(tmp_path: Path) -> None:
    with serve(make_settings(tmp_path / "data", metrics_token=TOKEN)) as server:
        url = server.url + "/metrics"
        for headers in ({}, {"authorization": "Bearer wrong"}, {"authorization": TOKEN}):
            refused = httpx.get(url, headers=headers)
            assert refused.status_code == 401
            assert error_codes(refused.json()) == ["UNAUTHENTICATED"]
            assert refused.headers["www-authenticate"].startswith("Bearer")
            assert refused.headers["x-content-type-options"] == "nosniff"
            assert "cove_http_requests" not in refused.text
        allowed = httpx.get(url, headers={"authorization": f"Bearer {TOKEN}"})
        assert allowed.status_code == 200
        assert allowed.headers["content-type"].startswith("text/plain; version=0.0.4")
        assert "cove_graphql_operation_seconds" in allowed.text


def test_its_own_listener_takes_metrics_off_the_main_port(tmp_path: Path) -> None:
    port = free_port()
    settings = make_settings(tmp_path / "data", metrics_bind=f"127.0.0.1:{port}")
    with serve(settings) as server:
        server.client().post("{ __typename }")
        assert httpx.get(server.url + "/metrics").status_code == 404
        scraped = httpx.get(f"http://127.0.0.1:{port}/metrics")
        assert scraped.status_code == 200
        assert 'cove_graphql_operations_total{operation="query:__typename"' in scraped.text
        assert scraped.headers["x-content-type-options"] == "nosniff"
        other = httpx.get(f"http://127.0.0.1:{port}/graphql")
        assert other.status_code == 404 and other.headers["x-frame-options"] == "DENY"
    with pytest.raises(httpx.ConnectError):  # the listener closes with the app
        httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2)


def test_its_own_listener_with_a_token(tmp_path: Path) -> None:
    port = free_port()
    settings = make_settings(
        tmp_path / "data", metrics_bind=f"127.0.0.1:{port}", metrics_token=TOKEN
    )
    with serve(settings):
        url = f"http://127.0.0.1:{port}/metrics"
        assert httpx.get(url).status_code == 401
        assert httpx.get(url, headers={"authorization": f"Bearer {TOKEN}"}).status_code == 200


def test_the_token_is_a_secret_read_from_a_file(tmp_path: Path) -> None:
    secret = tmp_path / "metrics.token"
    secret.write_text(TOKEN + "\n")
    settings = load_settings(environ={"COVE_METRICS_TOKEN_FILE": str(secret)})
    assert settings.metrics_token == TOKEN
    config = tmp_path / "cove.toml"
    config.write_text(f'metrics_token = "{TOKEN}"\n')
    with pytest.raises(SettingsError, match="COVE_METRICS_TOKEN_FILE"):
        load_settings(config_file=config, environ={})


@pytest.mark.parametrize(
    ("overrides", "setting"),
    [
        ({"metrics_bind": "9100"}, "metrics_bind"),
        ({"metrics_bind": "127.0.0.1:"}, "metrics_bind"),
        ({"metrics_bind": "127.0.0.1:70000"}, "metrics_bind"),
        ({"metrics_bind": "127.0.0.1:8000"}, "metrics_bind"),
        ({"metrics_token": "short"}, "metrics_token"),
    ],
)
def test_bad_metrics_settings_stop_the_start(overrides: dict[str, str], setting: str) -> None:
    with pytest.raises(SettingsError) as refused:
        load_settings(environ={}, overrides=overrides)
    assert refused.value.setting == setting


def test_ipv6_binds_parse() -> None:
    assert load_settings(environ={}, overrides={"metrics_bind": "[::1]:9100"}).metrics_bind
