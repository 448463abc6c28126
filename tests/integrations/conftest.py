"""Broker fixtures: every engine under the same tests, and real redis-server processes."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
from redis_server import RedisServer

from integrations.broker import Broker, MemoryBroker, RedisBroker

ENGINES = ["memory", "redis"]


@pytest.fixture(scope="session")
def shared_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """One redis-server for the tests that only need one up; each test takes its own channel."""
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def redis_url(shared_redis: RedisServer) -> str:
    return shared_redis.url


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server for this test alone, for tests that kill it (not yet started)."""
    server = RedisServer(tmp_path)
    yield server
    server.stop()


@pytest.fixture
def channel() -> str:
    return f"cove:test:{uuid.uuid4().hex}"


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def new_broker(
    engine: str, channel: str, request: pytest.FixtureRequest
) -> AsyncIterator[Callable[[], Broker]]:
    """Makes brokers of the engine under test (on one Redis channel); closes them all after."""
    made: list[Broker] = []
    url = str(request.getfixturevalue("redis_url")) if engine == "redis" else None

    def make() -> Broker:
        broker: Broker = MemoryBroker() if url is None else RedisBroker(url, channel)
        made.append(broker)
        return broker

    yield make
    for broker in made:
        await broker.close()


# Blob store fixtures live in their own module; importing them here is what registers them.
# The S3 server fixtures (moto) are registered once for the whole suite, in tests/conftest.py.
from tests.integrations.blob_fixtures import (  # noqa: E402, F401
    blob_backend,
    blob_engine,
    blob_store,
)

# Search engine fixtures: the embedded engine on a fresh SQLite store with the search tables,
# Elasticsearch when COVE_TEST_ELASTICSEARCH_URL names one, and OpenSearch on a node started
# once per session from Maven Central (tools/search_node.py), or the one
# COVE_TEST_OPENSEARCH_URL names. Each test gets its own index.
SEARCH_ENGINES = ["embedded", "elasticsearch", pytest.param("opensearch", marks=pytest.mark.slow)]
ELASTICSEARCH_URL_VARIABLE = "COVE_TEST_ELASTICSEARCH_URL"
NO_ELASTICSEARCH = (
    "set COVE_TEST_ELASTICSEARCH_URL=http://127.0.0.1:9200 to run the Elasticsearch "
    "contract tests (no Elasticsearch here: Maven Central has no Elasticsearch server)"
)
OPENSEARCH_URL_VARIABLE = "COVE_TEST_OPENSEARCH_URL"
NO_OPENSEARCH = (
    "an OpenSearch node needs Java 17 and Maven (the polyglot machine and CI have both), "
    "or set COVE_TEST_OPENSEARCH_URL=http://127.0.0.1:9200"
)

import os  # noqa: E402
import shutil  # noqa: E402
import tempfile  # noqa: E402

from redis_server import free_port  # noqa: E402

from integrations.search import EmbeddedSearchEngine, SearchEngine  # noqa: E402
from integrations.search.cluster import ClusterEngine  # noqa: E402
from persistence.migrations import MIGRATIONS, Migration, declared_tables  # noqa: E402
from persistence.search import SEARCH_TABLES  # noqa: E402
from persistence.sqlite import SqliteStore  # noqa: E402
from tools.search_node import Node  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


def search_migrations() -> tuple[Migration, ...]:
    """The project's migrations, plus the search index unless they already create it."""
    if set(SEARCH_TABLES) <= set(declared_tables(MIGRATIONS)):
        return MIGRATIONS
    return (*MIGRATIONS, Migration(len(MIGRATIONS) + 1, "search index", SEARCH_TABLES))


async def open_search_store(directory: Path) -> SqliteStore:
    """A fresh SQLite store at `directory`/cove.db with every table, the search index's too."""
    return await SqliteStore.open(directory / "cove.db", migrations=search_migrations())


@pytest.fixture
async def search_store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    store = await open_search_store(tmp_path)
    yield store
    await store.close()


@pytest.fixture(params=SEARCH_ENGINES)
def search_engine_name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def search_engine(
    search_engine_name: str, tmp_path: Path, request: pytest.FixtureRequest
) -> AsyncIterator[SearchEngine]:
    """The engine under test, on a fresh store or a fresh index of its own."""
    if search_engine_name == "embedded":
        store = await open_search_store(tmp_path)
        embedded = EmbeddedSearchEngine(store)
        yield embedded
        await embedded.close()
        await store.close()
        return
    prefix = f"cove-test-{uuid.uuid4().hex}"
    if search_engine_name == "opensearch":
        from integrations.search.opensearch import OpenSearchEngine

        url = str(request.getfixturevalue("opensearch_url"))
        engine: ClusterEngine = OpenSearchEngine(url, index_prefix=prefix, refresh_on_write=True)
        cleanup: ClusterEngine = OpenSearchEngine(url, index_prefix=prefix)
    else:
        url = os.environ.get(ELASTICSEARCH_URL_VARIABLE, "")
        if not url:
            pytest.skip(NO_ELASTICSEARCH)
        from integrations.search.elastic import ElasticsearchEngine

        engine = ElasticsearchEngine(url, index_prefix=prefix, refresh_on_write=True)
        cleanup = ElasticsearchEngine(url, index_prefix=prefix)
    yield engine
    await engine.close()
    # Another engine drops the index: the test may have closed its own.
    await cleanup.delete_index()
    await cleanup.close()


@pytest.fixture(scope="session")
def opensearch_node() -> Iterator[Node | None]:
    """A node from Maven Central for the whole session (None: COVE_TEST_OPENSEARCH_URL's)."""
    if os.environ.get(OPENSEARCH_URL_VARIABLE):
        yield None
        return
    if shutil.which("java") is None or shutil.which("mvn") is None:
        pytest.skip(NO_OPENSEARCH)
    from tools.search_node import down, up

    # Not under pytest's temporary folder (0700): as root, the node runs as nobody, who must
    # reach its own folder inside this one.
    directory = Path(tempfile.mkdtemp(prefix="cove-opensearch-"))
    directory.chmod(0o755)
    node = Node(directory / "node", port=free_port(), transport_port=free_port())
    try:
        up(node, ROOT / ".search-node")
        yield node
    finally:
        down(node)
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="session")
def opensearch_url(opensearch_node: Node | None) -> str:
    return opensearch_node.url if opensearch_node else os.environ[OPENSEARCH_URL_VARIABLE]
