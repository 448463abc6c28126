"""Checks on user input shared by several domains, each failing with BAD_USER_INPUT."""

from __future__ import annotations

import unicodedata

from email_validator import EmailNotValidError, validate_email

from resolvers.errors import bad_input
from resolvers.passwords import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH

MAX_EMAIL_LENGTH = 254
MAX_DISPLAY_NAME_LENGTH = 100


def normalize_email(email: str, *, field: str = "email") -> str:
    """Validate syntax (no DNS lookups) and return the lower-cased form used for lookups."""
    if len(email) > MAX_EMAIL_LENGTH:
        raise bad_input("The email address is too long.", field=field)
    try:
        checked = validate_email(email.strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise bad_input(f"Invalid email address: {exc}", field=field) from None
    return checked.normalized.lower()


def check_password(password: str, *, field: str = "password") -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise bad_input(
            f"The password must be at least {MIN_PASSWORD_LENGTH} characters long.", field=field
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        raise bad_input(
            f"The password must be at most {MAX_PASSWORD_LENGTH} characters long.", field=field
        )
    return password


def clean_name(text: str, *, field: str, max_length: int = MAX_DISPLAY_NAME_LENGTH) -> str:
    """Trim, refuse control characters, and bound the length of a short human-readable name."""
    name = unicodedata.normalize("NFC", text).strip()
    if not name:
        raise bad_input("The name must not be empty.", field=field)
    if len(name) > max_length:
        raise bad_input(f"The name must be at most {max_length} characters long.", field=field)
    if any(unicodedata.category(ch) in {"Cc", "Cf", "Zl", "Zp"} for ch in name):
        raise bad_input("The name must not contain control characters.", field=field)
    return name


def clean_text(value: str | None, limit: int, field: str, *, required: bool = False) -> str | None:
    """Free text (titles, descriptions, comments): trimmed, bounded, newlines and tabs allowed,
    other control characters refused; empty becomes None unless `required`."""
    if value is None:
        if required:
            raise bad_input(f"`{field}` is required.", field=field)
        return None
    clean = value.strip()
    if required and not clean:
        raise bad_input(f"`{field}` must not be empty.", field=field)
    if len(clean) > limit:
        raise bad_input(f"`{field}` holds at most {limit:,} characters.", field=field)
    if any(ord(ch) < 32 and ch not in "\n\t" for ch in clean):
        raise bad_input(f"`{field}` must not contain control characters.", field=field)
    return clean or None
