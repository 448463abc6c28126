"""Exceptions raised by Cove's cryptography."""

from __future__ import annotations


class CryptoError(Exception):
    """Base class for every refusal or misuse inside `crypto`."""


class SealError(CryptoError):
    """A sealed value or wrapped key could not be opened (tamper, wrong key, data or grant)."""


class GrantError(SealError):
    """A value was offered to open with a grant that does not cover it: a bug in the caller,
    not damage to the value (a subclass, so callers that refuse any SealError still do)."""


class KeyFileError(CryptoError):
    """A key or secret source is missing, unsafe or malformed; the message names the source."""
