"""iCalendar (RFC 5545) import and export of events: the types both directions share.

Reading is `resolvers.ical_parse.parse_ics` (with `resolvers.ical_scan` for content lines),
writing `resolvers.ical_write.render_ics`, both with the `icalendar` library.

`parse_ics` first walks the file's content lines itself: it unfolds them (RFC 5545 section
3.1) while remembering each logical line's first physical line, checks every line with
icalendar's own content-line parser and the BEGIN/END structure, so a malformed file is
refused with the line at fault. Only then does `icalendar.Calendar.from_ical` read the
calendar, and every event goes through `resolvers.recurrence.check_series`, so imported and
typed-in events share rules and messages. The result is all the events or an error: nothing
half-parsed. Errors are BAD_USER_INPUT on field "ics" with messages such as "line 7: ...".

Decisions for data RFC 5545 leaves open or Cove cannot hold:

* Times with a TZID are wall-clock times in that zone. A TZID must name an IANA zone,
  directly, as a Windows zone name (Outlook), with a vendor prefix such as
  "/mozilla.org/20050126_1/Europe/Paris", or through the X-LIC-LOCATION of its VTIMEZONE;
  VTIMEZONE definitions themselves are not used (tzdata is the authority), which also keeps
  icalendar from caching user-supplied zones process-wide. Any other TZID is refused.
* UTC times ("Z") get time zone "UTC". Floating times (no TZID, no "Z") and all-day dates are
  read as UTC too: a file does not say whose local time they are. The one exception is Cove's
  own X-COVE-TIME-ZONE event property, which `render_ics` writes so that an all-day event
  keeps its zone through an export and import.
* An event without UID gets a stable one: a SHA-256 of its content lines (DTSTAMP left out,
  since exporters restamp it every time) followed by "@import.cove", so importing the same
  file twice updates instead of duplicating.
* A timed event without DTEND or DURATION has zero length in RFC 5545; Cove events end after
  they start, so it lasts one minute. An all-day event without an end lasts one day.
* The video link is the standard URL property (X-COVE-VIDEO-URL wins if a file has both), and
  `render_ics` writes URL, which other calendar apps show as the event's link.
* Overrides (VEVENTs with RECURRENCE-ID) are matched to their series by UID; their SUMMARY,
  DESCRIPTION and LOCATION are kept only where they differ from the series'. A lone
  RECURRENCE-ID VEVENT whose series is not in the file (an invitation to one occurrence)
  becomes a single event. A cancelled series (STATUS:CANCELLED) is skipped with its changes.
  EXDATEs of an event without RRULE are ignored. RDATE, EXRULE and RANGE=THISANDFUTURE are
  refused rather than silently dropped.
* Reminders are VALARM triggers before the start (or before the end, RELATED=END), in whole
  minutes; triggers after the start are ignored.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final

from resolvers.errors import CoveError, bad_input
from resolvers.recurrence import Series

MAX_ICS_BYTES: Final = 2 * 1024 * 1024
MAX_ICS_EVENTS: Final = 1000
"""The most VEVENTs (series and overrides together) one file may hold, by default."""
ICS_CHECK_SECONDS: Final = 10.0
"""How long reading and checking one file may take, by default."""

RSVP_VALUES: Final = ("ACCEPTED", "DECLINED", "TENTATIVE", "NEEDS_ACTION")


@dataclass(frozen=True)
class IcsAttendee:
    email: str
    rsvp: str
    """One of RSVP_VALUES: "ACCEPTED", "DECLINED", "TENTATIVE" or "NEEDS_ACTION"."""


@dataclass(frozen=True)
class IcsOverride:
    """One changed or cancelled occurrence; None text means "as in the series"."""

    recurrence_id: datetime
    """Aware UTC instant of the original occurrence start."""
    start: datetime | None
    end: datetime | None
    cancelled: bool
    title: str | None = None
    description: str | None = None
    location: str | None = None


@dataclass(frozen=True)
class IcsEvent:
    uid: str
    title: str
    description: str | None
    location: str | None
    series: Series
    attendees: tuple[IcsAttendee, ...] = ()
    reminders: tuple[int, ...] = ()
    """Minutes before the start (VALARM TRIGGER:-PT15M is 15)."""
    video_url: str | None = None
    """The URL property (see the module notes)."""
    overrides: tuple[IcsOverride, ...] = ()


class IcsError(Exception):
    """Malformed iCalendar input, with the 1-based line of the original text when known."""

    def __init__(self, line: int | None, message: str) -> None:
        super().__init__(f"line {line}: {message}" if line is not None else message)
        self.line = line
        self.message = message


def ics_bad_input(error: IcsError) -> CoveError:
    """The BAD_USER_INPUT error (field "ics") for an IcsError: "line N: message"."""
    return bad_input(str(error), field="ics")
