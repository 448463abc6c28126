"""Workspace roles and channel visibility, the enums every permission decision uses."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    OWNER = "OWNER"
    ADMIN = "ADMIN"
    MEMBER = "MEMBER"
    GUEST = "GUEST"

    @property
    def rank(self) -> int:
        return _RANKS[self]

    @property
    def manages_members(self) -> bool:
        return self in (Role.OWNER, Role.ADMIN)


_RANKS = {Role.OWNER: 3, Role.ADMIN: 2, Role.MEMBER: 1, Role.GUEST: 0}


class Visibility(StrEnum):
    PUBLIC = "PUBLIC"
    PRIVATE = "PRIVATE"
    DIRECT = "DIRECT"
