"""Authorisation: the only place that mints the Grants `crypto` needs to open sealed fields."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from crypto.grants import Grant
from crypto.keyring import Keyring
from resolvers.errors import not_found, unauthenticated


class Action(StrEnum):
    READ = "read"
    WRITE = "write"


@dataclass(frozen=True)
class Principal:
    """Who is calling: a signed-in user and the session the call came through."""

    user_id: str
    session_id: str


class Authorizer:
    """Checks a principal's right to an object and, when it holds, mints a Grant for it."""

    def __init__(self, keyring: Keyring) -> None:
        self._minter = keyring.take_minter()

    def require_user(self, principal: Principal | None) -> Principal:
        if principal is None:
            raise unauthenticated()
        return principal

    def own_account(self, principal: Principal | None, user_id: str, action: Action) -> Grant:
        """A user reads and changes their own account data; anyone else gets NOT_FOUND."""
        caller = self.require_user(principal)
        if caller.user_id != user_id:
            raise not_found("user")
        return self._minter.mint(caller.user_id, action.value, user_id, "")

    def proven_account(self, user_id: str) -> Grant:
        """The caller has just proved possession (password checked, or account just created)."""
        return self._minter.mint(user_id, Action.READ.value, user_id, "")
