"""Telling installed apps what happens where their bots are: a notice published on a channel
or workspace becomes a signed webhook delivery (resolvers/webhooks.py) to every app installed
there that subscribed to its type, holds the scope that reads it, and whose bot may read its
topic (a channel: the bot was added to it; a workspace: the install's own).

Deliveries are thin: the event type and ids (of the message, channel, author, workspace),
never text or names, so nothing decrypted leaves Cove without a request under the app's
token and scopes. Notices published on a workspace *about* a channel are left to the
channel's own (a bot reads a channel only as its member, and is told there).

Most workspaces have no app: that answer is remembered for `quiet_seconds` per workspace
(an install or uninstall on this node forgets it at once; on another node a new install is
told of events from at most that long after it is made), and so is each channel's
workspace, so a post where no app is installed costs no read here.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

from persistence.apps import AppRepository, WorkspaceInstall
from persistence.channels import ChannelRepository
from resolvers.app_model import APP_UNINSTALLED, AppScope, scope_set
from resolvers.global_ids import from_global_id
from resolvers.global_ids import to_global_id as gid
from resolvers.notice_types import ChannelNotice, MessageNotice, NoticeType, WorkspaceNotice
from resolvers.webhooks import Webhooks

log = logging.getLogger("cove.webhooks")

_MAX_INSTALLS = 1000
_MAX_QUIET = 10_000  # workspaces remembered as having no app
_MAX_REMEMBERED = 100_000  # channels whose workspace is remembered

# The scope an app needs to be told of an event of each kind.
_SCOPE_OF: dict[type, AppScope] = {
    MessageNotice: AppScope.MESSAGES_READ,
    ChannelNotice: AppScope.CHANNELS_READ,
    WorkspaceNotice: AppScope.WORKSPACES_READ,
}


def _thin(data: Mapping[str, Any]) -> dict[str, Any]:
    """The ids of a notice's data: `id` and the fields named `…Id` or `…Ids`."""
    kept: dict[str, Any] = {}
    for key, value in data.items():
        if key == "id" or key.endswith("Id"):
            if isinstance(value, str):
                kept[key] = value
        elif key.endswith("Ids") and isinstance(value, list):
            kept[key] = [v for v in value if isinstance(v, str)]
    return kept


class AppEvents:
    """One node's fan-out of notices to installed apps' webhook endpoints."""

    def __init__(
        self,
        apps: AppRepository,
        channels: ChannelRepository,
        webhooks: Webhooks,
        *,
        quiet_seconds: float = 5.0,
    ) -> None:
        self._apps = apps
        self._channels = channels
        self._webhooks = webhooks
        self._quiet_seconds = quiet_seconds
        self._quiet: dict[str, float] = {}  # workspace id -> until when it has no app
        self._channel_workspaces: dict[str, str] = {}

    async def _workspace_of(self, channel_id: str) -> str | None:
        """A channel's workspace (it never changes, so it is remembered: a post in a
        workspace without apps reads nothing here once its channel is known)."""
        workspace_id = self._channel_workspaces.get(channel_id)
        if workspace_id is None:
            channel = await self._channels.get(channel_id)
            if channel is None:
                return None
            if len(self._channel_workspaces) >= _MAX_REMEMBERED:
                self._channel_workspaces.clear()
            workspace_id = self._channel_workspaces[channel_id] = channel.workspace_id
        return workspace_id

    def forget(self, workspace_id: str) -> None:
        """An app was installed or uninstalled there: read its installs again."""
        self._quiet.pop(workspace_id, None)

    async def _installs(self, workspace_id: str) -> list[WorkspaceInstall]:
        if self._quiet.get(workspace_id, 0.0) > time.monotonic():
            return []
        installs = await self._apps.installed_in(workspace_id, limit=_MAX_INSTALLS)
        if not installs:
            if len(self._quiet) >= _MAX_QUIET:
                self._quiet.clear()
            self._quiet[workspace_id] = time.monotonic() + self._quiet_seconds
        return installs

    async def notice(
        self, topic: str, type_: NoticeType, data: Mapping[str, Any], about: str | None
    ) -> None:
        """Queue a delivery of one notice for each app that may be told of it. Never raises:
        the change the notice tells of is made, and a failure here is logged."""
        try:
            await self._fan_out(topic, type_, data, about)
        except Exception:
            log.exception("could not queue webhook deliveries for a %s notice", type_)

    async def _fan_out(
        self, topic: str, type_: NoticeType, data: Mapping[str, Any], about: str | None
    ) -> None:
        scope = _SCOPE_OF.get(type(type_))
        parsed = from_global_id(topic)
        if scope is None or about is not None or parsed is None or type_ == ChannelNotice.TYPING:
            return
        kind, raw_id = parsed
        if kind == "Channel":
            found = await self._workspace_of(raw_id)
            if found is None:
                return
            workspace_id = found
        elif kind == "Workspace":
            workspace_id = raw_id
        else:
            return
        installs = await self._installs(workspace_id)
        payload = {**_thin(data), "workspaceId": gid("Workspace", workspace_id)}
        for install in installs:
            if scope.value not in scope_set(install.scopes):
                continue
            if (
                kind == "Channel"
                and await self._channels.member(raw_id, install.bot_user_id) is None
            ):
                continue
            await self._tell(install.app_id, str(type_), payload)

    async def app_uninstalled(self, app_id: str, workspace_id: str) -> None:
        self.forget(workspace_id)
        try:
            await self._tell(
                app_id, APP_UNINSTALLED, {"workspaceId": gid("Workspace", workspace_id)}
            )
        except Exception:
            log.exception("could not queue the app.uninstalled delivery")

    async def _tell(self, app_id: str, event_type: str, payload: Mapping[str, Any]) -> None:
        app = await self._apps.get(app_id)
        if app is None or not app.webhook_url or event_type not in app.webhook_events.split():
            return
        await self._webhooks.enqueue(app_id, event_type, payload)  # the app's endpoint id
