"""Dumping list responses: marshmallow's own ``Schema._serialize`` against ``FastDumpSchema``, in process.

Dumps 160 scheduling appointments (``AppointmentSchema(many=True)``, the day view's list) and a billing
queue page (``QueueEntrySchema(many=True)``: 20 patients with 8 charges and a coverage each) both ways,
checks the outputs are equal, and prints the best time per dump of each and the ratio; for the appointments
also of a hand-written dict per appointment, the floor: str(UUID), datetime.isoformat() and Enum.value are
most of a dump's work, whoever does it. Needs no database, broker or running service.

Usage: ``.venv/bin/python bench/dump_bench.py [--appointments 160] [--repeat 15] [--number 20]``
"""

from __future__ import annotations

import argparse
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from marshmallow import Schema

from billing.domain.coverages import Coverage
from billing.domain.invoicing import PayerKind
from billing.domain.model import Charge, ChargeKind, ChargeStatus
from billing.domain.money import Money
from billing.entrypoints.api.billing_queue import QueueEntrySchema
from billing.service_layer.billing_queue import QueueEntry
from clinic_shared.testing.benchmarks import Figure, record
from clinic_shared.testing.dumps import marshmallow_only
from scheduling.domain.model import Appointment, AppointmentKind, AppointmentStatus
from scheduling.entrypoints.api.schemas.appointments import AppointmentSchema

# Several times faster; the hand-written floor itself is only about 3.3x faster than marshmallow here.
TARGET_RATIO = 2.0
START = datetime(2025, 3, 3, 16, 0, tzinfo=UTC)


def appointments(count: int) -> list[Appointment]:
    clinic, practitioner, treatment = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    result = []
    for n in range(count):
        starts_at = START + timedelta(minutes=30 * n)
        appointment = Appointment(
            id=uuid.uuid4(),
            clinic_id=clinic,
            practitioner_id=practitioner,
            patient_id=uuid.uuid4(),
            treatment_type_id=treatment,
            kind=AppointmentKind.TREATMENT if n % 4 else AppointmentKind.ASSESSMENT,
            starts_at=starts_at,
            ends_at=starts_at + timedelta(minutes=30),
            occupied_until=starts_at + timedelta(minutes=40),
            late_cancel_window=timedelta(hours=24),
            booked_at=starts_at - timedelta(days=7),
            room_id=uuid.uuid4() if n % 2 else None,
            version=n % 5 + 1,
        )
        if n % 10 == 0:
            appointment.status, appointment.cancelled_at = AppointmentStatus.CANCELLED, starts_at
            appointment.cancelled_by, appointment.late_cancellation = "patient", True
        result.append(appointment)
    return result


def queue_entries(patients: int, charges_each: int) -> list[QueueEntry]:
    clinic = uuid.uuid4()
    entries = []
    for _ in range(patients):
        patient = uuid.uuid4()
        charges = [
            Charge(
                id=uuid.uuid4(),
                kind=ChargeKind.APPOINTMENT,
                appointment_id=uuid.uuid4(),
                clinic_id=clinic,
                patient_id=patient,
                practitioner_id=uuid.uuid4(),
                treatment_type_id=uuid.uuid4(),
                starts_at=START + timedelta(days=n),
                service_date=date(2025, 3, 3) + timedelta(days=n),
                amount=Money(9500, "CAD") if n % 3 else None,
                status=ChargeStatus.BILLABLE,
                appointment_sequence=1,
                created_at=START,
                updated_at=START,
            )
            for n in range(charges_each)
        ]
        coverage = Coverage(
            id=uuid.uuid4(),
            clinic_id=clinic,
            patient_id=patient,
            payer_kind=PayerKind.EXTENDED_HEALTH,
            currency="CAD",
            created_at=START,
            policy_number="EH-1234",
            coverage_bp=8000,
        )
        entries.append(QueueEntry(clinic, patient, charges, [coverage]))
    return entries


def ms_per_dump(dump: Callable[[], Any], number: int) -> float:
    started = time.perf_counter()
    for _ in range(number):
        dump()
    return (time.perf_counter() - started) / number * 1000


def by_hand(objs: Sequence[Appointment]) -> list[dict[str, Any]]:
    """AppointmentSchema's output written out: the floor, the conversions any serializer must make."""

    def iso(value: datetime | None) -> str | None:
        return None if value is None else value.isoformat()

    def text(value: uuid.UUID | None) -> str | None:
        return None if value is None else str(value)

    return [
        {
            "id": str(a.id),
            "clinic_id": str(a.clinic_id),
            "practitioner_id": str(a.practitioner_id),
            "patient_id": str(a.patient_id),
            "treatment_type_id": str(a.treatment_type_id),
            "kind": a.kind.value,
            "status": a.status.value,
            "starts_at": a.starts_at.isoformat(),
            "ends_at": a.ends_at.isoformat(),
            "booked_at": a.booked_at.isoformat(),
            "sequence": a.sequence,
            "cancelled_at": iso(a.cancelled_at),
            "cancelled_by": a.cancelled_by,
            "late_cancellation": a.late_cancellation,
            "free_cancellation_until": a.free_cancellation_until.isoformat(),
            "fee_waived": a.fee_waived,
            "room_id": text(a.room_id),
            "plan_id": text(a.plan_id),
            "arrived_at": iso(a.arrived_at),
            "completed_at": iso(a.completed_at),
            "confirmed_at": iso(a.confirmed_at),
            "allow_patient_overlap": a.allow_patient_overlap,
            "version": a.version,
        }
        for a in objs
    ]


def compare(
    label: str, schema: Schema, objs: Sequence[Any], args: argparse.Namespace, floor: Callable[[], Any] | None
) -> float:
    """Best ms per dump of each contender; the rounds alternate, so that a busy machine slows all alike."""
    fast_output = schema.dump(objs)
    with marshmallow_only():
        plain_output = schema.dump(objs)
    if fast_output != plain_output or (floor is not None and floor() != fast_output):
        raise SystemExit(f"{label}: the outputs differ")
    plain = fast = hand = float("inf")
    for _ in range(args.repeat):
        with marshmallow_only():
            plain = min(plain, ms_per_dump(lambda: schema.dump(objs), args.number))
        fast = min(fast, ms_per_dump(lambda: schema.dump(objs), args.number))
        if floor is not None:
            hand = min(hand, ms_per_dump(floor, args.number))
    by_hand_ms = f"{hand:>9.2f}" if floor is not None else f"{'-':>9}"
    print(f"{label:<40} {plain:>11.2f} {fast:>9.2f} {by_hand_ms} {plain / fast:>7.1f}x")
    return plain / fast


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--appointments", type=int, default=160)
    parser.add_argument("--repeat", type=int, default=15, help="rounds; the best of each contender is kept")
    parser.add_argument("--number", type=int, default=20, help="dumps per round")
    args = parser.parse_args(argv)

    print(f"\nms per dump, best of {args.repeat} alternating rounds of {args.number} dumps each\n")
    print(f"{'response':<40} {'marshmallow':>11} {'fast':>9} {'by hand':>9} {'ratio':>8}")
    objs = appointments(args.appointments)
    label = f"{args.appointments} appointments"
    ratio = compare(label, AppointmentSchema(many=True), objs, args, lambda: by_hand(objs))
    compare(
        "billing queue, 20 patients x 8 charges",
        QueueEntrySchema(many=True),
        queue_entries(20, 8),
        args,
        None,
    )
    verdict = "MET" if ratio >= TARGET_RATIO else "NOT met"
    print(f"\nappointments marshmallow / fast = {ratio:.1f}x (target {TARGET_RATIO}x): {verdict}")
    record(
        Figure(
            f"dump of {args.appointments} appointments: marshmallow / FastDumpSchema",
            ratio,
            "x",
            f">= {TARGET_RATIO}",
        )
    )


if __name__ == "__main__":
    main()
