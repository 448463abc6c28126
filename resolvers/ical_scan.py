"""An .ics file's content lines: unfolded and checked one by one, BEGIN/END matched."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from time import monotonic, sleep
from typing import Final

from icalendar.parser import Contentline

from resolvers.ical import IcsError

_MAX_DEPTH: Final = 8
_CONTROL: Final = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


@dataclass(frozen=True)
class Budget:
    """What one file may cost: VEVENTs, and a deadline checked between events (each event's
    checks are bounded, so a file overruns its deadline by one event's work at most)."""

    max_events: int
    deadline: float
    seconds: float

    def check_time(self, line: int | None) -> None:
        # Hand the GIL over between events: a thread that only waits for the interpreter's
        # switch interval (5 ms) would add that wait to every step of the event loop's work.
        sleep(0)
        if monotonic() > self.deadline:
            raise IcsError(
                line,
                f"Checking the file took more than {self.seconds:g} s; import it in smaller files.",
            )


@dataclass
class Block:
    """One component seen while scanning: where it begins and where its properties are."""

    name: str
    line: int
    properties: dict[str, list[int]] = field(default_factory=dict)
    content: list[str] = field(default_factory=list)
    values: dict[str, str] = field(default_factory=dict)

    def line_of(self, name: str) -> int:
        """The line of the first `name` property, or of BEGIN when there is none."""
        return self.properties.get(name, [self.line])[0]


@dataclass
class Scan:
    text: str
    """The calendar without VTIMEZONE and other non-VEVENT components, for icalendar."""
    events: list[Block]
    zones: dict[str, str]
    """VTIMEZONE TZID -> its X-LIC-LOCATION, where given."""


def _logical_lines(text: str) -> list[tuple[int, str]]:
    """Unfolded content lines, each with the 1-based number of its first physical line."""
    lines: list[tuple[int, str]] = []
    for number, raw in enumerate(text.removeprefix("\ufeff").split("\n"), start=1):
        physical = raw.removesuffix("\r")
        if not physical:
            continue
        if _CONTROL.search(physical):
            raise IcsError(number, "The line holds a control character.")
        if physical[0] in " \t":
            if not lines:
                raise IcsError(number, "A folded line must continue a previous line.")
            first, content = lines[-1]
            lines[-1] = (first, content + physical[1:])
        else:
            lines.append((number, physical))
    return lines


class Scanner:
    """Checks content lines and the BEGIN/END structure, remembering where things are."""

    def __init__(self, max_events: int) -> None:
        self.max_events = max_events
        self.stack: list[Block] = []
        self.events: list[Block] = []
        self.zones: dict[str, str] = {}
        self.kept: list[str] = []
        self.closed = False

    def scan(self, text: str) -> Scan:
        lines = _logical_lines(text)
        if not lines:
            raise IcsError(None, "The file is empty.")
        for number, content in lines:
            if number % 64 == 0:
                sleep(0)  # hand the GIL over now and then (see Budget.check_time)
            if self.closed:
                raise IcsError(number, "Nothing may follow END:VCALENDAR.")
            try:
                name, _, value = Contentline(content).parts()  # type: ignore[no-untyped-call]
            except (ValueError, AssertionError):
                raise IcsError(
                    number, "This is not a valid iCalendar line (NAME;PARAMETERS:VALUE)."
                ) from None
            name = name.upper()
            if name == "BEGIN":
                self.begin(number, value.strip().upper())
            elif not self.stack:
                raise IcsError(number, "An iCalendar file must start with BEGIN:VCALENDAR.")
            elif name != "END":
                self.property(number, name, value, content)
            # icalendar reads the calendar's own lines and its VEVENTs, nothing else.
            if len(self.stack) == 1 or self.stack[1].name == "VEVENT":
                self.kept.append(content)
            if name == "END":
                self.end(number, value.strip().upper())
        if self.stack:
            block = self.stack[-1]
            raise IcsError(block.line, f"BEGIN:{block.name} is never closed.")
        return Scan("\r\n".join(self.kept) + "\r\n", self.events, self.zones)

    def begin(self, number: int, kind: str) -> None:
        if not self.stack and kind != "VCALENDAR":
            raise IcsError(number, "An iCalendar file must start with BEGIN:VCALENDAR.")
        if self.stack and kind == "VCALENDAR":
            raise IcsError(number, "A VCALENDAR cannot hold another VCALENDAR.")
        if len(self.stack) >= _MAX_DEPTH:
            raise IcsError(number, "Components are nested too deeply.")
        block = Block(kind, number)
        if kind == "VEVENT":
            if len(self.stack) != 1:
                raise IcsError(number, "A VEVENT must be directly inside the VCALENDAR.")
            if len(self.events) >= self.max_events:
                raise IcsError(number, f"A file can hold at most {self.max_events:,} events.")
            self.events.append(block)
        self.stack.append(block)

    def property(self, number: int, name: str, value: str, content: str) -> None:
        block = self.stack[-1]
        block.properties.setdefault(name, []).append(number)
        if block.name == "VEVENT":
            block.content.append(content)
        elif block.name == "VTIMEZONE":
            block.values.setdefault(name, value.strip())

    def end(self, number: int, kind: str) -> None:
        block = self.stack[-1]
        if kind != block.name:
            raise IcsError(
                number, f"END:{kind[:40]} does not close BEGIN:{block.name} from line {block.line}."
            )
        self.stack.pop()
        if block.name == "VTIMEZONE" and "TZID" in block.values:
            self.zones[block.values["TZID"]] = block.values.get("X-LIC-LOCATION", "")
        self.closed = not self.stack
