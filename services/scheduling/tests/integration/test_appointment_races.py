"""Two changes of one appointment at the same moment take turns: no lost update, one event per sequence.

Each round books a fresh appointment and fires two changes of it at once from two threads (a barrier
releases them together) through the app served in-process: cancel and reschedule, two reschedules, two
cancels. The second change waits for the first (a row lock) and applies to its result, or is refused
because of it. Afterwards the stored row is the answer with the highest sequence, and the outbox holds one
event per sequence for each appointment, in increasing order. With If-Match, the same duel lets exactly one
change through and answers the other 412.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select
from werkzeug.test import TestResponse

from clinic_shared.events.envelope import load_event
from clinic_shared.testing.clock import ManualClock
from scheduling.adapters import orm
from scheduling.bootstrap import Container

from ..conftest import Api, Catalogue

Change = tuple[str, dict[str, Any], dict[str, str]]  # path, body, headers


def duel(app: Flask, first: Change, second: Change) -> list[TestResponse]:
    """Send both changes at the same moment, each from its own thread and client."""
    barrier = threading.Barrier(2)

    def send(change: Change) -> TestResponse:
        path, body, headers = change
        client = app.test_client()
        barrier.wait()
        return client.post(path, json=body, headers=headers)

    with ThreadPoolExecutor(max_workers=2) as pool:
        return list(pool.map(send, [first, second]))


def events_by_appointment(container: Container) -> dict[str, list[tuple[str, int]]]:
    """Each appointment's events (type, sequence) in outbox order."""
    with container.engine.connect() as conn:
        bodies = conn.execute(select(orm.outbox.c.body).order_by(orm.outbox.c.position)).scalars().all()
    seen: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for event in map(load_event, bodies):
        if event.type.startswith("scheduling.appointment.") and "sequence" in event.data:
            seen[str(event.data["appointment_id"])].append((event.type, event.data["sequence"]))
    return seen


def rounds_for(database_url: str, postgres_rounds: int) -> int:
    # SQLite serializes whole transactions, so a couple of rounds make the point there.
    return 2 if database_url.startswith("sqlite") else postgres_rounds


class Duels:
    """Books one fresh appointment per duel, each on its own day, and keeps every answer."""

    def __init__(self, api: Api, catalogue: Catalogue, clock: ManualClock, headers: dict[str, str]) -> None:
        self.api, self.catalogue, self.headers = api, catalogue, headers
        self.base = clock.now() + timedelta(days=2)
        self.days = 0
        self.answers: dict[str, list[TestResponse]] = defaultdict(list)

    def book(self) -> tuple[str, datetime]:
        starts = self.base + timedelta(days=self.days)
        self.days += 1
        body = {
            "clinic_id": self.catalogue.clinic_id,
            "practitioner_id": self.catalogue.ims_practitioner_id,
            "treatment_type_id": self.catalogue.assessment_id,
            "starts_at": starts.isoformat(),
        }
        response = self.api.client.post("/appointments", headers=self.headers, json=body)
        assert response.status_code == 201, response.json
        return response.json["id"], starts

    def cancel(self, appointment_id: str, **headers: str) -> Change:
        return f"/appointments/{appointment_id}/cancel", {}, self.headers | headers

    def reschedule(self, appointment_id: str, starts: datetime, **headers: str) -> Change:
        path = f"/appointments/{appointment_id}/reschedule"
        return path, {"starts_at": starts.isoformat()}, self.headers | headers

    def fight(self, appointment_id: str, first: Change, second: Change) -> list[int]:
        responses = duel(self.api.client.application, first, second)
        self.answers[appointment_id].extend(responses)
        return sorted(r.status_code for r in responses)


def assert_no_lost_update(duels: Duels, container: Container) -> None:
    """The stored row is the answer with the highest sequence; answers never share a sequence; the outbox
    has one event per sequence per appointment, in increasing order (the booking's 0 first)."""
    events = events_by_appointment(container)
    with container.engine.connect() as conn:
        rows = {
            str(row.id): row
            for row in conn.execute(
                select(
                    orm.appointments.c.id,
                    orm.appointments.c.sequence,
                    orm.appointments.c.status,
                    orm.appointments.c.starts_at,
                )
            )
        }
    for appointment_id, responses in duels.answers.items():
        answered = [r.json for r in responses if r.status_code == 200]
        sequences = [a["sequence"] for a in answered]
        assert len(set(sequences)) == len(sequences), f"{appointment_id}: two answers with one sequence"
        row = rows[appointment_id]
        latest = max(answered, key=lambda a: a["sequence"])
        stored = {"sequence": row.sequence, "status": str(row.status), "starts_at": row.starts_at.isoformat()}
        assert {k: latest[k] for k in stored} == stored, appointment_id
        event_sequences = [sequence for _, sequence in events[appointment_id]]
        assert event_sequences == list(range(row.sequence + 1)), (appointment_id, events[appointment_id])


@pytest.mark.parametrize("rounds", [pytest.param(12, id="12-rounds")])
def test_simultaneous_changes_of_one_appointment_take_turns_and_nothing_is_lost(
    api: Api, catalogue: Catalogue, clock: ManualClock, container: Container, rounds: int, database_url: str
) -> None:
    _, headers = api.register_patient("duels@example.test")
    duels = Duels(api, catalogue, clock, headers)
    outcomes: dict[str, list[list[int]]] = defaultdict(list)
    for _ in range(rounds_for(database_url, rounds)):
        appointment_id, starts = duels.book()
        outcomes["cancel+reschedule"].append(
            duels.fight(
                appointment_id,
                duels.cancel(appointment_id),
                duels.reschedule(appointment_id, starts + timedelta(hours=2)),
            )
        )
        appointment_id, starts = duels.book()
        outcomes["reschedule+reschedule"].append(
            duels.fight(
                appointment_id,
                duels.reschedule(appointment_id, starts + timedelta(hours=2)),
                duels.reschedule(appointment_id, starts + timedelta(hours=4)),
            )
        )
        appointment_id, _ = duels.book()
        outcomes["cancel+cancel"].append(
            duels.fight(appointment_id, duels.cancel(appointment_id), duels.cancel(appointment_id))
        )
    # Whichever goes first, the second applies after it: a reschedule after a cancel is refused (422), a
    # cancel after a reschedule cancels the moved appointment; a second cancel is refused as today.
    assert all(o in ([200, 200], [200, 422]) for o in outcomes["cancel+reschedule"]), outcomes
    assert all(o == [200, 200] for o in outcomes["reschedule+reschedule"]), outcomes
    assert all(o == [200, 422] for o in outcomes["cancel+cancel"]), outcomes
    assert_no_lost_update(duels, container)


@pytest.mark.parametrize("rounds", [pytest.param(8, id="8-rounds")])
def test_two_changes_sent_with_the_same_if_match_let_exactly_one_through(
    api: Api, catalogue: Catalogue, clock: ManualClock, container: Container, rounds: int, database_url: str
) -> None:
    _, headers = api.register_patient("etags@example.test")
    duels = Duels(api, catalogue, clock, headers)
    for _ in range(rounds_for(database_url, rounds)):
        appointment_id, starts = duels.book()
        etag = api.client.get(f"/appointments/{appointment_id}", headers=headers).headers["ETag"]
        first = duels.reschedule(appointment_id, starts + timedelta(hours=2), **{"If-Match": etag})
        second = duels.reschedule(appointment_id, starts + timedelta(hours=4), **{"If-Match": etag})
        assert duels.fight(appointment_id, first, second) == [200, 412]
        [stale] = [r for r in duels.answers[appointment_id] if r.status_code == 412]
        assert stale.content_type == "application/problem+json"
        assert stale.json["status"] == 412
    assert_no_lost_update(duels, container)


def test_an_appointment_carries_its_version_as_an_etag_and_a_stale_if_match_is_refused_with_412(
    api: Api, admin: dict[str, str], catalogue: Catalogue, clock: ManualClock
) -> None:
    _, headers = api.register_patient("etag@example.test")
    duels = Duels(api, catalogue, clock, headers)
    appointment_id, starts = duels.book()
    path = f"/appointments/{appointment_id}"
    read = api.client.get(path, headers=headers)
    assert read.headers["ETag"] == f'"{read.json["version"]}"'
    moved = api.client.post(
        f"{path}/reschedule",
        json={"starts_at": (starts + timedelta(hours=1)).isoformat()},
        headers=headers | {"If-Match": read.headers["ETag"]},
    )
    assert moved.status_code == 200, moved.json
    assert moved.headers["ETag"] != read.headers["ETag"]
    assert moved.headers["ETag"] == api.client.get(path, headers=headers).headers["ETag"]
    # The version read before the move is stale now; a weak tag or a stranger never matches.
    for stale in (read.headers["ETag"], "W/" + moved.headers["ETag"], '"not-a-version"'):
        refused = api.client.post(f"{path}/cancel", headers=headers | {"If-Match": stale}, json={})
        assert refused.status_code == 412, (stale, refused.json)
        assert refused.content_type == "application/problem+json"
    assert api.client.get(path, headers=headers).json["status"] == "booked"
    # A list of tags matches if one of them does.
    listed = headers | {"If-Match": f'"999", {moved.headers["ETag"]}'}
    assert api.client.post(f"{path}/cancel", headers=listed, json={}).status_code == 200

    # Staff's changes take If-Match too; ``*`` matches any version.
    body = {
        "clinic_id": catalogue.clinic_id,
        "practitioner_id": catalogue.assessor_id,
        "treatment_type_id": catalogue.assessment_id,
        "starts_at": (clock.now() + timedelta(hours=3)).isoformat(),
    }
    visit = api.client.post("/appointments", headers=headers, json=body)
    assert visit.status_code == 201, visit.json
    assert visit.headers["ETag"] == f'"{visit.json["version"]}"'
    clock.advance(timedelta(hours=3, minutes=5))
    visit_path = f"/appointments/{visit.json['id']}"
    arrived = api.client.post(f"{visit_path}/arrive", headers=admin | {"If-Match": "*"})
    assert arrived.status_code == 200, arrived.json
    assert (
        api.client.post(
            f"{visit_path}/no-show", headers=admin | {"If-Match": visit.headers["ETag"]}, json={}
        ).status_code
        == 412
    )
    completed = api.client.post(
        f"{visit_path}/complete", headers=admin | {"If-Match": arrived.headers["ETag"]}
    )
    assert completed.status_code == 200, completed.json
    assert completed.json["status"] == "fulfilled"


def test_the_openapi_document_lists_if_match_etag_and_412_on_the_change_endpoints(api: Api) -> None:
    spec = api.client.get("/openapi.json").json
    for change in ("cancel", "reschedule", "arrive", "complete", "no-show"):
        operation = spec["paths"][f"/appointments/{{appointment_id}}/{change}"]["post"]
        assert {"in": "header", "name": "If-Match"}.items() <= next(
            p for p in operation["parameters"] if p["name"] == "If-Match"
        ).items(), change
        assert "412" in operation["responses"], change
        assert "ETag" in operation["responses"]["200"]["headers"], change
    assert "ETag" in spec["paths"]["/appointments/{appointment_id}"]["get"]["responses"]["200"]["headers"]
