"""Opaque global ids: base64url of "<Type>:<raw id>". Clients must not parse them."""

from __future__ import annotations

import base64
import binascii

MAX_GLOBAL_ID_LENGTH = 200
MAX_RAW_ID_LENGTH = 64


def is_raw_id(value: str) -> bool:
    """Whether `value` may be looked up as a raw id: 1 to 64 characters. The store refuses an
    empty key as a programming error, so ids from a caller are checked here, not there."""
    return 0 < len(value) <= MAX_RAW_ID_LENGTH


def to_global_id(type_name: str, raw_id: str) -> str:
    return base64.urlsafe_b64encode(f"{type_name}:{raw_id}".encode()).decode().rstrip("=")


def file_version_id(file_id: str, version_id: str) -> str:
    """The global id of one version of a file: the one id every route and field answers.

    A version is looked up by its file (versions are stored per file), so both ids are in it.
    """
    return to_global_id("FileVersion", f"{file_id}.{version_id}")


def split_file_version(raw_id: str) -> tuple[str, str] | None:
    """(file id, version id) from the raw part of a FileVersion global id; None if malformed."""
    file_id, sep, version_id = raw_id.partition(".")
    if not sep or not file_id or not version_id:
        return None
    return file_id, version_id


def from_global_id(global_id: str) -> tuple[str, str] | None:
    """Split a global id into (type name, raw id); None when it is not one of ours."""
    if not global_id or len(global_id) > MAX_GLOBAL_ID_LENGTH:
        return None
    try:
        decoded = base64.urlsafe_b64decode(global_id + "=" * (-len(global_id) % 4)).decode()
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
    type_name, sep, raw_id = decoded.partition(":")
    if not sep or not type_name or not is_raw_id(raw_id):
        return None
    return type_name, raw_id
