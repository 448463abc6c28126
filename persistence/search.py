"""The embedded search index's tables: postings by token, documents, and terms per workspace.

They hold only ids, kinds, scopes, times and keyed-hash tokens (`term`, opaque bytes computed
before anything reaches the index), never text. "token" is a reserved word in CQL, hence
`term`. Written and read only by `integrations.search.embedded`.
"""

from __future__ import annotations

from persistence.declare import Column, ColumnType, Order, Table

_TEXT = ColumnType.TEXT
_BLOB = ColumnType.BLOB
_TIME = ColumnType.TIMESTAMP
_BIGINT = ColumnType.BIGINT

# One partition per (workspace, token), newest document first: a query reads the first
# rows of each of its tokens' partitions. Built for that read, the hottest of search:
# the time is whole milliseconds (BIGINT, not a TIMESTAMP to convert row by row), and
# kind, scope and author_id (none of which may hold a space) are copied into `meta` as
# "<kind> <scope> <author_id>", so that filters need no second read and a row has few
# columns to decode.
SEARCH_POSTINGS = Table(
    name="search_postings",
    partition_key=(Column("workspace_id", _TEXT), Column("term", _BLOB)),
    clustering=(Column("created_ms", _BIGINT), Column("doc_id", _TEXT)),
    order=Order.DESC,
    values=(Column("meta", _TEXT),),
)

# Each indexed document: the truth that postings are checked against, and its tokens
# (each as one length byte then its bytes) so that re-indexing or deleting it removes
# exactly its old postings.
SEARCH_DOCUMENTS = Table(
    name="search_documents",
    partition_key=(Column("workspace_id", _TEXT),),
    clustering=(Column("doc_id", _TEXT),),
    values=(
        Column("kind", _TEXT),
        Column("scope", _TEXT),
        Column("author_id", _TEXT),
        Column("created_at", _TIME),
        Column("terms", _BLOB),
    ),
)

# Every token that ever had a posting in the workspace, written with the postings: what
# clearing a workspace walks to drop each postings partition whole.
SEARCH_TERMS = Table(
    name="search_terms",
    partition_key=(Column("workspace_id", _TEXT),),
    clustering=(Column("term", _BLOB),),
)

SEARCH_TABLES = (SEARCH_POSTINGS, SEARCH_DOCUMENTS, SEARCH_TERMS)
