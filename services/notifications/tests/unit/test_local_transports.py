"""The development mailbox, the SMS sink and SMTP URL parsing (files only, no servers)."""

from __future__ import annotations

import json
from collections.abc import Callable
from email import message_from_bytes as email_from_bytes
from email import policy as email_policy
from email.message import EmailMessage
from pathlib import Path

import icalendar
import pytest

from notifications.adapters.dev_mailbox import INDEX_FILE, DevMailbox
from notifications.adapters.mime import build_message
from notifications.adapters.rendering import TemplateRenderer
from notifications.adapters.sms_sink import SmsSink
from notifications.adapters.smtp import SmtpEndpoint
from notifications.domain.channels import Channel
from notifications.domain.composition import Notice
from notifications.service_layer.ports import OutgoingEmail, OutgoingSms

SENDER = "IMS Clinic <no-reply@localhost>"


def test_dev_mailbox_writes_a_readable_eml_with_text_html_and_invitation(
    tmp_path: Path, make_notice: Callable[..., Notice], read_eml: Callable[[Path], EmailMessage]
) -> None:
    notice = make_notice()
    mailbox = DevMailbox(tmp_path / "mailbox", SENDER)
    name = mailbox.send(TemplateRenderer().email(notice))

    message = read_eml(tmp_path / "mailbox" / name)
    assert name.endswith(".eml")
    assert message["Message-ID"] == notice.message_id
    assert message["To"] == "pat@example.com"
    assert message["From"] == SENDER
    assert message["Reply-To"] == "front@demo.clinic"
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["Content-Language"] == "en"
    assert message.get_content_type() == "multipart/mixed"
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert text is not None
    assert "Hello Pat," in text.get_content()
    assert html is not None
    assert "Your appointment is confirmed." in html.get_content()
    (invitation,) = list(message.iter_attachments())
    assert invitation.get_content_type() == "text/calendar"
    assert invitation.get_param("method") == "REQUEST"
    assert invitation.get_filename() == "appointment.ics"
    calendar = icalendar.Calendar.from_ical(invitation.get_payload(decode=True))
    assert str(calendar.events[0]["UID"]) == f"{notice.appointment_id}@ims-clinic"

    (entry,) = [json.loads(line) for line in (tmp_path / "mailbox" / INDEX_FILE).read_text().splitlines()]
    assert entry["file"] == name
    assert entry["message_id"] == notice.message_id
    assert entry["subject"].startswith("Your appointment at Demo IMS Clinic")


def test_dev_mailbox_resend_of_a_delivery_replaces_its_file(
    tmp_path: Path, make_notice: Callable[..., Notice]
) -> None:
    mailbox = DevMailbox(tmp_path, SENDER)
    email = TemplateRenderer().email(make_notice())
    assert mailbox.send(email) == mailbox.send(email)
    assert len(list(tmp_path.glob("*.eml"))) == 1
    assert len((tmp_path / INDEX_FILE).read_text().splitlines()) == 1


@pytest.mark.parametrize("padding", range(0, 80, 3))
@pytest.mark.parametrize(
    "template",
    [
        "Votre rendez-vous {} chez Clinique Étoile est confirmé",
        "Reminder of your appointment {} at Demo IMS Clinic on Sunday, November 22, 2026",
    ],
)
def test_subjects_fold_between_words_and_read_back_exactly_whatever_their_length(
    template: str, padding: int
) -> None:
    subject = template.format("x" * padding)
    message = build_message(
        OutgoingEmail("<id@example>", "pat@example.com", subject, "texte", "<p>html</p>", "fr"), SENDER
    )
    raw = message.as_bytes()
    head = raw.split(b"\r\n\r\n", 1)[0]
    assert b"?q??=" not in head
    assert b"?b??=" not in head
    # At most 78 characters a line, unless a single word is longer (RFC 5322 then allows up to 998).
    assert all(len(line) <= 78 or b" " not in line.strip() for line in head.split(b"\r\n"))
    assert not head.split(b"Subject:", 1)[1].startswith(b"\r\n")  # the value starts on the Subject line
    assert email_from_bytes(raw, policy=email_policy.default)["Subject"] == subject


def test_sms_sink_appends_one_json_line_per_message(tmp_path: Path) -> None:
    sink = SmsSink(tmp_path / "sms")
    first = sink.send(OutgoingSms(key="a:booking_confirmation:sms:0", to="+16045550100", body="Hello"))
    sink.send(OutgoingSms(key="a:cancellation:sms:1", to="+16045550100", body="Bye"))
    lines = [json.loads(line) for line in (tmp_path / "sms" / "outbox.jsonl").read_text().splitlines()]
    assert [(line["key"], line["to"], line["body"]) for line in lines] == [
        ("a:booking_confirmation:sms:0", "+16045550100", "Hello"),
        ("a:cancellation:sms:1", "+16045550100", "Bye"),
    ]
    assert lines[0]["id"] == first
    assert first == sink.send(OutgoingSms(key="a:booking_confirmation:sms:0", to="+1", body="again"))


def test_sms_sink_writes_rendered_sms(tmp_path: Path, make_notice: Callable[..., Notice]) -> None:
    sink = SmsSink(tmp_path)
    sink.send(TemplateRenderer().sms(make_notice(channel=Channel.SMS, language="fr")))
    (line,) = (tmp_path / "outbox.jsonl").read_text(encoding="utf-8").splitlines()
    assert "Bonjour Pat" in json.loads(line)["body"]


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("smtp://mail.example.com", SmtpEndpoint("mail.example.com", 25, "none")),
        ("smtp://localhost:1025", SmtpEndpoint("localhost", 1025, "none")),
        ("smtp+starttls://u:p@mail.example.com", SmtpEndpoint("mail.example.com", 587, "starttls", "u", "p")),
        ("smtps://mail.example.com", SmtpEndpoint("mail.example.com", 465, "tls")),
        (
            "smtps://me%40example.com:p%2Fss%3Aword@mail.example.com:2465",
            SmtpEndpoint("mail.example.com", 2465, "tls", "me@example.com", "p/ss:word"),
        ),
    ],
)
def test_smtp_url_sets_security_port_and_decoded_credentials(url: str, expected: SmtpEndpoint) -> None:
    assert SmtpEndpoint.from_url(url) == expected


@pytest.mark.parametrize("url", ["http://mail.example.com", "smtp://", "mail.example.com:25"])
def test_smtp_url_must_name_a_supported_scheme_and_host(url: str) -> None:
    with pytest.raises(ValueError, match="SMTP URL"):
        SmtpEndpoint.from_url(url)
