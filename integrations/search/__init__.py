"""Search over ids and keyed-hash tokens: embedded (on the Store) or Elasticsearch."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

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

__all__ = [
    "MAX_POSTINGS_PER_TOKEN",
    "ElasticsearchEngine",
    "EmbeddedSearchEngine",
    "SearchCursor",
    "SearchDocument",
    "SearchEngine",
    "SearchError",
    "SearchHit",
    "SearchQuery",
    "SearchUnavailable",
    "search_engine_from_config",
]

KINDS = ("embedded", "elasticsearch")


def __getattr__(name: str) -> Any:
    # The Elasticsearch client is large: only processes that use it pay for importing it.
    if name == "ElasticsearchEngine":
        from integrations.search.elastic import ElasticsearchEngine

        return ElasticsearchEngine
    raise AttributeError(name)


def search_engine_from_config(
    kind: str,
    *,
    store: Store | None,
    url: str | None,
    index_prefix: str = "cove-search",
    api_key: str | None = None,
) -> SearchEngine:
    """The engine the settings name; a missing or malformed setting raises ValueError.

    "embedded" needs `store` (with the search tables migrated); "elasticsearch" needs `url`
    (http:// or https://) and takes `index_prefix` and `api_key`.
    """
    if kind == "embedded":
        if store is None:
            raise ValueError("the embedded search engine needs store (the Cove database)")
        return EmbeddedSearchEngine(store)
    if kind == "elasticsearch":
        if not url:
            raise ValueError("the elasticsearch search engine needs url (http://host:9200)")
        from integrations.search.elastic import ElasticsearchEngine

        return ElasticsearchEngine(url, index_prefix=index_prefix, api_key=api_key)
    raise ValueError(f"the search engine kind must be one of {', '.join(KINDS)}; got {kind!r}")
