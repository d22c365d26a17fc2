"""Simultaneous bookings for different practitioners at one time each get a room while one is free.

Each booking claims the first free room no other booking is being placed in; when two still pick the same
one, the database refuses the second, which then takes the next free room instead of answering 409.
"""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import text

from clinic_shared.testing.clock import ManualClock
from clinic_shared.tokens import Principal
from scheduling.bootstrap import Container
from scheduling.service_layer.appointments import BookAppointment, book_appointment

from ..conftest import Api, Catalogue
from .test_patient_overlap import add_practitioners, body, race

ROOMS = 6


def add_rooms(api: Api, admin: dict[str, str], catalogue: Catalogue, count: int) -> None:
    for n in range(count):
        room = api.client.post(
            f"/clinics/{catalogue.clinic_id}/rooms", headers=admin, json={"name": f"Bed {n}"}
        )
        assert room.status_code == 201, room.json


@pytest.mark.parametrize("rounds", [pytest.param(5, id="5-rounds")])
def test_as_many_simultaneous_bookings_as_rooms_all_get_a_room(
    api: Api,
    admin: dict[str, str],
    catalogue: Catalogue,
    clock: ManualClock,
    container: Container,
    rounds: int,
    database_url: str,
) -> None:
    if database_url.startswith("sqlite"):
        rounds = 2  # SQLite serializes the bookings: each one sees the rooms the earlier ones took
    add_rooms(api, admin, catalogue, ROOMS)
    practitioners = [catalogue.ims_practitioner_id, catalogue.assessor_id]
    practitioners += add_practitioners(api, admin, catalogue, ROOMS - len(practitioners))
    patients = [api.register_patient(f"room-{n}@example.test")[0]["id"] for n in range(ROOMS)]
    app = api.client.application
    for round_number in range(rounds):
        starts = clock.now() + timedelta(days=2 + round_number)
        bodies = [
            body(catalogue, practitioner, starts, patient_id=patient)
            for practitioner, patient in zip(practitioners, patients, strict=True)
        ]
        responses = race(app, admin, bodies)
        statuses = Counter(r.status_code for r in responses)
        assert statuses == Counter({201: ROOMS}), f"round {round_number}: {[r.json for r in responses]}"
        assert len({r.json["room_id"] for r in responses}) == ROOMS
    with container.engine.connect() as conn:
        booked = conn.execute(text("SELECT count(*) FROM appointments WHERE status = 'booked'")).scalar()
        shared = conn.execute(
            text(
                "SELECT room_id, starts_at FROM appointments WHERE status = 'booked' "
                "GROUP BY room_id, starts_at HAVING count(*) > 1 OR room_id IS NULL"
            )
        ).all()
    assert (booked, shared) == (ROOMS * rounds, [])


def test_as_many_simultaneous_moves_onto_one_time_as_rooms_all_get_a_room(
    api: Api, admin: dict[str, str], catalogue: Catalogue, clock: ManualClock, database_url: str
) -> None:
    rounds = 2 if database_url.startswith("sqlite") else 4
    add_rooms(api, admin, catalogue, ROOMS)
    practitioners = [catalogue.ims_practitioner_id, catalogue.assessor_id]
    practitioners += add_practitioners(api, admin, catalogue, ROOMS - len(practitioners))
    patients = [api.register_patient(f"move-{n}@example.test")[0]["id"] for n in range(ROOMS)]
    app = api.client.application
    for round_number in range(rounds):
        # Each booked on its own day, then all moved at once onto one time.
        ids = []
        for n, (practitioner, patient) in enumerate(zip(practitioners, patients, strict=True)):
            starts = clock.now() + timedelta(days=30 + ROOMS * round_number + n)
            booked = api.client.post(
                "/appointments", headers=admin, json=body(catalogue, practitioner, starts, patient_id=patient)
            )
            assert booked.status_code == 201, booked.json
            ids.append(booked.json["id"])
        onto = {"starts_at": (clock.now() + timedelta(days=2 + round_number)).isoformat()}
        responses = race(app, admin, [onto] * ROOMS, [f"/appointments/{i}/reschedule" for i in ids])
        statuses = Counter(r.status_code for r in responses)
        assert statuses == Counter({200: ROOMS}), f"round {round_number}: {[r.json for r in responses]}"
        assert len({r.json["room_id"] for r in responses}) == ROOMS


def test_one_booking_more_than_rooms_is_refused_when_every_room_is_taken(
    api: Api, admin: dict[str, str], catalogue: Catalogue, clock: ManualClock
) -> None:
    add_rooms(api, admin, catalogue, 2)
    practitioners = [
        catalogue.ims_practitioner_id,
        catalogue.assessor_id,
        *add_practitioners(api, admin, catalogue, 1),
    ]
    patients = [api.register_patient(f"full-{n}@example.test")[0]["id"] for n in range(3)]
    starts = clock.now() + timedelta(days=2)
    bodies = [body(catalogue, p, starts, patient_id=q) for p, q in zip(practitioners, patients, strict=True)]
    responses = race(api.client.application, admin, bodies)
    assert Counter(r.status_code for r in responses) == Counter({201: 2, 409: 1})
    [refused] = [r for r in responses if r.status_code == 409]
    assert refused.json["detail"] == "no room is free at this time"


def test_a_booking_in_progress_in_the_first_room_sends_the_next_booking_to_another_room(
    api: Api,
    admin: dict[str, str],
    catalogue: Catalogue,
    clock: ManualClock,
    container: Container,
    database_url: str,
) -> None:
    if database_url.startswith("sqlite"):
        pytest.skip("SQLite serializes writers: no booking is ever in progress beside another")
    add_rooms(api, admin, catalogue, 2)
    patient, other_patient = (api.register_patient(f"{n}-room@example.test")[0]["id"] for n in ("one", "two"))
    starts = clock.now() + timedelta(days=2)
    staff = Principal(account_id=uuid.uuid4(), roles=frozenset({"admin"}))
    with container.uow() as in_progress:  # held open: booked, not yet committed
        first = book_appointment(
            in_progress,
            staff,
            BookAppointment(
                clinic_id=uuid.UUID(catalogue.clinic_id),
                practitioner_id=uuid.UUID(catalogue.ims_practitioner_id),
                treatment_type_id=uuid.UUID(catalogue.assessment_id),
                starts_at=starts,
                patient_id=uuid.UUID(patient),
            ),
        )
        answered: list[object] = []
        second = threading.Thread(
            target=lambda: answered.append(
                api.client.application.test_client().post(
                    "/appointments",
                    headers=admin,
                    json=body(catalogue, catalogue.assessor_id, starts, patient_id=other_patient),
                )
            )
        )
        second.start()
        # Without the claim the second booking picks the same room and waits for this transaction.
        second.join(timeout=10)
        finished = not second.is_alive()
        in_progress.rollback()
    second.join()
    assert finished, "the second booking waited for the one in progress"
    [response] = answered
    assert response.status_code == 201, response.json  # type: ignore[attr-defined]
    assert response.json["room_id"] not in {None, str(first.room_id)}  # type: ignore[attr-defined]


def test_two_admins_adding_one_room_name_at_once_get_one_room_and_a_conflict(
    api: Api, admin: dict[str, str], catalogue: Catalogue
) -> None:
    path = f"/clinics/{catalogue.clinic_id}/rooms"
    responses = race(api.client.application, admin, [{"name": "Bed A"}] * 4, [path] * 4)

    assert sorted(r.status_code for r in responses) == [201, 409, 409, 409], [r.json for r in responses]
    for refused in (r for r in responses if r.status_code == 409):
        assert refused.content_type == "application/problem+json"
        assert refused.json["invalid-params"][0]["name"] == "name"
    listed = api.client.get(path, headers=admin).json
    assert [room["name"] for room in listed] == ["Bed A"]
