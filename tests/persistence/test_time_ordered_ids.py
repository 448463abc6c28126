"""new_id and id_time: 26 lowercase base32 characters that sort by creation time."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from persistence.ids import id_time, new_id

SHAPE = re.compile(r"[0-7][0-9a-hjkmnp-tv-z]{25}")


def test_an_id_is_26_crockford_characters() -> None:
    assert SHAPE.fullmatch(new_id())


def test_ids_do_not_collide() -> None:
    made = [new_id() for _ in range(20_000)]
    assert len(set(made)) == len(made)


def test_id_time_is_the_millisecond_of_creation() -> None:
    before = datetime.now(UTC) - timedelta(milliseconds=1)
    made = new_id()
    after = datetime.now(UTC)
    assert before <= id_time(made) <= after
    at = datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)
    assert id_time(new_id(at=at)) == datetime(2026, 3, 1, 12, 0, 0, 123000, tzinfo=UTC)


def test_string_order_is_time_order() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    steps = [0, 1, 2, 31, 32, 1000, 86_400_000, 10**12]
    made = [new_id(at=start + timedelta(milliseconds=step)) for step in steps]
    assert sorted(made) == made
    assert [id_time(made_id) for made_id in made] == [
        start + timedelta(milliseconds=step) for step in steps
    ]


def test_the_time_range_fits_48_bits() -> None:
    assert new_id(at=datetime(1970, 1, 1, tzinfo=UTC)).startswith("0000000000")
    assert id_time(new_id(at=datetime(9999, 12, 31, tzinfo=UTC))).year == 9999
    with pytest.raises(ValueError):
        new_id(at=datetime(1969, 12, 31, tzinfo=UTC))
    with pytest.raises(ValueError, match="naive"):
        new_id(at=datetime(2026, 1, 1))


@pytest.mark.parametrize(
    "value",
    ["", "0" * 25, "0" * 27, "8" + "0" * 25, "0" * 25 + "u", "0" * 25 + "U", "0" * 25 + "!"],
)
def test_id_time_refuses_what_is_not_an_id(value: str) -> None:
    with pytest.raises(ValueError):
        id_time(value)
