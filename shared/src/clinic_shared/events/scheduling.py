"""Contracts of the events scheduling publishes on the ``scheduling.events`` exchange.

Events carry ids and only the fields consumers need: billing keeps names and addresses for invoices,
notifications keeps contact details and language. Nothing clinical travels in an event.
"""

from marshmallow import Schema, fields, validate

from clinic_shared.events.envelope import CATALOG

ROLES_WHO_CANCEL = ("patient", "staff")
APPOINTMENT_KINDS = ("assessment", "treatment")


class _Contract(Schema):
    """Base for data schemas; the envelope helpers choose strict or lenient loading."""


@CATALOG.register("scheduling.clinic.changed", 1)
class ClinicChangedV1(_Contract):
    clinic_id = fields.UUID(required=True)
    code = fields.String(required=True, validate=validate.Length(min=2, max=10))
    name = fields.String(required=True)
    timezone = fields.String(required=True)
    address = fields.String(required=True)
    phone = fields.String(required=True)
    email = fields.Email(required=True)
    currency = fields.String(required=True, validate=validate.Length(equal=3))


@CATALOG.register("scheduling.practitioner.changed", 1)
class PractitionerChangedV1(_Contract):
    practitioner_id = fields.UUID(required=True)
    clinic_id = fields.UUID(required=True)
    display_name = fields.String(required=True)
    registration_number = fields.String(required=True)
    active = fields.Boolean(required=True)


@CATALOG.register("scheduling.treatment_type.changed", 1)
class TreatmentTypeChangedV1(_Contract):
    treatment_type_id = fields.UUID(required=True)
    clinic_id = fields.UUID(required=True)
    code = fields.String(required=True)
    name = fields.String(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(APPOINTMENT_KINDS))
    duration_minutes = fields.Integer(required=True, strict=True, validate=validate.Range(min=5, max=480))
    active = fields.Boolean(required=True)


class _PatientContact(_Contract):
    patient_id = fields.UUID(required=True)
    first_name = fields.String(required=True)
    last_name = fields.String(required=True)
    email = fields.Email(required=True)
    phone = fields.String(required=True, allow_none=True)
    language = fields.String(required=True, validate=validate.OneOf(("en", "fr")))


@CATALOG.register("scheduling.patient.registered", 1)
class PatientRegisteredV1(_PatientContact):
    pass


@CATALOG.register("scheduling.patient.updated", 1)
class PatientUpdatedV1(_PatientContact):
    pass


class _AppointmentFacts(_Contract):
    appointment_id = fields.UUID(required=True)
    clinic_id = fields.UUID(required=True)
    practitioner_id = fields.UUID(required=True)
    patient_id = fields.UUID(required=True)
    treatment_type_id = fields.UUID(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(APPOINTMENT_KINDS))
    starts_at = fields.AwareDateTime(required=True, format="iso")
    ends_at = fields.AwareDateTime(required=True, format="iso")
    sequence = fields.Integer(required=True, strict=True, validate=validate.Range(min=0))
    # Optional (added without a version bump: consumers ignore what they do not know, and default it).
    plan_id = fields.UUID(load_default=None, allow_none=True)


BOOKING_CHANNELS = ("online", "staff")


@CATALOG.register("scheduling.appointment.booked", 1)
class AppointmentBookedV1(_AppointmentFacts):
    # Booked by the patient online or by clinic staff (the front desk is alerted to online bookings).
    booked_via = fields.String(load_default="staff", validate=validate.OneOf(BOOKING_CHANNELS))


@CATALOG.register("scheduling.appointment.cancelled", 1)
class AppointmentCancelledV1(_AppointmentFacts):
    cancelled_at = fields.AwareDateTime(required=True, format="iso")
    cancelled_by = fields.String(required=True, validate=validate.OneOf(ROLES_WHO_CANCEL))
    late = fields.Boolean(required=True)
    # Staff waived the late-cancellation fee (the cancellation stays late; billing charges nothing).
    fee_waived = fields.Boolean(load_default=False)
    # Cancelled together with its treatment plan: a scheduling.plan.cancelled event naming this session
    # follows in the same transaction, so consumers may speak of the plan once instead of each session.
    with_plan = fields.Boolean(load_default=False)
    # Cut off its plan, which stays active with its earlier sessions: a scheduling.plan.shortened event
    # naming this session follows in the same transaction. ``with_plan`` is false, so a consumer that does
    # not know plan.shortened still speaks of each session; one that does may speak of the plan once.
    plan_shortened = fields.Boolean(load_default=False)


@CATALOG.register("scheduling.appointment.rescheduled", 1)
class AppointmentRescheduledV1(_AppointmentFacts):
    """The facts are the new ones; ``previous_*`` describe the time the appointment no longer holds."""

    previous_practitioner_id = fields.UUID(required=True)
    previous_starts_at = fields.AwareDateTime(required=True, format="iso")
    previous_ends_at = fields.AwareDateTime(required=True, format="iso")


@CATALOG.register("scheduling.appointment.arrived", 1)
class AppointmentArrivedV1(_AppointmentFacts):
    arrived_at = fields.AwareDateTime(required=True, format="iso")


@CATALOG.register("scheduling.appointment.completed", 1)
class AppointmentCompletedV1(_AppointmentFacts):
    completed_at = fields.AwareDateTime(required=True, format="iso")


@CATALOG.register("scheduling.appointment.no_show", 1)
class AppointmentNoShowV1(_AppointmentFacts):
    marked_at = fields.AwareDateTime(required=True, format="iso")
    fee_waived = fields.Boolean(load_default=False)


@CATALOG.register("scheduling.appointment.confirmed", 1)
class AppointmentConfirmedV1(_AppointmentFacts):
    """The patient confirmed they will attend (e.g. replied C to a reminder)."""

    confirmed_at = fields.AwareDateTime(required=True, format="iso")


class _PlanSession(_Contract):
    appointment_id = fields.UUID(required=True)
    starts_at = fields.AwareDateTime(required=True, format="iso")
    ends_at = fields.AwareDateTime(required=True, format="iso")
    practitioner_id = fields.UUID(required=True)


class _PlanFacts(_Contract):
    plan_id = fields.UUID(required=True)
    clinic_id = fields.UUID(required=True)
    patient_id = fields.UUID(required=True)
    practitioner_id = fields.UUID(required=True)
    treatment_type_id = fields.UUID(required=True)
    total_sessions = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))


@CATALOG.register("scheduling.plan.created", 1)
class PlanCreatedV1(_PlanFacts):
    sessions = fields.List(fields.Nested(_PlanSession), required=True, validate=validate.Length(min=1))


@CATALOG.register("scheduling.plan.extended", 1)
class PlanExtendedV1(_PlanFacts):
    added_sessions = fields.List(fields.Nested(_PlanSession), required=True, validate=validate.Length(min=1))


@CATALOG.register("scheduling.plan.completed", 1)
class PlanCompletedV1(_PlanFacts):
    completed_sessions = fields.Integer(required=True, strict=True, validate=validate.Range(min=0))
    completed_at = fields.AwareDateTime(required=True, format="iso")


@CATALOG.register("scheduling.plan.cancelled", 1)
class PlanCancelledV1(_PlanFacts):
    cancelled_appointment_ids = fields.List(fields.UUID(), required=True)
    cancelled_at = fields.AwareDateTime(required=True, format="iso")


@CATALOG.register("scheduling.plan.shortened", 1)
class PlanShortenedV1(_PlanFacts):
    """A plan was cut at one session ("this and following") after sessions it keeps: it stays active with
    ``total_sessions`` (the new length) and can still be extended and completed. Not a cancellation of the
    plan: the sessions cut off are cancelled, each with scheduling.appointment.cancelled (``plan_shortened``)
    earlier in the same transaction."""

    previous_total_sessions = fields.Integer(required=True, strict=True, validate=validate.Range(min=2))
    cancelled_appointment_ids = fields.List(fields.UUID(), required=True)
    shortened_at = fields.AwareDateTime(required=True, format="iso")


@CATALOG.register("scheduling.waitlist.offered", 1)
class WaitlistOfferedV1(_Contract):
    """A freed slot is held for a waitlisted patient until ``expires_at``."""

    offer_id = fields.UUID(required=True)
    waitlist_entry_id = fields.UUID(required=True)
    clinic_id = fields.UUID(required=True)
    patient_id = fields.UUID(required=True)
    practitioner_id = fields.UUID(required=True)
    treatment_type_id = fields.UUID(required=True)
    starts_at = fields.AwareDateTime(required=True, format="iso")
    ends_at = fields.AwareDateTime(required=True, format="iso")
    expires_at = fields.AwareDateTime(required=True, format="iso")


# Opaque URL-safe tokens (secrets.token_urlsafe), so a consumer may put one in a link as it is.
_URLSAFE_TOKEN = validate.Regexp(r"^[A-Za-z0-9_-]{32,200}$", error="must be a URL-safe token")


@CATALOG.register("scheduling.password_reset.requested", 1, carries_secret=True)
class PasswordResetRequestedV1(_Contract):
    """An account's holder asked to reset its password: e-mail them a link carrying ``token``.

    Sent only for an existing, active account. ``token`` is single-use and works until ``expires_at``
    (and only while it is the account's newest). It is a credential: consumers never log it and forget it
    once the message is sent; the producer's outbox empties the row's body once the broker confirmed it.
    """

    account_id = fields.UUID(required=True)
    # None for a staff account (no patient record behind it).
    patient_id = fields.UUID(required=True, allow_none=True)
    email = fields.Email(required=True)
    language = fields.String(required=True, validate=validate.OneOf(("en", "fr")))
    first_name = fields.String(required=True, allow_none=True)
    token = fields.String(required=True, validate=_URLSAFE_TOKEN)
    expires_at = fields.AwareDateTime(required=True, format="iso")


@CATALOG.register("scheduling.sign_up.requested", 1, carries_secret=True)
class SignUpRequestedV1(_Contract):
    """Someone signed up with an address no account uses: e-mail it a link carrying ``token`` that creates
    the account (so only the inbox's holder can).

    ``token`` works once, until ``expires_at``. It is a credential: consumers never log it and forget it
    once the message is sent; the producer's outbox empties the row's body once the broker confirmed it.
    """

    sign_up_id = fields.UUID(required=True)
    email = fields.Email(required=True)
    language = fields.String(required=True, validate=validate.OneOf(("en", "fr")))
    first_name = fields.String(required=True)
    token = fields.String(required=True, validate=_URLSAFE_TOKEN)
    expires_at = fields.AwareDateTime(required=True, format="iso")


@CATALOG.register("scheduling.sign_up.account_exists", 1)
class SignUpAccountExistsV1(_Contract):
    """Someone signed up with an address an active account already uses: tell its holder (sign in, or reset
    the password), so the sign-up's answer itself need not say whether the address has an account."""

    account_id = fields.UUID(required=True)
    # None for a staff account (no patient record behind it).
    patient_id = fields.UUID(required=True, allow_none=True)
    email = fields.Email(required=True)
    language = fields.String(required=True, validate=validate.OneOf(("en", "fr")))
    first_name = fields.String(required=True, allow_none=True)
