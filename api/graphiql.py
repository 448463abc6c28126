"""GraphiQL served from the package itself: the page, its assets, and the page's CSP.

The assets are built from pinned npm packages (`make graphiql-assets`) and shipped in
`api/graphiql_assets/`; the page asks nothing of any other origin, so the IDE works on
installations without internet and a strict policy can hold it to 'self'.
"""

from __future__ import annotations

import gzip
import hashlib
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any

from litestar import Request, Response, get
from litestar.exceptions import NotFoundException
from litestar.handlers import HTTPRouteHandler
from litestar.params import FromPath

ASSETS_DIR = Path(__file__).parent / "graphiql_assets"
ASSETS_PATH = "/graphql/ide"
_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
# Asset URLs carry a digest of the bundle, so they may be cached for good: a new release
# has new URLs.
_IMMUTABLE = "public, max-age=31536000, immutable"
# Scripts and connections ('self' covers the same origin's ws:/wss:) only from Cove. Styles
# may be inline: GraphiQL's dialogs insert <style> elements at run time (react-remove-scroll);
# no script may be.
PAGE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)
_SCRIPTS = ("react.production.min.js", "react-dom.production.min.js", "graphiql.min.js")
_STYLES = ("graphiql.min.css", "cove-graphiql.css")
_PAGE_SCRIPT = "cove-graphiql.js"


@dataclass(frozen=True)
class Asset:
    body: bytes
    gzipped: bytes
    content_type: str


@dataclass(frozen=True)
class GraphiQL:
    """The page and its assets, read (and compressed) once when the app is built."""

    assets: dict[str, Asset]
    version: str
    endpoint: str = "/graphql"

    @classmethod
    def load(cls, directory: Path = ASSETS_DIR) -> GraphiQL:
        assets: dict[str, Asset] = {}
        digest = hashlib.sha256()
        for path in sorted(directory.iterdir()):
            if path.suffix not in _TYPES:
                continue
            body = path.read_bytes()
            digest.update(path.name.encode() + b"\0" + body)
            # mtime=0: the same bytes every start, so every worker serves identical responses.
            assets[path.name] = Asset(body, gzip.compress(body, mtime=0), _TYPES[path.suffix])
        missing = {*_SCRIPTS, *_STYLES, _PAGE_SCRIPT} - assets.keys()
        if missing:
            raise RuntimeError(f"GraphiQL assets missing from {directory}: {sorted(missing)}")
        return cls(assets=assets, version=digest.hexdigest()[:16])

    def url(self, name: str) -> str:
        return f"{ASSETS_PATH}/{self.version}/{name}"

    def page(self) -> Response[str]:
        """The HTML page, with its own CSP; the security middleware leaves that in place."""
        styles = "".join(f'<link rel="stylesheet" href="{self.url(n)}">' for n in _STYLES)
        scripts = "".join(f'<script src="{self.url(n)}"></script>' for n in _SCRIPTS)
        html = (
            '<!doctype html><html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            # An empty icon: otherwise the browser asks for /favicon.ico, which Cove lacks.
            '<link rel="icon" href="data:,">'
            f"<title>Cove GraphiQL</title>{styles}</head>"
            f'<body data-endpoint="{escape(self.endpoint)}">'
            '<div id="graphiql">Loading GraphiQL…</div>'
            f'{scripts}<script src="{self.url(_PAGE_SCRIPT)}"></script></body></html>'
        )
        return Response(
            html,
            media_type="text/html; charset=utf-8",
            headers={"content-security-policy": PAGE_CSP, "cache-control": "no-store"},
        )

    def asset(self, version: str, name: str, accept_encoding: str) -> Response[bytes]:
        found = self.assets.get(name)
        if found is None or version != self.version:
            raise NotFoundException("No such file.")
        headers = {"cache-control": _IMMUTABLE, "vary": "accept-encoding"}
        body = found.body
        if "gzip" in accept_encoding.lower():
            body = found.gzipped
            headers["content-encoding"] = "gzip"
        return Response(body, media_type=found.content_type, headers=headers)

    def route(self) -> HTTPRouteHandler:
        """The route that serves the assets under `/graphql/ide/<version>/<name>`."""

        @get(f"{ASSETS_PATH}/{{version:str}}/{{name:str}}", sync_to_thread=False)
        def graphiql_asset(
            request: Request[Any, Any, Any], version: FromPath[str], name: FromPath[str]
        ) -> Response[bytes]:
            return self.asset(version, name, request.headers.get("accept-encoding", ""))

        return graphiql_asset
