"""A series of IMS sessions before confirming: its request, its rows, the patient's picks, clock changes."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from web.domain.plans import clocks_change, conflicts, overrides, proposal_rows, series_from

VANCOUVER = ZoneInfo("America/Vancouver")


def session(index: int, day: str, starts_at: str | None, status: str = "free", **extra: object) -> dict:
    return {
        "index": index,
        "local_date": day,
        "status": status,
        "starts_at": starts_at,
        "practitioner_id": "ida",
        "room_id": extra.pop("room_id", None),
        "alternatives": extra.pop("alternatives", []),
    } | extra


# Tuesdays at 10:00 in Vancouver across the November 2026 change (PDT -> PST on 1 November).
PREVIEW = [
    session(0, "2026-10-20", "2026-10-20T17:00:00+00:00", room_id="room-1"),
    session(1, "2026-10-27", "2026-10-27T17:00:00+00:00"),
    session(
        2,
        "2026-11-03",
        "2026-11-03T18:00:00+00:00",
        "taken",
        alternatives=[
            {"kind": "same_practitioner", "practitioner_id": "ida", "starts_at": "2026-11-03T17:30:00+00:00"},
            {
                "kind": "other_practitioner",
                "practitioner_id": "oona",
                "starts_at": "2026-11-03T18:00:00+00:00",
            },
        ],
    ),
    session(3, "2026-11-10", "2026-11-10T18:00:00+00:00"),
]


def test_a_series_starts_from_the_picked_time_in_the_clinics_zone() -> None:
    # Tuesday 20 October 2026, 10:00 PDT, picked as the first session.
    first = datetime(2026, 10, 20, 17, 0, tzinfo=UTC)
    series = series_from(first, VANCOUVER, every_weeks=2, sessions=6)
    assert series.request() == {
        "first_day": "2026-10-20",
        "weekday": 1,
        "local_time": "10:00",
        "every_weeks": 2,
        "sessions": 6,
    }
    # A late-evening time is on the clinic's day, not UTC's.
    evening = series_from(datetime(2026, 10, 21, 2, 30, tzinfo=UTC), VANCOUVER, 1, 2)
    assert (evening.first_day, evening.weekday, evening.local_time) == (date(2026, 10, 20), 1, "19:30")


@pytest.mark.parametrize(("every", "count"), [(5, 6), (1, 1), (1, 13)])
def test_only_the_offered_rhythms_and_lengths_are_accepted(every: int, count: int) -> None:
    with pytest.raises(ValueError, match="unsupported"):
        series_from(datetime(2026, 10, 20, 17, tzinfo=UTC), VANCOUVER, every, count)


def test_the_preview_becomes_rows_in_order_with_their_alternatives() -> None:
    rows = proposal_rows(list(reversed(PREVIEW)))
    assert [r.number for r in rows] == [1, 2, 3, 4]
    assert [r.free for r in rows] == [True, True, False, True]
    assert rows[0].room_id == "room-1"
    assert rows[2].day == date(2026, 11, 3)
    assert [a.key for a in rows[2].alternatives] == ["2026-11-03T17:30Z/ida", "2026-11-03T18:00Z/oona"]
    assert [a.same_practitioner for a in rows[2].alternatives] == [True, False]
    assert conflicts(rows) == 1


def test_the_series_keeps_its_wall_clock_time_when_the_clocks_change() -> None:
    rows = proposal_rows(PREVIEW)
    local = [r.starts_at.astimezone(VANCOUVER).strftime("%H:%M %Z") for r in rows if r.starts_at]
    assert local == ["10:00 PDT", "10:00 PDT", "10:00 PST", "10:00 PST"]
    assert clocks_change(rows, VANCOUVER)
    assert not clocks_change(rows[:2], VANCOUVER)


def test_picks_become_overrides_and_a_row_without_a_valid_pick_is_named() -> None:
    rows = proposal_rows(PREVIEW)
    chosen, missing = overrides(rows, {2: "2026-11-03T18:00Z/oona"})
    assert chosen == [{"index": 2, "starts_at": "2026-11-03T18:00:00+00:00", "practitioner_id": "oona"}]
    assert missing == []
    # No pick, or a pick that was never offered on that row (a forged value): session 3 still needs one.
    assert overrides(rows, {}) == ([], [3])
    assert overrides(rows, {2: "2026-11-03T03:00Z/ida"}) == ([], [3])
    # Picks on free rows are ignored.
    assert overrides(rows, {0: "2026-11-03T18:00Z/oona", 2: "2026-11-03T17:30Z/ida"})[0] == [
        {"index": 2, "starts_at": "2026-11-03T17:30:00+00:00", "practitioner_id": "ida"}
    ]


def test_a_local_time_that_does_not_exist_that_day_has_no_start() -> None:
    rows = proposal_rows([session(0, "2027-03-14", None, "nonexistent_local_time")])
    assert rows[0].starts_at is None
    assert not rows[0].free
    assert not clocks_change(rows, VANCOUVER)
