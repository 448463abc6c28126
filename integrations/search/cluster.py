"""What the Elasticsearch and OpenSearch engines share: the index, its queries, and the flow.

Both clusters speak the same index, bulk, search and delete-by-query APIs; only their Python
clients differ. `ClusterEngine` holds every decision (mapping, query, ranking, paging, error
handling), and each engine supplies the few client calls as `_call_*` methods.

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
not for production loads).
"""

from __future__ import annotations

import asyncio
import logging
import re
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from typing import Any, ClassVar

from integrations.breaker import CircuitBreaker
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
READ_BACK = ("kind", "scope", "author_id")
SORT = [
    {"_score": {"order": "desc"}},
    {"created_at": {"order": "desc"}},
    {"doc_id": {"order": "desc"}},
]


class ClusterEngine(ABC):
    """A SearchEngine on an Elasticsearch-API cluster; creates its index on first use.

    Subclasses name the product and make the client calls; each `_call_*` raises
    SearchUnavailable (through `_unavailable`) when the cluster refuses or does not answer.
    """

    product: ClassVar[str]  # "Elasticsearch", in messages
    kind: ClassVar[str]  # "elasticsearch", the engine's name and settings value

    def __init__(self, url: str, *, index_prefix: str, refresh_on_write: bool) -> None:
        if not url.startswith(("http://", "https://")):
            # The URL itself stays out of the message: it may carry credentials.
            raise ValueError(f"the {self.product} url must start with http:// or https://")
        if not _INDEX_PREFIX.fullmatch(index_prefix):
            raise ValueError(
                f"the {self.product} index_prefix is 1 to 200 characters of [a-z0-9_.-], "
                f"starting with a letter or digit; got {index_prefix!r}"
            )
        self._index = f"{index_prefix}-v{INDEX_VERSION}"
        self._refresh = refresh_on_write
        self._ready = False
        self._ready_lock = asyncio.Lock()
        self._closed = False
        # Set by the factory: searches against a cluster that keeps failing are refused at once.
        self.breaker: CircuitBreaker | None = None

    # The client calls each engine makes.

    @abstractmethod
    def _unavailable(self, what: str) -> AbstractContextManager[None]:
        """Turns the client's errors into SearchUnavailable naming `what`."""

    @abstractmethod
    async def _call_put_template(self, body: dict[str, Any]) -> bool:
        """Put the index template; False if refused for want of a privilege (403)."""

    @abstractmethod
    async def _call_create_index(self, body: dict[str, Any]) -> bool:
        """Create the index; False if it exists already."""

    @abstractmethod
    async def _call_get_mapping(self) -> dict[str, Any]: ...

    @abstractmethod
    async def _call_bulk(self, operations: list[dict[str, Any]], refresh: bool) -> dict[str, Any]:
        """The bulk API's answer."""

    @abstractmethod
    async def _call_delete_by_query(self, workspace_id: str) -> dict[str, Any]:
        """Delete the workspace's documents (routed, conflicts proceed, refresh after)."""

    @abstractmethod
    async def _call_search(self, workspace_id: str, request: dict[str, Any]) -> dict[str, Any]:
        """Search with the fields of `request` (query, sort, …), routed, without _source."""

    @abstractmethod
    async def _call_refresh(self) -> None: ...

    @abstractmethod
    async def _call_ping(self) -> bool: ...

    @abstractmethod
    async def _call_delete_index(self) -> None:
        """Delete the index; a missing one is not an error."""

    @abstractmethod
    async def _call_close(self) -> None: ...

    # The SearchEngine protocol.

    @property
    def name(self) -> str:
        return self.kind

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
            with self._unavailable("creating the index"):
                template = {
                    "index_patterns": [self._index],
                    "template": {"settings": SETTINGS, "mappings": MAPPINGS},
                    "priority": TEMPLATE_PRIORITY,
                }
                if not await self._call_put_template(template):
                    # Templates need the manage_index_templates cluster privilege; without
                    # it only a deleted index recreated by a write would lack the mapping.
                    log.warning("no %s index template for %s", self.product, self._index)
                body = {"mappings": MAPPINGS, "settings": SETTINGS}
                if not await self._call_create_index(body):
                    self._check_mapping(await self._call_get_mapping())
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
            operations.append(source(workspace_id, document))
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
        with self._unavailable("clearing"):
            await self._call_refresh()
            answer = await self._call_delete_by_query(workspace_id)
        failures = answer.get("failures") or []
        if failures:
            raise SearchUnavailable(
                f"{self.product} failed to delete {len(failures)} documents of the workspace"
            )

    async def search(self, workspace_id: str, query: SearchQuery) -> list[SearchHit]:
        """One search request; the score is the number of groups matched."""
        groups = check_query(query)
        workspace_id = check_workspace_id(workspace_id)
        self._check_open()
        if finds_nothing(groups, query):
            return []
        breaker = self.breaker
        if breaker is None:
            return await self._search(workspace_id, groups, query)
        if not breaker.allow():
            raise SearchUnavailable(f"{self.product} is failing: searches refused for a while")
        try:
            found = await self._search(workspace_id, groups, query)
        except SearchUnavailable:
            breaker.failure()
            raise
        breaker.success()
        return found

    async def _search(
        self, workspace_id: str, groups: list[list[bytes]], query: SearchQuery
    ) -> list[SearchHit]:
        await self.ensure_index()
        request: dict[str, Any] = {
            "query": build_query(workspace_id, groups, query),
            "sort": SORT,
            "size": query.limit,
            "docvalue_fields": [{"field": field} for field in READ_BACK],
            "track_total_hits": False,
        }
        if query.after is not None:
            after = query.after
            request["search_after"] = [
                float(after.matched),
                to_millis(after.created_at),
                after.doc_id,
            ]
        with self._unavailable("searching"):
            answer = await self._call_search(workspace_id, request)
        return [hit(found) for found in answer["hits"]["hits"]]

    async def refresh(self) -> None:
        """Make every write so far searchable now (the refresh API)."""
        await self.ensure_index()
        with self._unavailable("refreshing"):
            await self._call_refresh()

    async def ping(self) -> None:
        """Raise SearchUnavailable unless the cluster answers."""
        self._check_open()
        with self._unavailable("ping"):
            answers = await self._call_ping()
        if not answers:
            raise SearchUnavailable(f"{self.product} did not answer a ping")

    async def close(self) -> None:
        """Close the client's connections; idempotent."""
        if self._closed:
            return
        self._closed = True
        await self._call_close()

    async def delete_index(self) -> None:
        """Delete this engine's whole index (tests, or before rebuilding it from scratch)."""
        self._check_open()
        with self._unavailable("deleting the index"):
            await self._call_delete_index()
        self._ready = False

    def _check_open(self) -> None:
        if self._closed:
            raise SearchUnavailable(f"the {self.product} search engine is closed")

    def _action(self, workspace_id: str, doc_id: str) -> dict[str, Any]:
        return {"_index": self._index, "_id": f"{workspace_id}:{doc_id}", "routing": workspace_id}

    def _check_mapping(self, answer: dict[str, Any]) -> None:
        mapping = answer.get(self._index, {}).get("mappings", {})
        wanted = {key: MAPPINGS[key] for key in ("_source", "_routing", "properties")}
        found = {key: mapping.get(key) for key in wanted}
        if found != wanted or str(mapping.get("dynamic")) != "strict":
            raise SearchUnavailable(
                f"the {self.product} index {self._index} exists with another mapping "
                "(it must store no _source and only Cove's fields): delete or rename it"
            )

    async def _bulk(self, what: str, operations: list[dict[str, Any]]) -> None:
        await self.ensure_index()
        with self._unavailable(what):
            answer = await self._call_bulk(operations, self._refresh)
        if not answer.get("errors"):
            return
        failed = dict(_bulk_failures(answer.get("items", [])))
        if failed:
            # Error types only: reasons may quote the document's fields.
            summary = ", ".join(f"{count} x {kind}" for kind, count in sorted(failed.items()))
            raise SearchUnavailable(f"{self.product} refused some {what} actions: {summary}")


def _bulk_failures(items: list[dict[str, Any]]) -> Iterator[tuple[str, int]]:
    failed: dict[str, int] = {}
    for item in items:
        ((action, result),) = item.items()
        status = int(result.get("status", 500))
        if action == "delete" and status == 404:
            continue  # deleting a missing document is not an error
        if not 200 <= status < 300:
            error = result.get("error") or {}
            kind = error.get("type", str(status)) if isinstance(error, dict) else str(status)
            failed[kind] = failed.get(kind, 0) + 1
    yield from failed.items()


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


def source(workspace_id: str, document: SearchDocument) -> dict[str, Any]:
    """The indexed fields of one document: ids, time and hex tokens."""
    return {
        "workspace_id": workspace_id,
        "doc_id": document.doc_id,
        "kind": document.kind,
        "scope": document.scope,
        "author_id": document.author_id,
        "created_at": to_millis(document.created_at),
        "tokens": sorted(token.hex() for token in document.tokens),
    }


def hit(found: dict[str, Any]) -> SearchHit:
    """A hit from its sort values, doc values and matched (named) clauses."""
    _, created_at, doc_id = found["sort"]
    fields = found.get("fields") or {}
    kind, scope, author_id = ((fields.get(name) or [""])[0] for name in READ_BACK)
    return SearchHit(
        doc_id=str(doc_id),
        kind=str(kind),
        scope=str(scope),
        author_id=str(author_id),
        created_at=from_millis(int(created_at)),
        matched=len(found.get("matched_queries") or ()),
    )
