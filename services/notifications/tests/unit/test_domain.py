"""The delivery life cycle, local copies and message composition rules (plain Python, no I/O)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from notifications.domain.appointments import AppointmentFacts
from notifications.domain.channels import Channel
from notifications.domain.composition import choose_language, compose, describe_when
from notifications.domain.copies import ClinicInfo, Contact, PractitionerInfo, TreatmentInfo
from notifications.domain.deliveries import Delivery, DeliveryStatus
from notifications.domain.errors import InvalidTransition, NoAddress
from notifications.domain.inbound import Command, parse_command
from notifications.domain.kinds import DeliveryKind
from notifications.domain.plans import plan_speaks_for, untold

NOW = datetime(2025, 3, 3, 17, 0, tzinfo=UTC)


def facts(
    starts_at: datetime = datetime(2025, 3, 10, 16, 0, tzinfo=UTC), sequence: int = 0
) -> AppointmentFacts:
    return AppointmentFacts(
        appointment_id=uuid.UUID(int=1),
        patient_id=uuid.UUID(int=2),
        clinic_id=uuid.UUID(int=3),
        practitioner_id=uuid.UUID(int=4),
        treatment_type_id=uuid.UUID(int=5),
        starts_at=starts_at,
        ends_at=starts_at + timedelta(minutes=30),
        sequence=sequence,
    )


def delivery(
    channel: Channel = Channel.EMAIL, kind: DeliveryKind = DeliveryKind.BOOKING_CONFIRMATION
) -> Delivery:
    return Delivery.record(
        delivery_id=uuid.UUID(int=99),
        kind=kind,
        channel=channel,
        facts=facts(),
        event_id=uuid.uuid4(),
        now=NOW,
    )


def contact(language: str = "en", phone: str | None = "+16045550100") -> Contact:
    return Contact(uuid.UUID(int=2), "Pat", "pat@example.com", phone, language, NOW)


def references(timezone: str = "America/Vancouver") -> tuple[ClinicInfo, PractitionerInfo, TreatmentInfo]:
    return (
        ClinicInfo(
            uuid.UUID(int=3), "Demo IMS Clinic", timezone, "100 Main St", "+16045550199", "f@d.c", NOW
        ),
        PractitionerInfo(uuid.UUID(int=4), "Dr. Ida Needham", NOW),
        TreatmentInfo(uuid.UUID(int=5), "IMS session, 30 min", NOW),
    )


def test_key_is_unique_per_appointment_kind_channel_and_sequence() -> None:
    keys = {
        Delivery.key_for(uuid.UUID(int=1), kind, channel, sequence)
        for kind in DeliveryKind
        for channel in Channel
        for sequence in (0, 1)
    }
    assert len(keys) == len(DeliveryKind) * len(Channel) * 2
    assert delivery().key == f"{uuid.UUID(int=1)}:booking_confirmation:email:0"


def test_message_id_is_derived_from_the_delivery_id() -> None:
    assert delivery().message_id == f"<{uuid.UUID(int=99)}@notifications.ims-clinic>"


def test_new_delivery_is_pending_and_due_at_once() -> None:
    new = delivery()
    assert new.status is DeliveryStatus.PENDING
    assert new.attempts == 0
    assert new.is_claimable(NOW, timedelta(minutes=5))


def test_claim_counts_an_attempt_and_records_the_recipient() -> None:
    new = delivery()
    new.claim(NOW, "pat@example.com")
    assert (new.status, new.attempts, new.recipient, new.claimed_at) == (
        DeliveryStatus.SENDING,
        1,
        "pat@example.com",
        NOW,
    )


def test_failed_attempt_is_retried_later_until_max_attempts() -> None:
    new = delivery()
    new.claim(NOW, "pat@example.com")
    assert new.attempt_failed(NOW, "timeout", permanent=False, max_attempts=2, retry_in=timedelta(minutes=1))
    assert new.status is DeliveryStatus.PENDING
    assert new.next_attempt_at == NOW + timedelta(minutes=1)
    assert not new.is_claimable(NOW, timedelta(minutes=5))
    new.claim(NOW + timedelta(minutes=1), "pat@example.com")
    assert not new.attempt_failed(
        NOW, "timeout", permanent=False, max_attempts=2, retry_in=timedelta(minutes=1)
    )
    assert new.status is DeliveryStatus.FAILED
    assert new.last_error == "timeout"


def test_permanent_failure_gives_up_at_once() -> None:
    new = delivery()
    new.claim(NOW, "pat@example.com")
    assert not new.attempt_failed(
        NOW, "refused", permanent=True, max_attempts=5, retry_in=timedelta(minutes=1)
    )
    assert new.status is DeliveryStatus.FAILED


def test_a_delivery_is_sent_only_from_sending() -> None:
    new = delivery()
    with pytest.raises(InvalidTransition):
        new.mark_sent(NOW, None)
    new.claim(NOW, "pat@example.com")
    new.mark_sent(NOW, "id-1")
    assert new.status is DeliveryStatus.SENT
    assert new.finished
    with pytest.raises(InvalidTransition):
        new.claim(NOW, "pat@example.com")


def test_a_claim_left_sending_becomes_claimable_after_the_stale_period() -> None:
    new = delivery()
    new.claim(NOW, "pat@example.com")
    assert not new.is_claimable(NOW + timedelta(minutes=4), timedelta(minutes=5))
    assert new.is_claimable(NOW + timedelta(minutes=5), timedelta(minutes=5))


def test_newer_sequence_supersedes_on_the_same_channel_only() -> None:
    confirmation = delivery()
    cancellation = Delivery.record(
        delivery_id=uuid.uuid4(),
        kind=DeliveryKind.CANCELLATION,
        channel=Channel.EMAIL,
        facts=facts(sequence=1),
        event_id=uuid.uuid4(),
        now=NOW,
    )
    assert cancellation.supersedes(confirmation)
    assert not confirmation.supersedes(cancellation)
    assert not cancellation.supersedes(delivery(channel=Channel.SMS))


def test_contact_copy_ignores_older_news() -> None:
    copy = contact()
    assert not copy.update(
        first_name="Old", email="old@example.com", phone=None, language="fr", as_of=NOW - timedelta(seconds=1)
    )
    assert copy.first_name == "Pat"
    assert copy.update(first_name="Patricia", email="p@example.com", phone=None, language="fr", as_of=NOW)
    assert (copy.first_name, copy.language) == ("Patricia", "fr")


def test_a_contact_update_leaves_the_patients_own_choices_alone() -> None:
    copy = contact()
    copy.choose(NOW, email=True, sms=False, language="fr", promotional=True)
    later = NOW + timedelta(minutes=1)
    assert copy.update(first_name="Pat", email="p@example.com", phone=None, language="en", as_of=later)
    assert (copy.sms_opted_out_at, copy.preferred_language, copy.promotional_consent_at) == (NOW, "fr", NOW)
    assert (copy.language, copy.as_of) == ("en", later)


def test_a_reference_copy_refresh_takes_newer_facts_only() -> None:
    clinic, _, _ = references()
    assert not clinic.refresh(NOW - timedelta(minutes=1), {"name": "Old name"})
    assert (clinic.name, clinic.as_of) == ("Demo IMS Clinic", NOW)
    assert clinic.refresh(NOW, {"name": "Same instant"})  # news as recent as ours is taken
    assert clinic.refresh(NOW + timedelta(minutes=1), {"name": "Newer name"})
    assert (clinic.name, clinic.as_of) == ("Newer name", NOW + timedelta(minutes=1))


def test_a_practitioner_update_without_a_clinic_keeps_the_one_we_hold() -> None:
    _, practitioner, _ = references()
    clinic_id = uuid.UUID(int=3)
    assert practitioner.update(display_name="Dr. Ida", as_of=NOW, clinic_id=clinic_id)
    assert practitioner.update(display_name="Dr. I. Needham", as_of=NOW + timedelta(minutes=1))
    assert (practitioner.display_name, practitioner.clinic_id) == ("Dr. I. Needham", clinic_id)
    assert not practitioner.update(display_name="Old", as_of=NOW, clinic_id=uuid.UUID(int=9))
    assert (practitioner.display_name, practitioner.clinic_id) == ("Dr. I. Needham", clinic_id)


def test_appointment_facts_must_be_timezone_aware_and_end_after_start() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        facts(starts_at=datetime(2025, 3, 10, 16, 0))
    with pytest.raises(ValueError, match="end after"):
        AppointmentFacts(*[uuid.uuid4()] * 5, starts_at=NOW, ends_at=NOW, sequence=0)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("preferred", "expected"),
    [("fr", "fr"), ("FR", "fr"), ("fr-CA", "fr"), ("en", "en"), ("de", "en"), (None, "en")],
)
def test_language_is_the_patients_when_we_write_it_else_english(preferred: str | None, expected: str) -> None:
    assert choose_language(preferred) == expected


def test_sms_needs_a_phone_number() -> None:
    with pytest.raises(NoAddress):
        compose(delivery(channel=Channel.SMS), contact(phone=None), *references())


def test_notice_resolves_recipient_language_and_clinic_zone() -> None:
    notice = compose(delivery(channel=Channel.SMS), contact(language="fr"), *references())
    assert (notice.recipient, notice.language, notice.timezone) == ("+16045550100", "fr", "America/Vancouver")
    assert notice.local_start == datetime(2025, 3, 10, 9, 0, tzinfo=notice.zone)


def test_local_time_follows_the_clinics_daylight_saving_time() -> None:
    """Vancouver moves to PDT on 2025-03-09: 17:00Z before is 9:00 PST, 16:00Z after is 9:00 PDT."""
    clinic, practitioner, treatment = references()
    before = Delivery.record(
        delivery_id=uuid.uuid4(),
        kind=DeliveryKind.BOOKING_CONFIRMATION,
        channel=Channel.EMAIL,
        facts=facts(starts_at=datetime(2025, 3, 7, 17, 0, tzinfo=UTC)),
        event_id=uuid.uuid4(),
        now=NOW,
    )
    winter = describe_when(compose(before, contact(), clinic, practitioner, treatment))
    summer = describe_when(compose(delivery(), contact(), clinic, practitioner, treatment))
    assert (winter.date, winter.start, winter.end, winter.zone) == (
        "Friday, March 7, 2025",
        "9:00 AM",
        "9:30 AM",
        "PST, Vancouver time",
    )
    assert (summer.date, summer.start, summer.zone) == (
        "Monday, March 10, 2025",
        "9:00 AM",
        "PDT, Vancouver time",
    )


def test_french_wording_of_date_and_time() -> None:
    when = describe_when(compose(delivery(), contact(language="fr"), *references()))
    assert (when.date, when.start, when.end) == ("lundi 10 mars 2025", "9 h 00", "9 h 30")
    assert when.zone == "heure de Vancouver, UTC\u221207:00"
    assert when.short == "lun. 10 mars à 9 h 00"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("START", Command.START),
        ("unstop please", Command.START),
        ("Début", Command.START),
        ("Arrêt", Command.STOP),
        ("yes", Command.CONFIRM),
        ("started", None),
    ],
)
def test_sms_keywords_are_read_without_case_or_accents(body: str, expected: Command | None) -> None:
    assert parse_command(body) == expected


def test_opting_back_in_to_sms_happens_once_and_only_after_an_opt_out() -> None:
    pat = contact()
    assert not pat.opt_in_to_sms()
    assert pat.opt_out_of_sms(NOW)
    assert not pat.sms_allowed
    assert pat.opt_in_to_sms()
    assert pat.sms_allowed
    assert not pat.opt_in_to_sms()


def plan_message(kind: DeliveryKind, channel: Channel, session_ids: list[uuid.UUID]) -> Delivery:
    return Delivery.record_message(
        delivery_id=uuid.uuid4(),
        kind=kind,
        subject_id=uuid.uuid4(),
        patient_id=uuid.UUID(int=2),
        clinic_id=uuid.UUID(int=3),
        payload={"sessions": [{"appointment_id": str(i)} for i in session_ids]},
        event_id=uuid.uuid4(),
        now=NOW,
        due_at=NOW,
        channel=channel,
    )


@pytest.mark.parametrize(
    ("kind", "in_plan", "with_plan", "plan_shortened", "spoken_for"),
    [
        (DeliveryKind.BOOKING_CONFIRMATION, True, False, False, True),
        (DeliveryKind.BOOKING_CONFIRMATION, False, False, False, False),
        (DeliveryKind.CANCELLATION, True, True, False, True),
        (DeliveryKind.CANCELLATION, True, False, True, True),
        (DeliveryKind.CANCELLATION, True, False, False, False),
        (DeliveryKind.CANCELLATION, False, False, False, False),
        (DeliveryKind.RESCHEDULE, True, False, False, False),
    ],
)
def test_a_plan_message_speaks_for_sessions_booked_with_it_cancelled_with_it_or_cut_off_it(
    kind: DeliveryKind, in_plan: bool, with_plan: bool, plan_shortened: bool, spoken_for: bool
) -> None:
    decided = plan_speaks_for(kind, in_plan=in_plan, with_plan=with_plan, plan_shortened=plan_shortened)
    assert decided is spoken_for


def test_sessions_a_pending_plan_announcement_names_are_untold_on_its_channel() -> None:
    first, second, third = (uuid.uuid4() for _ in range(3))
    summary_by_sms = plan_message(DeliveryKind.PLAN_SUMMARY, Channel.SMS, [first, second, third])
    extension_by_email = plan_message(DeliveryKind.PLAN_EXTENDED, Channel.EMAIL, [third])
    pending = [summary_by_sms, extension_by_email]
    assert untold(Channel.SMS, [second, third], pending)
    assert untold(Channel.EMAIL, [third], pending)
    # The e-mail summary went out naming the second session: the patient must hear it is cancelled.
    assert not untold(Channel.EMAIL, [second, third], pending)
    assert not untold(Channel.EMAIL, [third], [])
    # Nothing cut off: nothing to announce (and nothing to say).
    assert untold(Channel.EMAIL, [], [])


def test_only_pending_plan_announcements_leave_sessions_untold() -> None:
    session = uuid.uuid4()
    cancelled_message = plan_message(DeliveryKind.PLAN_CANCELLED, Channel.EMAIL, [session])
    skipped = plan_message(DeliveryKind.PLAN_SUMMARY, Channel.EMAIL, [session])
    skipped.skip(NOW, "superseded")
    assert not untold(Channel.EMAIL, [session], [cancelled_message, skipped])
