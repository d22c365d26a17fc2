"""Appointment rules in plain Python: booking checks, buffers, late cancellation."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from scheduling.domain.errors import Forbidden, RuleViolation
from scheduling.domain.model import (
    Appointment,
    AppointmentKind,
    AppointmentStatus,
    Clinic,
    Practitioner,
    TreatmentType,
)

NOW = datetime(2026, 11, 2, 17, 0, tzinfo=UTC)
CLINIC = Clinic(uuid.uuid4(), "VAN", "Vancouver", "America/Vancouver", "1 Main", "+16045550100", "f@c.test")
IMS = Practitioner(uuid.uuid4(), CLINIC.id, "Ida", "PT-1", ims_qualified=True)
ASSESSOR = Practitioner(uuid.uuid4(), CLINIC.id, "Sam", "PT-2", ims_qualified=False)
ASSESSMENT = TreatmentType(uuid.uuid4(), CLINIC.id, "A", "Assessment", AppointmentKind.ASSESSMENT, 60, 10)
SESSION = TreatmentType(uuid.uuid4(), CLINIC.id, "I", "IMS", AppointmentKind.TREATMENT, 30)


def book(
    starts_at: datetime, practitioner: Practitioner = IMS, treatment: TreatmentType = ASSESSMENT
) -> Appointment:
    return Appointment.book(
        appointment_id=uuid.uuid4(),
        clinic=CLINIC,
        practitioner=practitioner,
        treatment=treatment,
        patient_id=uuid.uuid4(),
        starts_at=starts_at,
        now=NOW,
    )


def test_booking_holds_the_duration_plus_the_buffer() -> None:
    appointment = book(NOW + timedelta(days=1))
    assert appointment.ends_at - appointment.starts_at == timedelta(minutes=60)
    assert appointment.occupied_until - appointment.starts_at == timedelta(minutes=70)
    assert appointment.status is AppointmentStatus.BOOKED


def test_rejects_a_start_time_in_the_past() -> None:
    with pytest.raises(RuleViolation) as error:
        book(NOW - timedelta(minutes=1))
    assert error.value.field == "starts_at"


def test_rejects_a_naive_start_time() -> None:
    with pytest.raises(RuleViolation):
        book(datetime(2026, 12, 1, 9, 0))


def test_ims_treatment_needs_a_practitioner_on_the_ims_roster() -> None:
    with pytest.raises(RuleViolation) as error:
        book(NOW + timedelta(days=1), practitioner=ASSESSOR, treatment=SESSION)
    assert error.value.field == "practitioner_id"
    assert book(NOW + timedelta(days=1), practitioner=ASSESSOR, treatment=ASSESSMENT).kind == "assessment"


def test_rejects_a_practitioner_of_another_clinic() -> None:
    stranger = Practitioner(uuid.uuid4(), uuid.uuid4(), "X", "PT-9", ims_qualified=True)
    with pytest.raises(RuleViolation):
        book(NOW + timedelta(days=1), practitioner=stranger)


def test_the_buffer_blocks_a_back_to_back_start_but_not_one_after_it() -> None:
    first = book(NOW + timedelta(days=1))
    inside_buffer = book(first.ends_at + timedelta(minutes=5))
    after_buffer = book(first.occupied_until)
    assert first.overlaps(inside_buffer)
    assert not first.overlaps(after_buffer)


def test_cancelling_outside_the_window_is_not_late_and_bumps_the_sequence() -> None:
    appointment = book(NOW + timedelta(hours=48))
    appointment.cancel(by_staff=False, now=NOW, reason=None)
    assert appointment.status is AppointmentStatus.CANCELLED
    assert appointment.late_cancellation is False
    assert appointment.sequence == 1
    assert appointment.cancelled_by == "patient"


def test_cancelling_inside_the_window_is_marked_late() -> None:
    appointment = book(NOW + timedelta(hours=23, minutes=59))
    appointment.cancel(by_staff=False, now=NOW, reason="sick")
    assert appointment.late_cancellation is True


def test_patients_cannot_cancel_after_the_start_but_staff_can() -> None:
    appointment = book(NOW + timedelta(hours=1))
    later = NOW + timedelta(hours=2)
    with pytest.raises(Forbidden):
        appointment.cancel(by_staff=False, now=later)
    appointment.cancel(by_staff=True, now=later)
    assert appointment.cancelled_by == "staff"


def test_cancelling_twice_is_refused() -> None:
    appointment = book(NOW + timedelta(days=3))
    appointment.cancel(by_staff=True, now=NOW)
    with pytest.raises(RuleViolation):
        appointment.cancel(by_staff=True, now=NOW)


def test_a_clinic_needs_a_real_time_zone() -> None:
    with pytest.raises(RuleViolation) as error:
        Clinic(uuid.uuid4(), "X", "X", "Mars/Olympus", "a", "+16045550100", "x@y.test")
    assert error.value.field == "timezone"


def test_arrival_is_refused_before_the_appointments_day_in_the_clinics_zone() -> None:
    appointment = book(datetime(2026, 11, 3, 16, 0, tzinfo=UTC))  # 08:00 on 3 November in Vancouver
    with pytest.raises(RuleViolation) as refused:
        appointment.mark_arrived(NOW, CLINIC.zone)  # 09:00 on 2 November there
    assert refused.value.field == "status"
    assert appointment.status is AppointmentStatus.BOOKED
    appointment.mark_arrived(datetime(2026, 11, 3, 8, 1, tzinfo=UTC), CLINIC.zone)  # 00:01 local
    assert appointment.status is AppointmentStatus.ARRIVED


def test_arrival_counts_the_day_in_the_clinics_zone_not_in_utc() -> None:
    appointment = book(datetime(2026, 11, 3, 2, 0, tzinfo=UTC))  # 18:00 on 2 November in Vancouver
    appointment.mark_arrived(NOW, CLINIC.zone)
    assert appointment.status is AppointmentStatus.ARRIVED
