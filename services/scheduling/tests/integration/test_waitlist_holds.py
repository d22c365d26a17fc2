"""Waitlist holds never outlive their offer: one live offer per entry, the sweep releases every lapsed hold,
and staff can release a hold by hand (issue 10, item 2)."""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from clinic_shared.testing.clock import ManualClock
from scheduling.adapters import orm
from scheduling.bootstrap import Container
from scheduling.domain.model import Appointment, Clinic, Practitioner, TreatmentType
from scheduling.service_layer import waitlist

from ..conftest import Api, Catalogue
from .test_api import booking
from .test_lifecycle import events_of
from .test_waitlist import join

ROUNDS = 8


def _holds_of(container: Container, patient_id: str) -> list[uuid.UUID]:
    a = orm.appointments.c
    query = select(a.id).where(a.patient_id == uuid.UUID(patient_id), a.status == "proposed")
    with container.engine.connect() as conn:
        return list(conn.execute(query).scalars())


def test_two_times_cancelled_at_once_give_one_waiting_entry_at_most_one_hold(
    api: Api, catalogue: Catalogue, clock: ManualClock, container: Container
) -> None:
    _, holder = api.register_patient("double-holder@example.test")
    app = api.client.application
    for round_number in range(ROUNDS):
        hours = 24 + 12 * round_number
        first = api.client.post(
            "/appointments", headers=holder, json=booking(catalogue, clock, hours_ahead=hours)
        )
        second = api.client.post(
            "/appointments", headers=holder, json=booking(catalogue, clock, hours_ahead=hours + 3)
        )
        assert first.status_code == second.status_code == 201, (first.json, second.json)
        waiting, waiting_headers = api.register_patient(f"waiting-{round_number}@example.test")
        # The entry suits both times (and no other round's: earlier entries hold offers by then).
        entry = join(
            api,
            waiting_headers,
            catalogue,
            clock,
            hours=hours - 1,
            not_after=(clock.now() + timedelta(hours=hours + 4)).isoformat(),
        )
        barrier = threading.Barrier(2)

        def cancel(appointment_id: str, barrier: threading.Barrier = barrier) -> int:
            client = app.test_client()
            barrier.wait()
            return client.post(f"/appointments/{appointment_id}/cancel", headers=holder, json={}).status_code

        with ThreadPoolExecutor(max_workers=2) as pool:
            statuses = list(pool.map(cancel, [first.json["id"], second.json["id"]]))
        assert statuses == [200, 200]

        holds = _holds_of(container, waiting["id"])
        assert len(holds) == 1, f"round {round_number}: {len(holds)} holds for one entry"
        mine = api.client.get("/waitlist", headers=waiting_headers).json
        assert [(e["id"], e["status"], e["offer_appointment_id"]) for e in mine] == [
            (entry["id"], "offered", str(holds[0]))
        ]


def test_the_database_refuses_a_second_live_hold_for_one_entry(
    api: Api, catalogue: Catalogue, clock: ManualClock, container: Container
) -> None:
    _, holder = api.register_patient("guard-holder@example.test")
    _, waiting_headers = api.register_patient("guard-waiting@example.test")
    taken = api.client.post("/appointments", headers=holder, json=booking(catalogue, clock)).json
    join(api, waiting_headers, catalogue, clock)
    api.client.post(f"/appointments/{taken['id']}/cancel", headers=holder, json={})
    [offer] = events_of(container, "scheduling.waitlist.offered")
    a = orm.appointments
    with container.engine.connect() as conn:
        hold = conn.execute(select(a).where(a.c.id == offer.data["offer_id"])).mappings().one()
        # The same hold again, a day later with another practitioner: only the one-live-offer rule objects.
        copy = dict(hold) | {
            "id": uuid.uuid4(),
            "practitioner_id": uuid.UUID(catalogue.assessor_id),
            "starts_at": hold["starts_at"] + timedelta(days=1),
            "ends_at": hold["ends_at"] + timedelta(days=1),
            "occupied_until": hold["occupied_until"] + timedelta(days=1),
        }
        with pytest.raises(IntegrityError, match=r"uq_appointments_one_live_hold_per_entry|UNIQUE"):
            conn.execute(a.insert().values(copy))


def _orphan_hold(container: Container, catalogue: Catalogue, patient_id: str, hours_ahead: int) -> uuid.UUID:
    """A hold no entry points at, as the double cancellation used to leave behind."""
    with container.uow() as uow:
        clinic = uow.repo.get(Clinic, uuid.UUID(catalogue.clinic_id))
        practitioner = uow.repo.get(Practitioner, uuid.UUID(catalogue.ims_practitioner_id))
        treatment = uow.repo.get(TreatmentType, uuid.UUID(catalogue.assessment_id))
        assert clinic is not None
        assert practitioner is not None
        assert treatment is not None
        now = uow.clock.now()
        hold = Appointment.book(
            appointment_id=uow.new_id(),
            clinic=clinic,
            practitioner=practitioner,
            treatment=treatment,
            patient_id=uuid.UUID(patient_id),
            starts_at=now + timedelta(hours=hours_ahead),
            now=now,
        )
        hold.hold_for()
        uow.repo.add(hold)
        uow.commit()
        return hold.id


def test_the_sweep_releases_a_lapsed_hold_that_no_entry_points_at_and_offers_the_time_on(
    api: Api, admin: dict[str, str], catalogue: Catalogue, clock: ManualClock, container: Container
) -> None:
    orphaned, _ = api.register_patient("orphaned@example.test")
    _, next_headers = api.register_patient("next-in-line@example.test")
    hold_id = _orphan_hold(container, catalogue, orphaned["id"], hours_ahead=30)
    blocked = booking(catalogue, clock, hours_ahead=30)
    assert api.client.post("/appointments", headers=next_headers, json=blocked).status_code == 409
    next_entry = join(api, next_headers, catalogue, clock)

    clock.advance(timedelta(minutes=10))
    with container.uow() as uow:
        waitlist.expire_offers(uow)
        uow.commit()
    assert _holds_of(container, orphaned["id"]) == [hold_id], "released before its window ran out"

    clock.advance(timedelta(minutes=25))
    with container.uow() as uow:
        waitlist.expire_offers(uow)
        uow.commit()
    assert _holds_of(container, orphaned["id"]) == []
    released = api.client.get(f"/appointments/{hold_id}", headers=admin).json
    assert released["status"] == "cancelled"
    [offer] = events_of(container, "scheduling.waitlist.offered")
    assert str(offer.data["waitlist_entry_id"]) == next_entry["id"]
    assert api.client.post(f"/waitlist/{next_entry['id']}/claim", headers=next_headers).status_code == 201


def test_staff_release_a_hold_and_a_patient_cannot_release_anothers(
    api: Api, admin: dict[str, str], catalogue: Catalogue, clock: ManualClock, container: Container
) -> None:
    _, holder = api.register_patient("release-holder@example.test")
    waiting, waiting_headers = api.register_patient("release-waiting@example.test")
    _, other_headers = api.register_patient("release-other@example.test")
    taken = api.client.post("/appointments", headers=holder, json=booking(catalogue, clock)).json
    entry = join(api, waiting_headers, catalogue, clock)
    api.client.post(f"/appointments/{taken['id']}/cancel", headers=holder, json={})
    [offer] = events_of(container, "scheduling.waitlist.offered")
    offer_id = str(offer.data["offer_id"])

    refused = api.client.post(f"/waitlist/offers/{offer_id}/release", headers=other_headers)
    assert refused.status_code == 403
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert _holds_of(container, waiting["id"]) == [uuid.UUID(offer_id)]

    released = api.client.post(f"/waitlist/offers/{offer_id}/release", headers=admin)
    assert released.status_code == 200, released.json
    assert released.json["id"] == offer_id
    assert released.json["status"] == "cancelled"
    assert _holds_of(container, waiting["id"]) == []
    # The patient keeps their place on the waitlist; the offer is simply no longer open.
    [mine] = api.client.get("/waitlist", headers=waiting_headers).json
    assert (mine["id"], mine["status"]) == (entry["id"], "waiting")
    assert api.client.post(f"/waitlist/{entry['id']}/claim", headers=waiting_headers).status_code == 422
    # The time is free for anyone now.
    assert (
        api.client.post("/appointments", headers=other_headers, json=booking(catalogue, clock)).status_code
        == 201
    )
    again = api.client.post(f"/waitlist/offers/{offer_id}/release", headers=admin)
    assert again.status_code == 422
    assert api.client.post(f"/waitlist/offers/{uuid.uuid4()}/release", headers=admin).status_code == 404


def test_the_release_endpoint_is_in_the_openapi_document(api: Api) -> None:
    spec = api.client.get("/openapi.json").json
    release = spec["paths"]["/waitlist/offers/{offer_id}/release"]["post"]
    assert {"200", "403", "404", "422"} <= set(release["responses"])


def _at_once(app: Flask, *posts: tuple[str, dict[str, str]]) -> list[int]:
    """POST each (path, headers) from its own thread and client at the same moment; their statuses."""
    barrier = threading.Barrier(len(posts))

    def send(post: tuple[str, dict[str, str]]) -> int:
        client = app.test_client()
        barrier.wait()
        return client.post(post[0], headers=post[1], json={}).status_code

    with ThreadPoolExecutor(max_workers=len(posts)) as pool:
        return list(pool.map(send, posts))


def test_a_claim_racing_the_patients_own_cancel_of_the_appointment_to_move_never_moves_a_cancelled_one(
    api: Api, catalogue: Catalogue, clock: ManualClock, container: Container
) -> None:
    app = api.client.application
    rounds = 2 if container.engine.dialect.name == "sqlite" else ROUNDS
    for round_number in range(rounds):
        hours = 24 + 100 * round_number
        _, holder = api.register_patient(f"race-holder-{round_number}@example.test")
        _, mover = api.register_patient(f"race-mover-{round_number}@example.test")
        taken = api.client.post(
            "/appointments", headers=holder, json=booking(catalogue, clock, hours_ahead=hours)
        )
        later = api.client.post(
            "/appointments", headers=mover, json=booking(catalogue, clock, hours_ahead=hours + 60)
        )
        assert taken.status_code == later.status_code == 201, (taken.json, later.json)
        entry = join(api, mover, catalogue, clock, hours=hours - 1, appointment_id=later.json["id"])
        assert (
            api.client.post(f"/appointments/{taken.json['id']}/cancel", headers=holder, json={}).status_code
            == 200
        )
        claim_status, cancel_status = _at_once(
            app,
            (f"/waitlist/{entry['id']}/claim", mover),
            (f"/appointments/{later.json['id']}/cancel", mover),
        )

        # The claim either went first (moved, then cancelled) or saw the cancellation: never a lost race.
        assert cancel_status == 200, f"round {round_number}"
        assert claim_status in (201, 422), f"round {round_number}: claim answered {claim_status}"
        stored = api.client.get(f"/appointments/{later.json['id']}", headers=mover).json
        assert stored["status"] == "cancelled"
        expected_start = taken.json["starts_at"] if claim_status == 201 else later.json["starts_at"]
        assert stored["starts_at"] == expected_start
