"""Millisecond timestamps: the precision both engines store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MILLISECOND = timedelta(milliseconds=1)


def to_millis(moment: datetime) -> int:
    """Milliseconds since the Unix epoch, rounded down; naive datetimes are refused."""
    if moment.utcoffset() is None:
        raise ValueError(f"naive datetime {moment.isoformat()}: give a timezone-aware UTC time")
    return (moment - EPOCH) // _MILLISECOND


def from_millis(millis: int) -> datetime:
    """The UTC datetime `millis` milliseconds after the Unix epoch."""
    # Adding a timedelta is exact, where datetime.fromtimestamp(ms / 1000) goes through a float.
    return EPOCH + timedelta(milliseconds=millis)
