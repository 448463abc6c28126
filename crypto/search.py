"""Blind search tokens: the search index holds keyed hashes of words, never the words.

Text is normalised (`normalize`), split into words (`words`) and each word, plus its prefixes
for search-as-you-type, becomes a truncated HMAC-SHA256 token under a per-workspace search key
(`search_key`) and the name of the field it came from. A query is turned into the same tokens;
the server looks them up, then decrypts the candidates and drops any false match.

Words are runs of Unicode letters and digits, which suits European languages; scripts written
without spaces (Chinese, Japanese, Thai) become one long word per run and are not segmented.
"""

from __future__ import annotations

import re
import struct
import unicodedata
from collections.abc import Iterable, Sequence

from cryptography.hazmat.primitives import hashes, hmac

from crypto import _primitives as p
from crypto.constants import CODE_PEPPER
from crypto.errors import CryptoError

TOKEN_BYTES = 12
"""Token length: HMAC-SHA256 truncated to 96 bits. By the birthday bound two distinct terms of
one workspace are likely to share a token only after about 2^48 distinct terms (fields count
apart); a collision only adds a false candidate, which the server drops after decrypting it."""

DEFAULT_PREFIX_MIN = 3
"""Shortest prefix indexed by default: typing "rep" finds "report", typing "re" does not."""

MAX_WORD_LENGTH = 64
"""Longer words are cut to their first 64 characters (after normalisation) before hashing."""

MAX_QUERY_WORDS = 8
"""Most distinct words in one query; more is refused with a ValueError."""

_SEARCH_INFO = CODE_PEPPER + b"cove/search/v1"
_TOKEN_LABEL = b"cove/search/token/v1"
_FIELD = re.compile(r"[a-z_]{1,32}")
_WORD = re.compile(r"[^\W_]+")  # \w minus underscore: Unicode letters and digits
_U32 = struct.Struct(">I")
_MARK_CACHE_MAX = 8192


class _DropMarks(dict[int, int | None]):
    """str.translate table deleting combining marks (Mn), filled as characters are met."""

    def __missing__(self, code: int) -> int | None:
        value = None if unicodedata.category(chr(code)) == "Mn" else code
        if len(self) < _MARK_CACHE_MAX:  # bounded: hostile text cannot grow it without limit
            self[code] = value
        return value


_DROP_MARKS = _DropMarks()


def normalize(text: str) -> str:
    """Fold `text` for matching: NFKC, case folding, accents stripped, then NFC.

    "Élève Straße ﬁn" becomes "eleve strasse fin"; fullwidth letters become ASCII. Only
    combining marks (category Mn) are removed, so letters that do not decompose keep their
    stroke: Polish "ł", Danish "ø" and Croatian "đ" stay as they are ("Łódź" -> "łodz").
    """
    decomposed = unicodedata.normalize("NFD", unicodedata.normalize("NFKC", text).casefold())
    if not decomposed.isascii():
        decomposed = decomposed.translate(_DROP_MARKS)
    return unicodedata.normalize("NFC", decomposed)


def words(text: str) -> list[str]:
    """Normalise `text` and split it into words, in order and with duplicates.

    A word is a run of letters and digits; apostrophes, hyphens, underscores, punctuation,
    symbols (emoji) and whitespace separate words: "l'école" -> ["l", "ecole"],
    "e-mail" -> ["e", "mail"]. Each word is cut to MAX_WORD_LENGTH characters.
    """
    return [w[:MAX_WORD_LENGTH] for w in _WORD.findall(normalize(text))]


def search_key(workspace_secret: bytes) -> bytes:
    """Derive a workspace's 32-byte search key from its 32-byte secret (derived, never stored)."""
    if len(workspace_secret) != p.KEY_BYTES:
        raise CryptoError(f"workspace secret must be {p.KEY_BYTES} bytes")
    return p.hkdf_sha256(workspace_secret, b"", _SEARCH_INFO)


def _check(key: bytes, field: str) -> None:
    if len(key) != p.KEY_BYTES:
        raise CryptoError(f"search key must be {p.KEY_BYTES} bytes")
    if not isinstance(field, str) or _FIELD.fullmatch(field) is None:
        raise CryptoError("search field must be 1 to 32 characters of a-z and _")


def term_token(key: bytes, field: str, term: str) -> bytes:
    """Token of one already-normalised `term` in `field`:
    HMAC-SHA256(key, length_prefixed(b"cove/search/token/v1", field, term))[:TOKEN_BYTES]."""
    _check(key, field)
    mac = hmac.HMAC(key, hashes.SHA256())
    mac.update(p.length_prefixed(_TOKEN_LABEL, field.encode("ascii"), term.encode()))
    return mac.finalize()[:TOKEN_BYTES]


def _field_mac(key: bytes, field: str) -> hmac.HMAC:
    # The same message as term_token, split in two: length_prefixed(label, field) is absorbed
    # once here, and `_tokens` appends each term's 4-byte length and bytes to a copy, so the
    # key schedule and the shared head are not redone for every term.
    _check(key, field)
    mac = hmac.HMAC(key, hashes.SHA256())
    mac.update(p.length_prefixed(_TOKEN_LABEL, field.encode("ascii")))
    return mac


def _tokens(field_mac: hmac.HMAC, terms: Iterable[str]) -> list[bytes]:
    out = []
    for term in terms:
        data = term.encode()  # at most 4 * MAX_WORD_LENGTH bytes: the length fits in 4 bytes
        mac = field_mac.copy()
        mac.update(_U32.pack(len(data)) + data)
        out.append(mac.finalize()[:TOKEN_BYTES])
    return out


def document_tokens(
    key: bytes, field: str, text: str, *, prefix_min: int | None = DEFAULT_PREFIX_MIN
) -> set[bytes]:
    """Tokens to index for `text` in `field`: every word, and unless `prefix_min` is None each
    word's prefixes of `prefix_min` .. len(word) - 1 characters; a shorter word gets only its
    own token."""
    if prefix_min is not None and prefix_min < 1:
        raise CryptoError("prefix_min must be at least 1")
    field_mac = _field_mac(key, field)
    terms = set(words(text))
    if prefix_min is not None:
        terms.update([w[:n] for w in terms for n in range(prefix_min, len(w))])
    return set(_tokens(field_mac, terms))


def query_tokens(key: bytes, fields: Sequence[str], query: str) -> list[list[bytes]]:
    """Tokens to look up for `query`: one group per distinct word, in order, holding that word's
    token in each field. A document matches a word when any token of its group is indexed, and
    matches the query when every group matches. No words gives []; more than MAX_QUERY_WORDS
    distinct words raises ValueError."""
    if isinstance(fields, str) or not fields:
        raise CryptoError("fields must be a non-empty sequence of field names")
    field_macs = [_field_mac(key, field) for field in dict.fromkeys(fields)]
    distinct = list(dict.fromkeys(words(query)))
    if len(distinct) > MAX_QUERY_WORDS:
        raise ValueError(
            f"search query has {len(distinct)} distinct words; at most {MAX_QUERY_WORDS} allowed"
        )
    by_field = [_tokens(field_mac, distinct) for field_mac in field_macs]
    return [[tokens[i] for tokens in by_field] for i in range(len(distinct))]
