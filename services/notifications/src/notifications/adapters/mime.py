"""Building the MIME message every mail transport sends: text and HTML alternatives plus the invitation."""

from __future__ import annotations

from email.header import Header
from email.message import EmailMessage
from email.policy import EmailPolicy
from email.utils import formatdate
from typing import Any

from notifications.service_layer.ports import OutgoingEmail


class _MessagePolicy(EmailPolicy):
    """RFC 5322 with CRLF, and bodies transfer-encoded to 7 bits so any SMTP server takes them.

    A non-ASCII Subject is folded with ``email.header.Header``: on Python 3.11 the newer folder can emit an
    empty encoded word (``=?utf-8?q??=``, invalid per RFC 2047) when a fold falls next to an accented letter.
    """

    def fold(self, name: str, value: Any) -> str:
        if _is_non_ascii_subject(name, value):
            return self._fold_subject(name, str(value))
        return super().fold(name, value)

    def fold_binary(self, name: str, value: Any) -> bytes:
        if _is_non_ascii_subject(name, value):
            return self._fold_subject(name, str(value)).encode("ascii")
        return super().fold_binary(name, value)

    def _fold_subject(self, name: str, value: str) -> str:
        header = Header(value, "utf-8", maxlinelen=self.max_line_length, header_name=name)
        return f"{name}: {header.encode(linesep=self.linesep)}{self.linesep}"


def _is_non_ascii_subject(name: str, value: Any) -> bool:
    return name.lower() == "subject" and not str(value).isascii()


MESSAGE_POLICY = _MessagePolicy(linesep="\r\n", cte_type="7bit")


def build_message(email: OutgoingEmail, sender: str) -> EmailMessage:
    """multipart/mixed: multipart/alternative (text/plain, text/html) and a text/calendar attachment."""
    message = EmailMessage(policy=MESSAGE_POLICY)
    message["From"] = sender
    message["To"] = email.to
    if email.reply_to:
        message["Reply-To"] = email.reply_to
    message["Subject"] = email.subject
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = email.message_id
    # RFC 3834: an automatic message, so auto-responders should not answer it.
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
    # Last: adding parts moves the top-level Content-* headers into the first part.
    message["Content-Language"] = email.language
    return message
