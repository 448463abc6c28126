"""A real OpenSearch node (tools/search_node.py) is given only ids and keyed hashes.

Cove's own tokenizer indexes a message and finds it again by a word and a word start; then
no word of the message is in any file of the node's data folder, while the document's id
(which Cove sends in clear) is: the scan sees what the node keeps (its translog holds each
write as sent).
"""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from crypto.search import document_tokens, query_tokens, search_key
from integrations.search import SearchDocument, SearchQuery
from integrations.search.opensearch import OpenSearchEngine
from tools.search_node import Node

pytestmark = pytest.mark.slow

TEXT = "Quokka Xylophone marzipan-7f3a Ærøskøbing"
# Each word as written, as Cove normalises it, and in UTF-16 too.
WORDS = [
    "Quokka",
    "quokka",
    "Xylophone",
    "xylophone",
    "marzipan",
    "7f3a",
    "Ærøskøbing",
    "ærøskobing",
]


def all_bytes(directory: Path) -> bytes:
    return b"".join(path.read_bytes() for path in sorted(directory.rglob("*")) if path.is_file())


async def test_the_node_data_folder_holds_no_plaintext(
    opensearch_node: Node | None, opensearch_url: str
) -> None:
    if opensearch_node is None:
        pytest.skip("COVE_TEST_OPENSEARCH_URL names a node whose data folder is not here")
    key = search_key(os.urandom(32))
    engine = OpenSearchEngine(
        opensearch_url, index_prefix=f"cove-check-{uuid.uuid4().hex}", refresh_on_write=True
    )
    doc_id = f"message:{uuid.uuid4().hex}"
    document = SearchDocument(
        doc_id,
        "message",
        "channel:c1",
        "u1",
        datetime(2026, 12, 4, 12, 0, tzinfo=UTC),
        frozenset(document_tokens(key, "body", TEXT)),
    )
    try:
        await engine.index("w1", [document])
        groups = query_tokens(key, ["body"], "xylophone marzi")
        hits = await engine.search("w1", SearchQuery(groups=groups))
        assert [(hit.doc_id, hit.matched) for hit in hits] == [(doc_id, 2)]
        stored = all_bytes(opensearch_node.data)
        assert doc_id.encode() in stored
        for word in WORDS:
            for encoded in (word.encode(), word.encode("utf-16-le")):
                assert encoded not in stored, word
    finally:
        await engine.delete_index()
        await engine.close()
