"""Third-party apps, their installs in workspaces and their OAuth codes and tokens.

App metadata (name, description, URLs, scopes) is public: every workspace admin asked to
install an app reads it, so it is stored in clear. The client secret, authorization codes,
access and refresh tokens are stored only as SHA-256 hashes; the webhook secret, which the
server needs back to sign deliveries, is sealed under the account key.

A grant is one token family: the tokens issued from one authorization code and every refresh
of them. Grants are listed by app, so uninstalling, rotating the secret or deleting the app
ends every token of the install or app at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from persistence.declare import Column, ColumnType, Row, Table
from persistence.expiry import expiry_hour, forget_hour
from persistence.rows import from_row, to_row
from persistence.store import Delete, Put, Store, Update

_TEXT = ColumnType.TEXT
_BLOB = ColumnType.BLOB
_TIME = ColumnType.TIMESTAMP
_INT = ColumnType.BIGINT
_BOOL = ColumnType.BOOLEAN

APPS = Table(
    name="apps",
    partition_key=(Column("app_id", _TEXT),),
    values=(
        Column("client_id", _TEXT),
        Column("developer_id", _TEXT),
        Column("developer_name", _TEXT),  # shown to admins asked to install it
        Column("name", _TEXT),
        Column("description", _TEXT),
        Column("homepage_url", _TEXT),
        Column("redirect_uris", _TEXT),  # one per line
        Column("scopes", _TEXT),  # space-separated, as OAuth writes them
        Column("webhook_url", _TEXT),
        Column("webhook_events", _TEXT),  # space-separated
        Column("confidential", _BOOL),
        Column("secret_hash", _BLOB),  # empty for a public client
        Column("webhook_secret_sealed", _BLOB),
        Column("secret_version", _INT),
        Column("created_at", _TIME),
        Column("updated_at", _TIME),
    ),
)

APP_CLIENTS = Table(
    name="app_clients",
    partition_key=(Column("client_id", _TEXT),),
    values=(Column("app_id", _TEXT),),
)

APPS_BY_DEVELOPER = Table(
    name="apps_by_developer",
    partition_key=(Column("developer_id", _TEXT),),
    clustering=(Column("app_id", _TEXT),),
    values=(Column("created_at", _TIME),),
)

APP_INSTALLS = Table(
    name="app_installs",
    partition_key=(Column("app_id", _TEXT),),
    clustering=(Column("workspace_id", _TEXT),),
    values=(
        Column("bot_user_id", _TEXT),
        Column("scopes", _TEXT),
        Column("installed_by", _TEXT),
        Column("installed_at", _TIME),
    ),
)

# The apps installed in a workspace, for telling them what happens there (resolvers/app_events.py).
APP_INSTALLS_BY_WORKSPACE = Table(
    name="app_installs_by_workspace",
    partition_key=(Column("workspace_id", _TEXT),),
    clustering=(Column("app_id", _TEXT),),
    values=(Column("bot_user_id", _TEXT), Column("scopes", _TEXT)),
)

APP_CODES = Table(
    name="app_codes",
    partition_key=(Column("code_hash", _BLOB),),
    values=(
        Column("app_id", _TEXT),
        Column("workspace_id", _TEXT),
        Column("scopes", _TEXT),
        Column("redirect_uri", _TEXT),
        Column("code_challenge", _TEXT),
        Column("approved_by", _TEXT),
        Column("expires_at", _TIME),
        Column("used", _BOOL),
        Column("grant_id", _TEXT),  # the family the code was exchanged for ("" before)
    ),
)

APP_TOKENS = Table(
    name="app_tokens",
    partition_key=(Column("token_hash", _BLOB),),
    values=(
        Column("kind", _TEXT),  # "access" or "refresh"
        Column("grant_id", _TEXT),
        Column("app_id", _TEXT),
        Column("workspace_id", _TEXT),
        Column("bot_user_id", _TEXT),
        Column("scopes", _TEXT),
        Column("secret_version", _INT),
        Column("expires_at", _TIME),
        Column("used", _BOOL),  # a refresh token, once exchanged
    ),
)

APP_GRANTS = Table(
    name="app_grants",
    partition_key=(Column("app_id", _TEXT),),
    clustering=(Column("grant_id", _TEXT),),
    values=(Column("workspace_id", _TEXT), Column("created_at", _TIME)),
)

APP_GRANT_TOKENS = Table(
    name="app_grant_tokens",
    partition_key=(Column("grant_id", _TEXT),),
    clustering=(Column("token_hash", _BLOB),),
    values=(Column("kind", _TEXT), Column("expires_at", _TIME)),
)

APP_TABLES = (
    APPS,
    APP_CLIENTS,
    APPS_BY_DEVELOPER,
    APP_INSTALLS,
    APP_CODES,
    APP_TOKENS,
    APP_GRANTS,
    APP_GRANT_TOKENS,
)

# Authorization codes and tokens by the hour they expire in, so a sweep forgets them (a used
# code or replaced refresh token is kept until then, to tell a replay).
APP_TOKEN_EXPIRY = Table(
    name="app_token_expiry",
    partition_key=(Column("hour", _INT),),
    clustering=(Column("kind", _TEXT), Column("token_hash", _BLOB)),
    values=(Column("expires_at", _TIME), Column("grant_id", _TEXT)),
)

# Migrations 21 and 24: made after APP_TABLES, so a store that has migration 19 gets them.
APP_INSTALL_INDEX_TABLES = (APP_INSTALLS_BY_WORKSPACE,)
APP_EXPIRY_TABLES = (APP_TOKEN_EXPIRY,)
_CODE = "code"

_PAGE = 200


@dataclass(frozen=True, slots=True)
class AppRecord:
    app_id: str
    client_id: str
    developer_id: str
    developer_name: str
    name: str
    description: str
    homepage_url: str
    redirect_uris: str
    scopes: str
    webhook_url: str
    webhook_events: str
    confidential: bool
    secret_hash: bytes
    webhook_secret_sealed: bytes
    secret_version: int
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class WorkspaceInstall:
    workspace_id: str
    app_id: str
    bot_user_id: str
    scopes: str


@dataclass(frozen=True, slots=True)
class InstallRecord:
    app_id: str
    workspace_id: str
    bot_user_id: str
    scopes: str
    installed_by: str
    installed_at: datetime


@dataclass(frozen=True, slots=True)
class CodeRecord:
    code_hash: bytes
    app_id: str
    workspace_id: str
    scopes: str
    redirect_uri: str
    code_challenge: str
    approved_by: str
    expires_at: datetime
    used: bool
    grant_id: str


@dataclass(frozen=True, slots=True)
class TokenRecord:
    token_hash: bytes
    kind: str
    grant_id: str
    app_id: str
    workspace_id: str
    bot_user_id: str
    scopes: str
    secret_version: int
    expires_at: datetime
    used: bool


class AppRepository:
    """Apps, installs, codes and token families; secrets go in and come out hashed or sealed."""

    def __init__(self, store: Store) -> None:
        self._store = store

    # Apps

    async def create(self, app: AppRecord) -> None:
        await self._store.batch(
            [
                Put(APPS, to_row(app)),
                Put(APP_CLIENTS, {"client_id": app.client_id, "app_id": app.app_id}),
                Put(
                    APPS_BY_DEVELOPER,
                    {
                        "developer_id": app.developer_id,
                        "app_id": app.app_id,
                        "created_at": app.created_at,
                    },
                ),
            ]
        )

    async def get(self, app_id: str) -> AppRecord | None:
        row = await self._store.get(APPS, {"app_id": app_id})
        return None if row is None else from_row(AppRecord, row)

    async def by_client_id(self, client_id: str) -> AppRecord | None:
        row = await self._store.get(APP_CLIENTS, {"client_id": client_id})
        return None if row is None else await self.get(str(row["app_id"]))

    async def save(self, app: AppRecord) -> None:
        """Overwrite an app's row (its client id and developer never change)."""
        await self._store.put(APPS, to_row(app))

    async def of_developer(
        self, developer_id: str, *, limit: int, after: str | None = None
    ) -> list[AppRecord]:
        rows = await self._store.scan(
            APPS_BY_DEVELOPER,
            {"developer_id": developer_id},
            limit=limit,
            after=None if after is None else (after,),
        )
        apps = await self._store.get_many(APPS, [{"app_id": r["app_id"]} for r in rows])
        return [from_row(AppRecord, row) for row in apps if row is not None]

    async def delete(self, app: AppRecord) -> None:
        """The app and its index rows (its grants and installs are ended first)."""
        await self._store.batch(
            [
                Delete(APPS, {"app_id": app.app_id}),
                Delete(APP_CLIENTS, {"client_id": app.client_id}),
                Delete(APPS_BY_DEVELOPER, {"developer_id": app.developer_id, "app_id": app.app_id}),
            ]
        )

    # Installs

    async def install(self, record: InstallRecord) -> None:
        by_workspace = {
            "workspace_id": record.workspace_id,
            "app_id": record.app_id,
            "bot_user_id": record.bot_user_id,
            "scopes": record.scopes,
        }
        await self._store.batch(
            [Put(APP_INSTALLS, to_row(record)), Put(APP_INSTALLS_BY_WORKSPACE, by_workspace)]
        )

    async def get_install(self, app_id: str, workspace_id: str) -> InstallRecord | None:
        row = await self._store.get(APP_INSTALLS, {"app_id": app_id, "workspace_id": workspace_id})
        return None if row is None else from_row(InstallRecord, row)

    async def installs(self, app_id: str, *, limit: int) -> list[InstallRecord]:
        rows = await self._store.scan(APP_INSTALLS, {"app_id": app_id}, limit=limit)
        return [from_row(InstallRecord, row) for row in rows]

    async def installed_in(self, workspace_id: str, *, limit: int) -> list[WorkspaceInstall]:
        """The apps installed in a workspace, with their bots and approved scopes."""
        rows = await self._store.scan(
            APP_INSTALLS_BY_WORKSPACE, {"workspace_id": workspace_id}, limit=limit
        )
        return [from_row(WorkspaceInstall, row) for row in rows]

    async def uninstall(self, app_id: str, workspace_id: str) -> None:
        key = {"app_id": app_id, "workspace_id": workspace_id}
        await self._store.batch([Delete(APP_INSTALLS, key), Delete(APP_INSTALLS_BY_WORKSPACE, key)])

    # Authorization codes

    async def add_code(self, code: CodeRecord) -> None:
        await self._store.put(APP_TOKEN_EXPIRY, _expiry(_CODE, code.code_hash, code.expires_at, ""))
        await self._store.put_if_absent(APP_CODES, to_row(code))

    async def forget_expired(self, hour: int) -> int:
        """Delete the codes and tokens that expired within one hour; a count."""

        def deletes(row: Row) -> list[Delete]:
            if row["kind"] == _CODE:
                return [Delete(APP_CODES, {"code_hash": row["token_hash"]})]
            grant_token = {"grant_id": row["grant_id"], "token_hash": row["token_hash"]}
            return [
                Delete(APP_TOKENS, {"token_hash": row["token_hash"]}),
                Delete(APP_GRANT_TOKENS, grant_token),
            ]

        return await forget_hour(self._store, APP_TOKEN_EXPIRY, hour, deletes)

    async def get_code(self, code_hash: bytes) -> CodeRecord | None:
        row = await self._store.get(APP_CODES, {"code_hash": code_hash})
        return None if row is None else from_row(CodeRecord, row)

    async def use_code(self, code_hash: bytes, grant_id: str) -> bool:
        """Mark a code used, naming the family it starts; False when it was used already."""
        return await self._store.update_if(
            APP_CODES,
            {"code_hash": code_hash},
            {"used": True, "grant_id": grant_id},
            {"used": False},
        )

    async def forget_code(self, code_hash: bytes) -> None:
        await self._store.delete(APP_CODES, {"code_hash": code_hash})

    # Tokens and their families

    async def add_grant(self, app_id: str, grant_id: str, workspace_id: str, at: datetime) -> None:
        row = {"app_id": app_id, "grant_id": grant_id, "workspace_id": workspace_id}
        await self._store.put(APP_GRANTS, {**row, "created_at": at})

    async def add_token(self, token: TokenRecord) -> None:
        await self._store.put(
            APP_GRANT_TOKENS,
            {
                "grant_id": token.grant_id,
                "token_hash": token.token_hash,
                "kind": token.kind,
                "expires_at": token.expires_at,
            },
        )
        expiry = _expiry(token.kind, token.token_hash, token.expires_at, token.grant_id)
        await self._store.put(APP_TOKEN_EXPIRY, expiry)
        await self._store.put_if_absent(APP_TOKENS, to_row(token))

    async def get_token(self, token_hash: bytes) -> TokenRecord | None:
        row = await self._store.get(APP_TOKENS, {"token_hash": token_hash})
        return None if row is None else from_row(TokenRecord, row)

    async def use_refresh(self, token_hash: bytes) -> bool:
        """Mark a refresh token exchanged; False when it was exchanged already (reuse)."""
        return await self._store.update_if(
            APP_TOKENS, {"token_hash": token_hash}, {"used": True}, {"used": False}
        )

    async def grants(self, app_id: str) -> list[tuple[str, str]]:
        """Every (grant id, workspace id) of an app."""
        found: list[tuple[str, str]] = []
        after: tuple[str] | None = None
        while True:
            rows = await self._store.scan(APP_GRANTS, {"app_id": app_id}, limit=_PAGE, after=after)
            found += [(str(r["grant_id"]), str(r["workspace_id"])) for r in rows]
            if len(rows) < _PAGE:
                return found
            after = (str(rows[-1]["grant_id"]),)

    async def has_grant(self, app_id: str, grant_id: str) -> bool:
        """Whether a token family is still there (not ended)."""
        row = await self._store.get(APP_GRANTS, {"app_id": app_id, "grant_id": grant_id})
        return row is not None

    async def end_grant(self, app_id: str, grant_id: str) -> None:
        """Delete every token of a family, then the family."""
        while True:
            rows = await self._store.scan(APP_GRANT_TOKENS, {"grant_id": grant_id}, limit=_PAGE)
            if not rows:
                break
            ops: list[Put | Delete | Update] = []
            for row in rows:
                ops.append(Delete(APP_TOKENS, {"token_hash": row["token_hash"]}))
                key = {"grant_id": grant_id, "token_hash": row["token_hash"]}
                ops.append(Delete(APP_GRANT_TOKENS, key))
            await self._store.batch(ops)
        await self._store.delete(APP_GRANTS, {"app_id": app_id, "grant_id": grant_id})


def _expiry(kind: str, token_hash: bytes, expires_at: datetime, grant_id: str) -> Row:
    return {
        "hour": expiry_hour(expires_at),
        "kind": kind,
        "token_hash": token_hash,
        "expires_at": expires_at,
        "grant_id": grant_id,
    }
