"""Sending e-mail over SMTP with smtplib, configured by one URL.

``smtp://user:pass@host:port`` (plain, port 25 by default), ``smtp+starttls://...`` (upgrade with
STARTTLS, port 587) and ``smtps://...`` (implicit TLS, port 465). Credentials are percent-decoded.
One connection is kept open between messages (as a bare ``smtplib`` loop would) until ``close`` (the
dispatcher closes it after each pass) or until it has idled ``idle_timeout`` seconds, well inside the few
minutes servers wait; a kept connection the server closed meanwhile is replaced once, for the same message.
Every socket operation is bounded by ``timeout``.

Each send is a CLIENT span (``clinic_shared.tracing``) in the trace the dispatcher resumes for the delivery.
Failures become TransportError: a 5xx refusal of the recipient or of the message is permanent, anything
else (timeouts, 4xx, authentication and server trouble) is worth retrying. Reasons carry SMTP codes only,
never addresses or server texts that may quote them.
"""

from __future__ import annotations

import smtplib
import ssl
import threading
import time
import weakref
from dataclasses import dataclass
from typing import Literal
from urllib.parse import unquote, urlsplit

from clinic_shared import tracing
from notifications.adapters.mime import MimeMessage, build_message
from notifications.service_layer.ports import OutgoingEmail, TransportError

Security = Literal["none", "starttls", "tls"]
_SCHEMES: dict[str, tuple[Security, int]] = {
    "smtp": ("none", 25),
    "smtp+starttls": ("starttls", 587),
    "smtps": ("tls", 465),
}


@dataclass(frozen=True)
class SmtpEndpoint:
    host: str
    port: int
    security: Security
    username: str | None = None
    password: str | None = None

    @classmethod
    def from_url(cls, url: str) -> SmtpEndpoint:
        parts = urlsplit(url)
        if parts.scheme not in _SCHEMES or not parts.hostname:
            raise ValueError("SMTP URL must be smtp://, smtp+starttls:// or smtps:// with a host")
        security, default_port = _SCHEMES[parts.scheme]
        return cls(
            host=parts.hostname,
            port=parts.port or default_port,
            security=security,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
        )


class SmtpMailer:
    """A Mailer speaking SMTP to one server."""

    def __init__(
        self,
        endpoint: SmtpEndpoint,
        sender: str,
        *,
        timeout: float = 10.0,
        tls_context: ssl.SSLContext | None = None,
        idle_timeout: float = 10.0,
    ) -> None:
        self.endpoint = endpoint
        self._sender = sender
        self._timeout = timeout
        self._tls_context = tls_context
        self._idle_timeout = idle_timeout
        self._kept: list[smtplib.SMTP] = []  # the open connection, if any
        self._last_used = 0.0
        self._lock = threading.Lock()  # one conversation at a time on the kept connection
        # A mailer dropped without ``close`` (a test's, a stopping worker's) still closes its socket.
        weakref.finalize(self, _close_all, self._kept)

    @classmethod
    def from_url(cls, url: str, sender: str, *, timeout: float = 10.0) -> SmtpMailer:
        return cls(SmtpEndpoint.from_url(url), sender, timeout=timeout)

    def send(self, email: OutgoingEmail) -> None:
        message = build_message(email, self._sender)
        endpoint = self.endpoint
        attributes: tracing.Attributes = {
            "server.address": endpoint.host,
            "server.port": endpoint.port,
            "clinic.channel": "email",
        }
        with tracing.span("send email", kind=tracing.SpanKind.CLIENT, attributes=attributes) as span:
            try:
                self._transmit(message)
            except TransportError as exc:
                tracing.mark_failed(span, exc.reason)  # SMTP codes only, never an address
                raise

    def _transmit(self, message: MimeMessage) -> None:
        with self._lock:
            try:
                self._send_on_kept_connection(message)
            except smtplib.SMTPRecipientsRefused as exc:
                # smtplib has reset the transaction: the connection stays usable.
                codes = sorted({code for code, _ in exc.recipients.values()})
                permanent = all(500 <= code < 600 for code in codes)
                reason = f"SMTP recipient refused ({', '.join(map(str, codes))})"
                raise TransportError(reason, permanent=permanent) from None
            except smtplib.SMTPDataError as exc:
                permanent = 500 <= exc.smtp_code < 600
                raise TransportError(f"SMTP message refused ({exc.smtp_code})", permanent=permanent) from None
            except smtplib.SMTPAuthenticationError as exc:
                self._discard()
                raise TransportError(f"SMTP authentication failed ({exc.smtp_code})") from None
            except smtplib.SMTPResponseException as exc:
                self._discard()
                raise TransportError(f"SMTP error ({exc.smtp_code})") from None
            except (smtplib.SMTPException, ssl.SSLError, OSError) as exc:
                self._discard()
                raise TransportError(f"SMTP server unavailable ({type(exc).__name__})") from None

    def _send_on_kept_connection(self, message: MimeMessage) -> None:
        kept = bool(self._kept) and time.monotonic() - self._last_used < self._idle_timeout
        if not kept:
            self._discard(politely=True)
        try:
            _send_bytes(self._session(), message)
        except smtplib.SMTPServerDisconnected:
            if not kept:
                raise
            # The server closed the kept connection before this message: send it on a new one.
            self._discard()
            _send_bytes(self._session(), message)
        self._last_used = time.monotonic()

    def _session(self) -> smtplib.SMTP:
        if self._kept:
            return self._kept[0]
        smtp = self._connect()
        try:
            if self.endpoint.security == "starttls":
                smtp.starttls(context=self._context())
            if self.endpoint.username:
                smtp.login(self.endpoint.username, self.endpoint.password or "")
        except BaseException:
            smtp.close()
            raise
        self._kept.append(smtp)
        return smtp

    def _discard(self, *, politely: bool = False) -> None:
        if not self._kept:
            return
        connection = self._kept.pop()
        try:
            if politely:
                connection.quit()
        except (smtplib.SMTPException, OSError):
            pass
        finally:
            connection.close()

    def close(self) -> None:
        """Say goodbye on the kept connection, if any (e.g. when the worker stops)."""
        with self._lock:
            self._discard(politely=True)

    def _connect(self) -> smtplib.SMTP:
        endpoint = self.endpoint
        if endpoint.security == "tls":
            return smtplib.SMTP_SSL(
                endpoint.host, endpoint.port, timeout=self._timeout, context=self._context()
            )
        return smtplib.SMTP(endpoint.host, endpoint.port, timeout=self._timeout)

    def _context(self) -> ssl.SSLContext:
        return self._tls_context or ssl.create_default_context()


def _send_bytes(smtp: smtplib.SMTP, message: MimeMessage) -> None:
    """The message's bytes under its envelope, as ``smtplib.SMTP.send_message`` would send them."""
    options: tuple[str, ...] = ()
    if message.international:
        smtp.ehlo_or_helo_if_needed()
        if not smtp.has_extn("smtputf8"):
            raise smtplib.SMTPNotSupportedError("a non-ASCII address needs the server's SMTPUTF8")
        options = ("SMTPUTF8", "BODY=8BITMIME")
    smtp.sendmail(message.mail_from, list(message.rcpt_to), message.data, options)


def _close_all(connections: list[smtplib.SMTP]) -> None:
    while connections:
        connections.pop().close()
