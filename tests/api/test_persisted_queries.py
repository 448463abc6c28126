"""Persisted queries: the automatic protocol of Apollo and urql clients, and an allow-list."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.cli import main
from support import (
    LOG_IN,
    SIGN_UP,
    VERIFY_EMAIL,
    Server,
    error_codes,
    make_settings,
    serve,
    sign_up,
)

VIEWER = "query Me { viewer { id } }"


def sha(document: str) -> str:
    return hashlib.sha256(document.encode()).hexdigest()


def persisted(sha256: str) -> dict[str, Any]:
    return {"persistedQuery": {"version": 1, "sha256Hash": sha256}}


def post(server: Server, body: dict[str, Any], token: str | None = None) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = httpx.post(f"{server.url}/graphql", json=body, headers=headers, timeout=30)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


@pytest.fixture
def automatic(tmp_path: Path) -> Iterator[Server]:
    with serve(make_settings(tmp_path / "data")) as server:
        yield server


def test_an_unknown_hash_is_not_found_then_registered_by_sending_the_text(
    automatic: Server,
) -> None:
    document = "query Hello { __typename }"
    first = post(automatic, {"extensions": persisted(sha(document))})
    assert error_codes(first) == ["PERSISTED_QUERY_NOT_FOUND"]
    assert first["errors"][0]["message"] == "PersistedQueryNotFound"  # what clients look for
    sent = post(automatic, {"query": document, "extensions": persisted(sha(document))})
    assert sent["data"] == {"__typename": "Query"}
    by_hash = post(automatic, {"extensions": persisted(sha(document))})
    assert by_hash["data"] == {"__typename": "Query"}
    # Over GET too, as Apollo clients send queries by hash.
    params = {"extensions": json.dumps(persisted(sha(document)))}
    got = httpx.get(f"{automatic.url}/graphql", params=params, timeout=30).json()
    assert got["data"] == {"__typename": "Query"}


def test_a_hash_that_is_not_the_texts_is_refused(automatic: Server) -> None:
    result = post(automatic, {"query": "{ __typename }", "extensions": persisted("0" * 64)})
    assert error_codes(result) == ["BAD_USER_INPUT"]
    # And nothing was remembered under that hash.
    again = post(automatic, {"extensions": persisted("0" * 64)})
    assert error_codes(again) == ["PERSISTED_QUERY_NOT_FOUND"]


@pytest.mark.parametrize(
    "extension",
    [
        {"persistedQuery": {"version": 1, "sha256Hash": "ABC"}},
        {"persistedQuery": {"version": 2, "sha256Hash": "a" * 64}},
        {"persistedQuery": "a" * 64},
    ],
)
def test_malformed_persisted_query_extensions_are_bad_input(
    automatic: Server, extension: dict[str, Any]
) -> None:
    assert error_codes(post(automatic, {"extensions": extension})) == ["BAD_USER_INPUT"]


def test_off_refuses_the_extension(tmp_path: Path) -> None:
    with serve(make_settings(tmp_path / "data", persisted_queries="off")) as server:
        result = post(server, {"extensions": persisted(sha(VIEWER))})
        assert error_codes(result) == ["PERSISTED_QUERY_NOT_SUPPORTED"]
        assert post(server, {"query": "{ __typename }"})["data"] == {"__typename": "Query"}


def test_only_runs_registered_documents(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data_dir = tmp_path / "data"
    settings = make_settings(data_dir, persisted_queries="only")
    files = tmp_path / "queries"
    files.mkdir()
    (files / "me.graphql").write_text(VIEWER)
    manifest = {
        "format": "apollo-persisted-query-manifest",
        "version": 1,
        "operations": [
            {"id": sha(body), "name": name, "type": "mutation", "body": body}
            for name, body in (("SignUp", SIGN_UP), ("Verify", VERIFY_EMAIL), ("LogIn", LOG_IN))
        ],
    }
    (files / "manifest.json").write_text(json.dumps(manifest))
    assert (
        main(
            ["queries", "register", "--data-dir", str(data_dir), *map(str, sorted(files.iterdir()))]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert f"{sha(VIEWER)} registered" in out and f"{sha(SIGN_UP)} registered" in out
    # Registering again changes nothing, and says so.
    assert (
        main(["queries", "register", "--data-dir", str(data_dir), str(files / "me.graphql")]) == 0
    )
    assert "already registered" in capsys.readouterr().out

    with serve(settings) as server:
        token, _ = sign_up(server.client(), "listed@example.org")  # registered: runs
        by_hash = post(server, {"extensions": persisted(sha(VIEWER))}, token)
        assert by_hash["data"]["viewer"]["id"]
        by_text = post(server, {"query": VIEWER}, token)
        assert by_text["data"] == by_hash["data"]
        other = "query Me { viewer { id email } }"
        for body in ({"query": other}, {"query": other, "extensions": persisted(sha(other))}):
            refused = post(server, body, token)
            assert error_codes(refused) == ["PERSISTED_QUERY_NOT_IN_LIST"]
            assert refused.get("data") is None
        # A client cannot register anything in this mode: the hash stays unknown.
        assert error_codes(post(server, {"extensions": persisted(sha(other))}, token)) == [
            "PERSISTED_QUERY_NOT_IN_LIST"
        ]


def test_registering_refuses_an_invalid_document_and_registers_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data_dir = tmp_path / "data"
    make_settings(data_dir)
    good = tmp_path / "good.graphql"
    good.write_text(VIEWER)
    bad = tmp_path / "bad.graphql"
    bad.write_text("{ viewer { nope } }")
    assert main(["queries", "register", "--data-dir", str(data_dir), str(good), str(bad)]) == 2
    assert "bad.graphql" in capsys.readouterr().err
    lying = tmp_path / "lying.json"
    lying.write_text(json.dumps({"0" * 64: VIEWER}))
    assert main(["queries", "register", "--data-dir", str(data_dir), str(lying)]) == 2
    assert "SHA-256" in capsys.readouterr().err
    with serve(make_settings(data_dir, persisted_queries="only")) as server:
        assert error_codes(post(server, {"query": VIEWER})) == ["PERSISTED_QUERY_NOT_IN_LIST"]
