"""Where a socket's token comes from, and what a refused socket is told."""

from __future__ import annotations

from strawberry.litestar.controller import LitestarWebSocketAdapter

# graphql-transport-ws closes a refused `connection_init` with 4403; the reason (at most 123
# bytes in a close frame) says where the token goes, since clients disagree on it.
REFUSED_CODE = 4403
REFUSED_REASON = 'Forbidden: send {"authorization": "Bearer <token>"} in connection_init'
# A socket whose login ends (log-out, revoked session, changed password) closes with 4403 too.
LOGIN_ENDED_REASON = "Forbidden: the login ended; sign in again"


def connection_token(params: object) -> str | None:
    """The token of a `connection_init` payload: `authorization` or `Authorization`, holding
    `Bearer <token>` or the bare token, as common clients send it."""
    if not isinstance(params, dict):
        return None
    raw = params.get("authorization", params.get("Authorization"))
    if not isinstance(raw, str):
        return None
    first, _, rest = raw.strip().partition(" ")
    if not rest:
        return first or None
    if first.lower() != "bearer":
        return None  # another scheme (Basic, …): never read as a token
    token = rest.strip()
    return token if token and " " not in token else None


class CoveWebSocketAdapter(LitestarWebSocketAdapter):
    """Litestar's socket adapter; a refusal's reason names where the token goes.

    strawberry closes a refused `connection_init` with 4403 "Forbidden" and offers no hook
    for the reason, so it is replaced here, where the frame is written.
    """

    async def close(self, code: int, reason: str) -> None:
        refused = code == REFUSED_CODE and reason != LOGIN_ENDED_REASON
        await super().close(code, REFUSED_REASON if refused else reason)
