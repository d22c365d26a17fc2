"""Scheduling's list responses on ``FastDumpSchema`` dump exactly as marshmallow would (values, types,
key order), on objects like the ones their endpoints return."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from typing import Any

import pytest

from clinic_shared.testing.dumps import assert_dumps_as_marshmallow, fast_keys
from scheduling.domain.model import Appointment, AppointmentKind, AppointmentStatus, Patient
from scheduling.entrypoints.api.clinic_patients import PatientNameSchema
from scheduling.entrypoints.api.schemas.appointments import AppointmentSchema
from scheduling.entrypoints.api.schemas.plans import PlanSessionSchema
from scheduling.service_layer.plans import PlanSession

UTC = dt.UTC

START = dt.datetime(2025, 3, 3, 17, 0, tzinfo=UTC)


def appointments(*, optional_none: bool) -> list[Any]:
    clinic, patient = uuid.uuid4(), uuid.uuid4()
    booked = Appointment(
        id=uuid.uuid4(),
        clinic_id=clinic,
        practitioner_id=uuid.uuid4(),
        patient_id=patient,
        treatment_type_id=uuid.uuid4(),
        kind=AppointmentKind.ASSESSMENT,
        starts_at=START,
        ends_at=START + dt.timedelta(minutes=45),
        occupied_until=START + dt.timedelta(minutes=55),
        late_cancel_window=dt.timedelta(hours=24),
        booked_at=START - dt.timedelta(days=3),
    )
    if optional_none:
        return [booked]
    cancelled = dataclasses.replace(booked, id=uuid.uuid4(), kind=AppointmentKind.TREATMENT)
    cancelled.status, cancelled.cancelled_at, cancelled.cancelled_by = (
        AppointmentStatus.CANCELLED,
        START - dt.timedelta(hours=2),
        "patient",
    )
    cancelled.late_cancellation = cancelled.fee_waived = cancelled.allow_patient_overlap = True
    done = dataclasses.replace(booked, id=uuid.uuid4(), status=AppointmentStatus.FULFILLED)
    done.room_id, done.plan_id, done.sequence, done.version = uuid.uuid4(), uuid.uuid4(), 3, 4
    done.arrived_at = done.confirmed_at = START - dt.timedelta(minutes=5)
    done.completed_at = START + dt.timedelta(minutes=45)
    return [booked, cancelled, done]


@pytest.mark.parametrize("optional_none", [False, True], ids=["filled", "optional-none"])
def test_the_appointment_schemas_dump_as_marshmallow(optional_none: bool) -> None:
    schema = AppointmentSchema(many=True)
    objs = appointments(optional_none=optional_none)
    got = assert_dumps_as_marshmallow(schema, objs)
    assert fast_keys(schema) == set(got[0]), "every field of an appointment is a plain one"
    if optional_none:
        assert {key for key, value in got[0].items() if value is None} == {
            "cancelled_at",
            "cancelled_by",
            "room_id",
            "plan_id",
            "arrived_at",
            "completed_at",
            "confirmed_at",
        }
    sessions = [PlanSession(appointment, n % 2 == 0) for n, appointment in enumerate(objs)]
    assert_dumps_as_marshmallow(PlanSessionSchema(many=True), sessions)


def test_the_patient_names_dump_as_marshmallow() -> None:
    patients = [
        Patient(id=uuid.uuid4(), first_name="Ana", last_name="Li", email="ana@example.org"),
        Patient(id=uuid.uuid4(), first_name="Émile", last_name="O'Neil", email="e@example.org", phone=None),
    ]
    got = assert_dumps_as_marshmallow(PatientNameSchema(many=True), patients)
    assert set(got[0]) == {"id", "first_name", "last_name"}
