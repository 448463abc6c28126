"""Reading a Slack workspace export (a zip of JSON files, as Slack documents it in "How to
read Slack data exports"): its users, channels and each channel's messages, day by day.

Full exports also hold direct messages: `dms.json` lists the one-to-one conversations (`id`,
`members`; their messages are in a folder named by the `id`) and `mpims.json` the group ones
(`id`, `name`, `members`; in a folder named by the `name`). They are read as channels marked
`direct`.

Pure reading, no writes: `resolvers/slack_import.py` decides what becomes of each thing.
"""

from __future__ import annotations

import json
import re
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path, PurePosixPath
from typing import Any

# No JSON file of an export is read past this: a zip bomb stops here, not in memory.
MAX_JSON_BYTES = 256 * 1024 * 1024
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}\.json$")
_MARKUP = re.compile(r"<([^<>\n]+)>")
_SKIN_TONE = re.compile(r"::skin-tone-\d$")
# Slack names its emoji; these common ones become the emoji itself, the rest `:name:`.
EMOJI = {
    "+1": "👍",
    "thumbsup": "👍",
    "-1": "👎",
    "thumbsdown": "👎",
    "heart": "❤️",
    "smile": "😄",
    "slightly_smiling_face": "🙂",
    "joy": "😂",
    "tada": "🎉",
    "eyes": "👀",
    "white_check_mark": "✅",
    "heavy_check_mark": "✔️",
    "raised_hands": "🙌",
    "pray": "🙏",
    "fire": "🔥",
    "rocket": "🚀",
    "wave": "👋",
    "thinking_face": "🤔",
    "100": "💯",
    "ok_hand": "👌",
    "clap": "👏",
}


class SlackExportError(Exception):
    """The file is not a Slack export Cove can read; the message says why."""


@dataclass(frozen=True)
class SlackUser:
    id: str
    name: str  # what Cove shows for it: real name, else display name, else handle
    email: str | None
    deleted: bool
    is_bot: bool


@dataclass(frozen=True)
class SlackFile:
    id: str
    name: str
    content: str | None  # the zip entry holding its bytes, when the export carries them


@dataclass(frozen=True)
class SlackMessage:
    ts: str
    user: str | None
    text: str
    subtype: str | None
    thread_ts: str | None
    reactions: tuple[tuple[str, tuple[str, ...]], ...]  # (emoji name, users who reacted)
    files: tuple[SlackFile, ...]
    username: str = ""  # the name a bot posted under (bot_message)

    @property
    def is_reply(self) -> bool:
        return self.thread_ts is not None and self.thread_ts != self.ts


@dataclass(frozen=True)
class SlackChannel:
    id: str
    name: str
    private: bool
    archived: bool
    topic: str | None
    members: tuple[str, ...]
    messages: tuple[SlackMessage, ...] = ()
    direct: bool = False  # a direct message (dms.json) or group direct message (mpims.json)


@dataclass(frozen=True)
class SlackExport:
    users: tuple[SlackUser, ...]
    channels: tuple[SlackChannel, ...]
    directs: tuple[SlackChannel, ...] = ()  # direct and group direct messages
    archive: Path | None = None  # the zip, where the bytes of `SlackFile.content` are


def ts_key(ts: str) -> Decimal:
    """A Slack `ts` ("1700000000.000100") as a number that sorts as Slack does."""
    try:
        return Decimal(ts)
    except InvalidOperation:
        raise SlackExportError(f"a message has the timestamp {ts!r}, not a Slack ts") from None


def _read_json(archive: zipfile.ZipFile, name: str) -> Any:
    info = archive.getinfo(name)
    if info.file_size > MAX_JSON_BYTES:
        raise SlackExportError(f"{name} is larger than {MAX_JSON_BYTES} bytes")
    try:
        with archive.open(info) as stream:
            return json.loads(stream.read(MAX_JSON_BYTES + 1))
    except (ValueError, UnicodeDecodeError) as error:
        raise SlackExportError(f"{name} is not JSON: {error}") from None


def _list_of_objects(value: Any, name: str) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise SlackExportError(f"{name} is not a list of objects")
    return value


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _user(raw: dict[str, Any]) -> SlackUser:
    profile = _object(raw.get("profile"))
    handle = _text(raw.get("name"))
    shown = (
        _text(raw.get("real_name"))
        or _text(profile.get("real_name"))
        or _text(profile.get("display_name"))
        or handle
    )
    email = _text(profile.get("email")) or None
    return SlackUser(
        id=_text(raw.get("id")),
        name=shown or _text(raw.get("id")),
        email=email,
        deleted=bool(raw.get("deleted")),
        is_bot=bool(raw.get("is_bot")),
    )


def _file(raw: Any, uploads: Mapping[str, str]) -> SlackFile | None:
    if not isinstance(raw, dict) or not _text(raw.get("id")):
        return None
    file_id = _text(raw.get("id"))
    name = _text(raw.get("name")) or _text(raw.get("title")) or file_id
    return SlackFile(id=file_id, name=name, content=uploads.get(file_id))


def _message(raw: dict[str, Any], uploads: Mapping[str, str]) -> SlackMessage | None:
    ts = _text(raw.get("ts"))
    if raw.get("type") != "message" or not ts:
        return None
    ts_key(ts)
    reactions = []
    for reaction in raw.get("reactions") or ():
        if isinstance(reaction, dict) and _text(reaction.get("name")):
            users = tuple(u for u in reaction.get("users") or () if isinstance(u, str))
            reactions.append((_text(reaction.get("name")), users))
    files = tuple(f for f in (_file(r, uploads) for r in raw.get("files") or ()) if f)
    thread_ts = _text(raw.get("thread_ts")) or None
    return SlackMessage(
        ts=ts,
        user=_text(raw.get("user")) or None,
        text=_text(raw.get("text")),
        subtype=_text(raw.get("subtype")) or None,
        thread_ts=thread_ts,
        reactions=tuple(reactions),
        files=files,
        username=_text(raw.get("username")) or _text(_object(raw.get("bot_profile")).get("name")),
    )


def _uploads(names: list[str]) -> dict[str, str]:
    """File bytes some export tools add, as `__uploads/<file id>/<name>`: file id -> entry."""
    found = {}
    for name in names:
        parts = PurePosixPath(name).parts
        if len(parts) == 3 and parts[0] == "__uploads" and not name.endswith("/"):
            found[parts[1]] = name
    return found


def _channel(
    archive: zipfile.ZipFile,
    raw: dict[str, Any],
    private: bool,
    uploads: Mapping[str, str],
    *,
    direct: bool = False,
) -> SlackChannel:
    name, channel_id = _text(raw.get("name")), _text(raw.get("id"))
    # A one-to-one conversation has no name: its folder is named by its id.
    folder = channel_id if direct and not name else name
    if not folder or not channel_id or "/" in folder or folder in (".", ".."):
        what = "direct conversation" if direct else "channel"
        raise SlackExportError(f"a {what} has no usable id or name: {raw.get('id')!r}")
    days = sorted(
        n
        for n in archive.namelist()
        if PurePosixPath(n).parent == PurePosixPath(folder) and _DAY.match(PurePosixPath(n).name)
    )
    messages = []
    for day in days:
        for item in _list_of_objects(_read_json(archive, day), day):
            message = _message(item, uploads)
            if message is not None:
                messages.append(message)
    messages.sort(key=lambda m: ts_key(m.ts))
    topic, purpose = _object(raw.get("topic")), _object(raw.get("purpose"))
    return SlackChannel(
        id=channel_id,
        name=folder,
        private=private or direct,
        archived=bool(raw.get("is_archived")) and not direct,
        topic=None if direct else _text(topic.get("value")) or _text(purpose.get("value")) or None,
        members=tuple(m for m in raw.get("members") or () if isinstance(m, str)),
        messages=tuple(messages),
        direct=direct,
    )


def read_export(path: Path) -> SlackExport:
    """The users, channels (public, and private where `groups.json` has them), direct and
    group direct messages (`dms.json`, `mpims.json`) and their messages, of the export at
    `path`."""
    try:
        archive = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as error:
        raise SlackExportError(f"{path} is not a zip file: {error}") from None
    with archive:
        names = archive.namelist()
        # Enterprise Grid names its members file org_users.json.
        people = "users.json" if "users.json" in names else "org_users.json"
        for needed in (people, "channels.json"):
            if needed not in names:
                raise SlackExportError(f"{path} has no users.json: not a Slack workspace export")
        users = [_user(u) for u in _list_of_objects(_read_json(archive, people), people)]
        uploads = _uploads(names)
        listed = [(c, False) for c in _list_of_objects(_read_json(archive, "channels.json"), "c")]
        if "groups.json" in names:
            groups = _list_of_objects(_read_json(archive, "groups.json"), "groups.json")
            listed += [(c, True) for c in groups]
        channels = tuple(_channel(archive, raw, private, uploads) for raw, private in listed)
        directs = tuple(
            _channel(archive, raw, True, uploads, direct=True)
            for listing in ("dms.json", "mpims.json")
            if listing in names
            for raw in _list_of_objects(_read_json(archive, listing), listing)
        )
    return SlackExport(
        users=tuple(u for u in users if u.id), channels=channels, directs=directs, archive=path
    )


def emoji_of(name: str) -> str:
    """The emoji of a Slack reaction name; `:name:` for the ones without a known emoji."""
    bare = _SKIN_TONE.sub("", name)
    return EMOJI.get(bare, f":{bare}:")


def plain_text(
    text: str, people: Mapping[str, str], channels: Mapping[str, str]
) -> tuple[str, list[str]]:
    """Slack's markup made readable, and the Slack user ids it mentions: `<@U1>` becomes
    `@name`, `<#C1|general>` `#general`, `<url|label>` `label (url)`; entities unescaped."""
    mentioned: list[str] = []

    def one(match: re.Match[str]) -> str:
        inner = match.group(1)
        target, _, label = inner.partition("|")
        if target.startswith("@"):
            mentioned.append(target[1:])
            return "@" + people.get(target[1:], label or target[1:])
        if target.startswith("#"):
            return "#" + (channels.get(target[1:]) or label or target[1:])
        if target.startswith("!"):
            return label or "@" + target[1:].split("^")[0]
        return f"{label} ({target})" if label and label != target else target

    readable = _MARKUP.sub(one, text)
    for entity, char in (("&lt;", "<"), ("&gt;", ">"), ("&amp;", "&")):
        readable = readable.replace(entity, char)
    return readable, mentioned
