"""Exceptions raised by Cove's cryptography."""

from __future__ import annotations


class CryptoError(Exception):
    """Base class for every refusal or misuse inside `crypto`."""


class SealError(CryptoError):
    """A sealed value or wrapped key could not be opened (tamper, wrong key, data or grant)."""


class KeyFileError(CryptoError):
    """A key or secret source is missing, unsafe or malformed; the message names the source."""
