"""The search settings pick the engine; a missing setting fails at start, naming it."""

from __future__ import annotations

import pytest

from api.app import search_engine
from api.settings import load_settings
from integrations.search import (
    ElasticsearchEngine,
    EmbeddedSearchEngine,
    OpenSearchEngine,
    search_engine_from_config,
)
from persistence.sqlite import SqliteStore


async def test_embedded_needs_only_the_store(search_store: SqliteStore) -> None:
    engine = search_engine_from_config("embedded", store=search_store, url=None)
    assert isinstance(engine, EmbeddedSearchEngine)
    assert engine.name == "embedded"
    await engine.ping()
    await engine.close()
    await search_store.ping()  # the store is the caller's: still open


async def test_elasticsearch_needs_a_url_and_makes_no_request() -> None:
    engine = search_engine_from_config(
        "elasticsearch",
        store=None,
        url="http://127.0.0.1:1",
        index_prefix="cove-prod",
        api_key="c2VjcmV0",
    )
    assert isinstance(engine, ElasticsearchEngine)
    assert engine.name == "elasticsearch"
    assert engine.index_name == "cove-prod-v1"
    await engine.close()


async def test_opensearch_needs_a_url_and_makes_no_request() -> None:
    engine = search_engine_from_config(
        "opensearch", store=None, url="http://127.0.0.1:1", index_prefix="cove-prod"
    )
    assert isinstance(engine, OpenSearchEngine)
    assert engine.name == "opensearch"
    assert engine.index_name == "cove-prod-v1"
    await engine.close()


async def test_the_settings_pick_opensearch_with_its_own_url_and_prefix(
    search_store: SqliteStore,
) -> None:
    settings = load_settings(
        environ={
            "COVE_SEARCH_ENGINE": "opensearch",
            "COVE_OPENSEARCH_URL": "http://127.0.0.1:1",
            "COVE_OPENSEARCH_INDEX_PREFIX": "cove-os",
            "COVE_ELASTICSEARCH_API_KEY": "c2VjcmV0",  # Elasticsearch's: not used
        }
    )
    engine = search_engine(settings, search_store)
    assert isinstance(engine, OpenSearchEngine)
    assert engine.index_name == "cove-os-v1"
    await engine.close()


@pytest.mark.parametrize(
    ("kind", "options", "named"),
    [
        ("embedded", {"store": None, "url": None}, "store"),
        ("elasticsearch", {"store": None, "url": None}, "url"),
        ("elasticsearch", {"store": None, "url": ""}, "url"),
        ("elasticsearch", {"store": None, "url": "ftp://hunter2@host"}, "url"),
        ("elasticsearch", {"store": None, "url": "http://h", "index_prefix": "A*"}, "index_prefix"),
        ("opensearch", {"store": None, "url": None}, "url"),
        ("opensearch", {"store": None, "url": "ftp://hunter2@host"}, "url"),
        ("opensearch", {"store": None, "url": "http://h", "index_prefix": "A*"}, "index_prefix"),
        ("opensearch", {"store": None, "url": "http://h", "api_key": "hunter2"}, "api_key"),
        ("solr", {"store": None, "url": None}, "kind"),
    ],
)
def test_a_missing_or_bad_setting_is_named(
    kind: str, options: dict[str, object], named: str
) -> None:
    with pytest.raises(ValueError, match=named) as caught:
        search_engine_from_config(kind, **options)  # type: ignore[arg-type]
    assert "hunter2" not in str(caught.value)
