"""Other people: a user is visible to the people it shares a workspace with."""

from __future__ import annotations

from persistence.accounts import UserRecord
from resolvers.accounts import UserView
from resolvers.accounts import get_user as get_own_account
from resolvers.authz import WorkspaceAccess
from resolvers.context import RequestContext
from resolvers.errors import not_found

# How many of the caller's workspaces are searched for one shared with the other user.
MAX_WORKSPACES_SEARCHED = 1000


async def get_user(ctx: RequestContext, user_id: str) -> UserView:
    """Yourself (with your email), or someone sharing a workspace with you (name only)."""
    caller = await ctx.require_user()
    if user_id == caller.user_id:
        return await get_own_account(ctx, user_id)
    services = ctx.services
    mine = await services.workspaces.list_for_user(caller.user_id, limit=MAX_WORKSPACES_SEARCHED)
    theirs = await services.workspaces.memberships_of(user_id, [m.workspace_id for m in mine])
    both = [m for m, shared in zip(mine, theirs, strict=True) if shared is not None]
    # Only workspaces whose content the caller may see count (two-factor requirements).
    required = await ctx.loaders.two_factor_required.load_many([m.workspace_id for m in both])
    enrolled = any(required) and await ctx.loaders.two_factor_enabled.load(caller.user_id)
    for membership, needs_two_factor in zip(both, required, strict=True):
        if enrolled or not needs_two_factor:
            access = services.authz.workspace(caller, membership.workspace_id, membership)
            grant = services.authz.fellow_name(access, user_id)
            view = UserView(services, user_id, grant, with_email=False, loader=ctx.loaders.users)
            await view.record()
            return view
    raise not_found("user")


def fellow(
    ctx: RequestContext,
    access: WorkspaceAccess,
    user_id: str,
    record: UserRecord | None = None,
) -> UserView:
    """Someone seen on an object of a workspace the caller reached through `access` (an
    author, a member, an assignee, an attendee, a file's creator), by name only: the one way
    every resolver shows a person. `record`, when the caller has it already, saves a read."""
    grant = ctx.services.authz.fellow_name(access, user_id)
    return UserView(
        ctx.services, user_id, grant, with_email=False, record=record, loader=ctx.loaders.users
    )
