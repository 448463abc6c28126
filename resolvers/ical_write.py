"""Writing events as an .ics file (iCalendar 2.0), with the VTIMEZONEs they need."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta

from icalendar import Alarm, Calendar, Event, Timezone, vCalAddress, vRecur

from resolvers.ical import IcsEvent, IcsOverride
from resolvers.recurrence import Series, check_series
from resolvers.recurrence_rules import check_time_zone


def render_ics(
    calendar_name: str,
    events: Sequence[IcsEvent],
    *,
    prodid: str = "-//Cove//Cove calendar//EN",
    stamp: datetime | None = None,
) -> str:
    """The events as an iCalendar file (VERSION 2.0) with the VTIMEZONEs they need.

    `stamp` is the DTSTAMP of every VEVENT (default: now), so equal input can give equal
    output. Series are checked with `check_series` first.
    """
    stamp = (stamp or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    calendar = Calendar()
    calendar.add("PRODID", prodid)
    calendar.add("VERSION", "2.0")
    calendar.add("CALSCALE", "GREGORIAN")
    calendar.add("X-WR-CALNAME", calendar_name)
    days: list[date] = []
    for event in events:
        series = check_series(event.series)
        calendar.add_component(_vevent(event, series, stamp))
        for override in sorted(event.overrides, key=lambda o: o.recurrence_id):
            calendar.add_component(_override_vevent(event, series, override, stamp))
        moments = [series.start, series.end, *(o.end for o in event.overrides if o.end)]
        days += [m.astimezone(UTC).date() for m in moments]
    if days:
        # Zone rules from the first event's year on; rules that never end need the default span.
        calendar.add_missing_timezones(
            first_date=date(min(days).year - 1, 1, 1),
            last_date=max(Timezone.DEFAULT_LAST_DATE, date(max(days).year + 2, 1, 1)),
        )
    rendered: bytes = calendar.to_ical()
    return rendered.decode("utf-8")


def _is_midnight(moment: datetime, series: Series) -> bool:
    zone = check_time_zone(series.time_zone)
    midnight = datetime.combine(moment.astimezone(zone).date(), time(0), tzinfo=zone)
    return moment.astimezone(UTC) == midnight.astimezone(UTC)


def _local(moment: datetime, series: Series, *, as_date: bool) -> datetime | date:
    """How a time is written: a DATE, or wall-clock time in the series' zone (with TZID)."""
    local = moment.astimezone(check_time_zone(series.time_zone))
    return local.date() if as_date else local


def _common(component: Event, event: IcsEvent, stamp: datetime, title: str) -> None:
    """UID, DTSTAMP, attendees, reminders and link: the same on a series and its overrides."""
    component.add("UID", event.uid)
    component.add("DTSTAMP", stamp)
    for attendee in event.attendees:
        address = vCalAddress(f"mailto:{attendee.email}")
        address.params["PARTSTAT"] = attendee.rsvp.replace("_", "-")
        component.add("ATTENDEE", address)
    if event.video_url:
        component.add("URL", event.video_url)
    for minutes in event.reminders:
        alarm = Alarm()
        alarm.add("ACTION", "DISPLAY")
        alarm.add("DESCRIPTION", title or "Reminder")
        alarm.add("TRIGGER", timedelta(minutes=-minutes))
        component.add_component(alarm)


def _vevent(event: IcsEvent, series: Series, stamp: datetime) -> Event:
    component = Event()
    _common(component, event, stamp, event.title)
    if series.all_day or series.time_zone != "UTC":
        component.add("X-COVE-TIME-ZONE", series.time_zone)
    component.add("DTSTART", _local(series.start, series, as_date=series.all_day))
    component.add("DTEND", _local(series.end, series, as_date=series.all_day))
    component.add("SUMMARY", event.title)
    if event.description:
        component.add("DESCRIPTION", event.description)
    if event.location:
        component.add("LOCATION", event.location)
    if series.rrule:
        component.add("RRULE", vRecur.from_ical(series.rrule))
    if series.exdates:
        component.add("EXDATE", [_local(x, series, as_date=series.all_day) for x in series.exdates])
    return component


def _override_vevent(
    event: IcsEvent, series: Series, override: IcsOverride, stamp: datetime
) -> Event:
    component = Event()
    title = override.title or event.title
    original = override.recurrence_id.astimezone(UTC)
    if override.cancelled or override.start is None or override.end is None:
        start, end = original, original + (series.end - series.start)
    else:
        start, end = override.start, override.end
    _common(component, event, stamp, title)
    if series.all_day or series.time_zone != "UTC":
        component.add("X-COVE-TIME-ZONE", series.time_zone)
    # An all-day series' occurrence moved to whole days stays all-day; else it gets times.
    dates = series.all_day and _is_midnight(start, series) and _is_midnight(end, series)
    component.add("RECURRENCE-ID", _local(original, series, as_date=series.all_day))
    component.add("DTSTART", _local(start, series, as_date=dates))
    component.add("DTEND", _local(end, series, as_date=dates))
    component.add("SUMMARY", title)
    description = override.description or event.description
    if description:
        component.add("DESCRIPTION", description)
    location = override.location or event.location
    if location:
        component.add("LOCATION", location)
    if override.cancelled:
        component.add("STATUS", "CANCELLED")
    return component
