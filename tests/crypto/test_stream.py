from __future__ import annotations

import os
import random

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from crypto import stream as stream_module
from crypto.constants import CODE_PEPPER
from crypto.errors import CryptoError, SealError
from crypto.stream import (
    HEADER_BYTES,
    MAX_SEGMENTS,
    SEGMENT_BYTES,
    STREAM_FORMAT_V1,
    SegmentReader,
    StreamEncryptor,
    ciphertext_size,
    content_key,
    decrypt_object,
    decrypt_segment,
    new_file_key,
    parse_header,
    segment_count,
    segment_span,
    segments_for_range,
)

SEG = SEGMENT_BYTES
TAG = 16
FILE_KEY = bytes(range(32))
SALT = bytes(range(32, 64))
KEY = content_key(FILE_KEY, SALT, "file-1", "v1")
SIZES = [0, 1, SEG - 1, SEG, SEG + 1, 2 * SEG, 3 * SEG, 3 * SEG + 17]


def encrypt(
    plaintext: bytes, key: bytes = KEY, rng: random.Random | None = None
) -> tuple[bytes, list[bytes]]:
    """Encrypt in random chunk sizes (one push when rng is None); return header and segments."""
    enc = StreamEncryptor(key)
    segments: list[bytes] = []
    if rng is None:
        segments += enc.push(plaintext)
    else:
        pos = 0
        while pos < len(plaintext):
            step = rng.choice([0, 1, 7, SEG - 1, SEG, SEG + 1, rng.randrange(1, 3 * SEG)])
            segments += enc.push(plaintext[pos : pos + step])
            pos += step
    segments.append(enc.finish())
    return enc.header, segments


def chunked(data: bytes, rng: random.Random) -> list[bytes]:
    """Split `data` into random pieces, as a blob store might deliver it."""
    pieces, pos = [], 0
    while pos < len(data):
        step = rng.choice([1, 5, TAG, SEG, SEG + TAG, rng.randrange(1, 2 * SEG)])
        pieces.append(data[pos : pos + step])
        pos += step
    return pieces


def read_all(header: bytes, body: bytes, size: int, key: bytes = KEY, **span: int) -> bytes:
    """Run body (segments only) through a SegmentReader in one feed, then close it."""
    reader = SegmentReader(key, header, size, **span)
    plaintext = b"".join(reader.feed(body))
    reader.close()
    return plaintext


# --- content key ----------------------------------------------------------------------------


def test_content_key_is_hkdf_over_the_three_parts() -> None:
    info = CODE_PEPPER + b"cove/file/v1" + b"\x00\x00\x00\x06file-1" + b"\x00\x00\x00\x02v1"
    expected = HKDF(algorithm=hashes.SHA256(), length=32, salt=SALT, info=info).derive(FILE_KEY)
    assert expected == KEY


@pytest.mark.parametrize(
    "other",
    [
        pytest.param((bytes(range(1, 33)), SALT, "file-1", "v1"), id="file-key"),
        pytest.param((FILE_KEY, bytes(range(33, 65)), "file-1", "v1"), id="install-salt"),
        pytest.param((FILE_KEY, SALT, "file-2", "v1"), id="file-id"),
        pytest.param((FILE_KEY, SALT, "file-1", "v2"), id="version"),
    ],
)
def test_each_part_of_the_content_key_matters(other: tuple[bytes, bytes, str, str]) -> None:
    other_key = content_key(*other)
    assert other_key != KEY
    header, segments = encrypt(b"secret file body")
    with pytest.raises(SealError):
        decrypt_segment(other_key, header, 0, segments[0], last=True)
    assert decrypt_segment(KEY, header, 0, segments[0], last=True) == b"secret file body"


def test_content_key_refuses_bad_inputs() -> None:
    for bad_key in (b"", bytes(16), bytes(31), bytes(33)):
        with pytest.raises(CryptoError):
            content_key(bad_key, SALT, "file-1", "v1")
    with pytest.raises(CryptoError):
        content_key(FILE_KEY, b"", "file-1", "v1")
    with pytest.raises(CryptoError):
        content_key(FILE_KEY, SALT, "", "v1")
    with pytest.raises(CryptoError):
        content_key(FILE_KEY, SALT, "file-1", "")


def test_the_code_pepper_is_the_third_part_of_the_content_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    header, segments = encrypt(b"secret file body")
    monkeypatch.setattr(stream_module, "CODE_PEPPER", bytes(32))
    other_key = content_key(FILE_KEY, SALT, "file-1", "v1")
    assert other_key != KEY
    with pytest.raises(SealError):
        decrypt_segment(other_key, header, 0, segments[0], last=True)


def test_new_file_key_is_random_32_bytes() -> None:
    first, second = new_file_key(), new_file_key()
    assert len(first) == len(second) == 32
    assert first != second


# --- layout and round trips -----------------------------------------------------------------


def test_known_layout_checked_with_aesgcm_directly() -> None:
    plaintext = os.urandom(2 * SEG + 100)
    header, segments = encrypt(plaintext)
    assert len(header) == HEADER_BYTES == 8
    assert header[0] == STREAM_FORMAT_V1 == 1
    aead = AESGCM(KEY)
    pieces = [plaintext[:SEG], plaintext[SEG : 2 * SEG], plaintext[2 * SEG :]]
    for i, (piece, segment) in enumerate(zip(pieces, segments, strict=True)):
        flag = b"\x01" if i == 2 else b"\x00"
        nonce = header[1:] + i.to_bytes(4, "big") + flag
        assert segment == aead.encrypt(nonce, piece, header)


@pytest.mark.parametrize("size", SIZES)
def test_round_trip_in_random_chunks(size: int) -> None:
    rng = random.Random(size)
    plaintext = rng.randbytes(size)
    header, segments = encrypt(plaintext, rng=rng)
    obj = header + b"".join(segments)
    assert len(obj) == ciphertext_size(size)
    assert len(segments) == segment_count(size)
    for i, segment in enumerate(segments):
        offset, length = segment_span(i, size)
        assert obj[offset : offset + length] == segment
    assert b"".join(decrypt_object(KEY, chunked(obj, rng), size)) == plaintext
    last = len(segments) - 1
    opened = [decrypt_segment(KEY, header, i, s, i == last) for i, s in enumerate(segments)]
    assert b"".join(opened) == plaintext


def test_round_trip_random_sizes() -> None:
    rng = random.Random(7)
    for _ in range(25):
        size = rng.randrange(0, 6 * SEG)
        plaintext = rng.randbytes(size)
        header, segments = encrypt(plaintext, rng=rng)
        obj = header + b"".join(segments)
        assert len(obj) == ciphertext_size(size)
        assert b"".join(decrypt_object(KEY, chunked(obj, rng), size)) == plaintext


def test_push_accepts_bytearray_and_memoryview() -> None:
    plaintext = os.urandom(SEG + 5)
    enc = StreamEncryptor(KEY)
    segments = enc.push(bytearray(plaintext[:10])) + enc.push(memoryview(plaintext)[10:])
    segments.append(enc.finish())
    assert read_all(enc.header, b"".join(segments), len(plaintext)) == plaintext


def test_empty_file_is_one_empty_last_segment() -> None:
    header, segments = encrypt(b"")
    assert len(segments) == 1
    assert len(segments[0]) == TAG
    assert ciphertext_size(0) == HEADER_BYTES + TAG
    assert decrypt_segment(KEY, header, 0, segments[0], last=True) == b""
    with pytest.raises(SealError):
        decrypt_segment(KEY, header, 0, segments[0], last=False)


def test_full_segment_is_held_until_more_plaintext_arrives() -> None:
    enc = StreamEncryptor(KEY)
    assert enc.push(os.urandom(SEG)) == []  # it may yet be the last segment
    assert enc.buffered == SEG
    emitted = enc.push(b"x")
    assert [len(s) for s in emitted] == [SEG + TAG]
    assert decrypt_segment(KEY, enc.header, 0, emitted[0], last=False)
    assert decrypt_segment(KEY, enc.header, 1, enc.finish(), last=True) == b"x"


def test_exact_multiple_ends_with_full_last_segment() -> None:
    header, segments = encrypt(os.urandom(2 * SEG))
    assert [len(s) for s in segments] == [SEG + TAG, SEG + TAG]
    assert len(decrypt_segment(KEY, header, 1, segments[1], last=True)) == SEG


def test_buffer_stays_bounded_and_segments_flow_out() -> None:
    enc = StreamEncryptor(KEY)
    chunk = os.urandom(1 << 20)
    emitted = 0
    for n in range(1, 11):
        emitted += len(enc.push(chunk))
        assert enc.buffered < 2 * SEG
        # Every full segment that is surely not the last has been handed out already.
        assert emitted == (n << 20) // SEG - 1
    assert len(enc.finish()) == SEG + TAG


def test_buffer_stays_bounded_with_small_chunks() -> None:
    enc = StreamEncryptor(KEY)
    chunk = os.urandom(1000)
    for _ in range(1000):
        enc.push(chunk)
        assert enc.buffered <= SEG


def test_finish_once_and_no_push_after() -> None:
    enc = StreamEncryptor(KEY)
    enc.push(b"abc")
    enc.finish()
    with pytest.raises(CryptoError):
        enc.push(b"more")
    with pytest.raises(CryptoError):
        enc.finish()


def test_encryptor_refuses_a_bad_key() -> None:
    for bad in (b"", bytes(16), bytes(33)):
        with pytest.raises(CryptoError):
            StreamEncryptor(bad)


def test_nonce_prefix_differs_between_encryptions() -> None:
    plaintext = os.urandom(SEG + 1)
    header_a, segments_a = encrypt(plaintext)
    header_b, segments_b = encrypt(plaintext)
    assert header_a != header_b
    assert header_a[0] == header_b[0] == STREAM_FORMAT_V1
    assert segments_a[0] != segments_b[0]


def test_refuses_more_than_max_segments() -> None:
    assert MAX_SEGMENTS == 2**32 - 1
    assert segment_count(MAX_SEGMENTS * SEG) == MAX_SEGMENTS
    with pytest.raises(CryptoError):
        segment_count(MAX_SEGMENTS * SEG + 1)
    with pytest.raises(CryptoError):
        decrypt_segment(KEY, bytes([1]) + bytes(7), MAX_SEGMENTS, bytes(TAG), last=True)
    enc = StreamEncryptor(KEY)
    enc._index = MAX_SEGMENTS - 1  # the last index allowed; no test can push 256 TiB
    enc.push(os.urandom(SEG))
    with pytest.raises(CryptoError):
        enc.push(b"one segment too many")
    enc = StreamEncryptor(KEY)
    enc._index = MAX_SEGMENTS - 1
    enc.push(os.urandom(SEG))
    assert len(enc.finish()) == SEG + TAG  # segment 2**32 - 2 may be the last one


# --- tamper ---------------------------------------------------------------------------------


def test_flipped_byte_fails_that_segment_only() -> None:
    rng = random.Random(3)
    plaintext = rng.randbytes(4 * SEG + 9)
    header, segments = encrypt(plaintext)
    last = len(segments) - 1
    for k in range(len(segments)):
        bad = bytearray(segments[k])
        bad[rng.randrange(len(bad))] ^= 0x01
        with pytest.raises(SealError):
            decrypt_segment(KEY, header, k, bytes(bad), last=k == last)
        for j in range(k):
            opened = decrypt_segment(KEY, header, j, segments[j], last=j == last)
            assert opened == plaintext[j * SEG : (j + 1) * SEG]
        # Fed one segment at a time, a reader releases segments 0..k-1, then fails.
        reader = SegmentReader(KEY, header, len(plaintext))
        for j in range(k):
            assert reader.feed(segments[j]) == [plaintext[j * SEG : (j + 1) * SEG]]
        with pytest.raises(SealError):
            reader.feed(bad)
        # Read whole in random chunks, only a verified prefix is ever released.
        tampered = header + b"".join(segments[:k]) + bytes(bad) + b"".join(segments[k + 1 :])
        released: list[bytes] = []
        with pytest.raises(SealError):
            released.extend(decrypt_object(KEY, chunked(tampered, rng), len(plaintext)))
        assert len(released) <= k
        assert released == [plaintext[j * SEG : (j + 1) * SEG] for j in range(len(released))]


def test_dropping_the_last_segment_is_detected() -> None:
    plaintext = os.urandom(3 * SEG + 5)
    header, segments = encrypt(plaintext)
    body = b"".join(segments[:-1])
    with pytest.raises(SealError):
        read_all(header, body, len(plaintext))
    # Also when the stored size is rewritten to match: segment 2 was not sealed as last.
    with pytest.raises(SealError):
        read_all(header, body, 3 * SEG)
    with pytest.raises(SealError):
        decrypt_segment(KEY, header, 2, segments[2], last=True)


def test_cut_mid_segment_is_detected() -> None:
    plaintext = os.urandom(2 * SEG + 50)
    header, segments = encrypt(plaintext)
    obj = header + b"".join(segments)
    for cut in (len(obj) - 1, len(obj) - TAG, HEADER_BYTES + SEG + TAG + 10, HEADER_BYTES + 3):
        with pytest.raises(SealError):
            list(decrypt_object(KEY, [obj[:cut]], len(plaintext)))
    for cut in (0, HEADER_BYTES - 1):
        with pytest.raises(SealError):
            list(decrypt_object(KEY, [obj[:cut]], len(plaintext)))


def test_extra_bytes_are_detected() -> None:
    plaintext = os.urandom(SEG + 50)
    header, segments = encrypt(plaintext)
    obj = header + b"".join(segments)
    with pytest.raises(SealError):
        list(decrypt_object(KEY, [obj, b"\x00"], len(plaintext)))
    with pytest.raises(SealError):
        read_all(header, b"".join(segments) + segments[-1], len(plaintext))


def test_wrong_plaintext_size_is_detected() -> None:
    plaintext = os.urandom(2 * SEG + 50)
    header, segments = encrypt(plaintext)
    obj = header + b"".join(segments)
    for size in (len(plaintext) - 1, len(plaintext) + 1, 2 * SEG, 3 * SEG, 0):
        with pytest.raises(SealError):
            list(decrypt_object(KEY, [obj], size))


def test_reordered_segments_are_detected() -> None:
    plaintext = os.urandom(3 * SEG + 5)
    header, segments = encrypt(plaintext)
    swapped = [segments[1], segments[0], *segments[2:]]
    with pytest.raises(SealError):
        read_all(header, b"".join(swapped), len(plaintext))
    with pytest.raises(SealError):
        decrypt_segment(KEY, header, 0, segments[1], last=False)
    duplicated = [segments[0], segments[0], *segments[2:]]
    with pytest.raises(SealError):
        read_all(header, b"".join(duplicated), len(plaintext))


def test_last_flag_is_authenticated() -> None:
    header, segments = encrypt(os.urandom(2 * SEG + 1))
    # A full-size segment that was not the last, presented as the last.
    with pytest.raises(SealError):
        decrypt_segment(KEY, header, 0, segments[0], last=True)
    with pytest.raises(SealError):
        decrypt_segment(KEY, header, 1, segments[1], last=True)
    # The real last segment, presented as not last.
    with pytest.raises(SealError):
        decrypt_segment(KEY, header, 2, segments[2], last=False)
    assert decrypt_segment(KEY, header, 1, segments[1], last=False)


def test_full_size_last_segment_needs_its_flag() -> None:
    header, segments = encrypt(os.urandom(2 * SEG))
    with pytest.raises(SealError):
        decrypt_segment(KEY, header, 1, segments[1], last=False)
    with pytest.raises(SealError):
        decrypt_segment(KEY, header, 0, segments[0], last=True)


def test_header_tamper_is_detected() -> None:
    plaintext = os.urandom(SEG + 1)
    header, segments = encrypt(plaintext)
    for i in range(1, HEADER_BYTES):
        bad = bytearray(header)
        bad[i] ^= 0x80
        with pytest.raises(SealError):
            decrypt_segment(KEY, bytes(bad), 0, segments[0], last=False)
        with pytest.raises(SealError):
            list(decrypt_object(KEY, [bytes(bad) + b"".join(segments)], len(plaintext)))
    with pytest.raises(SealError):
        decrypt_segment(KEY, b"\x02" + header[1:], 0, segments[0], last=False)


def test_parse_header() -> None:
    header, segments = encrypt(b"abc")
    assert parse_header(header) == header
    assert parse_header(header + segments[0]) == header
    for bad in (b"", header[:-1], b"\x00" + header[1:], b"\x02" + header[1:]):
        with pytest.raises(SealError):
            parse_header(bad)
    with pytest.raises(SealError):
        decrypt_segment(KEY, header + b"\x00", 0, segments[0], last=True)


def test_segment_length_is_checked() -> None:
    header, segments = encrypt(os.urandom(2 * SEG))
    with pytest.raises(SealError):
        decrypt_segment(KEY, header, 0, segments[0][:-1], last=False)
    with pytest.raises(SealError):
        decrypt_segment(KEY, header, 1, segments[1][: TAG - 1], last=True)
    with pytest.raises(SealError):
        decrypt_segment(KEY, header, 1, segments[1] + b"\x00", last=True)


def test_reader_refuses_use_after_failure() -> None:
    plaintext = os.urandom(2 * SEG)
    header, segments = encrypt(plaintext)
    reader = SegmentReader(KEY, header, len(plaintext))
    with pytest.raises(SealError):
        reader.feed(segments[1])  # segment 1 offered as segment 0
    with pytest.raises(SealError):
        reader.feed(segments[0])
    with pytest.raises(SealError):
        reader.close()


# --- size arithmetic and ranges -------------------------------------------------------------


def test_size_arithmetic() -> None:
    assert [segment_count(n) for n in SIZES] == [1, 1, 1, 1, 2, 2, 3, 4]
    assert ciphertext_size(0) == 8 + 16
    assert ciphertext_size(SEG) == 8 + SEG + 16
    assert ciphertext_size(SEG + 1) == 8 + SEG + 1 + 32
    assert segment_span(0, 0) == (8, 16)
    assert segment_span(1, SEG + 1) == (8 + SEG + 16, 17)
    assert segment_span(1, 2 * SEG) == (8 + SEG + 16, SEG + 16)
    assert segments_for_range(0, 0, 1) == (0, 0)
    assert segments_for_range(SEG - 1, SEG, SEG + 1) == (0, 1)
    assert segments_for_range(SEG, 3 * SEG - 1, 3 * SEG) == (1, 2)
    for bad in ((0, 0, 0), (-1, 0, 10), (5, 4, 10), (0, 10, 10)):
        with pytest.raises(CryptoError):
            segments_for_range(*bad)
    for index, size in ((-1, 10), (1, 10), (2, SEG + 1), (0, -1)):
        with pytest.raises(CryptoError):
            segment_span(index, size)
    with pytest.raises(CryptoError):
        ciphertext_size(-1)


def test_ranges_of_random_objects() -> None:
    rng = random.Random(11)
    for _ in range(6):
        size = rng.randrange(1, 5 * SEG)
        plaintext = rng.randbytes(size)
        header, segments = encrypt(plaintext, rng=rng)
        obj = header + b"".join(segments)
        for _ in range(20):
            start = rng.randrange(size)
            end = rng.randrange(start, min(size, start + rng.choice([1, 100, SEG, 3 * SEG])))
            first, last = segments_for_range(start, end, size)
            begin = segment_span(first, size)[0]
            offset, length = segment_span(last, size)
            # Fetch only the header and the ciphertext of segments first..last.
            reader = SegmentReader(KEY, parse_header(obj[:HEADER_BYTES]), size, first, last)
            opened = b"".join(
                piece
                for chunk in chunked(obj[begin : offset + length], rng)
                for piece in reader.feed(chunk)
            )
            reader.close()
            skip = start - first * SEG
            assert opened[skip : skip + end - start + 1] == plaintext[start : end + 1]


def test_range_reader_knows_which_segment_is_last() -> None:
    plaintext = os.urandom(3 * SEG + 5)
    header, segments = encrypt(plaintext)
    # Segments 1..2 of a 4-segment object: neither is the object's last segment.
    assert (
        read_all(header, segments[1] + segments[2], len(plaintext), first=1, last=2)
        == (plaintext[SEG : 3 * SEG])
    )
    assert read_all(header, segments[3], len(plaintext), first=3) == plaintext[3 * SEG :]
    with pytest.raises(SealError):
        read_all(header, segments[1], len(plaintext), first=1, last=2)
    with pytest.raises(SealError):
        read_all(header, segments[2] + segments[1], len(plaintext), first=1, last=2)
    with pytest.raises(CryptoError):
        SegmentReader(KEY, header, len(plaintext), first=2, last=1)
    with pytest.raises(CryptoError):
        SegmentReader(KEY, header, len(plaintext), first=0, last=4)
