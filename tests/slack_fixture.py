"""A small Slack workspace export, laid out as Slack documents it ("How to read Slack data
exports"): users.json, channels.json, and a folder per channel of YYYY-MM-DD.json files
holding each day's messages (threads, reactions, a shared file, a join notice); and, as a
full export has them, direct messages (dms.json: `id`, `members`; messages in a folder named
by the id) and group direct messages (mpims.json: `id`, `name`, `members`; messages in a
folder named by the name)."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

CANARY = "slackcanary-7f3a"
DAY1 = 1677664800  # 2023-03-01T10:00:00Z
DAY2 = DAY1 + 86400


def ts(seconds: int, micro: int = 0) -> str:
    return f"{seconds}.{micro:06d}"


def _user(uid: str, name: str, real: str, email: str) -> dict[str, Any]:
    return {
        "id": uid,
        "team_id": "T0001",
        "name": name,
        "deleted": False,
        "real_name": real,
        "is_bot": False,
        "profile": {"real_name": real, "display_name": name, "email": email},
    }


def _channel(cid: str, name: str, members: list[str], topic: str) -> dict[str, Any]:
    return {
        "id": cid,
        "name": name,
        "created": DAY1 - 3600,
        "creator": "U0OLIVE",
        "is_archived": False,
        "is_general": name == "general",
        "members": members,
        "topic": {"value": topic, "creator": "U0OLIVE", "last_set": DAY1 - 3600},
        "purpose": {"value": "", "creator": "", "last_set": 0},
    }


def _message(user: str, text: str, at: str, **extra: Any) -> dict[str, Any]:
    return {"type": "message", "user": user, "text": text, "ts": at, **extra}


PARENT = ts(DAY1 + 60)
USERS = [
    _user("U0OLIVE", "olive", "Olive Owner", "owner@slack.example"),
    _user("U0MIA", "mia", "Mia Member", "Member@Slack.Example"),
    _user("U0ZED", "zed", "Zed Stranger", "zed@elsewhere.example"),
    _user("U0GUS", "gus", "Gus Guest", "guest@slack.example"),
]
CHANNELS = [
    _channel("C0GENERAL", "general", ["U0OLIVE", "U0MIA", "U0ZED"], "Company-wide news"),
    _channel("C0RANDOM", "random", ["U0OLIVE", "U0MIA"], ""),
]
# Olive and Mia alone; Mia and Zed (who has no Cove account: skipped); and a group of three.
DMS = [
    {"id": "D0OLIVEMIA", "created": DAY1 - 3600, "members": ["U0OLIVE", "U0MIA"]},
    {"id": "D0MIAZED", "created": DAY1 - 3600, "members": ["U0MIA", "U0ZED"]},
]
TRIO = "mpdm-olive--mia--gus-1"
MPIMS = [
    {
        "id": "G0TRIO",
        "name": TRIO,
        "created": DAY1 - 3600,
        "creator": "U0OLIVE",
        "is_archived": False,
        "is_mpim": True,
        "members": ["U0OLIVE", "U0MIA", "U0GUS"],
        "topic": {"value": "Group messaging", "creator": "U0OLIVE", "last_set": DAY1 - 3600},
        "purpose": {"value": "", "creator": "", "last_set": 0},
    }
]
DAYS: dict[str, list[dict[str, Any]]] = {
    "general/2023-03-01.json": [
        _message("U0ZED", "<@U0ZED> has joined the channel", ts(DAY1), subtype="channel_join"),
        _message("U0OLIVE", f"Welcome <@U0MIA>! The code word is {CANARY}", ts(DAY1 + 30)),
        _message(
            "U0MIA",
            "Who has the deck?",
            PARENT,
            thread_ts=PARENT,
            reply_count=2,
            reply_users=["U0OLIVE", "U0ZED"],
            replies=[{"user": "U0OLIVE", "ts": ts(DAY1 + 120)}, {"user": "U0ZED", "ts": ts(DAY2)}],
            reactions=[{"name": "+1", "users": ["U0OLIVE", "U0ZED"], "count": 2}],
        ),
        _message(
            "U0OLIVE",
            "I do, see <https://example.com/deck|the deck>",
            ts(DAY1 + 120),
            thread_ts=PARENT,
            parent_user_id="U0MIA",
        ),
    ],
    "general/2023-03-02.json": [
        _message(
            "U0ZED", "Thanks &amp; see you", ts(DAY2), thread_ts=PARENT, parent_user_id="U0MIA"
        ),
        _message(
            "U0MIA",
            "Here is the plan",
            ts(DAY2 + 60),
            subtype="file_share",
            files=[
                {
                    "id": "F0PLAN",
                    "name": "plan.pdf",
                    "title": "Plan",
                    "mimetype": "application/pdf",
                    "url_private": "https://files.slack.com/files-pri/T0001-F0PLAN/plan.pdf",
                }
            ],
        ),
        _message(
            "U0ZED",
            "hello from zed",
            ts(DAY2 + 120),
            reactions=[{"name": "tada", "users": ["U0MIA"], "count": 1}],
        ),
    ],
    "random/2023-03-02.json": [
        _message(
            "U0MIA",
            "Lunch? &lt;3 in <#C0GENERAL|general>",
            ts(DAY2 + 30),
            reactions=[{"name": "heart", "users": ["U0OLIVE"], "count": 1}],
        ),
    ],
    "D0OLIVEMIA/2023-03-01.json": [
        _message("U0OLIVE", f"Just between us: {CANARY}-dm", ts(DAY1 + 300)),
        _message(
            "U0MIA",
            "Understood <@U0OLIVE>",
            ts(DAY1 + 360),
            reactions=[{"name": "eyes", "users": ["U0OLIVE", "U0GUS"], "count": 2}],
        ),
    ],
    "D0MIAZED/2023-03-01.json": [_message("U0ZED", "psst, mia", ts(DAY1 + 400))],
    f"{TRIO}/2023-03-02.json": [
        _message("U0GUS", "The three of us, then", ts(DAY2 + 200)),
        _message("U0ZED", "zed was never here", ts(DAY2 + 210)),
    ],
}


def write_export(
    path: Path, *, without: str | None = None, more: dict[str, Any] | None = None
) -> Path:
    """The export as a zip at `path`; `without` leaves one member out, `more` adds some."""
    members: dict[str, Any] = {
        "users.json": USERS,
        "channels.json": CHANNELS,
        "dms.json": DMS,
        "mpims.json": MPIMS,
        **DAYS,
        **(more or {}),
    }
    with zipfile.ZipFile(path, "w") as archive:
        for name, content in members.items():
            if name != without:
                raw = content if isinstance(content, bytes) else json.dumps(content, indent=1)
                archive.writestr(name, raw)
    return path
