"""Who is invited to an event (members, and outside email addresses) and their answers."""

from __future__ import annotations

from collections.abc import Sequence

from persistence.calendars_records import (
    AttendeeRecord,
    EventRecord,
)
from persistence.store import Delete, Put, Update
from resolvers.authz import WorkspaceAccess, forbidden
from resolvers.calendars import (
    EMAIL_INDEX,
    EventView,
    Rsvp,
    email_ref,
    get_event,
    publish,
)
from resolvers.context import RequestContext
from resolvers.errors import bad_input
from resolvers.global_ids import to_global_id as gid
from resolvers.notice_types import CalendarNotice
from resolvers.validation import normalize_email

MAX_ATTENDEES = 200


async def attendee_rows(
    ctx: RequestContext,
    granted: WorkspaceAccess,
    *,
    event_id: str,
    user_ids: Sequence[str],
    emails: Sequence[str],
    previous: Sequence[AttendeeRecord] = (),
) -> list[AttendeeRecord]:
    services = ctx.services
    if len(user_ids) + len(emails) > MAX_ATTENDEES:
        raise bad_input(f"An event has at most {MAX_ATTENDEES} attendees.", field="attendeeIds")
    kept = {a.attendee: a.rsvp for a in previous}
    rows: list[AttendeeRecord] = []
    unique_users = list(dict.fromkeys(user_ids))
    if unique_users:
        memberships = await services.workspaces.memberships(granted.workspace_id, unique_users)
        if any(m is None for m in memberships):
            raise bad_input("Attendees must be members of the workspace.", field="attendeeIds")
    for user_id in unique_users:
        key = f"user:{user_id}"
        rows.append(AttendeeRecord(event_id, key, user_id, None, kept.get(key, Rsvp.NEEDS_ACTION)))
    ws = granted.workspace_id
    for raw in dict.fromkeys(emails):
        email = normalize_email(raw, field="attendeeEmails")
        index = services.keyring.blind_index(EMAIL_INDEX, f"{ws}\x00{email}").hex()
        key = f"email:{index}"
        sealed = await services.keys.seal_text(email_ref(event_id, ws), email)
        rows.append(AttendeeRecord(event_id, key, "", sealed, kept.get(key, Rsvp.NEEDS_ACTION)))
    return rows


def attendee_ops(
    ctx: RequestContext,
    event: EventRecord,
    old: Sequence[AttendeeRecord],
    new: Sequence[AttendeeRecord],
) -> list[Put | Delete | Update]:
    repo = ctx.services.calendars
    keep = {a.attendee for a in new}
    ops: list[Put | Delete | Update] = []
    for row in old:
        if row.attendee not in keep:
            ops += repo.attendee_ops(event, row, delete=True)
    for row in new:
        ops += repo.attendee_ops(event, row)
    return ops


async def respond(ctx: RequestContext, event_id: str, response: Rsvp) -> EventView:
    """An invited member answers (for the whole series)."""
    services = ctx.services
    view = await get_event(ctx, event_id)
    me = f"user:{view.access.workspace.principal.user_id}"
    rows = await services.calendars.attendees(event_id)
    mine = next((r for r in rows if r.attendee == me), None)
    if mine is None:
        raise forbidden("Only people invited answer an event.")
    if mine.rsvp == response.value:
        return view  # the same answer again: nothing changes, nobody is told
    await services.calendars.set_rsvp(event_id, me, response.value)
    await publish(
        ctx,
        view.record.calendar_id,
        CalendarNotice.EVENT_RSVP_CHANGED,
        {"id": gid("Event", event_id), "userId": gid("User", me[5:]), "response": response.value},
    )
    return view
