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
