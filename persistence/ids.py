"""Time-ordered ids: 48 bits of Unix milliseconds, then 80 random bits.

Rendered as 26 lowercase Crockford base32 characters (the ULID layout), so sorting ids
as strings sorts them by creation time; ids made in the same millisecond sort randomly.
"""

from __future__ import annotations

import secrets
import time
from datetime import datetime

from persistence.timestamps import from_millis, to_millis

ID_LENGTH = 26
_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
_DIGITS = {char: value for value, char in enumerate(_ALPHABET)}
_RANDOM_BITS = 80
_TIME_LIMIT = 1 << 48


def new_id(*, at: datetime | None = None) -> str:
    """A fresh id for now, or for the aware datetime `at` (for backfills and tests)."""
    millis = time.time_ns() // 1_000_000 if at is None else to_millis(at)
    if not 0 <= millis < _TIME_LIMIT:
        raise ValueError(f"{millis} ms since the epoch does not fit an id's 48 time bits")
    value = millis << _RANDOM_BITS | secrets.randbits(_RANDOM_BITS)
    chars = []
    for _ in range(ID_LENGTH):
        chars.append(_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def first_id_at(at: datetime) -> str:
    """The smallest id of the millisecond `at`: a bound for scanning ids by time."""
    millis = to_millis(at)
    if not 0 <= millis < _TIME_LIMIT:
        raise ValueError(f"{millis} ms since the epoch does not fit an id's 48 time bits")
    value = millis << _RANDOM_BITS
    chars = []
    for _ in range(ID_LENGTH):
        chars.append(_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def id_time(value: str, /) -> datetime:
    """The UTC millisecond an id was made at; ValueError for anything not such an id."""
    # 26 characters carry 130 bits, so the first must leave the top two bits clear.
    if len(value) != ID_LENGTH or value[0] > "7":
        raise ValueError(f"{value!r} is not an id")
    number = 0
    for char in value:
        digit = _DIGITS.get(char)
        if digit is None:
            raise ValueError(f"{value!r} is not an id")
        number = number << 5 | digit
    return from_millis(number >> _RANDOM_BITS)
