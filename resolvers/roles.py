"""Workspace roles and channel visibility, the enums every permission decision uses."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    OWNER = "OWNER"
    ADMIN = "ADMIN"
    MEMBER = "MEMBER"
    GUEST = "GUEST"
    BOT = "BOT"  # an installed app's bot user (resolvers/app_installs.py); never assigned

    @property
    def rank(self) -> int:
        return _RANKS[self]

    @property
    def manages_members(self) -> bool:
        return self in (Role.OWNER, Role.ADMIN)

    @property
    def joined_only(self) -> bool:
        """Guests and bots see only the channels they belong to (no browsing of public ones)
        and only what is shared with them or with those channels."""
        return self in (Role.GUEST, Role.BOT)


_RANKS = {Role.OWNER: 3, Role.ADMIN: 2, Role.MEMBER: 1, Role.GUEST: 0, Role.BOT: 0}


class Visibility(StrEnum):
    PUBLIC = "PUBLIC"
    PRIVATE = "PRIVATE"
    DIRECT = "DIRECT"


class AccessLevel(StrEnum):
    """What a person may do with a shared object (drive item, calendar, board): read it,
    change it, or also share it."""

    READ = "READ"
    WRITE = "WRITE"
    MANAGE = "MANAGE"

    @property
    def rank(self) -> int:
        return _LEVEL_RANKS[self]


_LEVEL_RANKS = {AccessLevel.READ: 1, AccessLevel.WRITE: 2, AccessLevel.MANAGE: 3}

# What a workspace role alone gives on every item of the workspace's drive; guests get only
# what is shared with them or with one of their channels.
ROLE_DRIVE_LEVEL: dict[Role, AccessLevel | None] = {
    Role.OWNER: AccessLevel.MANAGE,
    Role.ADMIN: AccessLevel.MANAGE,
    Role.MEMBER: AccessLevel.WRITE,
    Role.GUEST: None,
    Role.BOT: None,
}
