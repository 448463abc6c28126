"""The root Query and Mutation types, assembled from the domain modules."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import strawberry
from strawberry.types import Info

from resolvers.errors import CoveError, ErrorCode, not_found
from schema import accounts
from schema.relay import Node, from_global_id

NodeLoader = Callable[[Info[Any, Any], str], Awaitable[Node]]

# Which loader opens a global id of each type; a type missing here is simply NOT_FOUND.
NODE_LOADERS: dict[str, NodeLoader] = {
    "User": accounts.load_user,
    "Session": accounts.load_session,
}


async def resolve_node(info: Info[Any, Any], id: strawberry.ID) -> Node | None:
    """Unknown, malformed and invisible ids all answer null with NOT_FOUND."""
    parsed = from_global_id(id)
    loader = NODE_LOADERS.get(parsed[0]) if parsed else None
    if parsed is None or loader is None:
        raise not_found()
    try:
        return await loader(info, parsed[1])
    except CoveError as exc:
        # Whatever the reason (no such row, not yours, not signed in), the answer is the same.
        if exc.code in (ErrorCode.NOT_FOUND, ErrorCode.UNAUTHENTICATED, ErrorCode.FORBIDDEN):
            raise not_found() from None
        raise


@strawberry.type
class Query:
    node: Node | None = strawberry.field(
        resolver=resolve_node, description="Any object by its global id."
    )
    viewer: accounts.User | None = strawberry.field(
        resolver=accounts.resolve_viewer, description="The signed-in user."
    )


@strawberry.type
class Mutation:
    sign_up: accounts.AuthPayload | None = strawberry.mutation(
        resolver=accounts.sign_up, description="Create an account and sign in."
    )
    log_in: accounts.AuthPayload | None = strawberry.mutation(
        resolver=accounts.log_in, description="Sign in with email and password."
    )
    log_out: accounts.LogOutPayload | None = strawberry.mutation(
        resolver=accounts.log_out, description="End the session this request came through."
    )
    change_password: accounts.ChangePasswordPayload | None = strawberry.mutation(
        resolver=accounts.change_password, description="Change password; ends every other session."
    )
    revoke_session: accounts.RevokeSessionPayload | None = strawberry.mutation(
        resolver=accounts.revoke_session, description="End one of your sessions."
    )
    update_profile: accounts.UpdateProfilePayload | None = strawberry.mutation(
        resolver=accounts.update_profile, description="Change your display name."
    )
