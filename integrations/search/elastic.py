"""The Elasticsearch search engine: one index per Cove install, ids and hex tokens only.

The index, its queries and the engine's flow are shared with the OpenSearch engine
(integrations/search/cluster.py); this module makes the calls through the Elasticsearch
client. Needs Elasticsearch 9 (the client sends version-9 compatibility headers) and an
async HTTP client: aiohttp (`elasticsearch[async]`), else httpx. An API key needs the index
privileges create_index, write, read and maintenance (refresh) on the index, and the cluster
privilege manage_index_templates for its template (else skipped).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from elastic_transport import AiohttpHttpNode, BaseNode, HttpxAsyncHttpNode
from elasticsearch import ApiError, AsyncElasticsearch, TransportError

from integrations.search.base import SearchUnavailable
from integrations.search.cluster import (
    CLEAR_TIMEOUT_SECONDS,
    DEFAULT_INDEX_PREFIX,
    INDEX_VERSION,
    MAPPINGS,
    REQUEST_TIMEOUT_SECONDS,
    SETTINGS,
    ClusterEngine,
    build_query,
)

__all__ = [
    "DEFAULT_INDEX_PREFIX",
    "INDEX_VERSION",
    "MAPPINGS",
    "SETTINGS",
    "ElasticsearchEngine",
    "build_query",
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


class ElasticsearchEngine(ClusterEngine):
    """Search on an Elasticsearch 9 cluster; creates its index on first use."""

    product = "Elasticsearch"
    kind = "elasticsearch"

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
        super().__init__(url, index_prefix=index_prefix, refresh_on_write=refresh_on_write)
        self._client = AsyncElasticsearch(
            url,
            api_key=api_key,
            request_timeout=request_timeout,
            node_class=node_class if node_class is not None else _default_node_class(),
        )

    async def _call_put_template(self, body: dict[str, Any]) -> bool:
        try:
            await self._client.indices.put_index_template(name=self._index, **body)
        except ApiError as error:
            if error.meta.status != 403:
                raise
            return False
        return True

    async def _call_create_index(self, body: dict[str, Any]) -> bool:
        try:
            await self._client.indices.create(index=self._index, **body)
        except ApiError as error:
            if error.message != "resource_already_exists_exception":
                raise
            return False
        return True

    async def _call_get_mapping(self) -> dict[str, Any]:
        answer = await self._client.indices.get_mapping(index=self._index)
        return dict(answer.body)

    async def _call_bulk(self, operations: list[dict[str, Any]], refresh: bool) -> dict[str, Any]:
        answer = await self._client.bulk(operations=operations, refresh=True if refresh else None)
        return dict(answer.body)

    async def _call_delete_by_query(self, workspace_id: str) -> dict[str, Any]:
        answer = await self._client.options(request_timeout=CLEAR_TIMEOUT_SECONDS).delete_by_query(
            index=self._index,
            query={"term": {"workspace_id": workspace_id}},
            routing=workspace_id,
            conflicts="proceed",
            refresh=True,
        )
        return dict(answer.body)

    async def _call_search(self, workspace_id: str, request: dict[str, Any]) -> dict[str, Any]:
        answer = await self._client.search(
            index=self._index, routing=workspace_id, source=False, **request
        )
        return dict(answer.body)

    async def _call_refresh(self) -> None:
        await self._client.indices.refresh(index=self._index)

    async def _call_ping(self) -> bool:
        return bool(await self._client.ping())

    async def _call_delete_index(self) -> None:
        await self._client.options(ignore_status=404).indices.delete(index=self._index)

    async def _call_close(self) -> None:
        await self._client.close()

    @contextmanager
    def _unavailable(self, what: str) -> Iterator[None]:
        try:
            yield
        except ApiError as error:
            # The status and error type, never the body: it may quote the request.
            raise SearchUnavailable(
                f"Elasticsearch refused {what}: {error.meta.status} {str(error.message)[:100]}"
            ) from error
        except TransportError as error:
            raise SearchUnavailable(
                f"Elasticsearch {what} failed: {type(error).__name__}"
            ) from error
