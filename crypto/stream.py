"""Streaming AEAD for file content: AES-256-GCM in fixed-size segments (the STREAM construction).

A stored object is a header followed by its segments back to back:

    header  = format byte (STREAM_FORMAT_V1) | 7-byte random nonce prefix
    segment = AES-256-GCM(content key, nonce_i, plaintext_i, aad=header)   (ciphertext | tag)
    nonce_i = nonce prefix | u32 big-endian segment index i | last flag (0x01 last, 0x00 not)

Every segment but the last carries exactly SEGMENT_BYTES of plaintext; the last carries
1..SEGMENT_BYTES, or 0 for an empty file (which is one empty last segment). Because each nonce
binds the segment's index and whether it is the last one, segments cannot be reordered,
dropped, duplicated or truncated away without a SealError, and each segment can be verified
and decrypted on its own, which is what Range reads need.

The content key is unique to one version of one file (see `content_key`), and the random
nonce prefix keeps two encryptions under the same key apart.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterable, Iterator
from typing import Final

from crypto import _primitives as p
from crypto.constants import CODE_PEPPER
from crypto.errors import CryptoError, SealError

BytesLike = bytes | bytearray | memoryview

STREAM_FORMAT_V1: Final[int] = 1
SEGMENT_BYTES: Final[int] = 64 * 1024
NONCE_PREFIX_BYTES: Final[int] = 7
HEADER_BYTES: Final[int] = 1 + NONCE_PREFIX_BYTES
MAX_SEGMENTS: Final[int] = p.MAX_U32  # indexes 0 .. 2**32 - 2

_FORMAT = bytes([STREAM_FORMAT_V1])
_SEALED_SEGMENT_BYTES = SEGMENT_BYTES + p.TAG_BYTES
_MIN_SALT_BYTES = 16
_NOT_LAST = b"\x00"
_LAST = b"\x01"


def new_file_key() -> bytes:
    """Return a fresh random 256-bit file key."""
    return secrets.token_bytes(p.KEY_BYTES)


def content_key(file_key: bytes, install_salt: bytes, file_id: str, version_id: str) -> bytes:
    """Derive the key that encrypts one version of one file from its three parts.

    HKDF-SHA256 over the file key, salted with the install salt, bound to the file id and
    version: a stolen file key alone, or content moved to another file or version, opens nothing.
    """
    if len(file_key) != p.KEY_BYTES:
        raise CryptoError(f"file key must be {p.KEY_BYTES} bytes")
    if len(install_salt) < _MIN_SALT_BYTES:
        raise CryptoError(f"install salt must be at least {_MIN_SALT_BYTES} bytes")
    if not file_id or not version_id:
        raise CryptoError("content key needs a file id and a version id")
    info = p.length_prefixed(CODE_PEPPER + b"cove/file/v1", file_id.encode(), version_id.encode())
    return p.hkdf_sha256(file_key, install_salt, info)


# --- size arithmetic ------------------------------------------------------------------------


def segment_count(plaintext_size: int) -> int:
    """Number of segments for a plaintext of this size (at least 1: an empty file has one)."""
    if plaintext_size < 0:
        raise CryptoError("plaintext size cannot be negative")
    count = max(1, -(-plaintext_size // SEGMENT_BYTES))
    if count > MAX_SEGMENTS:
        raise CryptoError(f"a stream holds at most {MAX_SEGMENTS} segments")
    return count


def ciphertext_size(plaintext_size: int) -> int:
    """Size of the stored object: header plus every segment with its tag."""
    return HEADER_BYTES + plaintext_size + segment_count(plaintext_size) * p.TAG_BYTES


def segment_span(index: int, plaintext_size: int) -> tuple[int, int]:
    """Ciphertext (offset, length) of segment `index` within the stored object, tag included."""
    count = segment_count(plaintext_size)
    if not 0 <= index < count:
        raise CryptoError(f"segment {index} is outside 0..{count - 1}")
    offset = HEADER_BYTES + index * _SEALED_SEGMENT_BYTES
    if index < count - 1:
        return offset, _SEALED_SEGMENT_BYTES
    return offset, plaintext_size - index * SEGMENT_BYTES + p.TAG_BYTES


def segments_for_range(start: int, end_inclusive: int, plaintext_size: int) -> tuple[int, int]:
    """First and last segment index holding plaintext bytes start..end_inclusive.

    Segment i holds plaintext bytes i * SEGMENT_BYTES onwards, so after decrypting segments
    first..last the wanted bytes begin at start - first * SEGMENT_BYTES.
    """
    if not 0 <= start <= end_inclusive < plaintext_size:
        raise CryptoError(f"range {start}-{end_inclusive} is outside a {plaintext_size}-byte file")
    segment_count(plaintext_size)
    return start // SEGMENT_BYTES, end_inclusive // SEGMENT_BYTES


# --- per-segment primitives -----------------------------------------------------------------


def parse_header(data: BytesLike) -> bytes:
    """Return the stream header at the start of `data`, refusing a short or unknown one."""
    if len(data) < HEADER_BYTES:
        raise SealError("stream header is too short")
    header = bytes(data[:HEADER_BYTES])
    if header[:1] != _FORMAT:
        raise SealError(f"unknown stream format {header[0]}")
    return header


def _check_key(key: bytes) -> None:
    if len(key) != p.KEY_BYTES:
        raise CryptoError(f"content key must be {p.KEY_BYTES} bytes")


def _nonce(header: bytes, index: int, last: bool) -> bytes:
    # A segment that is not the last has another after it, which also needs an index.
    if not 0 <= index < (MAX_SEGMENTS if last else MAX_SEGMENTS - 1):
        raise CryptoError(f"a stream holds at most {MAX_SEGMENTS} segments")
    return header[1:] + p.u32(index) + (_LAST if last else _NOT_LAST)


def decrypt_segment(
    key: bytes, header: bytes, index: int, segment_ciphertext: BytesLike, last: bool
) -> bytes:
    """Verify and decrypt segment `index`; any tamper, wrong index or wrong last flag fails.

    `last` must say whether this is the final segment of the whole object (not of a range).
    """
    _check_key(key)
    if len(header) != HEADER_BYTES:
        raise SealError("stream header has the wrong length")
    header = parse_header(header)
    size = len(segment_ciphertext)
    if size != _SEALED_SEGMENT_BYTES and not (last and p.TAG_BYTES <= size < _SEALED_SEGMENT_BYTES):
        raise SealError(f"segment {index} has the wrong length")
    nonce = _nonce(header, index, last)
    return p.gcm_decrypt(key, nonce, bytes(segment_ciphertext), header)


# --- encryption -----------------------------------------------------------------------------


class StreamEncryptor:
    """Encrypt one file as a stream: write `header`, then every `push` result, then `finish`.

    Holds at most one segment of plaintext however the input is chunked; a full segment is
    sealed only once more plaintext arrives, since until then it may turn out to be the last.
    """

    def __init__(self, key: bytes) -> None:
        _check_key(key)
        self._key = key
        self._header = _FORMAT + os.urandom(NONCE_PREFIX_BYTES)
        self._buf = bytearray()  # pending plaintext, 0..SEGMENT_BYTES bytes
        self._index = 0
        self._finished = False

    @property
    def header(self) -> bytes:
        """The object header, to store before the first segment."""
        return self._header

    @property
    def buffered(self) -> int:
        """Plaintext bytes held back, not yet sealed (never more than SEGMENT_BYTES)."""
        return len(self._buf)

    def push(self, data: BytesLike) -> list[bytes]:
        """Take more plaintext; return the segments it completed, in order (maybe none)."""
        if self._finished:
            raise CryptoError("stream is already finished")
        out: list[bytes] = []
        buf = self._buf
        with memoryview(data).cast("B") as view:
            pos, end = 0, len(view)
            while pos < end:
                if len(buf) == SEGMENT_BYTES:  # more plaintext follows, so it is not the last
                    out.append(self._seal(bytes(buf), last=False))
                    buf.clear()
                if not buf and end - pos > SEGMENT_BYTES:
                    # A whole segment straight from the input, with more input behind it.
                    out.append(self._seal(bytes(view[pos : pos + SEGMENT_BYTES]), last=False))
                    pos += SEGMENT_BYTES
                    continue
                take = min(SEGMENT_BYTES - len(buf), end - pos)
                buf += view[pos : pos + take]
                pos += take
        return out

    def finish(self) -> bytes:
        """Seal what is left as the last segment; the stream takes nothing after this."""
        if self._finished:
            raise CryptoError("stream is already finished")
        self._finished = True
        last = self._seal(bytes(self._buf), last=True)
        self._buf = bytearray()
        return last

    def _seal(self, plaintext: bytes, last: bool) -> bytes:
        nonce = _nonce(self._header, self._index, last)
        self._index += 1
        return p.gcm_encrypt(self._key, nonce, plaintext, self._header)


# --- decryption -----------------------------------------------------------------------------


class SegmentReader:
    """Verify and decrypt consecutive segments first..last of one object, fed in any chunks.

    Feed it the ciphertext of those segments only (no header: pass that, from `parse_header`,
    to the constructor); for a whole object use `decrypt_object`. Each segment's plaintext is
    returned only once it authenticates. Bytes beyond segment `last` fail at once; a stream
    that stops early fails at `close`, which must be called once the input ends. Knowing the
    plaintext size tells the reader which segment is the object's last, so a wrong size fails
    too. After any failure the reader refuses further use.
    """

    def __init__(
        self,
        key: bytes,
        header: bytes,
        plaintext_size: int,
        first: int = 0,
        last: int | None = None,
    ) -> None:
        _check_key(key)
        if len(header) != HEADER_BYTES:
            raise SealError("stream header has the wrong length")
        self._key = key
        self._header = parse_header(header)
        self._size = plaintext_size
        self._final = segment_count(plaintext_size) - 1  # index of the object's last segment
        self._last = self._final if last is None else last
        if not 0 <= first <= self._last <= self._final:
            raise CryptoError(f"segments {first}..{self._last} are outside 0..{self._final}")
        self._index = first
        self._buf = bytearray()
        self._failed = False

    @property
    def done(self) -> bool:
        """Whether every wanted segment has been verified and returned."""
        return self._index > self._last

    def feed(self, chunk: BytesLike) -> list[bytes]:
        """Take more ciphertext; return the plaintext of each segment it completed, verified."""
        self._check_usable()
        out: list[bytes] = []
        buf = self._buf
        try:
            with memoryview(chunk).cast("B") as view:
                pos, end = 0, len(view)
                while pos < end:
                    if self._index > self._last:
                        raise SealError("ciphertext continues past the last segment")
                    need = self._sealed_length(self._index)
                    if not buf and end - pos >= need:
                        out.append(self._open(bytes(view[pos : pos + need])))
                        pos += need
                        continue
                    take = min(need - len(buf), end - pos)
                    buf += view[pos : pos + take]
                    pos += take
                    if len(buf) == need:
                        out.append(self._open(bytes(buf)))
                        buf.clear()
        except CryptoError:
            self._failed = True
            raise
        return out

    def close(self) -> None:
        """Declare the input ended; fails if any wanted segment is missing or incomplete."""
        self._check_usable()
        if not self.done:
            self._failed = True
            raise SealError(f"stream ends before segment {self._index} is complete")

    def _check_usable(self) -> None:
        if self._failed:
            raise SealError("stream already failed to authenticate")

    def _sealed_length(self, index: int) -> int:
        if index < self._final:
            return _SEALED_SEGMENT_BYTES
        return self._size - index * SEGMENT_BYTES + p.TAG_BYTES

    def _open(self, sealed: bytes) -> bytes:
        last = self._index == self._final
        nonce = _nonce(self._header, self._index, last)
        plaintext = p.gcm_decrypt(self._key, nonce, sealed, self._header)
        self._index += 1
        return plaintext


def decrypt_object(key: bytes, chunks: Iterable[BytesLike], plaintext_size: int) -> Iterator[bytes]:
    """Yield the plaintext of a whole stored object (header included), one segment at a time.

    Every yielded segment has been verified, but truncation is only detected when the input
    ends: a SealError raised after some segments were yielded means the object is incomplete.
    """
    head = bytearray()
    reader: SegmentReader | None = None
    for chunk in chunks:
        # The view is released before yielding, so the caller may reuse its buffer meanwhile.
        with memoryview(chunk).cast("B") as view:
            skip = 0
            if reader is None:
                skip = HEADER_BYTES - len(head)
                head += view[:skip]
                if len(head) < HEADER_BYTES:
                    continue
                reader = SegmentReader(key, parse_header(head), plaintext_size)
            plaintexts = reader.feed(view[skip:])
        yield from plaintexts
    if reader is None:
        raise SealError("stream header is too short")
    reader.close()
