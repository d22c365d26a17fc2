"""Building the MIME message every mail transport sends: text and HTML alternatives plus the invitation.

The message is written straight to bytes (CRLF lines, 7-bit transfer encodings) rather than built as an
``EmailMessage`` and flattened: the email package re-parses every header it is given through its header
registry and again when it folds it, which cost more per message than sending it. The bodies are encoded
as the email package encodes them (``_text_body`` follows its choice between 7bit, quoted-printable and
base64), and any header value outside the plain shapes written directly (an address with a non-ASCII or
quoted display name, say) is still folded by the email package's policy.
"""

from __future__ import annotations

import binascii
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from email import quoprimime
from email.header import Header
from email.policy import EmailPolicy
from email.utils import encode_rfc2231, format_datetime, getaddresses
from functools import lru_cache
from typing import Any

from notifications.service_layer.ports import CalendarAttachment, OutgoingEmail

_CRLF = "\r\n"
_MAX_LINE = 78


class _MessagePolicy(EmailPolicy):
    """RFC 5322 with CRLF, and bodies transfer-encoded to 7 bits so any SMTP server takes them.

    The Subject is folded with ``email.header.Header``, which folds at the spaces between words. On Python
    3.11 the newer folder moves a long ASCII subject whole onto a continuation line (``Subject:`` then
    `` Reminder of ...``, read back with a leading space) and can emit an empty encoded word
    (``=?utf-8?q??=``, invalid per RFC 2047) when a fold falls next to an accented letter.
    """

    def fold(self, name: str, value: Any) -> str:
        if name.lower() == "subject":
            return self._fold_subject(name, str(value))
        return super().fold(name, value)

    def fold_binary(self, name: str, value: Any) -> bytes:
        if name.lower() == "subject":
            return self._fold_subject(name, str(value)).encode("ascii")
        return super().fold_binary(name, value)

    def _fold_subject(self, name: str, value: str) -> str:
        charset = "us-ascii" if value.isascii() else "utf-8"
        header = Header(value, charset, maxlinelen=self.max_line_length, header_name=name)
        return f"{name}: {header.encode(linesep=self.linesep)}{self.linesep}"


MESSAGE_POLICY = _MessagePolicy(linesep=_CRLF, cte_type="7bit")
# For a message whose envelope needs SMTPUTF8 anyway (a non-ASCII address): its headers may be UTF-8.
_UTF8_POLICY = MESSAGE_POLICY.clone(utf8=True)


@dataclass(frozen=True)
class MimeMessage:
    """A message ready for SMTP: its envelope (as ``smtplib.send_message`` derives it) and its bytes.

    ``international`` says the envelope has a non-ASCII address, so it must go with SMTPUTF8.
    """

    mail_from: str
    rcpt_to: tuple[str, ...]
    data: bytes
    international: bool = False

    def as_bytes(self) -> bytes:
        return self.data


def build_message(email: OutgoingEmail, sender: str) -> MimeMessage:
    """multipart/mixed: multipart/alternative (text/plain, text/html) and a text/calendar attachment.

    Without an invitation the multipart/alternative is the whole message.
    """
    mail_from = _envelope_sender(sender)
    rcpt_to = tuple(address for _, address in getaddresses([email.to]))
    international = not "".join((mail_from, *rcpt_to)).isascii()
    alternative = _multipart("alternative", [_text_part("plain", email.text), _text_part("html", email.html)])
    if email.calendar is None:
        body = alternative
    else:
        body = _multipart("mixed", [alternative, _calendar_part(email.calendar)])
    head = "".join(
        (
            _sender_line(sender, international),
            _address_line("To", email.to, international),
            _address_line("Reply-To", email.reply_to, international) if email.reply_to else "",
            MESSAGE_POLICY.fold("Subject", email.subject),
            f"Date: {format_datetime(datetime.now(UTC))}{_CRLF}",
            _plain_line("Message-ID", email.message_id),
            # RFC 3834: an automatic message, so auto-responders should not answer it.
            f"Auto-Submitted: auto-generated{_CRLF}MIME-Version: 1.0{_CRLF}",
        )
    )
    message = head + _with_language(body, email.language)
    return MimeMessage(mail_from, rcpt_to, message.encode("utf-8"), international)


def _with_language(entity: str, language: str) -> str:
    """The top-level entity with ``Content-Language`` as its last header."""
    headers, _, rest = entity.partition(_CRLF + _CRLF)
    return f"{headers}{_CRLF}{_plain_line('Content-Language', language)}{_CRLF}{rest}"


# An address written as given: a bare addr-spec, or one behind a display name of plain words.
_LOCAL = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
_DOMAIN = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*"
_PLAIN_ADDRESS = re.compile(
    rf"(?:[A-Za-z0-9!#$%&'*+/=?^_`{{|}}~-]+(?: [A-Za-z0-9!#$%&'*+/=?^_`{{|}}~-]+)* )?"
    rf"<{_LOCAL}@{_DOMAIN}>|{_LOCAL}@{_DOMAIN}"
)
_PLAIN_VALUE = re.compile(r"[\x21-\x7e]+(?: [\x21-\x7e]+)*")


def _address_line(name: str, value: str, international: bool) -> str:
    if len(name) + 2 + len(value) <= _MAX_LINE and _PLAIN_ADDRESS.fullmatch(value):
        return f"{name}: {value}{_CRLF}"
    policy = _UTF8_POLICY if international else MESSAGE_POLICY
    return policy.fold(name, policy.header_store_parse(name, value)[1])


@lru_cache(maxsize=16)
def _sender_line(sender: str, international: bool) -> str:
    """The From line: the same sender on every message a mailer sends, so it is folded once."""
    return _address_line("From", sender, international)


@lru_cache(maxsize=16)
def _envelope_sender(sender: str) -> str:
    return getaddresses([sender])[0][1]


def _plain_line(name: str, value: str) -> str:
    """A header whose value is a short run of printable ASCII words (an id, a language tag)."""
    if len(name) + 2 + len(value) <= _MAX_LINE and _PLAIN_VALUE.fullmatch(value):
        return f"{name}: {value}{_CRLF}"
    return MESSAGE_POLICY.fold(name, MESSAGE_POLICY.header_store_parse(name, value)[1])


def _text_part(subtype: str, text: str) -> str:
    encoding, payload = _text_body(text)
    return (
        f'Content-Type: text/{subtype}; charset="utf-8"{_CRLF}'
        f"Content-Transfer-Encoding: {encoding}{_CRLF}{_CRLF}{payload}"
    )


def _text_body(text: str) -> tuple[str, str]:
    """(transfer encoding, CRLF payload) of a UTF-8 text, chosen as ``EmailMessage.set_content`` does.

    7bit when it is ASCII in short lines; otherwise quoted-printable, or base64 when its first ten lines
    come out shorter so (mostly non-Latin text).
    """
    lines = text.encode("utf-8").splitlines()
    if max((len(line) for line in lines), default=0) <= _MAX_LINE:
        body = b"\r\n".join(lines) + b"\r\n"
        if body.isascii():
            return "7bit", body.decode("ascii")
    sniff = b"\r\n".join(lines[:10]) + b"\r\n"
    if len(quoprimime.body_encode(sniff.decode("latin-1"), _MAX_LINE)) > len(binascii.b2a_base64(sniff)):
        return "base64", _base64(b"\r\n".join(lines) + b"\r\n")
    normal = b"\n".join(lines) + b"\n"
    return "quoted-printable", quoprimime.body_encode(normal.decode("latin-1"), _MAX_LINE, eol=_CRLF)


def _base64(data: bytes) -> str:
    """Base64 in lines of 76 characters, each ended by CRLF."""
    step = _MAX_LINE // 4 * 3
    return "".join(
        binascii.b2a_base64(data[at : at + step]).decode("ascii")[:-1] + _CRLF
        for at in range(0, len(data), step)
    )


_TOKEN = re.compile(r"[A-Za-z0-9!#$&+.^_`|~-]+")


def _calendar_part(calendar: CalendarAttachment) -> str:
    if _TOKEN.fullmatch(calendar.filename):
        filename = f'filename="{calendar.filename}"'
    else:
        filename = f"filename*={encode_rfc2231(calendar.filename, 'utf-8')}"
    if not _TOKEN.fullmatch(calendar.method):
        raise ValueError("an iTIP method is a token (REQUEST, CANCEL)")
    return (
        f"Content-Transfer-Encoding: base64{_CRLF}"
        f"{_disposition(filename)}"
        f'Content-Type: text/calendar; method="{calendar.method}"; charset="utf-8"{_CRLF}{_CRLF}'
        f"{_base64(calendar.content)}"
    )


def _disposition(filename: str) -> str:
    line = f"Content-Disposition: attachment; {filename}"
    if len(line) <= _MAX_LINE:
        return line + _CRLF
    return f"Content-Disposition: attachment;{_CRLF} {filename}{_CRLF}"


def _multipart(subtype: str, parts: list[str]) -> str:
    """A multipart entity under a boundary that no line of its parts starts with (RFC 2046)."""
    boundary = f"=_{secrets.token_hex(16)}"
    while any(f"--{boundary}" in part for part in parts):
        boundary = f"=_{secrets.token_hex(16)}"
    delimiter = f"{_CRLF}--{boundary}{_CRLF}"
    return (
        f'Content-Type: multipart/{subtype};{_CRLF} boundary="{boundary}"{_CRLF}{_CRLF}'
        f"--{boundary}{_CRLF}{delimiter.join(parts)}{_CRLF}--{boundary}--{_CRLF}"
    )
