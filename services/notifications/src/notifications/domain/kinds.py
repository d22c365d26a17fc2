"""The kinds of message notifications sends, and the families they fall in (staff, account, plan...)."""

from __future__ import annotations

import enum


class DeliveryKind(enum.StrEnum):
    BOOKING_CONFIRMATION = "booking_confirmation"
    RESCHEDULE = "reschedule"
    CANCELLATION = "cancellation"
    REMINDER = "reminder"
    LATE_CANCELLATION_ALERT = "late_cancellation_alert"
    ONLINE_BOOKING_ALERT = "online_booking_alert"
    WAITLIST_OFFER = "waitlist_offer"
    PLAN_SUMMARY = "plan_summary"
    PLAN_EXTENDED = "plan_extended"
    PLAN_CANCELLED = "plan_cancelled"
    PLAN_SHORTENED = "plan_shortened"
    INVOICE_ISSUED = "invoice_issued"
    PAYMENT_RECEIPT = "payment_receipt"
    CREDIT_NOTE_ISSUED = "credit_note_issued"
    PRACTITIONER_AGENDA = "practitioner_agenda"
    PASSWORD_RESET = "password_reset"  # noqa: S105 - a message kind, not a password
    SIGN_UP_LINK = "sign_up_link"
    SIGN_UP_ACCOUNT_EXISTS = "sign_up_account_exists"


# Messages to the clinic's front desk (its e-mail address), not to the patient.
STAFF_KINDS = frozenset(
    {
        DeliveryKind.LATE_CANCELLATION_ALERT,
        DeliveryKind.ONLINE_BOOKING_ALERT,
        DeliveryKind.PRACTITIONER_AGENDA,
    }
)
# Messages about a login, not about care at a clinic: addressed as the event says (staff have no contact
# copy), tied to no clinic, e-mail only, sent whatever the channel choices (the holder asked for them).
ACCOUNT_KINDS = frozenset(
    {DeliveryKind.PASSWORD_RESET, DeliveryKind.SIGN_UP_LINK, DeliveryKind.SIGN_UP_ACCOUNT_EXISTS}
)
# Messages about a treatment plan: they speak for its sessions, whose own notices are not sent.
PLAN_KINDS = frozenset(
    {
        DeliveryKind.PLAN_SUMMARY,
        DeliveryKind.PLAN_EXTENDED,
        DeliveryKind.PLAN_CANCELLED,
        DeliveryKind.PLAN_SHORTENED,
    }
)
# Plan messages that announce sessions (listed in their payload, and refreshed when sent).
PLAN_ANNOUNCEMENT_KINDS = frozenset({DeliveryKind.PLAN_SUMMARY, DeliveryKind.PLAN_EXTENDED})
# Messages that take an appointment (or a plan's sessions) out of the patient's calendar.
CANCELLATION_KINDS = frozenset(
    {DeliveryKind.CANCELLATION, DeliveryKind.PLAN_CANCELLED, DeliveryKind.PLAN_SHORTENED}
)
# Messages that carry no calendar invitation (nothing is booked for the reader yet, or it is not theirs).
NO_INVITATION_KINDS = STAFF_KINDS | {
    DeliveryKind.WAITLIST_OFFER,
    DeliveryKind.INVOICE_ISSUED,
    DeliveryKind.PAYMENT_RECEIPT,
    DeliveryKind.CREDIT_NOTE_ISSUED,
    *ACCOUNT_KINDS,
}
