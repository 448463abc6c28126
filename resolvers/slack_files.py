"""The files a Slack export carries, stored in the workspace's drive through the ordinary
upload path (sealed segment by segment, counted against the quota, under an upload intent),
as the workspace's owner, in a session the import opens for it and ends when done."""

from __future__ import annotations

import zipfile
from collections.abc import AsyncIterator
from pathlib import Path

from persistence.accounts import SessionRecord
from resolvers.context import RequestContext
from resolvers.drive_uploads import create_upload, receive_upload
from resolvers.errors import CoveError
from resolvers.services import Services
from resolvers.sessions import end_login, open_session
from resolvers.slack_export import SlackFile
from resolvers.transfers import TransferError

_CHUNK = 1024 * 1024


class SlackFiles:
    """Uploads files out of the export's zip; `store` answers (file id, version id) or why not."""

    def __init__(self, services: Services, archive: Path, workspace_id: str, owner_id: str) -> None:
        self._services = services
        self._archive = archive
        self._workspace_id = workspace_id
        self._owner_id = owner_id
        self._session: tuple[str, SessionRecord] | None = None

    async def store(self, file: SlackFile) -> tuple[str, str] | str:
        """The new file's (id, version id), or the reason it was not stored."""
        if file.content is None:
            return "not in the export"
        with zipfile.ZipFile(self._archive) as archive:
            size = archive.getinfo(file.content).file_size
        bearer = await self._token()
        ctx = RequestContext(
            services=self._services, request_id="slack-import", bearer_token=bearer
        )
        try:
            url, upload = await create_upload(
                ctx,
                workspace_id=self._workspace_id,
                parent_id=None,
                file_id=None,
                name=file.name,
                size=size,
                content_type=None,
            )
            one_time = url.rsplit("/", 1)[1]  # the upload URL ends with its token
            await receive_upload(self._services, one_time, self._chunks(file.content), size)
        except (CoveError, TransferError) as error:
            return f"refused by the drive: {error}"
        return upload.file_id, upload.version_id

    async def _chunks(self, name: str) -> AsyncIterator[bytes]:
        with zipfile.ZipFile(self._archive) as archive, archive.open(name) as stream:
            while chunk := stream.read(_CHUNK):
                yield chunk

    async def _token(self) -> str:
        if self._session is None:
            self._session = await open_session(self._services, self._owner_id)
        return self._session[0]

    async def close(self) -> None:
        """End the session the uploads used (its token never left this process)."""
        if self._session is not None:
            await end_login(self._services, self._session[1])
            self._session = None
