"""Rendering notices with the Jinja2 templates in ``templates/<language>/``.

Per language and kind: ``<kind>.subject.txt``, ``<kind>.txt``, ``<kind>.html`` (HTML is autoescaped, so
names from events cannot inject markup) and ``<kind>.sms.txt``; ``calendar_summary.txt`` and
``calendar_description.txt`` word the invitation. Undefined variables are errors, never blanks.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from notifications.adapters.calendar import appointment_calendar
from notifications.domain.composition import (
    Notice,
    describe_amount,
    describe_date,
    describe_span,
    describe_when,
)
from notifications.domain.kinds import DeliveryKind
from notifications.service_layer.ports import OutgoingEmail, OutgoingSms

_WHITESPACE = re.compile(r"\s+")


def _one_line(text: str) -> str:
    """Collapse whitespace (including newlines, which must never reach a header or an SMS)."""
    return _WHITESPACE.sub(" ", text).strip()


def _expiry(notice: Notice) -> str | None:
    """The local time an offer lapses, worded for the notice's language."""
    expiry = notice.local_expiry
    if expiry is None:
        return None
    if notice.language == "fr":
        return f"{expiry.hour} h {expiry.minute:02d}"
    return f"{expiry.hour % 12 or 12}:{expiry.minute:02d} {'AM' if expiry.hour < 12 else 'PM'}"


def _payload_context(notice: Notice) -> dict[str, Any]:
    """Words for what plan, invoice and payment messages carry: session times, amounts, dates."""
    payload, language = notice.payload, notice.language
    currency = payload.get("currency", "")

    def amount(name: str) -> str | None:
        return describe_amount(payload[name], currency, language) if name in payload else None

    sessions = [
        describe_span(
            datetime.fromisoformat(session["starts_at"]).astimezone(notice.zone),
            datetime.fromisoformat(session["ends_at"]).astimezone(notice.zone),
            notice.timezone,
            language,
        )
        for session in payload.get("sessions", [])
    ]
    agenda = [
        {
            "when": describe_span(
                datetime.fromisoformat(line["starts_at"]).astimezone(notice.zone),
                datetime.fromisoformat(line["ends_at"]).astimezone(notice.zone),
                notice.timezone,
                language,
            ),
            "first_name": line["first_name"],
            "treatment": line["treatment"],
        }
        for line in payload.get("agenda", [])
    ]
    due = payload.get("due_date")
    day = payload.get("day")
    link_expiry = payload.get("document_expires_at")
    return {
        "agenda": agenda,
        "agenda_date": describe_date(date.fromisoformat(day), language) if day else None,
        "sessions": sessions,
        "invoice_number": payload.get("invoice_number", payload.get("number")),
        "credit_note_number": payload.get("credit_note_number"),
        "voids_invoice": payload.get("voids_invoice", False),
        "cancelled_count": payload.get("cancelled_count", 0),
        "total_sessions": payload.get("total_sessions"),
        "total": amount("total_cents"),
        "balance": amount("balance_cents"),
        "amount": amount("amount_cents"),
        "due_date": describe_date(date.fromisoformat(due), language) if due else None,
        "document_url": payload.get("document_url"),
        "document_expires": (
            describe_date(datetime.fromisoformat(link_expiry).astimezone(notice.zone).date(), language)
            if link_expiry
            else None
        ),
    }


def _offer_url(notice: Notice, web_public_url: str | None) -> str | None:
    """The portal page where the patient takes an offered time (the offer's id is the held time's)."""
    if web_public_url is None or notice.kind is not DeliveryKind.WAITLIST_OFFER:
        return None
    return f"{web_public_url}/waitlist/offers/{notice.appointment_id}"


# Where account messages' links point when WEB_PUBLIC_URL is unset (the web front run locally): such an
# e-mail is nothing without its link, unlike a waitlist offer, which can say to call instead.
DEFAULT_WEB_PUBLIC_URL = "http://127.0.0.1:8000"

# The web front's pages that an account message's token opens.
_TOKEN_PAGES = {DeliveryKind.PASSWORD_RESET: "reset-password", DeliveryKind.SIGN_UP_LINK: "sign-up/confirm"}


def _token_url(notice: Notice, web_public_url: str | None) -> str | None:
    """The web front's page that uses the link's token: set a new password, or finish signing up."""
    page = _TOKEN_PAGES.get(notice.kind)
    token = notice.payload.get("token") if page else None
    if not token:
        return None
    return f"{web_public_url or DEFAULT_WEB_PUBLIC_URL}/{page}/{token}"


class TemplateRenderer:
    """The MessageRenderer: e-mails (subject, text, HTML, invitation) and SMS in the notice's language.

    With ``web_public_url`` (the patient portal) a waitlist offer links to the page that takes it; a
    password-reset e-mail links to its ``/reset-password/{token}`` page and a sign-up e-mail to its
    ``/sign-up/confirm/{token}`` page (under DEFAULT_WEB_PUBLIC_URL when unset).

    Templates ship inside the package: each is compiled once, when first used, and kept by the environment
    without checking the file's modification time on every message.
    """

    def __init__(self, web_public_url: str | None = None) -> None:
        self._web_public_url = web_public_url.rstrip("/") if web_public_url else None
        self._env = Environment(
            loader=PackageLoader("notifications.adapters", "templates"),
            autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
            auto_reload=False,
        )

    def email(self, notice: Notice) -> OutgoingEmail:
        context = self._context(notice)
        calendar = None
        if notice.has_invitation:
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
            # Staff alerts get no Reply-To, nor do account messages (no clinic sends those).
            reply_to=None if notice.for_staff else notice.clinic_email or None,
            calendar=calendar,
        )

    def sms(self, notice: Notice) -> OutgoingSms:
        body = _one_line(self._render(notice, f"{notice.kind}.sms.txt", self._context(notice)))
        return OutgoingSms(key=notice.key, to=notice.recipient, body=body, delivery_id=notice.delivery_id)

    def _render(self, notice: Notice, name: str, context: dict[str, Any]) -> str:
        return self._env.get_template(f"{notice.language}/{name}").render(context)

    def _context(self, notice: Notice) -> dict[str, Any]:
        return {
            "language": notice.language,
            "first_name": notice.first_name,
            "clinic_name": notice.clinic_name,
            "clinic_address": notice.clinic_address,
            "clinic_phone": notice.clinic_phone,
            "clinic_email": notice.clinic_email,
            "practitioner_name": notice.practitioner_name,
            "treatment_name": notice.treatment_name,
            "when": describe_when(notice) if notice.has_time else None,
            "expires": _expiry(notice),
            "offer_url": _offer_url(notice, self._web_public_url),
            "link_url": _token_url(notice, self._web_public_url),
            "portal_url": self._web_public_url or DEFAULT_WEB_PUBLIC_URL,
            "valid_minutes": notice.payload.get("valid_minutes"),
            **_payload_context(notice),
        }
