"""Finished exports are forgotten `export_history_days` after they finished: the hourly sweep
deletes the job and its download tokens, so `exports` and `export(id)` no longer know it,
while an export finished more recently stays listed."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from drive_support import Drive, drive_team, services_of

from persistence.exports import ExportRepository
from resolvers.global_ids import from_global_id
from resolvers.services import Services
from resolvers.sweeper import sweep_tokens
from support import Server, error_codes, make_settings, serve

EXPORTS = "{ exports { id state } }"
EXPORT = "query($i: ID!) { export(id: $i) { id state downloadUrl } }"
REQUEST = "mutation { requestExport(input: {}) { export { id } } }"


@pytest.fixture
def team(tmp_path: Path) -> Iterator[Drive]:
    data_dir = tmp_path / "data"
    # Sessions outlive the time travelled here (they end after 14 days by default).
    settings = make_settings(data_dir, export_history_days=30, session_ttl_seconds=90 * 86400)
    with serve(settings) as server:
        yield drive_team(server, data_dir, "history.example")


def _in_server(server: Server, work: Any) -> Any:
    """Run a coroutine in the server's event loop (where its store lives); its result."""
    loop = server.server.servers[0].get_loop()
    return asyncio.run_coroutine_threadsafe(work, loop).result(timeout=30)


def _shifted(services: Services, real: Any, by: timedelta) -> None:
    def clock() -> datetime:
        return real() + by  # type: ignore[no-any-return]

    services.clock = clock


def _raw(global_id: str) -> str:
    parsed = from_global_id(global_id)
    assert parsed is not None
    return parsed[1]


def _downloaded(team: Drive) -> tuple[str, bytes]:
    """An export of the owner's own data, downloaded: its id and its URL's token hash."""
    export_id = str(team.owner.data(REQUEST)["requestExport"]["export"]["id"])
    deadline = time.monotonic() + 30
    while (export := team.owner.data(EXPORT, {"i": export_id})["export"])["state"] != "READY":
        assert time.monotonic() < deadline, export
        time.sleep(0.1)
    url = export["downloadUrl"]
    with httpx.Client(base_url=team.server.url, timeout=60) as http:
        assert http.get(url).status_code == 200
    # The job is marked DOWNLOADED just after the last byte went out.
    while team.owner.data(EXPORT, {"i": export_id})["export"]["state"] != "DOWNLOADED":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    return export_id, hashlib.sha256(url.rsplit("/", 1)[1].encode()).digest()


def test_an_export_past_its_history_is_forgotten_and_a_newer_one_stays(team: Drive) -> None:
    services = services_of(team.server)
    repo = ExportRepository(services.store)
    real = services.clock
    old_id, old_token = _downloaded(team)
    try:
        _shifted(services, real, timedelta(days=20))  # the second one finishes 20 days later
        new_id, _ = _downloaded(team)
        listed = team.owner.data(EXPORTS)["exports"]
        assert [e["id"] for e in listed] == [new_id, old_id]

        _shifted(services, real, timedelta(days=29))  # within both histories: nothing goes
        _in_server(team.server, sweep_tokens(services))
        assert len(team.owner.data(EXPORTS)["exports"]) == 2

        _shifted(services, real, timedelta(days=31, hours=2))  # past the first one's only
        _in_server(team.server, sweep_tokens(services))
    finally:
        services.clock = real
    assert [e["id"] for e in team.owner.data(EXPORTS)["exports"]] == [new_id]
    assert team.owner.data(EXPORT, {"i": new_id})["export"]["state"] == "DOWNLOADED"
    assert error_codes(team.owner.run(EXPORT, {"i": old_id})) == ["NOT_FOUND"]
    # Its rows are gone from the store: the job, its listing and its download URL's token.
    assert _in_server(team.server, repo.get(_raw(old_id))) is None
    assert _in_server(team.server, repo.token(old_token)) is None
    assert _in_server(team.server, repo.get(_raw(new_id))) is not None
    listed = _in_server(team.server, repo.of_user(_raw(team.ids["owner"]), limit=10))
    assert [j.job_id for j in listed] == [_raw(new_id)]
