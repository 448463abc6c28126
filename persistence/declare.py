"""Table declarations: written once, compiled by each engine into its own statements."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from functools import cached_property
from types import MappingProxyType
from typing import Any

Row = dict[str, Any]

_NAME = re.compile(r"[a-z][a-z0-9_]*")
# Cassandra refuses longer table and keyspace names; holding SQLite to it keeps one contract.
MAX_NAME_LENGTH = 48
# Reserved CQL words cannot be unquoted identifiers; refusing them here keeps the CQL plain.
CQL_RESERVED = frozenset(
    {
        "add",
        "allow",
        "alter",
        "and",
        "apply",
        "asc",
        "authorize",
        "batch",
        "begin",
        "by",
        "columnfamily",
        "create",
        "default",
        "delete",
        "desc",
        "describe",
        "drop",
        "entries",
        "execute",
        "from",
        "full",
        "grant",
        "if",
        "in",
        "index",
        "infinity",
        "insert",
        "into",
        "is",
        "keyspace",
        "limit",
        "materialized",
        "mbean",
        "mbeans",
        "modify",
        "nan",
        "norecursive",
        "not",
        "null",
        "of",
        "on",
        "or",
        "order",
        "primary",
        "rename",
        "replace",
        "revoke",
        "schema",
        "select",
        "set",
        "table",
        "to",
        "token",
        "truncate",
        "unlogged",
        "unset",
        "update",
        "use",
        "using",
        "view",
        "where",
        "with",
    }
)


def check_name(name: str, what: str) -> None:
    """Refuse anything but a short lowercase identifier that neither engine reserves."""
    if not _NAME.fullmatch(name) or len(name) > MAX_NAME_LENGTH:
        raise ValueError(
            f"{what} name {name!r} must match ^[a-z][a-z0-9_]*$ and be at most "
            f"{MAX_NAME_LENGTH} characters"
        )
    if name in CQL_RESERVED:
        raise ValueError(f"{what} name {name!r} is a reserved word in CQL")


class ColumnType(Enum):
    """The value types a column may hold, and the Python type of each."""

    TEXT = "text"  # str
    BLOB = "blob"  # bytes
    BIGINT = "bigint"  # int, signed 64-bit
    BOOLEAN = "boolean"  # bool
    TIMESTAMP = "timestamp"  # timezone-aware datetime, millisecond precision


class Order(Enum):
    """The order of a table's clustering columns within a partition."""

    ASC = "ASC"
    DESC = "DESC"


@dataclass(frozen=True)
class Column:
    """A named, typed column."""

    name: str
    type: ColumnType

    def __post_init__(self) -> None:
        check_name(self.name, "column")


@dataclass(frozen=True)
class Table:
    """A query-first table: rows of one partition, sorted by the clustering columns."""

    name: str
    partition_key: tuple[Column, ...]
    clustering: tuple[Column, ...] = ()
    # One order for every clustering column, so tuple bounds mean the same in both engines.
    order: Order = Order.ASC
    values: tuple[Column, ...] = ()

    def __post_init__(self) -> None:
        check_name(self.name, "table")
        if not self.partition_key:
            raise ValueError(f"table {self.name!r} needs at least one partition key column")
        seen: set[str] = set()
        for column in self.columns:
            if column.name in seen:
                raise ValueError(f"table {self.name!r} declares column {column.name!r} twice")
            seen.add(column.name)

    @cached_property
    def columns(self) -> tuple[Column, ...]:
        """Every column: partition key, clustering, then values."""
        return self.partition_key + self.clustering + self.values

    @cached_property
    def key(self) -> tuple[Column, ...]:
        """The primary key columns: partition key, then clustering."""
        return self.partition_key + self.clustering

    @cached_property
    def key_names(self) -> tuple[str, ...]:
        """Names of the primary key columns, in key order."""
        return tuple(column.name for column in self.key)

    @cached_property
    def by_name(self) -> MappingProxyType[str, Column]:
        """Every column by its name."""
        return MappingProxyType({column.name: column for column in self.columns})


@dataclass(frozen=True)
class Copy:
    """Every row of `source` (a table an earlier migration made), turned by `convert` into a
    row of `target`: how a migration re-keys data into a new table. Engines upsert the rows,
    so a copy cut short is simply run again."""

    source: Table
    target: Table
    convert: Callable[[Row], Row]
