"""SmtpMailer against a real SMTP server (aiosmtpd on a free local port): content, auth, STARTTLS, errors."""

from __future__ import annotations

import ipaddress
import socket
import ssl
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import icalendar
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from notifications.adapters.rendering import TemplateRenderer
from notifications.adapters.smtp import SmtpEndpoint, SmtpMailer
from notifications.domain.composition import Notice
from notifications.service_layer.ports import OutgoingEmail, TransportError

pytestmark = pytest.mark.integration

SENDER = "IMS Clinic <no-reply@ims-clinic.local>"


@pytest.fixture
def mailer_for(start_smtp_server: Any) -> Iterator[Callable[..., SmtpMailer]]:
    """Builds mailers and closes them before the test's SMTP servers stop (they keep their connection)."""
    made: list[SmtpMailer] = []

    def build(url: str, **options: Any) -> SmtpMailer:
        endpoint = SmtpEndpoint.from_url(url)
        made.append(SmtpMailer(endpoint, SENDER, **{"timeout": 5, **options}))
        return made[-1]

    yield build
    for mailer in made:
        mailer.close()


@pytest.fixture
def email(make_notice: Callable[..., Notice]) -> OutgoingEmail:
    return TemplateRenderer().email(make_notice())


def test_delivers_text_html_and_the_invitation(
    smtp_server: Any, email: OutgoingEmail, mailer_for: Callable[..., SmtpMailer]
) -> None:
    mailer = mailer_for(smtp_server.url())
    mailer.send(email)

    (envelope,) = smtp_server.sink.envelopes
    assert envelope.mail_from == "no-reply@ims-clinic.local"
    assert envelope.rcpt_tos == ["pat@example.com"]
    (message,) = smtp_server.sink.messages
    assert message["Message-ID"] == email.message_id
    assert message["Subject"] == email.subject
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert text is not None
    assert "Hello Pat," in text.get_content()
    assert html is not None
    assert "<html" in html.get_content()
    (invitation,) = list(message.iter_attachments())
    assert invitation.get_content_type() == "text/calendar"
    assert invitation.get_param("method") == "REQUEST"
    calendar = icalendar.Calendar.from_ical(invitation.get_payload(decode=True))
    assert calendar["METHOD"] == "REQUEST"
    assert smtp_server.sink.logins == []


def test_french_names_and_subject_arrive_encoded_and_read_back_exactly(
    smtp_server: Any, email: OutgoingEmail, mailer_for: Callable[..., SmtpMailer]
) -> None:
    french = replace(
        email,
        to="Zoé Côté <zoe@example.com>",
        subject="Votre rendez-vous du lundi 10 mars 2025 chez Clinique Étoile est confirmé",
        text="Bonjour Zoé,\nÀ bientôt.\n",
        language="fr",
    )
    mailer_for(smtp_server.url()).send(french)

    (envelope,) = smtp_server.sink.envelopes
    assert envelope.rcpt_tos == ["zoe@example.com"]
    assert envelope.original_content.isascii()
    (message,) = smtp_server.sink.messages
    assert message["To"] == "Zoé Côté <zoe@example.com>"
    assert message["Subject"] == french.subject
    assert message["Content-Language"] == "fr"
    text = message.get_body(preferencelist=("plain",))
    assert text is not None
    assert text.get_content().replace("\r\n", "\n") == french.text


def test_logs_in_with_the_credentials_in_the_url(
    smtp_server: Any, email: OutgoingEmail, mailer_for: Callable[..., SmtpMailer]
) -> None:
    mailer = mailer_for(smtp_server.url(credentials="mailer:s3cret%2Fpass@"))
    mailer.send(email)
    assert smtp_server.sink.logins == ["mailer"]
    assert len(smtp_server.sink.envelopes) == 1


def test_messages_one_after_another_share_one_connection_even_after_a_refusal(
    smtp_server: Any, email: OutgoingEmail, mailer_for: Callable[..., SmtpMailer]
) -> None:
    mailer = mailer_for(smtp_server.url(credentials="mailer:s3cret%2Fpass@"))
    mailer.send(email)
    smtp_server.sink.refuse = True
    with pytest.raises(TransportError):
        mailer.send(email)
    smtp_server.sink.refuse = False
    mailer.send(email)
    mailer.close()
    assert smtp_server.sink.logins == ["mailer"], "one connection, one login"
    assert len(smtp_server.sink.envelopes) == 2


def test_a_kept_connection_the_server_closed_is_replaced_for_the_same_message(
    smtp_server: Any, email: OutgoingEmail, mailer_for: Callable[..., SmtpMailer]
) -> None:
    mailer = mailer_for(smtp_server.url(credentials="mailer:s3cret%2Fpass@"))
    mailer.send(email)
    (kept,) = mailer._kept  # the test plays the server hanging up
    assert kept.sock is not None
    kept.sock.shutdown(socket.SHUT_RDWR)
    mailer.send(email)
    assert smtp_server.sink.logins == ["mailer", "mailer"]
    assert len(smtp_server.sink.envelopes) == 2


def test_a_connection_idle_too_long_is_not_reused(
    smtp_server: Any, email: OutgoingEmail, mailer_for: Callable[..., SmtpMailer]
) -> None:
    mailer = mailer_for(smtp_server.url(credentials="mailer:s3cret%2Fpass@"), idle_timeout=0)
    mailer.send(email)
    mailer.send(email)
    assert smtp_server.sink.logins == ["mailer", "mailer"]
    assert len(smtp_server.sink.envelopes) == 2


def test_a_wrong_password_is_worth_retrying_not_a_verdict_on_the_message(
    smtp_server: Any, email: OutgoingEmail, mailer_for: Callable[..., SmtpMailer]
) -> None:
    mailer = mailer_for(smtp_server.url(credentials="mailer:wrong@"))
    with pytest.raises(TransportError) as caught:
        mailer.send(email)
    assert not caught.value.permanent
    assert caught.value.reason == "SMTP authentication failed (535)"
    assert smtp_server.sink.envelopes == []


def test_a_refused_recipient_is_permanent_and_not_quoted(
    smtp_server: Any, email: OutgoingEmail, mailer_for: Callable[..., SmtpMailer]
) -> None:
    smtp_server.sink.refuse = True
    with pytest.raises(TransportError) as caught:
        mailer_for(smtp_server.url()).send(email)
    assert caught.value.permanent
    assert caught.value.reason == "SMTP recipient refused (550)"
    assert "pat@example.com" not in caught.value.reason


def test_an_unreachable_server_is_a_transient_failure(
    email: OutgoingEmail, mailer_for: Callable[..., SmtpMailer]
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # bound but not listening: connections are refused
        with pytest.raises(TransportError) as caught:
            mailer_for(f"smtp://127.0.0.1:{port}", timeout=2).send(email)
    assert not caught.value.permanent
    assert caught.value.reason.startswith("SMTP server unavailable")


def self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


def test_starttls_upgrades_the_connection_before_logging_in(
    tmp_path: Path,
    start_smtp_server: Callable[..., Any],
    email: OutgoingEmail,
    mailer_for: Callable[..., SmtpMailer],
) -> None:
    cert, key = self_signed(tmp_path)
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert, key)
    server = start_smtp_server(tls_context=server_context, require_starttls=True)
    client_context = ssl.create_default_context(cafile=str(cert))

    url = server.url("smtp+starttls", credentials="mailer:s3cret%2Fpass@")
    assert SmtpEndpoint.from_url(url).security == "starttls"  # the URL alone selects STARTTLS ...
    mailer = mailer_for(url, tls_context=client_context)
    mailer.send(email)
    assert server.sink.logins == ["mailer"]
    assert len(server.sink.envelopes) == 1

    # ... and a server certificate the client does not trust is refused, as it should be.
    with pytest.raises(TransportError) as caught:
        mailer_for(url).send(email)
    assert not caught.value.permanent
