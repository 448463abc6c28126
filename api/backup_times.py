"""When `cove serve` makes its backups: `backup_schedule`, times of day in UTC."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta


def schedule_times(text: str) -> list[time]:
    """`"03:15, 15:15:30"` as sorted times of day; ValueError naming what is wrong."""
    times = []
    for part in text.split(","):
        given = part.strip()
        try:
            if given.count(":") not in (1, 2):
                raise ValueError
            times.append(time.fromisoformat(given))
        except ValueError:
            raise ValueError(f"{given!r} is not a time of day as HH:MM or HH:MM:SS") from None
    return sorted(set(times))


def next_run(now: datetime, times: list[time]) -> datetime:
    """The first of `times` (UTC) strictly after `now`."""
    now = now.astimezone(UTC)
    for days in (0, 1):
        day = now.date() + timedelta(days=days)
        for moment in times:
            when = datetime.combine(day, moment, tzinfo=UTC)
            if when > now:
                return when
    raise ValueError("a schedule needs at least one time")
