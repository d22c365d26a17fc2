"""Templates (English and French, text, HTML and SMS) and the calendar invitation they carry."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import icalendar
import pytest

from notifications.adapters.rendering import TemplateRenderer
from notifications.domain.channels import Channel
from notifications.domain.composition import Notice
from notifications.domain.kinds import DeliveryKind

VANCOUVER = ZoneInfo("America/Vancouver")
MakeNotice = Callable[..., Notice]


@pytest.fixture(scope="module")
def renderer() -> TemplateRenderer:
    return TemplateRenderer()


def parse_invitation(content: bytes) -> tuple[icalendar.Calendar, icalendar.Event]:
    calendar = icalendar.Calendar.from_ical(content)
    (event,) = calendar.events
    return calendar, event


def test_confirmation_names_patient_time_clinic_practitioner_and_treatment(
    renderer: TemplateRenderer, make_notice: MakeNotice
) -> None:
    email = renderer.email(make_notice())
    assert email.subject == "Your appointment at Demo IMS Clinic on Monday, March 10, 2025 is confirmed"
    for body in (email.text, email.html):
        for expected in (
            "Pat",
            "Monday, March 10, 2025",
            "9:00 AM",
            "9:30 AM",
            "PDT, Vancouver time",
            "Demo IMS Clinic",
            "100 Main St, Vancouver BC",
            "+16045550199",
            "Dr. Ida Needham",
            "IMS session, 30 min",
        ):
            assert expected in body, expected
    assert email.html.lstrip().startswith("<!DOCTYPE html>")
    assert '<html lang="en">' in email.html
    assert email.reply_to == "front@demo.clinic"
    assert email.language == "en"


def test_french_contact_gets_the_french_template(renderer: TemplateRenderer, make_notice: MakeNotice) -> None:
    email = renderer.email(make_notice(language="fr"))
    assert email.subject == "Votre rendez-vous du lundi 10 mars 2025 chez Demo IMS Clinic est confirmé"
    assert "Bonjour Pat," in email.text
    assert "de 9 h 00 à 9 h 30" in email.text
    assert '<html lang="fr">' in email.html
    assert "Votre rendez-vous est confirmé." in email.html
    assert email.language == "fr"


def test_cancellation_says_so_in_each_language(renderer: TemplateRenderer, make_notice: MakeNotice) -> None:
    english = renderer.email(make_notice(kind=DeliveryKind.CANCELLATION, sequence=1))
    french = renderer.email(make_notice(kind=DeliveryKind.CANCELLATION, sequence=1, language="fr"))
    assert english.subject.endswith("is cancelled")
    assert "Your appointment has been cancelled." in english.text
    assert french.subject.endswith("est annulé")
    assert "Votre rendez-vous a été annulé." in french.html


def test_html_escapes_names_that_came_from_events(
    renderer: TemplateRenderer, make_notice: MakeNotice
) -> None:
    email = renderer.email(make_notice(first_name="<script>alert(1)</script>", clinic_name="A & B"))
    assert "<script>" not in email.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in email.html
    assert "A &amp; B" in email.html
    assert "<script>alert(1)</script>" in email.text


def test_subject_is_one_line_even_if_a_name_has_newlines(
    renderer: TemplateRenderer, make_notice: MakeNotice
) -> None:
    email = renderer.email(make_notice(clinic_name="Demo\r\nBcc: victim@example.com"))
    assert "\n" not in email.subject
    assert "\r" not in email.subject


def test_sms_is_one_short_line_in_the_patients_language(
    renderer: TemplateRenderer, make_notice: MakeNotice
) -> None:
    english = renderer.sms(make_notice(channel=Channel.SMS))
    french = renderer.sms(make_notice(channel=Channel.SMS, language="fr"))
    assert english.to == "+16045550100"
    assert english.body == (
        "Demo IMS Clinic: Hi Pat, your IMS session, 30 min with Dr. Ida Needham is confirmed for "
        "Mon Mar 10 at 9:00 AM PDT at 100 Main St, Vancouver BC. Questions: +16045550199"
    )
    assert french.body.startswith("Demo IMS Clinic : Bonjour Pat, votre rendez-vous")
    assert "lun. 10 mars à 9 h 00" in french.body
    assert "\n" not in english.body + french.body


def test_invitation_parses_back_with_stable_uid_sequence_and_request_method(
    renderer: TemplateRenderer, make_notice: MakeNotice
) -> None:
    notice = make_notice(sequence=3)
    attachment = renderer.email(notice).calendar
    assert attachment is not None
    assert attachment.method == "REQUEST"
    calendar, event = parse_invitation(attachment.content)
    assert calendar["METHOD"] == "REQUEST"
    assert str(event["UID"]) == f"{notice.appointment_id}@ims-clinic"
    assert event["SEQUENCE"] == 3
    assert event["STATUS"] == "CONFIRMED"
    assert str(event["SUMMARY"]) == "IMS session, 30 min \u2013 Demo IMS Clinic"
    assert "Dr. Ida Needham" in str(event["DESCRIPTION"])
    assert str(event["ORGANIZER"]) == "mailto:front@demo.clinic"
    assert str(event["ATTENDEE"]) == "mailto:pat@example.com"


@pytest.mark.parametrize(
    ("starts_at", "tzname"),
    [
        (datetime(2025, 3, 7, 17, 0, tzinfo=UTC), "PST"),  # before Vancouver's 2025-03-09 switch
        (datetime(2025, 3, 10, 16, 0, tzinfo=UTC), "PDT"),  # after it: same local time, one hour less UTC
    ],
)
def test_invitation_times_are_local_to_the_clinic_across_dst(
    renderer: TemplateRenderer, make_notice: MakeNotice, starts_at: datetime, tzname: str
) -> None:
    attachment = renderer.email(make_notice(starts_at=starts_at)).calendar
    assert attachment is not None
    calendar, event = parse_invitation(attachment.content)
    assert b"DTSTART;TZID=America/Vancouver:202503" in attachment.content
    assert event.start.tzinfo is not None
    assert str(event.start.tzinfo) == "America/Vancouver"
    assert (event.start.hour, event.start.minute) == (9, 0)
    assert (event.end.hour, event.end.minute) == (9, 30)
    assert event.start.tzname() == tzname
    assert event.start.astimezone(UTC) == starts_at
    (timezone,) = calendar.timezones
    assert timezone.tz_name == "America/Vancouver"


def test_cancellation_invitation_has_cancel_method_and_cancelled_status(
    renderer: TemplateRenderer, make_notice: MakeNotice
) -> None:
    notice = make_notice(kind=DeliveryKind.CANCELLATION, sequence=1)
    attachment = renderer.email(notice).calendar
    assert attachment is not None
    assert attachment.method == "CANCEL"
    calendar, event = parse_invitation(attachment.content)
    assert calendar["METHOD"] == "CANCEL"
    assert event["STATUS"] == "CANCELLED"
    assert event["SEQUENCE"] == 1
    assert str(event["UID"]) == f"{notice.appointment_id}@ims-clinic"


def test_invitation_is_identical_when_rendered_again(
    renderer: TemplateRenderer, make_notice: MakeNotice
) -> None:
    notice = make_notice()
    first, second = renderer.email(notice).calendar, renderer.email(notice).calendar
    assert first is not None
    assert second is not None
    assert first.content == second.content


def test_a_renderer_reusing_its_compiled_templates_renders_as_a_fresh_one(make_notice: MakeNotice) -> None:
    notices = [
        make_notice(first_name="Pat"),
        make_notice(first_name="Zoé", language="fr"),
        make_notice(first_name="Sam", kind=DeliveryKind.CANCELLATION, sequence=1),
        make_notice(first_name="Léa", language="fr", kind=DeliveryKind.CANCELLATION, sequence=1),
    ]
    reused = TemplateRenderer()
    for round_ in range(2):
        for notice in notices:
            email = reused.email(notice)
            assert email == TemplateRenderer().email(notice), (round_, notice.language, notice.kind)
            assert notice.first_name in email.text
    subjects = {reused.email(notice).subject for notice in notices}
    assert len(subjects) == len(notices)
