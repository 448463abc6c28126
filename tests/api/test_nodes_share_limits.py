"""Limits hold across nodes: two servers on one store and one Redis count sign-in failures,
sign-ups, the drive quota and share-link downloads together, so a client spreading requests
over both gets no more than from one."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx
import pytest
from drive_support import LINK, Drive, begin_upload, drive_team, put
from redis_server import RedisServer

from support import LOG_IN, PASSWORD, SIGN_UP, Server, error_codes, make_settings, serve

QUOTA = 10_000
USAGE = "query($w: ID!) { node(id: $w) { ... on Workspace { driveUsage { bytesUsed } } } }"


@contextmanager
def nodes(tmp_path: Path, **limits: int) -> Iterator[tuple[Server, Server]]:
    """Two servers on one data dir (one store) and one Redis."""
    (tmp_path / "redis").mkdir()
    redis = RedisServer(tmp_path / "redis")
    redis.start()
    settings = make_settings(tmp_path / "data", broker_url=redis.url, **limits)
    try:
        with ExitStack() as stack:
            yield stack.enter_context(serve(settings)), stack.enter_context(serve(settings))
    finally:
        redis.stop()


@pytest.fixture
def two_nodes(tmp_path: Path) -> Iterator[tuple[Server, Server]]:
    with nodes(tmp_path, workspace_quota_bytes=QUOTA, login_failures_per_account=4) as pair:
        yield pair


def test_failed_sign_ins_spread_over_two_nodes_are_counted_together(
    two_nodes: tuple[Server, Server],
) -> None:
    a, b = (node.client() for node in two_nodes)
    a.data(SIGN_UP, {"email": "spread@nodes.example", "password": PASSWORD, "name": "S"})
    wrong = {"email": "spread@nodes.example", "password": "not the password at all"}
    for client in (a, b, a, b):
        assert error_codes(client.run(LOG_IN, wrong)) == ["UNAUTHENTICATED"]
    right = {"email": "spread@nodes.example", "password": PASSWORD}
    for client in (a, b):
        assert error_codes(client.run(LOG_IN, right)) == ["RATE_LIMITED"]


def test_sign_ups_per_address_are_counted_over_both_nodes(tmp_path: Path) -> None:
    with nodes(tmp_path, signups_per_ip_per_hour=3) as pair:
        _sign_ups_over(*pair)


def _sign_ups_over(node_a: Server, node_b: Server) -> None:
    a, b = node_a.client(), node_b.client()
    for number, client in enumerate((a, b, a)):
        variables = {"email": f"new{number}@nodes.example", "password": PASSWORD, "name": "N"}
        assert error_codes(client.run(SIGN_UP, variables)) == []
    late = {"email": "late@nodes.example", "password": PASSWORD, "name": "N"}
    assert error_codes(b.run(SIGN_UP, late)) == ["RATE_LIMITED"]


def test_uploads_finishing_at_once_on_two_nodes_never_pass_the_quota(
    tmp_path: Path, two_nodes: tuple[Server, Server]
) -> None:
    node_a, node_b = two_nodes
    drive: Drive = drive_team(node_a, tmp_path / "data", "quota.example")
    ws = drive.ids["workspace"]
    # Each grant fits on its own; together they ask for 16,000 bytes of a 10,000 quota.
    grants = [begin_upload(drive.owner, 2_000, workspace=ws) for _ in range(8)]
    nodes = [node_a, node_b] * 4
    with ThreadPoolExecutor(8) as pool:
        answers = list(
            pool.map(
                lambda pair: put(pair[0], pair[1]["url"], b"q" * 2_000).status_code,
                zip(nodes, grants, strict=True),
            )
        )
    assert sorted(answers) == [201] * 5 + [413] * 3
    for node in two_nodes:
        used = node.client(drive.owner.token).data(USAGE, {"w": ws})
        assert used["node"]["driveUsage"]["bytesUsed"] == QUOTA


def test_a_share_link_download_limit_holds_across_nodes(
    tmp_path: Path, two_nodes: tuple[Server, Server]
) -> None:
    node_a, node_b = two_nodes
    drive = drive_team(node_a, tmp_path / "data", "links.example")
    file_id = drive.upload(b"limited brochure", name="brochure.pdf")
    link = drive.owner.data(LINK, {"f": file_id, "e": 3600, "m": 3})["createShareLink"]["shareLink"]

    def fetch(node: Server) -> int:
        with httpx.Client(base_url=node.url, timeout=30) as http:
            return http.get(link["url"]).status_code

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(fetch, [node_a, node_b] * 4))
    assert sorted(answers) == [200] * 3 + [410] * 5


def test_wrong_share_link_passwords_on_two_nodes_are_counted_together(
    tmp_path: Path, two_nodes: tuple[Server, Server]
) -> None:
    node_a, node_b = two_nodes
    drive = drive_team(node_a, tmp_path / "data", "guess.example")
    file_id = drive.upload(b"guarded brochure", name="brochure.pdf")
    link = drive.owner.data(LINK, {"f": file_id, "e": 3600, "p": "open sesame 123"})[
        "createShareLink"
    ]["shareLink"]

    def attempt(node: Server, password: str) -> int:
        with httpx.Client(base_url=node.url, timeout=30) as http:
            return http.post(link["url"], json={"password": password}).status_code

    # Ten wrong passwords in the window (docs/drive.md), five on each node...
    assert [attempt(node, "not it at all") for node in (node_a, node_b) * 5] == [403] * 10
    # ...and the link refuses even the right one, on either node, until the window ends.
    assert attempt(node_a, "open sesame 123") == 429
    assert attempt(node_b, "open sesame 123") == 429
