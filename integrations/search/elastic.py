"""The Elasticsearch search engine: one index per Cove install, ids and hex tokens only.

The index (`<prefix>-v1`) stores no `_source` and refuses unknown fields: each document
holds its workspace_id, doc_id, kind, scope and author_id (keywords), created_at (a date,
in milliseconds) and its tokens as lowercase hex keywords; hits are read back from doc
values and sort values. Document ids are "<workspace_id>:<doc_id>" and every document is
routed by its workspace, so a workspace's searches touch one shard.

A query is a bool query: filters on the workspace, kinds, scopes, author and time, and one
`constant_score` `terms` clause per group (boost 1, named by the group's index), of which
at least one must match. So the score is the number of groups matched, hits sort by score,
created_at and doc_id (all descending), and pages continue with `search_after`.

Visibility: writes become searchable at the index's next refresh (every second), or at
once after `refresh()`; with `refresh_on_write` every write refreshes the index (for tests,
not for production loads). Needs Elasticsearch 9 (the client sends version-9 compatibility
headers) and an async HTTP client: aiohttp (`elasticsearch[async]`), else httpx. An API key
needs the index privileges create_index, write, read and maintenance (refresh) on the
index, and the cluster privilege manage_index_templates for its template (else skipped).
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from elastic_transport import AiohttpHttpNode, BaseNode, HttpxAsyncHttpNode
from elasticsearch import ApiError, AsyncElasticsearch, TransportError

from integrations.search.base import (
    SearchDocument,
    SearchHit,
    SearchQuery,
    SearchUnavailable,
    check_doc_ids,
    check_documents,
    check_query,
    check_workspace_id,
    finds_nothing,
)
from persistence.timestamps import from_millis, to_millis

log = logging.getLogger("cove.search")

DEFAULT_INDEX_PREFIX = "cove-search"
# Bumped when the mapping changes: a new index is then built beside the old one.
INDEX_VERSION = 1
REFRESH_INTERVAL = "1s"
# Above the built-in templates (priority 100 and below), which match other patterns anyway.
TEMPLATE_PRIORITY = 200
REQUEST_TIMEOUT_SECONDS = 10.0
# Deleting a large workspace's documents may take minutes.
CLEAR_TIMEOUT_SECONDS = 300.0

_INDEX_PREFIX = re.compile(r"[a-z0-9][a-z0-9_.-]{0,199}")

MAPPINGS: dict[str, Any] = {
    "dynamic": "strict",
    "_source": {"enabled": False},
    "_routing": {"required": True},
    "properties": {
        "workspace_id": {"type": "keyword"},
        "doc_id": {"type": "keyword"},
        "kind": {"type": "keyword"},
        "scope": {"type": "keyword"},
        "author_id": {"type": "keyword"},
        "created_at": {"type": "date", "format": "epoch_millis"},
        # Only searched, never sorted or read back: no doc values.
        "tokens": {"type": "keyword", "doc_values": False},
    },
}
SETTINGS: dict[str, Any] = {"index": {"refresh_interval": REFRESH_INTERVAL}}
_READ_BACK = ("kind", "scope", "author_id")
_SORT = [
    {"_score": {"order": "desc"}},
    {"created_at": {"order": "desc"}},
    {"doc_id": {"order": "desc"}},
]


def _default_node_class() -> type[BaseNode]:
    # The client's default async node needs aiohttp, which Cove does not require.
    for module, node_class in (("aiohttp", AiohttpHttpNode), ("httpx", HttpxAsyncHttpNode)):
        if importlib.util.find_spec(module) is not None:
            return node_class
    raise ValueError(
        "the elasticsearch search engine needs an async HTTP client: install aiohttp "
        "(pip install 'elasticsearch[async]') or httpx"
    )


class ElasticsearchEngine:
    """Search on an Elasticsearch 9 cluster; creates its index on first use."""

    def __init__(
        self,
        url: str,
        *,
        index_prefix: str = DEFAULT_INDEX_PREFIX,
        api_key: str | None = None,
        refresh_on_write: bool = False,
        request_timeout: float = REQUEST_TIMEOUT_SECONDS,
        node_class: type[BaseNode] | None = None,
    ) -> None:
        if not url.startswith(("http://", "https://")):
            # The URL itself stays out of the message: it may carry credentials.
            raise ValueError("the Elasticsearch url must start with http:// or https://")
        if not _INDEX_PREFIX.fullmatch(index_prefix):
            raise ValueError(
                "the Elasticsearch index_prefix is 1 to 200 characters of [a-z0-9_.-], "
                f"starting with a letter or digit; got {index_prefix!r}"
            )
        self._index = f"{index_prefix}-v{INDEX_VERSION}"
        self._refresh = refresh_on_write
        self._client = AsyncElasticsearch(
            url,
            api_key=api_key,
            request_timeout=request_timeout,
            node_class=node_class if node_class is not None else _default_node_class(),
        )
        self._ready = False
        self._ready_lock = asyncio.Lock()
        self._closed = False

    @property
    def name(self) -> str:
        return "elasticsearch"

    @property
    def index_name(self) -> str:
        """The index this engine reads and writes."""
        return self._index

    async def ensure_index(self) -> None:
        """Put the index template, create the index if absent, check its mapping.

        The template (named after the index, matching only it) gives the index Cove's
        mapping even if a write recreates it after someone deleted it.
        """
        self._check_open()
        if self._ready:
            return
        async with self._ready_lock:
            if self._ready:
                return
            with _unavailable("creating the index"):
                try:
                    await self._client.indices.put_index_template(
                        name=self._index,
                        index_patterns=[self._index],
                        template={"settings": SETTINGS, "mappings": MAPPINGS},
                        priority=TEMPLATE_PRIORITY,
                    )
                except ApiError as error:
                    if error.meta.status != 403:
                        raise
                    # Templates need the manage_index_templates cluster privilege; without
                    # it only a deleted index recreated by a write would lack the mapping.
                    log.warning("no Elasticsearch index template for %s: %s", self._index, error)
                try:
                    await self._client.indices.create(
                        index=self._index, mappings=MAPPINGS, settings=SETTINGS
                    )
                except ApiError as error:
                    if error.message != "resource_already_exists_exception":
                        raise
                    await self._check_mapping()
            self._ready = True

    async def index(self, workspace_id: str, documents: Sequence[SearchDocument]) -> None:
        """Index (replace) each document in one bulk request."""
        workspace_id = check_workspace_id(workspace_id)
        checked = check_documents(documents)
        self._check_open()
        if not checked:
            return
        operations: list[dict[str, Any]] = []
        for document in checked:
            operations.append({"index": self._action(workspace_id, document.doc_id)})
            operations.append(_source(workspace_id, document))
        await self._bulk("indexing", operations)

    async def delete(self, workspace_id: str, doc_ids: Sequence[str]) -> None:
        """Delete each document in one bulk request; missing ones are not an error."""
        workspace_id = check_workspace_id(workspace_id)
        wanted = check_doc_ids(doc_ids)
        self._check_open()
        if not wanted:
            return
        operations = [{"delete": self._action(workspace_id, doc_id)} for doc_id in wanted]
        await self._bulk("deleting", operations)

    async def clear(self, workspace_id: str) -> None:
        """Refresh (delete_by_query sees only refreshed documents), then delete by workspace.

        Documents indexed while it runs may survive it.
        """
        workspace_id = check_workspace_id(workspace_id)
        await self.ensure_index()
        with _unavailable("clearing"):
            await self._client.indices.refresh(index=self._index)
            answer = await self._client.options(
                request_timeout=CLEAR_TIMEOUT_SECONDS
            ).delete_by_query(
                index=self._index,
                query={"term": {"workspace_id": workspace_id}},
                routing=workspace_id,
                conflicts="proceed",
                refresh=True,
            )
        failures = answer.body.get("failures") or []
        if failures:
            raise SearchUnavailable(
                f"Elasticsearch failed to delete {len(failures)} documents of the workspace"
            )

    async def search(self, workspace_id: str, query: SearchQuery) -> list[SearchHit]:
        """One search request; the score is the number of groups matched."""
        groups = check_query(query)
        workspace_id = check_workspace_id(workspace_id)
        self._check_open()
        if finds_nothing(groups, query):
            return []
        await self.ensure_index()
        search_after: list[Any] | None = None
        if query.after is not None:
            after = query.after
            search_after = [float(after.matched), to_millis(after.created_at), after.doc_id]
        with _unavailable("searching"):
            answer = await self._client.search(
                index=self._index,
                routing=workspace_id,
                query=build_query(workspace_id, groups, query),
                sort=_SORT,
                size=query.limit,
                search_after=search_after,
                docvalue_fields=[{"field": field} for field in _READ_BACK],
                source=False,
                track_total_hits=False,
            )
        return [_hit(hit) for hit in answer.body["hits"]["hits"]]

    async def refresh(self) -> None:
        """Make every write so far searchable now (the refresh API)."""
        await self.ensure_index()
        with _unavailable("refreshing"):
            await self._client.indices.refresh(index=self._index)

    async def ping(self) -> None:
        """Raise SearchUnavailable unless the cluster answers."""
        self._check_open()
        with _unavailable("ping"):
            answers = await self._client.ping()
        if not answers:
            raise SearchUnavailable("Elasticsearch did not answer a ping")

    async def close(self) -> None:
        """Close the client's connections; idempotent."""
        if self._closed:
            return
        self._closed = True
        await self._client.close()

    async def delete_index(self) -> None:
        """Delete this engine's whole index (tests, or before rebuilding it from scratch)."""
        self._check_open()
        with _unavailable("deleting the index"):
            await self._client.options(ignore_status=404).indices.delete(index=self._index)
        self._ready = False

    def _check_open(self) -> None:
        if self._closed:
            raise SearchUnavailable("the Elasticsearch search engine is closed")

    def _action(self, workspace_id: str, doc_id: str) -> dict[str, Any]:
        return {"_index": self._index, "_id": f"{workspace_id}:{doc_id}", "routing": workspace_id}

    async def _check_mapping(self) -> None:
        answer = await self._client.indices.get_mapping(index=self._index)
        mapping = answer.body.get(self._index, {}).get("mappings", {})
        wanted = {key: MAPPINGS[key] for key in ("_source", "_routing", "properties")}
        found = {key: mapping.get(key) for key in wanted}
        if found != wanted or str(mapping.get("dynamic")) != "strict":
            raise SearchUnavailable(
                f"the Elasticsearch index {self._index} exists with another mapping "
                "(it must store no _source and only Cove's fields): delete or rename it"
            )

    async def _bulk(self, what: str, operations: list[dict[str, Any]]) -> None:
        await self.ensure_index()
        with _unavailable(what):
            answer = await self._client.bulk(
                operations=operations, refresh=True if self._refresh else None
            )
        if not answer.body.get("errors"):
            return
        failed: dict[str, int] = {}
        for item in answer.body.get("items", []):
            ((action, result),) = item.items()
            status = int(result.get("status", 500))
            if action == "delete" and status == 404:
                continue  # deleting a missing document is not an error
            if not 200 <= status < 300:
                error = result.get("error") or {}
                kind = error.get("type", str(status)) if isinstance(error, dict) else str(status)
                failed[kind] = failed.get(kind, 0) + 1
        if failed:
            # Error types only: reasons may quote the document's fields.
            summary = ", ".join(f"{count} x {kind}" for kind, count in sorted(failed.items()))
            raise SearchUnavailable(f"Elasticsearch refused some {what} actions: {summary}")


def build_query(workspace_id: str, groups: list[list[bytes]], query: SearchQuery) -> dict[str, Any]:
    """The bool query: filters, and one named constant-score clause per non-empty group."""
    filters: list[dict[str, Any]] = [{"term": {"workspace_id": workspace_id}}]
    if query.kinds is not None:
        filters.append({"terms": {"kind": list(query.kinds)}})
    if query.doc_ids is not None:
        # Where to look: the allowed scopes, or the listed documents.
        places = [
            {"terms": {"scope": list(query.scopes or ())}},
            {"terms": {"doc_id": list(query.doc_ids)}},
        ]
        filters.append({"bool": {"should": places, "minimum_should_match": 1}})
    elif query.scopes is not None:
        filters.append({"terms": {"scope": list(query.scopes)}})
    if query.author_id is not None:
        filters.append({"term": {"author_id": query.author_id}})
    window: dict[str, Any] = {}
    if query.since is not None:
        window["gte"] = to_millis(query.since)
    if query.until is not None:
        window["lt"] = to_millis(query.until)
    if window:
        filters.append({"range": {"created_at": window | {"format": "epoch_millis"}}})
    should = [
        {
            "constant_score": {
                "filter": {"terms": {"tokens": [token.hex() for token in group]}},
                "boost": 1.0,
                "_name": str(position),
            }
        }
        for position, group in enumerate(groups)
        if group
    ]
    return {"bool": {"filter": filters, "should": should, "minimum_should_match": 1}}


def _source(workspace_id: str, document: SearchDocument) -> dict[str, Any]:
    return {
        "workspace_id": workspace_id,
        "doc_id": document.doc_id,
        "kind": document.kind,
        "scope": document.scope,
        "author_id": document.author_id,
        "created_at": to_millis(document.created_at),
        "tokens": sorted(token.hex() for token in document.tokens),
    }


def _hit(hit: dict[str, Any]) -> SearchHit:
    _, created_at, doc_id = hit["sort"]
    fields = hit.get("fields") or {}
    kind, scope, author_id = ((fields.get(name) or [""])[0] for name in _READ_BACK)
    return SearchHit(
        doc_id=str(doc_id),
        kind=str(kind),
        scope=str(scope),
        author_id=str(author_id),
        created_at=from_millis(int(created_at)),
        matched=len(hit.get("matched_queries") or ()),
    )


@contextmanager
def _unavailable(what: str) -> Iterator[None]:
    try:
        yield
    except ApiError as error:
        # The status and error type, never the body: it may quote the request.
        raise SearchUnavailable(
            f"Elasticsearch refused {what}: {error.meta.status} {str(error.message)[:100]}"
        ) from error
    except TransportError as error:
        raise SearchUnavailable(f"Elasticsearch {what} failed: {type(error).__name__}") from error
