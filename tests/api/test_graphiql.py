"""The bundled GraphiQL over HTTP: served only when enabled, from Cove's own origin only."""

from __future__ import annotations

import gzip
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from api.graphiql import ASSETS_DIR, PAGE_CSP
from support import Server, make_settings, serve

HTML = {"accept": "text/html"}
# URLs of the hosts the stock GraphiQL pages load from; none may appear in what Cove serves.
# (The browser test checks what the page really asks for.)
CDN_URL = re.compile(
    r"//[\w.-]*(unpkg\.com|jsdelivr\.net|cdnjs\.cloudflare\.com|googleapis\.com"
    r"|gstatic\.com|esm\.sh|skypack\.dev)"
)


def _references(html: str) -> list[str]:
    return re.findall(r'(?:src|href)="([^"]*)"', html)


@pytest.mark.parametrize(
    "overrides", [{}, {"dev": True, "graphiql": False}], ids=["default", "dev-but-off"]
)
def test_no_ide_unless_enabled(tmp_path: Path, overrides: dict[str, object]) -> None:
    with serve(make_settings(tmp_path / "data", **overrides)) as server:
        page = httpx.get(server.url + "/graphql", headers=HTML)
        assert page.status_code == 404
        assert "graphiql" not in page.text.lower()
        asset = httpx.get(server.url + "/graphql/ide/0123456789abcdef/graphiql.min.js")
        assert asset.status_code == 404


@pytest.fixture(scope="module")
def ide(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    # Production settings but for the IDE: dev stays off.
    data = tmp_path_factory.mktemp("ide") / "data"
    with serve(make_settings(data, graphiql=True)) as server:
        yield server


def test_the_page_loads_only_from_its_own_origin(ide: Server) -> None:
    page = httpx.get(ide.url + "/graphql", headers=HTML)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["content-security-policy"] == PAGE_CSP
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["x-frame-options"] == "DENY"
    policy = dict(d.strip().split(" ", 1) for d in PAGE_CSP.split(";"))
    assert policy["script-src"] == "'self'"  # no inline script, no eval, no other origin
    assert policy["connect-src"] == "'self'"
    assert "http" not in PAGE_CSP and "*" not in PAGE_CSP
    references = _references(page.text)
    assert len([r for r in references if r.endswith(".js")]) == 4
    assert all(r.startswith("/graphql/ide/") or r == "data:," for r in references), references
    assert "<script>" not in page.text and "style=" not in page.text
    assert not CDN_URL.search(page.text)


def test_assets_are_served_cacheable_typed_and_compressed(ide: Server) -> None:
    page = httpx.get(ide.url + "/graphql", headers=HTML).text
    assets = [r for r in _references(page) if r.startswith("/graphql/ide/")]
    assert {a.rsplit("/", 1)[1] for a in assets} == {
        "graphiql.min.css",
        "cove-graphiql.css",
        "react.production.min.js",
        "react-dom.production.min.js",
        "graphiql.min.js",
        "cove-graphiql.js",
    }
    for url in assets:
        name = url.rsplit("/", 1)[1]
        plain = httpx.get(ide.url + url, headers={"accept-encoding": "identity"})
        assert plain.status_code == 200, url
        assert plain.content == (ASSETS_DIR / name).read_bytes()
        kind = "text/javascript" if name.endswith(".js") else "text/css"
        assert plain.headers["content-type"].startswith(kind)
        assert plain.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert plain.headers["x-content-type-options"] == "nosniff"
        assert "content-encoding" not in plain.headers
        raw = httpx.Client(headers={"accept-encoding": "gzip"})
        with raw, raw.stream("GET", ide.url + url) as packed:
            assert packed.headers["content-encoding"] == "gzip"
            assert gzip.decompress(b"".join(packed.iter_raw())) == plain.content
        text = plain.text
        assert not CDN_URL.search(text), name
        assert "sourceMappingURL" not in text, name
        if name.endswith(".css"):
            # Fonts and images are inlined as data: URLs; nothing is imported from elsewhere.
            assert "@import" not in text
            assert all(
                u.startswith(("data:", "'data:", '"data:'))
                for u in re.findall(r"url\(([^)]*)", text)
            )


def test_asset_urls_are_versioned(ide: Server) -> None:
    page = httpx.get(ide.url + "/graphql", headers=HTML).text
    url = next(r for r in _references(page) if r.endswith("/graphiql.min.js"))
    stale = re.sub(r"/ide/[0-9a-f]+/", "/ide/0000000000000000/", url)
    assert httpx.get(ide.url + stale).status_code == 404
    assert httpx.get(ide.url + url.replace("graphiql.min.js", "cove.db")).status_code == 404
    assert (
        httpx.get(ide.url + url.replace("graphiql.min.js", "..%2Fgraphiql.py")).status_code == 404
    )


def test_api_responses_keep_the_strict_policy(ide: Server) -> None:
    response = ide.client().post("{ viewer { id } }")
    assert response.headers["content-security-policy"].startswith("default-src 'none'")
    assert response.headers["cache-control"] == "no-store"
    # Queries over GET still answer JSON, not the page, to a browser's usual Accept.
    browser = {"accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
    query = httpx.get(ide.url + "/graphql", params={"query": "{ __typename }"}, headers=browser)
    assert query.json()["data"] == {"__typename": "Query"}
    # Asking for HTML alone is not asking for an answer Cove can give: 406, not the page.
    assert (
        httpx.get(
            ide.url + "/graphql", params={"query": "{ __typename }"}, headers=HTML
        ).status_code
        == 406
    )
