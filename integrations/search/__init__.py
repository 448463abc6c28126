"""Search over ids and keyed-hash tokens: embedded (on the Store), Elasticsearch or OpenSearch."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from integrations.breaker import CircuitBreaker
from integrations.search.base import (
    SearchCursor,
    SearchDocument,
    SearchEngine,
    SearchError,
    SearchHit,
    SearchQuery,
    SearchUnavailable,
)
from integrations.search.embedded import MAX_POSTINGS_PER_TOKEN, EmbeddedSearchEngine
from persistence.store import Store

if TYPE_CHECKING:
    from integrations.search.elastic import ElasticsearchEngine
    from integrations.search.opensearch import OpenSearchEngine

__all__ = [
    "MAX_POSTINGS_PER_TOKEN",
    "ElasticsearchEngine",
    "EmbeddedSearchEngine",
    "OpenSearchEngine",
    "SearchCursor",
    "SearchDocument",
    "SearchEngine",
    "SearchError",
    "SearchHit",
    "SearchQuery",
    "SearchUnavailable",
    "search_engine_from_config",
]

KINDS = ("embedded", "elasticsearch", "opensearch")


def __getattr__(name: str) -> Any:
    # The clients are large: only processes that use one pay for importing it.
    if name == "ElasticsearchEngine":
        from integrations.search.elastic import ElasticsearchEngine

        return ElasticsearchEngine
    if name == "OpenSearchEngine":
        from integrations.search.opensearch import OpenSearchEngine

        return OpenSearchEngine
    raise AttributeError(name)


def search_engine_from_config(
    kind: str,
    *,
    store: Store | None,
    url: str | None,
    index_prefix: str = "cove-search",
    api_key: str | None = None,
    max_ops_per_batch: int | None = None,
    timeout_seconds: float = 10.0,
    breaker: CircuitBreaker | None = None,
) -> SearchEngine:
    """The engine the settings name; a missing or malformed setting raises ValueError.

    "embedded" needs `store` (with the search tables migrated); "elasticsearch" needs `url`
    (http:// or https://) and takes `index_prefix` and `api_key`; "opensearch" needs `url`
    (credentials, if any, in it) and takes `index_prefix`. `max_ops_per_batch` bounds the
    embedded engine's store batches (small ones on ScyllaDB, which refuses batches past 1 MiB).
    """
    if kind == "embedded":
        if store is None:
            raise ValueError("the embedded search engine needs store (the Cove database)")
        if max_ops_per_batch is not None:
            return EmbeddedSearchEngine(store, max_ops_per_batch=max_ops_per_batch)
        return EmbeddedSearchEngine(store)
    if kind == "elasticsearch":
        if not url:
            raise ValueError("the elasticsearch search engine needs url (http://host:9200)")
        from integrations.search.elastic import ElasticsearchEngine

        elastic = ElasticsearchEngine(
            url, index_prefix=index_prefix, api_key=api_key, request_timeout=timeout_seconds
        )
        elastic.breaker = breaker
        return elastic
    if kind == "opensearch":
        if not url:
            raise ValueError("the opensearch search engine needs url (http://host:9200)")
        if api_key:
            raise ValueError(
                "the opensearch search engine takes no api_key: put credentials in url"
            )
        from integrations.search.opensearch import OpenSearchEngine

        opensearch = OpenSearchEngine(
            url, index_prefix=index_prefix, request_timeout=timeout_seconds
        )
        opensearch.breaker = breaker
        return opensearch
    raise ValueError(f"the search engine kind must be one of {', '.join(KINDS)}; got {kind!r}")
