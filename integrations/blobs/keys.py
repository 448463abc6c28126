"""Blob keys: a small alphabet in `/`-separated segments, so no key can name a path outside.

A key is 1 to 512 characters of `[A-Za-z0-9/_.-]`; its segments are non-empty, at most 255
characters (a file name's limit) and never start with a dot, which rules out `.`, `..` and
hidden names such as the local store's `.partial` directory. No leading or trailing `/`.
"""

from __future__ import annotations

import re

from integrations.blobs.base import BlobKeyError

MAX_KEY_LENGTH = 512
MAX_SEGMENT_LENGTH = 255
_SEGMENT = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]*")
_PARTIAL_SEGMENT = re.compile(r"[A-Za-z0-9_.-]*")


def check_key(key: object) -> str:
    """Return `key` if it is a valid blob key; raise BlobKeyError saying why not."""
    if not isinstance(key, str):
        raise BlobKeyError(f"a blob key is a str, not {type(key).__name__}")
    if not key or len(key) > MAX_KEY_LENGTH:
        raise BlobKeyError(f"a blob key has 1 to {MAX_KEY_LENGTH} characters, not {len(key)}")
    for segment in key.split("/"):
        if not _SEGMENT.fullmatch(segment):
            raise BlobKeyError(
                f"invalid blob key {_shown(key)}: segments are non-empty, of [A-Za-z0-9_.-], "
                "and never start with a dot"
            )
        if len(segment) > MAX_SEGMENT_LENGTH:
            raise BlobKeyError(f"invalid blob key {_shown(key)}: a segment exceeds 255 characters")
    return key


def is_valid_key(key: str) -> bool:
    """Whether `key` passes check_key."""
    try:
        check_key(key)
    except BlobKeyError:
        return False
    return True


def check_prefix(prefix: object) -> str:
    """Return `prefix` if some key could start with it: "" , whole segments, then part of one."""
    if not isinstance(prefix, str):
        raise BlobKeyError(f"a key prefix is a str, not {type(prefix).__name__}")
    if not prefix:
        return prefix
    head, _, last = prefix.rpartition("/")
    if (head or prefix.startswith("/")) and not is_valid_key(head):
        raise BlobKeyError(f"invalid key prefix {_shown(prefix)}")
    if len(prefix) > MAX_KEY_LENGTH or not _PARTIAL_SEGMENT.fullmatch(last):
        raise BlobKeyError(f"invalid key prefix {_shown(prefix)}")
    return prefix


def _shown(key: str) -> str:
    # repr escapes control characters; long keys are cut so errors stay one line.
    return repr(key if len(key) <= 80 else key[:77] + "...")
