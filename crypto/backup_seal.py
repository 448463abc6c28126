"""Backup archives sealed to an operator's X25519 public key, so the server that writes them
cannot read them back.

HPKE (RFC 9180, base mode: DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-256-GCM) seals a
random 256-bit archive key to the recipient; the archive body is `crypto.stream`'s STREAM
construction (64 KiB AES-256-GCM segments whose nonces bind their index and a last flag) under
a key derived from the archive key and the whole prefix, so truncation, reordering and a prefix
moved to another body are all detected. Layout, version 1:

    prefix  = MAGIC (8 bytes) | version (1 byte) | HPKE enc + sealed archive key (80 bytes)
    body    = stream header (8 bytes) | segments (see crypto/stream.py)

The identity (the X25519 private key) lives offline; only its public key, written
`cove-backup-1:<base64>`, is configured on the server (`backup_recipient`).
"""

from __future__ import annotations

import base64
import binascii
import io
import secrets
from pathlib import Path
from typing import BinaryIO, Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hpke
from cryptography.hazmat.primitives.asymmetric import x25519

from crypto import _primitives as p
from crypto import stream
from crypto.errors import CryptoError, KeyFileError, SealError
from crypto.root_key import read_secret_file, write_secret_file

MAGIC: Final[bytes] = b"COVEBAK\x00"
ARCHIVE_VERSION: Final[int] = 1
PUBLIC_PREFIX: Final[str] = "cove-backup-1:"
_IDENTITY_TAG = b"cove/backup/identity/v1:"
_SUITE = hpke.Suite(hpke.KEM.X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM)
_INFO = b"cove/backup/v1"
_WRAPPED_BYTES = 32 + p.KEY_BYTES + p.TAG_BYTES  # X25519 enc, the key, the GCM tag
PREFIX_BYTES: Final[int] = len(MAGIC) + 1 + _WRAPPED_BYTES
_SEALED_SEGMENT = stream.SEGMENT_BYTES + p.TAG_BYTES


class ArchiveError(SealError):
    """An archive is not one, is of an unknown version, is not for this identity, or is
    damaged; the message says which, and where."""


class BackupRecipient:
    """The public key archives are sealed to."""

    def __init__(self, public_key: x25519.X25519PublicKey) -> None:
        self.public_key = public_key

    @classmethod
    def parse(cls, text: str) -> BackupRecipient:
        """Read a `cove-backup-1:<base64>` public key, refusing anything else."""
        text = text.strip()
        if not text.startswith(PUBLIC_PREFIX):
            raise CryptoError(f"a backup recipient starts with {PUBLIC_PREFIX!r}")
        try:
            raw = base64.b64decode(text[len(PUBLIC_PREFIX) :], validate=True)
            return cls(x25519.X25519PublicKey.from_public_bytes(raw))
        except (binascii.Error, ValueError):
            raise CryptoError("a backup recipient holds 32 bytes of base64") from None

    def __str__(self) -> str:
        return PUBLIC_PREFIX + base64.b64encode(self.public_key.public_bytes_raw()).decode()


class BackupIdentity:
    """The private key that opens archives; kept offline, in a 0600 file."""

    def __init__(self, private_key: x25519.X25519PrivateKey) -> None:
        self.private_key = private_key

    @classmethod
    def generate(cls) -> BackupIdentity:
        """A fresh identity."""
        return cls(x25519.X25519PrivateKey.generate())

    @classmethod
    def load(cls, path: Path) -> BackupIdentity:
        """Read an identity file (mode 0600 only), refusing any other key file."""
        raw = read_secret_file(path)
        if not raw.startswith(_IDENTITY_TAG) or len(raw) != len(_IDENTITY_TAG) + 32:
            raise KeyFileError(f"{path}: not a backup identity (`cove backup keygen` writes one)")
        return cls(x25519.X25519PrivateKey.from_private_bytes(raw[len(_IDENTITY_TAG) :]))

    def save(self, path: Path) -> None:
        """Write a new identity file (mode 0600); never overwrite one."""
        write_secret_file(path, _IDENTITY_TAG + self.private_key.private_bytes_raw())

    @property
    def recipient(self) -> BackupRecipient:
        """The public key to configure as `backup_recipient`."""
        return BackupRecipient(self.private_key.public_key())


def _stream_key(archive_key: bytes, prefix: bytes) -> bytes:
    return p.hkdf_sha256(archive_key, b"", p.length_prefixed(b"cove/backup/v1/stream", prefix))


class ArchiveWriter(io.RawIOBase):
    """A write-only file that seals what is written to it into `sink`; `finish` seals the
    last segment (without it the archive is incomplete and will not open)."""

    def __init__(self, sink: BinaryIO, recipient: BackupRecipient) -> None:
        super().__init__()
        archive_key = secrets.token_bytes(p.KEY_BYTES)
        wrapped = _SUITE.encrypt(archive_key, recipient.public_key, info=_INFO)
        prefix = MAGIC + bytes([ARCHIVE_VERSION]) + wrapped
        self._sink = sink
        self._encryptor = stream.StreamEncryptor(_stream_key(archive_key, prefix))
        sink.write(prefix + self._encryptor.header)

    def writable(self) -> bool:
        return True

    def write(self, data: stream.BytesLike) -> int:  # type: ignore[override]
        size = memoryview(data).nbytes
        for segment in self._encryptor.push(data):
            self._sink.write(segment)
        return size

    def finish(self) -> None:
        """Seal the last segment; the archive is complete once the sink is flushed."""
        self._sink.write(self._encryptor.finish())


class ArchiveReader(io.RawIOBase):
    """A read-only file of an archive's plaintext, every byte verified before it is returned.

    `size` is the archive's length in bytes, which says where its last segment is, so a
    truncated archive fails at its end. A failure raises ArchiveError naming the chunk (the
    64 KiB segment, counted from 0); `chunk` is the index of the next one to verify.
    """

    def __init__(self, source: BinaryIO, size: int, identity: BackupIdentity) -> None:
        super().__init__()
        prefix = source.read(PREFIX_BYTES)
        if len(prefix) < len(MAGIC) + 1 or prefix[: len(MAGIC)] != MAGIC:
            raise ArchiveError("not a Cove backup archive")
        if prefix[len(MAGIC)] != ARCHIVE_VERSION:
            raise ArchiveError(f"unknown archive version {prefix[len(MAGIC)]}")
        header = source.read(stream.HEADER_BYTES)
        if len(prefix) < PREFIX_BYTES or len(header) < stream.HEADER_BYTES:
            raise ArchiveError("archive truncated in its header")
        try:
            archive_key = _SUITE.decrypt(prefix[len(MAGIC) + 1 :], identity.private_key, _INFO)
        except (InvalidTag, ValueError):
            raise ArchiveError("archive is not sealed to this identity") from None
        body = size - PREFIX_BYTES - stream.HEADER_BYTES
        segments = -(-body // _SEALED_SEGMENT)
        plaintext = body - segments * p.TAG_BYTES
        if segments == 0 or body - (segments - 1) * _SEALED_SEGMENT < p.TAG_BYTES:
            raise ArchiveError(f"chunk {max(segments - 1, 0)}: archive truncated")
        self._source = source
        self._reader = stream.SegmentReader(
            _stream_key(archive_key, prefix), stream.parse_header(header), plaintext
        )
        self._pending = b""
        self._offset = 0
        self.chunk = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        while self._offset == len(self._pending):
            if self._reader.done:
                if self._source.read(1):
                    raise ArchiveError(f"chunk {self.chunk}: data after the last chunk")
                return 0
            self._pending, self._offset = self._next(), 0
        take = min(len(buffer), len(self._pending) - self._offset)
        buffer[:take] = self._pending[self._offset : self._offset + take]
        self._offset += take
        return take

    def _next(self) -> bytes:
        data = self._source.read(_SEALED_SEGMENT)
        try:
            if not data:
                self._reader.close()
            opened = self._reader.feed(data)
        except SealError:
            raise ArchiveError(
                f"chunk {self.chunk}: does not authenticate (tampered, truncated or not whole)"
            ) from None
        self.chunk += len(opened)
        return b"".join(opened)
