"""Every HTTP answer carries the security headers, also the router's own 404 and 405."""

from __future__ import annotations

import httpx
import pytest

from support import Server, error_codes

EXPECTED = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
}


def assert_secured(response: httpx.Response) -> None:
    for name, value in EXPECTED.items():
        assert response.headers.get(name) == value, (response.status_code, name)
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert len(response.headers["x-request-id"]) == 16
    assert response.headers.get_list("x-content-type-options") == ["nosniff"]  # once only


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/nowhere", 404),
        ("GET", "/graphql/deeper", 404),
        ("PUT", "/graphql", 405),
        ("DELETE", "/health", 405),
        ("PATCH", "/metrics", 405),
        ("GET", "/health", 200),
        ("POST", "/graphql", 415),
    ],
)
def test_router_answers_carry_the_headers(
    shared_server: Server, method: str, path: str, status: int
) -> None:
    response = httpx.request(method, shared_server.url + path)
    assert response.status_code == status
    assert_secured(response)
    if status >= 400:
        assert error_codes(response.json()), response.text
    if status == 405:
        assert response.headers.get("allow")


def test_a_refused_body_carries_the_headers(shared_server: Server) -> None:
    big = b'{"query": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    response = httpx.post(
        shared_server.url + "/graphql", content=big, headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert_secured(response)
