"""Rendering notices with the Jinja2 templates in ``templates/<language>/``.

Per language and kind: ``<kind>.subject.txt``, ``<kind>.txt``, ``<kind>.html`` (HTML is autoescaped, so
names from events cannot inject markup) and ``<kind>.sms.txt``; ``calendar_summary.txt`` and
``calendar_description.txt`` word the invitation. Undefined variables are errors, never blanks.
"""

from __future__ import annotations

import re
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from notifications.adapters.calendar import appointment_calendar
from notifications.domain.composition import Notice, describe_when
from notifications.service_layer.ports import OutgoingEmail, OutgoingSms

_WHITESPACE = re.compile(r"\s+")


def _one_line(text: str) -> str:
    """Collapse whitespace (including newlines, which must never reach a header or an SMS)."""
    return _WHITESPACE.sub(" ", text).strip()


class TemplateRenderer:
    """The MessageRenderer: e-mails (subject, text, HTML, invitation) and SMS in the notice's language."""

    def __init__(self) -> None:
        self._env = Environment(
            loader=PackageLoader("notifications.adapters", "templates"),
            autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
        )

    def email(self, notice: Notice) -> OutgoingEmail:
        context = self._context(notice)
        calendar = appointment_calendar(
            notice,
            summary=_one_line(self._render(notice, "calendar_summary.txt", context)),
            description=self._render(notice, "calendar_description.txt", context).strip(),
        )
        return OutgoingEmail(
            message_id=notice.message_id,
            to=notice.recipient,
            subject=_one_line(self._render(notice, f"{notice.kind}.subject.txt", context)),
            text=self._render(notice, f"{notice.kind}.txt", context),
            html=self._render(notice, f"{notice.kind}.html", context),
            language=notice.language,
            reply_to=notice.clinic_email,
            calendar=calendar,
        )

    def sms(self, notice: Notice) -> OutgoingSms:
        body = _one_line(self._render(notice, f"{notice.kind}.sms.txt", self._context(notice)))
        return OutgoingSms(key=notice.key, to=notice.recipient, body=body)

    def _render(self, notice: Notice, name: str, context: dict[str, Any]) -> str:
        return self._env.get_template(f"{notice.language}/{name}").render(context)

    @staticmethod
    def _context(notice: Notice) -> dict[str, Any]:
        return {
            "language": notice.language,
            "first_name": notice.first_name,
            "clinic_name": notice.clinic_name,
            "clinic_address": notice.clinic_address,
            "clinic_phone": notice.clinic_phone,
            "clinic_email": notice.clinic_email,
            "practitioner_name": notice.practitioner_name,
            "treatment_name": notice.treatment_name,
            "when": describe_when(notice),
        }
