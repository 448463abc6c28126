"""Time-based one-time codes (RFC 6238, by pyotp) and the recovery codes that stand in for them.

Codes are six digits over 30-second steps; a code is taken for its own step or one either
side (clocks drift, people type slowly). Which step matched is returned, so the caller can
refuse a code whose step was used already.
"""

from __future__ import annotations

import hmac
import re
import secrets
import urllib.parse

import pyotp

STEP_SECONDS = 30
DIGITS = 6
WINDOW = 1  # steps either side of now
RECOVERY_CODES = 10
# 10 characters of a 32-letter alphabet: 50 bits, shown as two groups of five.
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
_RECOVERY = re.compile(r"[a-z0-9]{5}-[a-z0-9]{5}")
_CODE = re.compile(r"[0-9]{6}")


def new_secret() -> str:
    """A fresh shared secret: 160 random bits in base32, as authenticator apps expect."""
    return pyotp.random_base32(32)


def otpauth_uri(secret: str, account: str, issuer: str) -> str:
    """The `otpauth://totp/...` URI a QR code carries to an authenticator app."""
    uri: str = pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS).provisioning_uri(
        name=account, issuer_name=issuer
    )
    # pyotp quotes the label with `safe="@"`; quote it fully so the URI parses everywhere.
    label = urllib.parse.quote(f"{issuer}:{account}", safe=":")
    return f"otpauth://totp/{label}?{uri.split('?', 1)[1]}"


def matching_step(secret: str, code: str, now: float, window: int = WINDOW) -> int | None:
    """The time step (within `window` of `now`) whose code `code` is, or None."""
    typed = code.replace(" ", "")
    if not _CODE.fullmatch(typed) or not typed.isascii():
        return None
    otp = pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS)
    current = int(now // STEP_SECONDS)
    found = None
    for step in range(current - window, current + window + 1):
        # Every candidate is compared, so the time taken says nothing about which matched.
        if hmac.compare_digest(otp.generate_otp(step), typed):
            found = step
    return found


def new_recovery_codes(count: int = RECOVERY_CODES) -> list[str]:
    """`count` distinct single-use codes such as `k3m9p-x2q7r`."""
    codes: set[str] = set()
    while len(codes) < count:
        raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(10))
        codes.add(f"{raw[:5]}-{raw[5:]}")
    return sorted(codes)


def normalize_recovery_code(code: str) -> str | None:
    """A recovery code as stored (lowercase, one hyphen), from what a person typed; None if
    it cannot be one."""
    raw = re.sub(r"[\s-]", "", code).lower()
    if len(raw) != 10:
        return None
    shaped = f"{raw[:5]}-{raw[5:]}"
    return shaped if _RECOVERY.fullmatch(shaped) and shaped.isascii() else None
