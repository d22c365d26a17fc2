"""A treatment plan is announced as a plan: one summary (with every session's invitation) instead of one
confirmation per session, one cancellation for the plan instead of one per session; a change to a session
while the plan's message is still pending is folded into that message; and a booking cancelled before its
confirmation went out sends nothing at all."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import icalendar
import pytest

from clinic_shared.events import Envelope, new_event
from notifications.bootstrap import Container
from notifications.domain.deliveries import DeliveryStatus
from notifications.domain.kinds import DeliveryKind
from notifications.domain.reasons import CANCELLED, IN_PENDING_PLAN_MESSAGE, NEVER_TOLD, NO_SESSION_LEFT
from notifications.entrypoints.dispatcher import Dispatcher
from notifications.entrypoints.handlers import HANDLERS, SUBSCRIPTION
from notifications.service_layer import subject_messages

# Mondays at 9:00 in Vancouver (PST until 2025-03-09, PDT after); the test clock starts 2025-03-03 09:00.
STARTS = [
    datetime(2025, 3, 10, 16, 0, tzinfo=UTC),
    datetime(2025, 3, 17, 16, 0, tzinfo=UTC),
    datetime(2025, 3, 24, 16, 0, tzinfo=UTC),
]


class Plan:
    """One plan's events, as scheduling emits them (each session's booking, then the plan's)."""

    def __init__(self, events: Any, starts: Iterable[datetime] = STARTS) -> None:
        self.events = events
        self.plan_id = uuid.uuid4()
        self.sessions = {uuid.uuid4(): start for start in starts}

    @property
    def ids(self) -> list[uuid.UUID]:
        return list(self.sessions)

    def booked(self, booked_via: str = "staff") -> list[Envelope]:
        bookings = [
            self.events.booked(starts_at=start, appointment_id=i, plan_id=self.plan_id, booked_via=booked_via)
            for i, start in self.sessions.items()
        ]
        return [*bookings, self._plan_event("scheduling.plan.created", {"sessions": self._sessions()})]

    def cancelled(self) -> list[Envelope]:
        cancellations = [
            self.events.cancelled(starts_at=start, appointment_id=i, plan_id=self.plan_id, with_plan=True)
            for i, start in self.sessions.items()
        ]
        data = {"cancelled_appointment_ids": self.ids, "cancelled_at": self.events.clock.now()}
        return [*cancellations, self._plan_event("scheduling.plan.cancelled", data)]

    def shortened(self, keeps: int, *, length: int | None = None, sequence: int = 1) -> list[Envelope]:
        """Cut after the first ``keeps`` of its ``length`` sessions (default: all): each later one
        cancelled, then the plan's event."""
        length = length or len(self.sessions)
        cut = self.ids[keeps:length]
        cancellations = [
            self.events.cancelled(
                starts_at=self.sessions[i],
                sequence=sequence,
                appointment_id=i,
                plan_id=self.plan_id,
                plan_shortened=True,
            )
            for i in cut
        ]
        data = {
            "total_sessions": keeps,
            "previous_total_sessions": length,
            "cancelled_appointment_ids": cut,
            "shortened_at": self.events.clock.now(),
        }
        return [*cancellations, self._plan_event("scheduling.plan.shortened", data)]

    def _sessions(self) -> list[dict[str, Any]]:
        return [
            {
                "appointment_id": i,
                "starts_at": start,
                "ends_at": start + timedelta(minutes=30),
                "practitioner_id": self.events.practitioner_id,
            }
            for i, start in self.sessions.items()
        ]

    def _plan_event(self, event_type: str, extra: dict[str, Any]) -> Envelope:
        e = self.events
        data = {
            "plan_id": self.plan_id,
            "clinic_id": e.clinic_id,
            "patient_id": e.patient_id,
            "practitioner_id": e.practitioner_id,
            "treatment_type_id": e.treatment_type_id,
            "total_sessions": len(self.sessions),
        }
        return new_event(event_type, data | extra, producer="scheduling", occurred_at=e.clock.now())


@pytest.fixture
def apply_debounced(debounced: Container) -> Callable[..., None]:
    def run(*events: Envelope) -> None:
        for event in events:
            with debounced.uow() as uow:
                HANDLERS[event.type](uow, event)
                uow.commit()

    return run


def kinds_for(container: Container, appointment_id: uuid.UUID) -> list[tuple[str, str, str]]:
    with container.uow() as uow:
        found = uow.repo.deliveries_for_appointment(appointment_id)
        return sorted((d.kind.value, d.channel.value, d.status.value) for d in found)


def vevents(email: Any) -> list[icalendar.Event]:
    assert email.calendar is not None
    return icalendar.Calendar.from_ical(email.calendar.content).walk("VEVENT")


def test_plan_sessions_get_reminders_but_no_confirmation_of_their_own(
    container: Container, apply: Callable[..., None], events: Any, transport: Any
) -> None:
    plan = Plan(events)
    apply(*events.catalogue(), *plan.booked())
    for session_id in plan.ids:
        assert kinds_for(container, session_id) == [
            ("reminder", "email", "pending"),
            ("reminder", "sms", "pending"),
        ]
    Dispatcher.from_container(container).dispatch_due()
    (email,) = transport.emails
    (sms,) = transport.sms
    assert email.subject.startswith("Your treatment plan at Demo IMS Clinic: 3 sessions")
    assert "3 sessions" in sms.body
    assert [str(e["UID"]) for e in vevents(email)] == [f"{i}@ims-clinic" for i in plan.ids]


def test_a_plan_booked_online_alerts_the_front_desk_once(
    container: Container, apply: Callable[..., None], events: Any, transport: Any
) -> None:
    plan = Plan(events)
    apply(*events.catalogue(phone=None), *plan.booked(booked_via="online"))
    Dispatcher.from_container(container).dispatch_due()
    alerts = [e for e in transport.emails if e.to == "front@demo.clinic"]
    assert len(alerts) == 1
    assert alerts[0].subject == "New online booking: Monday, March 10, 2025, 9:00 AM with Dr. Ida Needham"


def test_cancelling_a_plan_sends_one_message_for_the_plan_not_one_per_session(
    container: Container, apply: Callable[..., None], events: Any, transport: Any
) -> None:
    plan = Plan(events)
    sender = Dispatcher.from_container(container)
    apply(*events.catalogue(), *plan.booked())
    assert sender.dispatch_due() == 2  # the summary by e-mail and by text
    apply(*plan.cancelled())
    assert sender.dispatch_due() == 2  # the plan's cancellation by e-mail and by text
    for session_id in plan.ids:
        assert kinds_for(container, session_id) == [
            ("reminder", "email", "skipped"),
            ("reminder", "sms", "skipped"),
        ]
    cancellation = transport.emails[-1]
    assert cancellation.subject == "Your treatment plan at Demo IMS Clinic is cancelled"
    assert cancellation.calendar is not None
    assert cancellation.calendar.method == "CANCEL"
    cancelled = vevents(cancellation)
    assert [str(e["UID"]) for e in cancelled] == [f"{i}@ims-clinic" for i in plan.ids]
    # The cancelled sessions' version (SEQUENCE 1) outranks the summary's invitation (SEQUENCE 0).
    assert {int(e["SEQUENCE"]) for e in cancelled} == {1}
    assert "plan is cancelled, with its 3 upcoming sessions" in transport.sms[-1].body


FOUR_MONDAYS = [*STARTS, datetime(2025, 3, 31, 16, 0, tzinfo=UTC)]


def test_the_consumer_is_bound_to_plan_shortenings() -> None:
    assert "scheduling.plan.shortened" in SUBSCRIPTION.bindings["scheduling.events"]


def test_shortening_a_plan_sends_one_message_naming_the_cut_sessions_and_none_per_session(
    container: Container, apply: Callable[..., None], events: Any, clock: Any, transport: Any
) -> None:
    plan = Plan(events, FOUR_MONDAYS)
    first, second, third, fourth = plan.ids
    sender = Dispatcher.from_container(container)
    apply(*events.catalogue(phone=None), *plan.booked())
    assert sender.dispatch_due() == 1  # the summary
    apply(*plan.shortened(keeps=2))
    assert sender.dispatch_due() == 1  # one message for the plan, none per cut session
    _summary, shortening = transport.emails
    assert shortening.subject == "Your treatment plan at Demo IMS Clinic now has 2 sessions"
    assert "Your treatment plan of IMS session, 30 min with Dr. Ida Needham" in shortening.text
    assert "2 sessions are cancelled:" in shortening.text
    assert "- Monday, March 24, 2025, 9:00 AM \u2013 9:30 AM" in shortening.text
    assert "- Monday, March 31, 2025, 9:00 AM \u2013 9:30 AM" in shortening.text
    assert "March 10" not in shortening.text
    assert "March 17" not in shortening.text
    assert "now has 2 sessions" in shortening.html
    assert shortening.calendar is not None
    assert shortening.calendar.method == "CANCEL"
    cancelled = vevents(shortening)
    assert [str(e["UID"]) for e in cancelled] == [f"{third}@ims-clinic", f"{fourth}@ims-clinic"]
    # The cut sessions' version (SEQUENCE 1) outranks the summary's invitation (SEQUENCE 0).
    assert {int(e["SEQUENCE"]) for e in cancelled} == {1}
    assert {str(e["STATUS"]) for e in cancelled} == {"CANCELLED"}
    for session_id in (third, fourth):
        assert kinds_for(container, session_id) == [("reminder", "email", "skipped")]
        with container.uow() as uow:
            (reminder,) = uow.repo.deliveries_for_appointment(session_id)
            assert reminder.last_error == CANCELLED
    for session_id in (first, second):
        assert kinds_for(container, session_id) == [("reminder", "email", "pending")]
    clock.set(datetime(2025, 3, 8, 17, 0, tzinfo=UTC))
    assert sender.dispatch_due() == 1  # the first session's reminder
    assert transport.emails[-1].subject.startswith("Reminder of")
    clock.set(datetime(2025, 3, 29, 17, 0, tzinfo=UTC))  # every reminder is due; only the fourth is ahead
    assert sender.dispatch_due() == 0
    assert len(transport.emails) == 3


def test_a_shortened_plan_is_told_by_e_mail_and_text_in_the_patients_language(
    container: Container, apply: Callable[..., None], events: Any, transport: Any
) -> None:
    plan = Plan(events)
    sender = Dispatcher.from_container(container)
    apply(*events.catalogue(language="fr"), *plan.booked())
    assert sender.dispatch_due() == 2  # the summary by e-mail and by text
    shortening = plan.shortened(keeps=1)
    apply(*shortening, shortening[-1])  # the plan's event delivered twice
    assert sender.dispatch_due() == 2  # the shortening by e-mail and by text, once
    email, sms = transport.emails[-1], transport.sms[-1]
    assert email.subject == "Votre plan de traitement chez Demo IMS Clinic compte désormais 1 séance"
    assert "2 séances sont annulées :" in email.text
    assert "- lundi 17 mars 2025, de 9 h 00 à 9 h 30" in email.text
    assert "- lundi 24 mars 2025, de 9 h 00 à 9 h 30" in email.text
    assert email.calendar is not None
    assert email.calendar.method == "CANCEL"
    assert sms.body == (
        "Demo IMS Clinic : Bonjour Pat, votre plan de traitement compte désormais 1 séance ; "
        "séances annulées : lun. 17 mars à 9 h 00, lun. 24 mars à 9 h 00. Questions : +16045550199"
    )
    for session_id in plan.ids[1:]:
        assert [k for k, _, _ in kinds_for(container, session_id)] == ["reminder", "reminder"]


def test_each_shortening_of_a_plan_sends_its_own_message(
    container: Container, apply: Callable[..., None], events: Any, transport: Any
) -> None:
    plan = Plan(events, FOUR_MONDAYS)
    sender = Dispatcher.from_container(container)
    apply(*events.catalogue(phone=None), *plan.booked())
    sender.dispatch_due()
    apply(*plan.shortened(keeps=3))
    assert sender.dispatch_due() == 1
    assert transport.emails[-1].subject == "Your treatment plan at Demo IMS Clinic now has 3 sessions"
    assert "1 session is cancelled:" in transport.emails[-1].text
    apply(*plan.shortened(keeps=2, length=3))
    assert sender.dispatch_due() == 1
    assert transport.emails[-1].subject == "Your treatment plan at Demo IMS Clinic now has 2 sessions"
    assert [str(e["UID"]) for e in vevents(transport.emails[-1])] == [f"{plan.ids[2]}@ims-clinic"]


def test_a_plan_booked_and_shortened_within_the_debounce_sends_only_the_shorter_summary(
    debounced: Container, apply_debounced: Callable[..., None], events: Any, clock: Any, transport: Any
) -> None:
    plan = Plan(events)
    apply_debounced(*events.catalogue(), *plan.booked())
    clock.advance(seconds=30)
    apply_debounced(*plan.shortened(keeps=1))
    clock.advance(minutes=5)
    assert Dispatcher.from_container(debounced).dispatch_due() == 2  # the summary by e-mail and by text
    (summary,) = transport.emails
    assert summary.subject == "Your treatment plan at Demo IMS Clinic: 1 session from Monday, March 10, 2025"
    with debounced.uow() as uow:
        shortenings = uow.repo.list_deliveries(offset=0, limit=50, kind=DeliveryKind.PLAN_SHORTENED)[0]
    assert sorted((d.channel.value, d.status.value, d.last_error) for d in shortenings) == [
        ("email", "skipped", IN_PENDING_PLAN_MESSAGE),
        ("sms", "skipped", IN_PENDING_PLAN_MESSAGE),
    ]


def test_a_plan_booked_and_cancelled_within_the_debounce_sends_nothing(
    debounced: Container, apply_debounced: Callable[..., None], events: Any, clock: Any, transport: Any
) -> None:
    plan = Plan(events)
    apply_debounced(*events.catalogue(), *plan.booked())
    clock.advance(seconds=30)
    apply_debounced(*plan.cancelled())
    clock.advance(minutes=5)
    Dispatcher.from_container(debounced).dispatch_due()
    assert (transport.emails, transport.sms) == ([], [])
    with debounced.uow() as uow:
        plan_messages = uow.repo.deliveries_for_appointment(plan.plan_id)
        reasons = sorted((d.kind.value, d.status.value, d.last_error) for d in plan_messages)
    assert reasons == [
        ("plan_cancelled", "skipped", NEVER_TOLD),
        ("plan_cancelled", "skipped", NEVER_TOLD),
        ("plan_summary", "skipped", NO_SESSION_LEFT),
        ("plan_summary", "skipped", NO_SESSION_LEFT),
    ]


def test_a_session_changed_before_the_summary_went_out_is_shown_as_it_is_when_it_goes(
    debounced: Container, apply_debounced: Callable[..., None], events: Any, clock: Any, transport: Any
) -> None:
    plan = Plan(events)
    first, second, third = plan.ids
    moved_to = STARTS[2] + timedelta(days=1)  # Tuesday March 25, 9:00 PDT
    apply_debounced(*events.catalogue(phone=None), *plan.booked())
    clock.advance(seconds=30)
    apply_debounced(
        events.cancelled(starts_at=STARTS[1], appointment_id=second, plan_id=plan.plan_id),
        events.rescheduled(
            starts_at=moved_to, previous_starts_at=STARTS[2], appointment_id=third, plan_id=plan.plan_id
        ),
    )
    assert kinds_for(debounced, second) == [
        ("cancellation", "email", "skipped"),
        ("reminder", "email", "skipped"),
    ]
    assert ("reschedule", "email", "skipped") in kinds_for(debounced, third)
    clock.advance(minutes=5)
    assert Dispatcher.from_container(debounced).dispatch_due() == 1
    (summary,) = transport.emails
    assert summary.subject == "Your treatment plan at Demo IMS Clinic: 2 sessions from Monday, March 10, 2025"
    assert "- Monday, March 10, 2025, 9:00 AM" in summary.text
    assert "- Tuesday, March 25, 2025, 9:00 AM" in summary.text
    assert "March 17" not in summary.text
    assert "March 24" not in summary.text
    invited = {str(e["UID"]): e for e in vevents(summary)}
    assert set(invited) == {f"{first}@ims-clinic", f"{third}@ims-clinic"}
    assert int(invited[f"{third}@ims-clinic"]["SEQUENCE"]) == 1
    assert invited[f"{third}@ims-clinic"].decoded("DTSTART").astimezone(UTC) == moved_to


def test_a_session_cancelled_after_the_summary_went_out_is_announced(
    container: Container, apply: Callable[..., None], events: Any, transport: Any
) -> None:
    plan = Plan(events)
    sender = Dispatcher.from_container(container)
    apply(*events.catalogue(phone=None), *plan.booked())
    assert sender.dispatch_due() == 1
    apply(events.cancelled(starts_at=STARTS[1], appointment_id=plan.ids[1], plan_id=plan.plan_id))
    assert sender.dispatch_due() == 1
    cancellation = transport.emails[-1]
    assert cancellation.subject.startswith("Your appointment at Demo IMS Clinic on Monday, March 17, 2025")
    assert [str(e["UID"]) for e in vevents(cancellation)] == [f"{plan.ids[1]}@ims-clinic"]
    with container.uow() as uow:
        statuses = {d.status for d in uow.repo.deliveries_for_appointment(plan.ids[1]) if not d.is_reminder}
    assert statuses == {DeliveryStatus.SENT}


def test_a_plan_message_recorded_before_sessions_carried_ids_still_goes_without_an_invitation(
    container: Container, apply: Callable[..., None], events: Any, transport: Any
) -> None:
    """Rows written by the previous version hold sessions as times only: they are sent as they are."""
    apply(*events.catalogue(phone=None))
    with container.uow() as uow:
        subject_messages.record_message(
            uow,
            subject_messages.RecordMessage(
                kind=DeliveryKind.PLAN_SUMMARY,
                subject_id=uuid.uuid4(),
                patient_id=events.patient_id,
                clinic_id=events.clinic_id,
                practitioner_id=events.practitioner_id,
                treatment_type_id=events.treatment_type_id,
                payload={
                    "sessions": [
                        {
                            "starts_at": STARTS[0].isoformat(),
                            "ends_at": (STARTS[0] + timedelta(minutes=30)).isoformat(),
                        }
                    ]
                },
                event_id=uuid.uuid4(),
            ),
        )
        uow.commit()
    assert Dispatcher.from_container(container).dispatch_due() == 1
    (email,) = transport.emails
    assert email.calendar is None
    assert "1 session of" in email.text
