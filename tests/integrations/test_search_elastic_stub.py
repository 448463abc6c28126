"""The Elasticsearch engine against a stub cluster behind the client's own transport.

No Elasticsearch runs here, so the real client (request building, serialization, error
handling) talks to an in-process node that answers the few APIs the engine uses, as
Elasticsearch 9 documents them, and refuses anything else: the contract suite runs over
it, and the tests below check what reaches the wire (no _source, only ids and hex tokens).
It is a model, not Elasticsearch: set COVE_TEST_ELASTICSEARCH_URL to test the real thing.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

import pytest
from elastic_transport import ApiResponseMeta, BaseAsyncNode, HttpHeaders
from elastic_transport import ConnectionError as TransportConnectionError
from elastic_transport._node import NodeApiResponse

from integrations.search import SearchDocument, SearchEngine, SearchUnavailable
from integrations.search.elastic import MAPPINGS, SETTINGS, ElasticsearchEngine

# The contract suite, run again here over the stub (the fixtures below replace conftest's).
from tests.integrations.test_search_contract import *  # noqa: F403
from tests.integrations.test_search_contract import T0, doc, query, token

STUB_URL = "http://elasticsearch.stub:9200"
_HEADERS = {
    "content-type": "application/vnd.elasticsearch+json;compatible-with=9",
    "x-elastic-product": "Elasticsearch",
}


class StubError(Exception):
    """An error response: HTTP status, error type."""

    def __init__(self, status: int, kind: str, reason: str = "") -> None:
        super().__init__(reason or kind)
        self.status = status
        self.kind = kind


@dataclass
class Request:
    method: str
    path: str
    params: dict[str, str]
    body: Any


@dataclass
class StubIndex:
    mappings: dict[str, Any]
    settings: dict[str, Any]
    live: dict[str, tuple[int, dict[str, Any]]] = field(default_factory=dict)  # realtime
    searchable: dict[str, tuple[int, dict[str, Any]]] = field(default_factory=dict)
    versions: int = 0

    def refresh(self) -> None:
        self.searchable = dict(self.live)


class StubCluster:
    """Just enough of Elasticsearch 9's REST API for the engine, strict about its input."""

    def __init__(self) -> None:
        self.templates: dict[str, dict[str, Any]] = {}
        self.indices: dict[str, StubIndex] = {}
        self.requests: list[Request] = []
        self.down = False
        self.reject_bulk_items: str | None = None  # an error type to fail every bulk item with
        self.forbid_templates = False  # as for an API key without manage_index_templates

    def of(self, path: str) -> list[Request]:
        """The requests made to `path`, in order."""
        return [request for request in self.requests if request.path == path]

    def handle(self, method: str, target: str, body: bytes | None) -> tuple[int, Any]:
        parts = urlsplit(target)
        params = {key: values[-1] for key, values in parse_qs(parts.query).items()}
        path = parts.path
        parsed: Any = None
        if body:
            text = body.decode()
            if path.endswith("/_bulk"):
                parsed = [json.loads(line) for line in text.splitlines() if line]
            else:
                parsed = json.loads(text)
        self.requests.append(Request(method, path, params, parsed))
        try:
            return 200, self._route(method, path, params, parsed)
        except StubError as error:
            cause = {"type": error.kind, "reason": str(error)}
            return error.status, {"error": cause | {"root_cause": [cause]}, "status": error.status}

    def _route(self, method: str, path: str, params: dict[str, str], body: Any) -> Any:
        segments = [segment for segment in path.split("/") if segment]
        if method == "HEAD" and not segments:
            return None
        if segments[:1] == ["_index_template"] and method == "PUT":
            if self.forbid_templates:
                raise StubError(403, "security_exception", "action unauthorized")
            _only(body, {"index_patterns", "template", "priority"})
            self.templates[segments[1]] = body
            return {"acknowledged": True}
        if segments == ["_bulk"] and method in ("POST", "PUT"):
            return self._bulk(params, body)
        name = segments[0]
        rest = segments[1:]
        if method == "PUT" and not rest:
            if name in self.indices:
                raise StubError(400, "resource_already_exists_exception", name)
            _only(body, {"mappings", "settings"})
            self.indices[name] = StubIndex(body.get("mappings", {}), body.get("settings", {}))
            return {"acknowledged": True, "index": name}
        if method == "DELETE" and not rest:
            self._index(name)
            del self.indices[name]
            return {"acknowledged": True}
        index = self._index(name)
        if rest == ["_mapping"] and method == "GET":
            return {name: {"mappings": index.mappings}}
        if rest == ["_refresh"] and method in ("POST", "GET"):
            index.refresh()
            return {"_shards": {"total": 1, "successful": 1, "failed": 0}}
        if rest == ["_search"] and method in ("POST", "GET"):
            return self._search(index, params, body)
        if rest == ["_delete_by_query"] and method == "POST":
            return self._delete_by_query(index, params, body)
        raise StubError(400, "unsupported_by_stub", f"{method} {path}")

    def _index(self, name: str) -> StubIndex:
        if name not in self.indices:
            raise StubError(404, "index_not_found_exception", name)
        return self.indices[name]

    def _auto_create(self, name: str) -> StubIndex:
        # Elasticsearch creates a missing index on write, from the best-matching template.
        if name not in self.indices:
            for template in self.templates.values():
                if name in template["index_patterns"]:
                    self.indices[name] = StubIndex(
                        template["template"]["mappings"], template["template"]["settings"]
                    )
                    break
            else:
                self.indices[name] = StubIndex({"dynamic": "true"}, {})
        return self.indices[name]

    def _bulk(self, params: dict[str, str], lines: list[dict[str, Any]]) -> Any:
        items = []
        position = 0
        touched: set[str] = set()
        while position < len(lines):  # one action (and its source, for index) per round
            ((action, meta),) = lines[position].items()
            position += 1
            source = None
            if action == "index":
                source = lines[position]
                position += 1
            elif action != "delete":
                raise StubError(400, "illegal_argument_exception", f"action {action}")
            _only(meta, {"_index", "_id", "routing"})
            items.append({action: self._bulk_item(action, meta, source)})
            touched.add(meta["_index"])
        if params.get("refresh") in ("true", ""):
            for name in touched:
                self.indices[name].refresh()
        errors = any(not 200 <= next(iter(item.values()))["status"] < 300 for item in items)
        return {"took": 1, "errors": errors, "items": items}

    def _bulk_item(
        self, action: str, meta: dict[str, Any], source: dict[str, Any] | None
    ) -> dict[str, Any]:
        name, doc_id = meta["_index"], meta["_id"]
        head = {"_index": name, "_id": doc_id}
        if self.reject_bulk_items is not None:
            error = {"type": self.reject_bulk_items, "reason": f"rejected {source}"}
            return head | {"status": 429, "error": error}
        index = self._auto_create(name)
        if index.mappings.get("_routing", {}).get("required") and "routing" not in meta:
            return head | {"status": 400, "error": {"type": "routing_missing_exception"}}
        if action == "delete":
            if index.live.pop(doc_id, None) is None:
                return head | {"status": 404, "result": "not_found"}
            return head | {"status": 200, "result": "deleted"}
        assert source is not None
        problem = _check_source(index.mappings, source)
        if problem is not None:
            return head | {"status": 400, "error": {"type": problem}}
        index.versions += 1
        existed = doc_id in index.live
        index.live[doc_id] = (index.versions, source)
        return head | {
            "status": 200 if existed else 201,
            "result": "updated" if existed else "created",
        }

    def _search(self, index: StubIndex, params: dict[str, str], body: dict[str, Any]) -> Any:
        _only(
            body,
            {
                "query",
                "sort",
                "size",
                "search_after",
                "docvalue_fields",
                "_source",
                "track_total_hits",
            },
        )
        if "routing" not in params:
            raise StubError(400, "stub_expects_routing")
        properties = index.mappings["properties"]
        sort = [_sort_field(clause, properties) for clause in body.get("sort", [])]
        found = []
        for doc_id, (_, source) in index.searchable.items():
            matched, score, names = _evaluate(body["query"], source, properties)
            if matched:
                values = [score if name == "_score" else source[name] for name, _ in sort]
                found.append((values, doc_id, source, score, names))
        order = functools.cmp_to_key(lambda a, b: _compare(a[0], b[0], sort))
        found.sort(key=order)
        if "search_after" in body:
            after = body["search_after"]
            if len(after) != len(sort):
                raise StubError(400, "illegal_argument_exception", "search_after length")
            found = [hit for hit in found if _compare(hit[0], after, sort) > 0]
        hits = []
        for values, doc_id, source, score, names in found[: body.get("size", 10)]:
            hit: dict[str, Any] = {"_index": "stub", "_id": doc_id, "_score": score, "sort": values}
            fields = {}
            for wanted in body.get("docvalue_fields", []):
                name = wanted["field"] if isinstance(wanted, dict) else wanted
                if properties[name].get("doc_values") is False:
                    raise StubError(400, "illegal_argument_exception", f"no doc values: {name}")
                if name in source:
                    fields[name] = [source[name]]
            if fields:
                hit["fields"] = fields
            if names:
                hit["matched_queries"] = sorted(names)
            if body.get("_source", True) is not False:
                raise StubError(400, "stub_expects_no_source")
            hits.append(hit)
        return {"took": 1, "timed_out": False, "hits": {"max_score": None, "hits": hits}}

    def _delete_by_query(self, index: StubIndex, params: dict[str, str], body: Any) -> Any:
        _only(body, {"query"})
        properties = index.mappings["properties"]
        deleted = conflicts = 0
        # Only what the last refresh made searchable is seen; changed since: a conflict.
        for doc_id, (version, source) in list(index.searchable.items()):
            if _evaluate(body["query"], source, properties)[0]:
                if index.live.get(doc_id, (None,))[0] != version:
                    conflicts += 1
                    continue
                del index.live[doc_id]
                deleted += 1
        if conflicts and params.get("conflicts") != "proceed":
            raise StubError(409, "version_conflict_engine_exception")
        if params.get("refresh") == "true":
            index.refresh()
        return {"deleted": deleted, "version_conflicts": conflicts, "failures": []}


def _only(body: Any, allowed: set[str]) -> None:
    if not isinstance(body, dict) or not set(body) <= allowed:
        raise StubError(400, "x_content_parse_exception", f"unexpected {body!r}")


def _check_source(mappings: dict[str, Any], source: dict[str, Any]) -> str | None:
    properties = mappings.get("properties", {})
    for name, value in source.items():
        if name not in properties:
            if mappings.get("dynamic") == "strict":
                return "strict_dynamic_mapping_exception"
            continue
        kind = properties[name]["type"]
        values = value if isinstance(value, list) else [value]
        if kind == "keyword" and not all(isinstance(v, str) for v in values):
            return "document_parsing_exception"
        if kind == "date" and not all(isinstance(v, int) for v in values):
            return "document_parsing_exception"
    return None


def _values(source: dict[str, Any], name: str) -> list[Any]:
    value = source.get(name)
    return [] if value is None else value if isinstance(value, list) else [value]


def _evaluate(
    clause: dict[str, Any], source: dict[str, Any], properties: dict[str, Any]
) -> tuple[bool, float, set[str]]:
    """Whether the query matches, its score, and the names of the named queries matched."""
    ((kind, spec),) = clause.items()
    if kind == "bool":
        _only(spec, {"filter", "should", "minimum_should_match"})
        names: set[str] = set()
        for inner in spec.get("filter", []):
            matched, _, inner_names = _evaluate(inner, source, properties)
            if not matched:
                return False, 0.0, set()
            names |= inner_names
        score = 0.0
        count = 0
        for inner in spec.get("should", []):
            matched, inner_score, inner_names = _evaluate(inner, source, properties)
            if matched:
                count += 1
                score += inner_score
                names |= inner_names
        default = 0 if "filter" in spec else 1
        if count < int(spec.get("minimum_should_match", default)):
            return False, 0.0, set()
        return True, score, names
    if kind == "constant_score":
        _only(spec, {"filter", "boost", "_name"})
        matched, _, names = _evaluate(spec["filter"], source, properties)
        if not matched:
            return False, 0.0, set()
        named = {spec["_name"]} if "_name" in spec else set()
        return True, float(spec.get("boost", 1.0)), names | named
    if kind in ("term", "terms", "range"):
        ((name, wanted),) = spec.items()
        if name not in properties:
            return False, 0.0, set()
        held = _values(source, name)
        if kind == "term":
            matched = wanted in held
        elif kind == "terms":
            if not isinstance(wanted, list):
                raise StubError(400, "parsing_exception", "terms takes a list")
            matched = bool(set(wanted) & set(held))
        else:
            _only(wanted, {"gte", "lt", "format"})
            low, high = wanted.get("gte"), wanted.get("lt")
            matched = any((low is None or v >= low) and (high is None or v < high) for v in held)
        return matched, 1.0 if matched else 0.0, set()
    raise StubError(400, "parsing_exception", f"unknown query [{kind}]")


def _sort_field(clause: dict[str, Any], properties: dict[str, Any]) -> tuple[str, str]:
    ((name, spec),) = clause.items()
    _only(spec, {"order"})
    if name != "_score" and properties[name].get("doc_values") is False:
        raise StubError(400, "illegal_argument_exception", f"cannot sort on {name}")
    return name, spec["order"]


def _compare(left: list[Any], right: list[Any], sort: list[tuple[str, str]]) -> int:
    """Negative when `left` comes first in the sort."""
    for a, b, (_, order) in zip(left, right, sort, strict=True):
        if a != b:
            first = a > b if order == "desc" else a < b
            return -1 if first else 1
    return 0


class StubNode(BaseAsyncNode):
    """A node of the client's transport that answers from a StubCluster, in process."""

    _CLIENT_META_HTTP_CLIENT = ("stub", "1")
    cluster: ClassVar[StubCluster]

    async def perform_request(  # type: ignore[override]
        self,
        method: str,
        target: str,
        body: bytes | None = None,
        headers: HttpHeaders | None = None,
        request_timeout: Any = None,
    ) -> NodeApiResponse:
        if self.cluster.down:
            raise TransportConnectionError("the stub cluster is down")
        status, payload = self.cluster.handle(method, target, body)
        raw = b"" if payload is None else json.dumps(payload).encode()
        meta = ApiResponseMeta(
            status=status,
            http_version="1.1",
            headers=HttpHeaders(_HEADERS),
            duration=0.0,
            node=self.config,
        )
        return NodeApiResponse(meta, raw)

    async def close(self) -> None:
        return None


def node_class_for(cluster: StubCluster) -> type[StubNode]:
    return type("BoundStubNode", (StubNode,), {"cluster": cluster})


@pytest.fixture
def stub_cluster() -> StubCluster:
    return StubCluster()


@pytest.fixture
async def make_engine(
    stub_cluster: StubCluster,
) -> AsyncIterator[Callable[..., ElasticsearchEngine]]:
    made: list[ElasticsearchEngine] = []

    def make(**options: Any) -> ElasticsearchEngine:
        settings = {"index_prefix": "cove-test", "node_class": node_class_for(stub_cluster)}
        made.append(ElasticsearchEngine(STUB_URL, **(settings | options)))
        return made[-1]

    yield make
    for engine in made:
        await engine.close()


# Replace conftest's fixtures: the contract suite imported above runs over the stub.
@pytest.fixture
def search_engine_name() -> str:
    return "elasticsearch"


@pytest.fixture
def search_engine(make_engine: Callable[..., ElasticsearchEngine]) -> SearchEngine:
    return make_engine(refresh_on_write=True)


HEX_TOKEN = re.compile(r"[0-9a-f]{24}")


async def test_the_index_keeps_no_source_and_refuses_other_fields(
    stub_cluster: StubCluster, make_engine: Callable[..., ElasticsearchEngine]
) -> None:
    engine = make_engine()
    await engine.ensure_index()
    assert engine.index_name == "cove-test-v1"
    index = stub_cluster.indices["cove-test-v1"]
    assert index.mappings["_source"] == {"enabled": False}
    assert index.mappings["dynamic"] == "strict"
    assert index.mappings["_routing"] == {"required": True}
    assert set(index.mappings["properties"]) == {
        "workspace_id",
        "doc_id",
        "kind",
        "scope",
        "author_id",
        "created_at",
        "tokens",
    }
    assert index.settings == SETTINGS
    # The template gives the same mapping to the index if a write ever recreates it.
    template = stub_cluster.templates["cove-test-v1"]
    assert template["index_patterns"] == ["cove-test-v1"]
    assert template["template"] == {"settings": SETTINGS, "mappings": MAPPINGS}
    await engine.ensure_index()
    assert len(stub_cluster.of("/cove-test-v1")) == 1


async def test_bulk_bodies_hold_only_ids_times_and_hex_tokens(
    stub_cluster: StubCluster, make_engine: Callable[..., ElasticsearchEngine]
) -> None:
    engine = make_engine()
    documents = [
        doc("message:1", ["secret", "plans"], author_id="u1"),
        doc("file:2", ["budget"], kind="file", scope="folder:f", author_id=""),
    ]
    await engine.index("w1", documents)
    await engine.delete("w1", ["message:1"])
    (indexing, deleting) = stub_cluster.of("/_bulk")
    actions, sources = indexing.body[0::2], indexing.body[1::2]
    assert actions == [
        {"index": {"_index": "cove-test-v1", "_id": "w1:message:1", "routing": "w1"}},
        {"index": {"_index": "cove-test-v1", "_id": "w1:file:2", "routing": "w1"}},
    ]
    for document, source in zip(documents, sources, strict=True):
        assert source == {
            "workspace_id": "w1",
            "doc_id": document.doc_id,
            "kind": document.kind,
            "scope": document.scope,
            "author_id": document.author_id,
            "created_at": int(T0.timestamp() * 1000),
            "tokens": sorted(t.hex() for t in document.tokens),
        }
        assert all(HEX_TOKEN.fullmatch(hex_token) for hex_token in source["tokens"])
    assert deleting.body == [
        {"delete": {"_index": "cove-test-v1", "_id": "w1:message:1", "routing": "w1"}}
    ]
    # Without refresh_on_write, writes ask for no refresh.
    assert "refresh" not in indexing.params


async def test_the_search_request_is_one_named_clause_per_group(
    stub_cluster: StubCluster, make_engine: Callable[..., ElasticsearchEngine]
) -> None:
    engine = make_engine()
    await engine.search(
        "w1",
        query(
            ("meet", "meeting"),
            "lunch",
            kinds=["message"],
            scopes=["channel:a"],
            author_id="u1",
            since=T0,
            limit=5,
        ),
    )
    (request,) = stub_cluster.of("/cove-test-v1/_search")
    assert request.params["routing"] == "w1"
    body = request.body
    assert body["size"] == 5
    assert body["_source"] is False
    assert body["track_total_hits"] is False
    assert body["sort"] == [
        {"_score": {"order": "desc"}},
        {"created_at": {"order": "desc"}},
        {"doc_id": {"order": "desc"}},
    ]
    boolean = body["query"]["bool"]
    assert boolean["minimum_should_match"] == 1
    assert boolean["filter"] == [
        {"term": {"workspace_id": "w1"}},
        {"terms": {"kind": ["message"]}},
        {"terms": {"scope": ["channel:a"]}},
        {"term": {"author_id": "u1"}},
        {"range": {"created_at": {"gte": int(T0.timestamp() * 1000), "format": "epoch_millis"}}},
    ]
    assert boolean["should"] == [
        {
            "constant_score": {
                "filter": {"terms": {"tokens": [token("meet").hex(), token("meeting").hex()]}},
                "boost": 1.0,
                "_name": "0",
            }
        },
        {
            "constant_score": {
                "filter": {"terms": {"tokens": [token("lunch").hex()]}},
                "boost": 1.0,
                "_name": "1",
            }
        },
    ]


async def test_listed_documents_are_one_filter_with_the_scopes(
    stub_cluster: StubCluster, make_engine: Callable[..., ElasticsearchEngine]
) -> None:
    engine = make_engine()
    await engine.search("w1", query("plan", scopes=["channel:a"], doc_ids=["file:1", "file:2"]))
    (request,) = stub_cluster.of("/cove-test-v1/_search")
    assert request.body["query"]["bool"]["filter"] == [
        {"term": {"workspace_id": "w1"}},
        {
            "bool": {
                "should": [
                    {"terms": {"scope": ["channel:a"]}},
                    {"terms": {"doc_id": ["file:1", "file:2"]}},
                ],
                "minimum_should_match": 1,
            }
        },
    ]


async def test_writes_show_after_a_refresh_unless_refreshed_on_write(
    stub_cluster: StubCluster, make_engine: Callable[..., ElasticsearchEngine]
) -> None:
    engine = make_engine()
    await engine.index("w1", [doc("message:1", ["late"])])
    assert await engine.search("w1", query("late")) == []
    await engine.refresh()
    assert len(await engine.search("w1", query("late"))) == 1
    eager = make_engine(refresh_on_write=True)
    await eager.index("w1", [doc("message:2", ["late"], minutes=1)])
    assert [hit.doc_id for hit in await eager.search("w1", query("late"))] == [
        "message:2",
        "message:1",
    ]
    assert stub_cluster.of("/_bulk")[-1].params["refresh"] == "true"


async def test_clear_also_removes_documents_not_yet_refreshed(
    make_engine: Callable[..., ElasticsearchEngine],
) -> None:
    engine = make_engine()
    await engine.index("w1", [doc("message:1", ["gone"])])
    await engine.index("w2", [doc("message:1", ["gone"])])
    await engine.clear("w1")
    await engine.refresh()
    assert await engine.search("w1", query("gone")) == []
    assert len(await engine.search("w2", query("gone"))) == 1


async def test_an_index_with_another_mapping_is_refused(
    stub_cluster: StubCluster, make_engine: Callable[..., ElasticsearchEngine]
) -> None:
    stub_cluster.indices["cove-test-v1"] = StubIndex({"properties": {}}, {})
    engine = make_engine()
    with pytest.raises(SearchUnavailable, match="another mapping"):
        await engine.search("w1", query("a"))


async def test_an_index_deleted_behind_its_back_comes_back_with_the_mapping(
    stub_cluster: StubCluster, make_engine: Callable[..., ElasticsearchEngine]
) -> None:
    engine = make_engine()
    await engine.ensure_index()
    del stub_cluster.indices["cove-test-v1"]
    await engine.index("w1", [doc("message:1", ["back"])])
    assert stub_cluster.indices["cove-test-v1"].mappings == MAPPINGS


async def test_an_api_key_without_template_rights_still_gets_the_index(
    stub_cluster: StubCluster, make_engine: Callable[..., ElasticsearchEngine]
) -> None:
    stub_cluster.forbid_templates = True
    engine = make_engine(refresh_on_write=True)
    await engine.index("w1", [doc("message:1", ["ok"])])
    assert stub_cluster.templates == {}
    assert stub_cluster.indices["cove-test-v1"].mappings == MAPPINGS
    assert len(await engine.search("w1", query("ok"))) == 1


async def test_an_unreachable_cluster_is_unavailable(
    stub_cluster: StubCluster, make_engine: Callable[..., ElasticsearchEngine]
) -> None:
    engine = make_engine()
    stub_cluster.down = True
    for call in (
        engine.ping(),
        engine.search("w1", query("a")),
        engine.index("w1", [doc("message:1", ["a"])]),
    ):
        with pytest.raises(SearchUnavailable):
            await call
    stub_cluster.down = False
    await engine.ping()


async def test_refused_bulk_items_are_unavailable_without_their_content(
    stub_cluster: StubCluster, make_engine: Callable[..., ElasticsearchEngine]
) -> None:
    engine = make_engine()
    await engine.ensure_index()
    stub_cluster.reject_bulk_items = "es_rejected_execution_exception"
    document = SearchDocument(
        "message:1", "message", "channel:c", "u1", T0, frozenset({b"\xab" * 12})
    )
    with pytest.raises(SearchUnavailable) as caught:
        await engine.index("w1", [document])
    message = str(caught.value)
    assert "es_rejected_execution_exception" in message
    assert "ab" * 12 not in message
    assert "channel:c" not in message


async def test_settings_are_checked_before_any_request(stub_cluster: StubCluster) -> None:
    with pytest.raises(ValueError, match="http"):
        ElasticsearchEngine("ftp://user:hunter2@host", node_class=node_class_for(stub_cluster))
    with pytest.raises(ValueError, match="index_prefix"):
        ElasticsearchEngine(STUB_URL, index_prefix="Cove*", node_class=node_class_for(stub_cluster))
    assert stub_cluster.requests == []
