"""The request context, built once per request: who is calling, services, request id."""

from __future__ import annotations

from dataclasses import dataclass, field

from resolvers.authz import Principal
from resolvers.cost_budget import CostReport
from resolvers.errors import unauthenticated
from resolvers.loaders import Loaders
from resolvers.services import Services
from resolvers.sessions import authenticate


@dataclass
class RequestContext:
    """Per-request state; the principal is looked up lazily, once, from the bearer token."""

    services: Services
    request_id: str
    bearer_token: str | None = None
    client_address: str = "unknown"
    transport: str = "http"  # "websocket" for the sockets subscriptions run on
    cost: CostReport | None = None  # set by the query-cost extension, sent as RateLimit-*
    _principal: Principal | None = field(default=None, init=False)
    _loaders: Loaders | None = field(default=None, init=False)
    _authenticated: bool = field(default=False, init=False)

    async def principal(self) -> Principal | None:
        if not self._authenticated:
            self._principal = await authenticate(self.services, self.bearer_token)
            self._authenticated = True
        return self._principal

    async def budget_key(self) -> str:
        """Whose query-cost budget pays: the signed-in account (all its sessions share one),
        else the client's address."""
        principal = await self.principal()
        return f"user:{principal.user_id}" if principal else f"address:{self.client_address}"

    async def require_user(self) -> Principal:
        principal = await self.principal()
        if principal is None:
            if self.bearer_token:
                raise unauthenticated("The session has expired or was revoked; sign in again.")
            raise unauthenticated()
        return principal

    @classmethod
    def for_principal(
        cls, services: Services, principal: Principal, request_id: str
    ) -> RequestContext:
        """A context for a caller already authenticated elsewhere (a WebSocket, a hub check)."""
        ctx = cls(services=services, request_id=request_id)
        ctx._principal = principal
        ctx._authenticated = True
        return ctx

    def principal_now(self) -> Principal:
        """The caller that an earlier `require_user` in this request found."""
        if self._principal is None:
            raise unauthenticated()
        return self._principal

    @property
    def loaders(self) -> Loaders:
        """This request's loaders, for the caller found by `require_user` (call that first)."""
        if self._loaders is None:
            user_id = self._principal.user_id if self._principal else None
            self._loaders = Loaders(self.services, user_id)
        return self._loaders

    def forget_principal(self) -> None:
        """After log-out or log-in within the same request, look the caller up afresh."""
        self._authenticated = False
        self._principal = None
        self._loaders = None
