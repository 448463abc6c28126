"""The search settings pick the engine; a missing setting fails at start, naming it."""

from __future__ import annotations

import pytest

from integrations.search import (
    ElasticsearchEngine,
    EmbeddedSearchEngine,
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


@pytest.mark.parametrize(
    ("kind", "options", "named"),
    [
        ("embedded", {"store": None, "url": None}, "store"),
        ("elasticsearch", {"store": None, "url": None}, "url"),
        ("elasticsearch", {"store": None, "url": ""}, "url"),
        ("elasticsearch", {"store": None, "url": "ftp://hunter2@host"}, "url"),
        ("elasticsearch", {"store": None, "url": "http://h", "index_prefix": "A*"}, "index_prefix"),
        ("solr", {"store": None, "url": None}, "kind"),
    ],
)
def test_a_missing_or_bad_setting_is_named(
    kind: str, options: dict[str, object], named: str
) -> None:
    with pytest.raises(ValueError, match=named) as caught:
        search_engine_from_config(kind, **options)  # type: ignore[arg-type]
    assert "hunter2" not in str(caught.value)
