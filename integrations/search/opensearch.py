"""The OpenSearch search engine: the same index, queries and ranking as the Elasticsearch one.

Everything but the client calls is shared with the Elasticsearch engine
(integrations/search/cluster.py); this module makes them through opensearch-py's async
client (aiohttp). Needs OpenSearch 2.x or later with the reindex module (for
delete-by-query), as every OpenSearch distribution ships it. Credentials, if any, go in the
URL (https://user:password@host:9200); the user needs the index permissions create_index,
write, read and indices:admin/refresh on the index, and the cluster permission
indices:admin/index_template/put for its template (else skipped).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from opensearchpy import AsyncOpenSearch
from opensearchpy.exceptions import ConnectionError as OpenSearchConnectionError
from opensearchpy.exceptions import TransportError

from integrations.search.base import SearchUnavailable
from integrations.search.cluster import (
    CLEAR_TIMEOUT_SECONDS,
    DEFAULT_INDEX_PREFIX,
    REQUEST_TIMEOUT_SECONDS,
    ClusterEngine,
)


class OpenSearchEngine(ClusterEngine):
    """Search on an OpenSearch cluster; creates its index on first use."""

    product = "OpenSearch"
    kind = "opensearch"

    def __init__(
        self,
        url: str,
        *,
        index_prefix: str = DEFAULT_INDEX_PREFIX,
        refresh_on_write: bool = False,
        request_timeout: float = REQUEST_TIMEOUT_SECONDS,
    ) -> None:
        super().__init__(url, index_prefix=index_prefix, refresh_on_write=refresh_on_write)
        self._client = AsyncOpenSearch(hosts=[url], timeout=request_timeout)

    async def _call_put_template(self, body: dict[str, Any]) -> bool:
        try:
            await self._client.indices.put_index_template(name=self._index, body=body)
        except TransportError as error:
            if error.status_code != 403:
                raise
            return False
        return True

    async def _call_create_index(self, body: dict[str, Any]) -> bool:
        try:
            await self._client.indices.create(index=self._index, body=body)
        except TransportError as error:
            if error.error != "resource_already_exists_exception":
                raise
            return False
        return True

    async def _call_get_mapping(self) -> dict[str, Any]:
        return dict(await self._client.indices.get_mapping(index=self._index))

    async def _call_bulk(self, operations: list[dict[str, Any]], refresh: bool) -> dict[str, Any]:
        params = {"refresh": "true"} if refresh else None
        return dict(await self._client.bulk(body=operations, params=params))

    async def _call_delete_by_query(self, workspace_id: str) -> dict[str, Any]:
        answer = await self._client.delete_by_query(
            index=self._index,
            body={"query": {"term": {"workspace_id": workspace_id}}},
            params={
                "routing": workspace_id,
                "conflicts": "proceed",
                "refresh": "true",
                "request_timeout": CLEAR_TIMEOUT_SECONDS,
            },
        )
        return dict(answer)

    async def _call_search(self, workspace_id: str, request: dict[str, Any]) -> dict[str, Any]:
        answer = await self._client.search(
            index=self._index,
            body=request | {"_source": False},
            params={"routing": workspace_id},
        )
        return dict(answer)

    async def _call_refresh(self) -> None:
        await self._client.indices.refresh(index=self._index)

    async def _call_ping(self) -> bool:
        return bool(await self._client.ping())

    async def _call_delete_index(self) -> None:
        await self._client.indices.delete(index=self._index, params={"ignore": 404})

    async def _call_close(self) -> None:
        await self._client.close()

    @contextmanager
    def _unavailable(self, what: str) -> Iterator[None]:
        try:
            yield
        except OpenSearchConnectionError as error:
            raise SearchUnavailable(f"OpenSearch {what} failed: {type(error).__name__}") from error
        except TransportError as error:
            # The status and error type, never the body: it may quote the request.
            raise SearchUnavailable(
                f"OpenSearch refused {what}: {error.status_code} {str(error.error)[:100]}"
            ) from error
