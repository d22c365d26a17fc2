"""Free times: a week of them for the booking pages and the earliest one, from scheduling's slot search
(62 local days at most per search, paged).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import Any

from web.domain import slots as slot_rules
from web.domain.slots import Slot, Times
from web.service_layer.accounts import Credentials
from web.service_layer.clinic_catalogue import Clinic
from web.service_layer.concurrency import together
from web.service_layer.ports import Apis

SLOT_PAGE_SIZE = 500  # scheduling's largest slot page
MAX_SLOT_PAGES = 10
SEARCH_DAYS = 62  # scheduling searches at most 62 local days at once


def _search(
    apis: Apis,
    credentials: Credentials,
    clinic_id: str,
    treatment_id: str,
    practitioner_id: str | None,
    first: date,
    last: date,
    *,
    limit: int | None = None,
) -> list[Slot]:
    params: dict[str, Any] = {
        "treatment_type_id": treatment_id,
        "from": first.isoformat(),
        "to": last.isoformat(),
    }
    if practitioner_id:
        params["practitioner_id"] = practitioner_id
    found: list[Slot] = []
    for page in range(1, MAX_SLOT_PAGES + 1):
        size = min(limit, SLOT_PAGE_SIZE) if limit else SLOT_PAGE_SIZE
        response = apis.scheduling.request(
            "GET",
            f"/clinics/{clinic_id}/slots",
            token=credentials.access_token,
            params=params | {"page": page, "page_size": size},
        )
        found += [Slot.from_api(s) for s in response.json()]
        if limit and len(found) >= limit:
            return found[:limit]
        pagination = json.loads(response.headers.get("X-Pagination") or "{}")
        if not pagination.get("next_page"):
            break
    return found


def earliest_slot(
    apis: Apis,
    credentials: Credentials,
    place: Clinic,
    treatment_id: str,
    practitioner_id: str | None,
    *,
    today: date,
    last_day: date,
) -> Slot | None:
    """The first free time from today up to the clinic's horizon (a few 62-day searches at most)."""
    first = today
    while first <= last_day:
        last = min(first + timedelta(days=SEARCH_DAYS - 1), last_day)
        found = _search(apis, credentials, place.id, treatment_id, practitioner_id, first, last, limit=1)
        if found:
            return found[0]
        first = last + timedelta(days=1)
    return None


def times(
    apis: Apis,
    credentials: Credentials,
    place: Clinic,
    treatment_id: str,
    practitioner_id: str | None,
    requested_week: date | None,
    *,
    now: datetime,
    preferred: Iterable[str] = (),
) -> Times:
    """A week of free times (the one asked for, else the earliest free time's) and the earliest one."""
    zone = place.zone
    today = slot_rules.local_today(now, zone)
    last_day = slot_rules.last_bookable_day(now, zone, place.horizon_days)

    def week_from(monday: date) -> list[Slot]:
        start, end = slot_rules.search_range(monday, today)
        if start > end:
            return []
        return _search(apis, credentials, place.id, treatment_id, practitioner_id, start, end)

    # The week shown is the one asked for, else the earliest free time's, which is most often this one.
    # This week's times start today, so its first free time is the earliest: one search does. Any other
    # week is searched beside the earliest time, and again only if the earliest falls in another week.
    guess = slot_rules.choose_monday(requested_week, today=today, last_day=last_day, fallback=None)
    first: Slot | None
    if guess == slot_rules.monday_of(today):
        found = week_from(guess)
        first = min(found, key=lambda slot: slot.starts_at) if found else None
        if first is None:
            first = earliest_slot(
                apis, credentials, place, treatment_id, practitioner_id, today=today, last_day=last_day
            )
    else:
        first, found = together(
            lambda: earliest_slot(
                apis, credentials, place, treatment_id, practitioner_id, today=today, last_day=last_day
            ),
            lambda: week_from(guess),
        )
    monday = slot_rules.choose_monday(
        requested_week,
        today=today,
        last_day=last_day,
        fallback=first.local(zone).date() if first else None,
    )
    if monday != guess:
        found = week_from(monday)
    if practitioner_id is None:
        found = slot_rules.one_per_time(found, preferred)
    week = slot_rules.week_of(found, monday, zone, today=today, last_day=last_day)
    return Times(week=week, earliest=first, today=today)
