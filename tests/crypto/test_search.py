from __future__ import annotations

import struct

import pytest
from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from crypto.constants import CODE_PEPPER
from crypto.errors import CryptoError
from crypto.search import (
    DEFAULT_PREFIX_MIN,
    MAX_QUERY_WORDS,
    MAX_WORD_LENGTH,
    TOKEN_BYTES,
    document_tokens,
    normalize,
    query_tokens,
    search_key,
    term_token,
    words,
)

SECRET = bytes(range(32))
OTHER_SECRET = bytes(range(1, 33))
KEY = search_key(SECRET)


def tok(term: str, field: str = "body", key: bytes = KEY) -> bytes:
    return term_token(key, field, term)


# --- normalisation -------------------------------------------------------------------------


def test_constants() -> None:
    assert TOKEN_BYTES == 12
    assert DEFAULT_PREFIX_MIN == 3
    assert MAX_WORD_LENGTH == 64
    assert MAX_QUERY_WORDS == 8


def test_normalize_example_from_the_spec() -> None:
    assert normalize("Élève Straße ﬁn") == "eleve strasse fin"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Ça coûte à l'hôtel Noël", "ca coute a l'hotel noel"),  # French
        ("GROẞE Straße Über", "grosse strasse uber"),  # German ß and capital ẞ fold to ss
        ("Mañana el niño", "manana el nino"),  # Spanish ñ
        ("São Paulo", "sao paulo"),  # Portuguese
        ("Ελληνικά ΟΔΟΣ", "ελληνικα οδοσ"),  # Greek: accent stripped, final sigma folded
        ("İstanbul", "istanbul"),  # Turkish dotted capital I: casefold adds U+0307, stripped
    ],
)
def test_normalize_european_languages(raw: str, expected: str) -> None:
    assert normalize(raw) == expected


def test_letters_with_a_stroke_keep_it() -> None:
    # ł, ø, đ, æ are letters of their own, not a base letter plus a combining mark: NFD does not
    # split them, so only their case is folded. Searching "lodz" does not find "Łódź".
    assert normalize("Łódź") == "łodz"
    assert normalize("Øresund") == "øresund"
    assert normalize("Đakovo") == "đakovo"
    assert normalize("Æbleskiver") == "æbleskiver"
    assert words("Łódź") != words("Lodz")


def test_normalize_nfkc_ligatures_and_fullwidth() -> None:
    assert normalize("ﬁle ﬂow ﬀ") == "file flow ff"
    assert normalize("\uff21\uff22\uff23\uff11\uff12\uff13") == "abc123"  # fullwidth ABC123
    assert normalize("x²") == "x2"


def test_normalize_combining_and_precomposed_forms_agree() -> None:
    precomposed = "\u00e9"  # é
    combining = "e\u0301"  # e + combining acute
    assert normalize(precomposed) == normalize(combining) == "e"


def test_normalize_recomposes_after_stripping() -> None:
    # NFD splits Hangul syllables into jamo; the final NFC puts them back together.
    assert normalize("한국어") == "한국어"
    assert normalize("Ắ") == "a"  # two stacked marks, both stripped


def test_normalize_leaves_plain_ascii_alone() -> None:
    assert normalize("hello world 42") == "hello world 42"
    assert normalize("") == ""


# --- word splitting ------------------------------------------------------------------------


def test_words_apostrophes_separate() -> None:
    assert words("l'école") == ["l", "ecole"]
    assert words("aujourd\u2019hui") == ["aujourd", "hui"]  # typographic apostrophe too


def test_words_hyphens_and_underscores_separate() -> None:
    assert words("e-mail") == ["e", "mail"]
    assert words("snake_case") == ["snake", "case"]


def test_words_digits_are_word_characters() -> None:
    assert words("Q3 2024-01-15 v2.0") == ["q3", "2024", "01", "15", "v2", "0"]


def test_words_ignore_emoji_and_punctuation() -> None:
    assert words("Hello, world! 🎉🚀 (ok?) ...") == ["hello", "world", "ok"]
    assert words("😀 — !!! ") == []


def test_words_keep_order_and_duplicates() -> None:
    assert words("B a b A") == ["b", "a", "b", "a"]


def test_words_are_normalised() -> None:
    assert words("Élève STRASSE Straße") == ["eleve", "strasse", "strasse"]


def test_long_words_are_cut() -> None:
    long_word = "a" * 100
    assert words(long_word) == ["a" * MAX_WORD_LENGTH]
    assert document_tokens(KEY, "body", long_word, prefix_min=None) == {tok("a" * 64)}


# --- keys and tokens -----------------------------------------------------------------------


def test_search_key_is_32_bytes_and_not_the_secret() -> None:
    assert len(KEY) == 32
    assert SECRET != KEY
    assert search_key(OTHER_SECRET) != KEY
    assert search_key(SECRET) == KEY


def test_search_key_known_answer() -> None:
    expected = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=b"", info=CODE_PEPPER + b"cove/search/v1"
    ).derive(SECRET)
    assert search_key(SECRET) == expected


@pytest.mark.parametrize("bad", [b"", bytes(31), bytes(33)])
def test_search_key_refuses_wrong_length(bad: bytes) -> None:
    with pytest.raises(CryptoError):
        search_key(bad)


def test_term_token_refuses_wrong_key_length() -> None:
    with pytest.raises(CryptoError):
        term_token(bytes(16), "body", "x")
    with pytest.raises(CryptoError):
        document_tokens(bytes(16), "body", "x")


def test_term_token_known_answer() -> None:
    # Written out independently: label, then each part as 4-byte big-endian length + bytes.
    field, term = "body", "łodz"
    message = b"cove/search/token/v1"
    for part in (field.encode(), term.encode()):
        message += struct.pack(">I", len(part)) + part
    mac = hmac.HMAC(KEY, hashes.SHA256())
    mac.update(message)
    expected = mac.finalize()[:12]
    assert term_token(KEY, field, term) == expected
    # Pinned, so a change to the key derivation or the encoding cannot go unnoticed.
    assert expected.hex() == "08db25b01084906cbda227f2"


def test_token_length() -> None:
    assert len(tok("x")) == TOKEN_BYTES
    assert len(tok("")) == TOKEN_BYTES
    assert all(len(t) == TOKEN_BYTES for t in document_tokens(KEY, "body", "some report text"))


def test_tokens_are_deterministic() -> None:
    assert tok("report") == tok("report")
    assert document_tokens(KEY, "body", "a report") == document_tokens(KEY, "body", "a report")
    assert query_tokens(KEY, ["body"], "report") == query_tokens(KEY, ["body"], "report")


def test_field_separation() -> None:
    assert tok("x", "title") != tok("x", "body")
    assert document_tokens(KEY, "title", "report").isdisjoint(
        document_tokens(KEY, "body", "report")
    )


def test_field_and_term_cannot_be_confused() -> None:
    # Without length prefixes ("ab", "c") and ("a", "bc") would hash the same bytes.
    assert tok("c", "ab") != tok("bc", "a")


def test_key_separation() -> None:
    other = search_key(OTHER_SECRET)
    assert tok("report") != tok("report", key=other)
    assert document_tokens(KEY, "body", "report").isdisjoint(
        document_tokens(other, "body", "report")
    )


def test_term_separation() -> None:
    assert tok("report") != tok("reports")
    assert tok("a") != tok("b")


def test_tokens_hold_no_plaintext() -> None:
    term = "confidential"
    for token in document_tokens(KEY, "body", "the confidential report"):
        for word in ("confidential", "con", "report", "the", "rep"):
            assert word.encode() not in token
            assert word.encode().hex() not in token.hex()
    assert term.encode() not in tok(term)
    assert term.encode().hex() not in tok(term).hex()


@pytest.mark.parametrize("field", ["", "Body", "body1", "bo-dy", "body ", "b" * 33, "корпус"])
def test_bad_field_names_are_refused(field: str) -> None:
    with pytest.raises(CryptoError):
        term_token(KEY, field, "x")
    with pytest.raises(CryptoError):
        document_tokens(KEY, field, "x")
    with pytest.raises(CryptoError):
        query_tokens(KEY, [field], "x")


@pytest.mark.parametrize("field", ["b", "body", "title", "name", "description", "due_at", "z" * 32])
def test_good_field_names_are_accepted(field: str) -> None:
    assert len(term_token(KEY, field, "x")) == TOKEN_BYTES


# --- document tokens -----------------------------------------------------------------------


def test_document_tokens_include_prefixes() -> None:
    doc = document_tokens(KEY, "body", "report")
    for typed in ("rep", "repo", "repor", "report"):
        [[query]] = query_tokens(KEY, ["body"], typed)
        assert query in doc, typed
    [[too_short]] = query_tokens(KEY, ["body"], "re")
    [[too_long]] = query_tokens(KEY, ["body"], "reports")
    assert too_short not in doc
    assert too_long not in doc
    assert doc == {tok("rep"), tok("repo"), tok("repor"), tok("report")}


def test_document_tokens_without_prefixes() -> None:
    doc = document_tokens(KEY, "body", "report on Élève", prefix_min=None)
    assert doc == {tok("report"), tok("on"), tok("eleve")}
    assert tok("rep") not in doc


def test_short_words_get_only_their_own_token() -> None:
    assert document_tokens(KEY, "body", "on a go") == {tok("on"), tok("a"), tok("go")}
    assert document_tokens(KEY, "body", "abc") == {tok("abc")}


def test_custom_prefix_min() -> None:
    assert document_tokens(KEY, "body", "cat", prefix_min=1) == {tok("c"), tok("ca"), tok("cat")}
    assert document_tokens(KEY, "body", "report", prefix_min=5) == {tok("repor"), tok("report")}
    assert document_tokens(KEY, "body", "cat", prefix_min=10) == {tok("cat")}


@pytest.mark.parametrize("bad", [0, -1])
def test_prefix_min_must_be_positive(bad: int) -> None:
    with pytest.raises(CryptoError):
        document_tokens(KEY, "body", "report", prefix_min=bad)


def test_document_tokens_are_deduplicated() -> None:
    doc = document_tokens(KEY, "body", "report reports Report", prefix_min=None)
    assert doc == {tok("report"), tok("reports")}
    with_prefixes = document_tokens(KEY, "body", "report reports")
    assert len(with_prefixes) == 5  # rep repo repor report reports


def test_document_tokens_of_empty_text() -> None:
    assert document_tokens(KEY, "body", "") == set()
    assert document_tokens(KEY, "body", "!!! 🎉") == set()


def test_document_tokens_normalise_before_hashing() -> None:
    assert document_tokens(KEY, "body", "ÉLÈVE") == document_tokens(KEY, "body", "eleve")
    [[query]] = query_tokens(KEY, ["body"], "Élè")
    assert query in document_tokens(KEY, "body", "les élèves")


def test_document_tokens_agree_with_term_token_for_non_ascii() -> None:
    doc = document_tokens(KEY, "body", "łódź 東京", prefix_min=None)
    assert doc == {tok("łodz"), tok("東京")}


# --- query tokens --------------------------------------------------------------------------


def test_query_tokens_one_group_per_word_one_token_per_field() -> None:
    groups = query_tokens(KEY, ["title", "body"], "Quarterly report")
    assert groups == [
        [tok("quarterly", "title"), tok("quarterly", "body")],
        [tok("report", "title"), tok("report", "body")],
    ]


def test_query_tokens_deduplicate_words_and_fields() -> None:
    groups = query_tokens(KEY, ["body", "body"], "report Report rêport budget report")
    assert groups == [[tok("report")], [tok("budget")]]


def test_query_matches_any_field() -> None:
    title = document_tokens(KEY, "title", "Budget")
    body = document_tokens(KEY, "body", "the quarterly report")
    indexed = title | body
    groups = query_tokens(KEY, ["title", "body"], "budg quarter")
    assert all(any(t in indexed for t in group) for group in groups)
    missing = query_tokens(KEY, ["title", "body"], "invoice")
    assert not any(t in indexed for t in missing[0])


def test_empty_query_gives_no_groups() -> None:
    assert query_tokens(KEY, ["body"], "") == []
    assert query_tokens(KEY, ["body"], "  ,;!? 🎉 ") == []


def test_query_word_cap() -> None:
    eight = " ".join(f"w{i}" for i in range(MAX_QUERY_WORDS))
    assert len(query_tokens(KEY, ["body"], eight)) == MAX_QUERY_WORDS
    with pytest.raises(ValueError, match="at most 8"):
        query_tokens(KEY, ["body"], eight + " extra")


def test_query_word_cap_counts_distinct_words() -> None:
    assert len(query_tokens(KEY, ["body"], "same " * 20)) == 1


def test_query_word_cap_error_is_not_a_crypto_error() -> None:
    with pytest.raises(ValueError) as info:
        query_tokens(KEY, ["body"], "a b c d e f g h i")
    assert not isinstance(info.value, CryptoError)


def test_query_tokens_need_fields() -> None:
    with pytest.raises(CryptoError):
        query_tokens(KEY, [], "report")
    with pytest.raises(CryptoError):
        query_tokens(KEY, "body", "report")  # a bare string is not a list of fields


def test_mark_cache_stays_bounded() -> None:
    from crypto import search

    many = "".join(chr(0x4E00 + i) for i in range(search._MARK_CACHE_MAX + 1000))
    assert normalize(many) == many  # CJK ideographs: no marks, nothing to fold
    assert len(search._DROP_MARKS) <= search._MARK_CACHE_MAX
