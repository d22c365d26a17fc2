"""The MIME message written straight to bytes reads back as the email package's own construction of it."""

from __future__ import annotations

from collections.abc import Callable
from email import message_from_bytes
from email import policy as email_policy
from email.message import EmailMessage, Message

import pytest

from notifications.adapters.mime import MESSAGE_POLICY, build_message
from notifications.adapters.rendering import TemplateRenderer
from notifications.domain.composition import Notice
from notifications.domain.kinds import DeliveryKind
from notifications.service_layer.ports import CalendarAttachment, OutgoingEmail

SENDER = "IMS Clinic <no-reply@localhost>"
FRENCH_SENDER = "Clinique Étoile <clinique@example.com>"
INVITATION = CalendarAttachment("REQUEST", b"BEGIN:VCALENDAR\r\nSUMMARY:S\xc3\xa9ance\r\nEND:VCALENDAR\r\n")


def reference(email: OutgoingEmail, sender: str) -> EmailMessage:
    """The message as ``EmailMessage`` builds it (how notifications built it before writing bytes)."""
    message = EmailMessage(policy=MESSAGE_POLICY)
    message["From"] = sender
    message["To"] = email.to
    if email.reply_to:
        message["Reply-To"] = email.reply_to
    message["Subject"] = email.subject
    message["Message-ID"] = email.message_id
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(email.text)
    message.add_alternative(email.html, subtype="html")
    if email.calendar is not None:
        message.add_attachment(
            email.calendar.content,
            maintype="text",
            subtype="calendar",
            filename=email.calendar.filename,
            params={"method": email.calendar.method, "charset": "utf-8"},
        )
    message["Content-Language"] = email.language
    return message


def parse(raw: bytes) -> EmailMessage:
    message = message_from_bytes(raw, policy=email_policy.default)
    assert isinstance(message, EmailMessage)
    return message


def outline(part: Message) -> list[tuple[str, object]]:
    """What a reader sees: each entity's headers (decoded, boundaries aside) and decoded content."""
    assert isinstance(part, EmailMessage)
    headers = {
        name.lower(): str(value)
        for name, value in part.items()
        if name.lower() not in ("date", "mime-version", "content-type")
    }
    seen: list[tuple[str, object]] = [
        (part.get_content_type(), headers),
        ("params", {k: v for k, v in part.get_params() or [] if k not in ("boundary",)}),
    ]
    if part.is_multipart():
        for child in part.iter_parts():
            seen.extend(outline(child))
    else:
        seen.append(("content", part.get_content()))
    return seen


EMAILS = [
    OutgoingEmail(
        "<a@example>", "pat@example.com", "Your appointment is confirmed", "Hi\n", "<p>Hi</p>\n", "en"
    ),
    OutgoingEmail(
        "<b@example>",
        "pat@example.com",
        "Votre rendez-vous du lundi 10 mars 2025 chez Clinique Étoile est confirmé",
        "Bonjour Zoé,\n\nL\u2019invitation jointe l\u2019ajoute à votre agenda.\n",
        "<p>Bonjour Zoé, à bientôt</p>\n",
        "fr",
        reply_to="front@demo.clinic",
        calendar=INVITATION,
    ),
    OutgoingEmail(
        "<c@example>",
        "Zoé Côté <zoe@example.com>",
        "x" * 100,
        "line\r\nwith cr\n" + "long " * 100,
        "<p>" + "y" * 1200 + "</p>",
        "en",
        reply_to="Clinique Étoile <front@x.test>",
        calendar=CalendarAttachment("CANCEL", b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n", "rendez-vous été.ics"),
    ),
    OutgoingEmail("<d@example>", "a@b.example", "", "", "", "en"),
    OutgoingEmail("<e@example>", "a@b.example", "Привет", "Привет, мир\n" * 20, "<p>Ελληνικά</p>", "en"),
    OutgoingEmail("<f@example>", '"Smith, Pat" <pat@example.com>', "S", "From here\n.\n", "x", "en"),
]


@pytest.mark.parametrize("email", EMAILS, ids=lambda email: email.message_id)
@pytest.mark.parametrize("sender", [SENDER, FRENCH_SENDER])
def test_message_reads_back_as_the_email_package_builds_it(email: OutgoingEmail, sender: str) -> None:
    raw = build_message(email, sender).as_bytes()
    assert outline(parse(raw)) == outline(parse(reference(email, sender).as_bytes()))


@pytest.mark.parametrize("email", EMAILS, ids=lambda email: email.message_id)
def test_message_is_seven_bit_crlf_lines_of_at_most_78_characters_but_long_words(
    email: OutgoingEmail,
) -> None:
    raw = build_message(email, FRENCH_SENDER).as_bytes()
    assert raw.isascii()
    assert b"\n" not in raw.replace(b"\r\n", b"")
    assert b"\r" not in raw.replace(b"\r\n", b"")
    assert all(len(line) <= 78 or b" " not in line.strip() for line in raw.split(b"\r\n"))
    message = parse(raw)
    assert message["Date"].datetime.tzinfo is not None
    assert message["MIME-Version"] == "1.0"


def test_envelope_is_the_senders_and_the_recipients_addresses() -> None:
    message = build_message(EMAILS[2], FRENCH_SENDER)
    assert message.mail_from == "clinique@example.com"
    assert message.rcpt_to == ("zoe@example.com",)
    assert not message.international


def test_each_multipart_has_its_own_boundary_on_every_message() -> None:
    first = parse(build_message(EMAILS[1], SENDER).as_bytes())
    again = parse(build_message(EMAILS[1], SENDER).as_bytes())
    boundaries = {m.get_boundary() for m in (first, again) for m in m.walk() if m.is_multipart()}
    assert len(boundaries) == 4


def test_messages_to_two_patients_in_two_languages_differ_where_they_should(
    make_notice: Callable[..., Notice],
) -> None:
    renderer = TemplateRenderer()
    english = renderer.email(make_notice(first_name="Pat"))
    french = renderer.email(make_notice(first_name="Zoé", language="fr", kind=DeliveryKind.CANCELLATION))
    one, other = (parse(build_message(e, FRENCH_SENDER).as_bytes()) for e in (english, french))
    assert (one["Message-ID"], other["Message-ID"]) == (english.message_id, french.message_id)
    assert (one["Subject"], other["Subject"]) == (english.subject, french.subject)
    assert (one["Content-Language"], other["Content-Language"]) == ("en", "fr")
    assert one["From"] == other["From"] == FRENCH_SENDER
    for message, email in ((one, english), (other, french)):
        text, html = message.get_body(("plain",)), message.get_body(("html",))
        assert text is not None
        assert html is not None
        assert text.get_content().replace("\r\n", "\n") == email.text
        assert html.get_content().replace("\r\n", "\n") == email.html
        (invitation,) = message.iter_attachments()
        assert email.calendar is not None
        assert invitation.get_payload(decode=True) == email.calendar.content
        assert invitation.get_param("method") == email.calendar.method
    assert "Zoé" in other.get_body(("plain",)).get_content()  # type: ignore[union-attr]
