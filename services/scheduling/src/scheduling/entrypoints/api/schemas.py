"""Request and response schemas: they validate input and generate the OpenAPI document.

Unknown fields in a request body are rejected (marshmallow's default), so nothing can be mass-assigned.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from scheduling.domain.model import AppointmentKind, AppointmentStatus
from scheduling.domain.plans import Occurrence, PlanStatus

E164 = validate.Regexp(r"^\+[1-9]\d{7,14}$", error="must be an E.164 phone number such as +16045550123")
LANGUAGES = validate.OneOf(["en", "fr"])
PASSWORD = validate.Length(min=10, max=200)


class TokenRequest(Schema):
    email = fields.Email(required=True)
    password = fields.String(required=True, validate=validate.Length(min=1, max=200))


class TokenResponse(Schema):
    access_token = fields.String(
        required=True, metadata={"description": "EdDSA-signed JWT; send as `Authorization: Bearer ...`"}
    )
    token_type = fields.String(required=True, metadata={"description": "Always `Bearer`"})
    expires_in = fields.Integer(required=True, metadata={"description": "Seconds the access token is valid"})
    refresh_token = fields.String(
        required=True,
        metadata={
            "description": "Opaque, single use: trade it at POST /auth/refresh for the next pair. Keep it "
            "server-side; presenting a used one again revokes the whole session"
        },
    )
    refresh_expires_in = fields.Integer(
        required=True, metadata={"description": "Seconds the refresh token is valid if not used before"}
    )


class RefreshTokenRequest(Schema):
    refresh_token = fields.String(
        required=True,
        validate=validate.Length(min=1, max=200),
        metadata={"description": "The refresh token from the last POST /auth/token or /auth/refresh"},
    )


class PasswordResetRequest(Schema):
    email = fields.Email(required=True, metadata={"description": "The address the account signs in with"})


class PasswordResetAccepted(Schema):
    message = fields.String(
        required=True, metadata={"description": "The same words whether or not the address has an account"}
    )


class PasswordResetConfirmRequest(Schema):
    token = fields.String(
        required=True,
        validate=validate.Length(min=1, max=200),
        load_only=True,
        metadata={"description": "The token from the e-mailed link (`/reset-password/{token}`)"},
    )
    password = fields.String(
        required=True,
        validate=PASSWORD,
        load_only=True,
        metadata={"description": "The new password (10 to 200 characters, as at registration)"},
    )


class PasswordChangeRequest(Schema):
    current_password = fields.String(required=True, validate=validate.Length(min=1, max=200), load_only=True)
    new_password = fields.String(
        required=True,
        validate=PASSWORD,
        load_only=True,
        metadata={"description": "The new password (10 to 200 characters, as at registration)"},
    )


class RegisterPatientRequest(Schema):
    email = fields.Email(required=True)
    password = fields.String(required=True, validate=PASSWORD, load_only=True)
    first_name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    last_name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    phone = fields.String(load_default=None, allow_none=True, validate=E164)
    language = fields.String(load_default="en", validate=LANGUAGES)


class SignUpAccepted(Schema):
    message = fields.String(
        required=True, metadata={"description": "The same words whether or not the address has an account"}
    )


class SignUpConfirmRequest(Schema):
    token = fields.String(
        required=True,
        validate=validate.Length(min=1, max=200),
        load_only=True,
        metadata={"description": "The token from the e-mailed link (`/sign-up/confirm/{token}`)"},
    )


class PatientSearchQuery(Schema):
    q = fields.String(
        load_default="",
        validate=validate.Length(max=200),
        metadata={"description": "Words that must all appear in the name, e-mail or phone (empty: everyone)"},
    )


class FindPatientRequest(Schema):
    email = fields.Email(metadata={"description": "Exactly as registered (any case)"})
    phone = fields.String(validate=E164, metadata={"description": "E.164, exactly as registered"})

    @validates_schema
    def _one_of_them(self, data: dict[str, Any], **_: Any) -> None:
        if ("email" in data) == ("phone" in data):
            raise ValidationError("give the e-mail address or the phone number, not both", "email")


class RegisterCallerRequest(Schema):
    email = fields.Email(required=True)
    first_name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    last_name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    phone = fields.String(load_default=None, allow_none=True, validate=E164)
    language = fields.String(load_default="en", validate=LANGUAGES)


class UpdatePatientRequest(Schema):
    first_name = fields.String(validate=validate.Length(min=1, max=100))
    last_name = fields.String(validate=validate.Length(min=1, max=100))
    phone = fields.String(validate=E164)
    language = fields.String(validate=LANGUAGES)


class PatientSchema(Schema):
    id = fields.UUID(dump_only=True)
    first_name = fields.String()
    last_name = fields.String()
    email = fields.Email()
    phone = fields.String(allow_none=True)
    language = fields.String()


class SignedUpSchema(TokenResponse):
    patient = fields.Nested(PatientSchema, required=True, metadata={"description": "The new patient"})


class StaffAccountRequest(Schema):
    email = fields.Email(required=True)
    password = fields.String(required=True, validate=PASSWORD, load_only=True)
    roles = fields.List(
        fields.String(validate=validate.OneOf(["practitioner", "front_desk", "billing", "admin"])),
        required=True,
        validate=validate.Length(min=1),
    )
    clinic_id = fields.UUID(
        load_default=None,
        allow_none=True,
        metadata={
            "description": "The clinic the account's roles hold in (a clinic's admin: their own clinic). "
            "Give this or `organisation_wide: true`, exactly one (422 otherwise)."
        },
    )
    organisation_wide = fields.Boolean(
        load_default=False,
        metadata={
            "description": "The roles hold in every clinic of the organisation (no `clinic_id`); only an "
            "organisation-wide admin may create such an account (403 otherwise)."
        },
    )
    practitioner_id = fields.UUID(
        load_default=None,
        allow_none=True,
        metadata={"description": "The practitioner this login is (of the account's clinic)"},
    )


class AccountSchema(Schema):
    id = fields.UUID()
    email = fields.Email()
    roles = fields.List(fields.String())
    clinic_id = fields.UUID(
        allow_none=True,
        metadata={"description": "The account's clinic; null: organisation-wide staff (or a patient)"},
    )
    practitioner_id = fields.UUID(allow_none=True)
    patient_id = fields.UUID(allow_none=True)
    active = fields.Boolean(metadata={"description": "False: disabled, it cannot sign in"})


class PatientAccessSchema(Schema):
    id = fields.UUID()
    patient_id = fields.UUID()
    actor_account_id = fields.UUID(metadata={"description": "The account that read or changed the record"})
    actor_clinic_id = fields.UUID(
        allow_none=True, metadata={"description": "That account's clinic; null: organisation-wide"}
    )
    action = fields.String(metadata={"description": "`read` or `change`"})
    resource = fields.String(metadata={"description": "What was read or changed (`patient`: the record)"})
    at = fields.AwareDateTime()


class ClinicRequest(Schema):
    code = fields.String(required=True, validate=validate.Regexp(r"^[A-Za-z]{2,10}$"))
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    timezone = fields.String(required=True, validate=validate.Length(min=1, max=64))
    address = fields.String(required=True, validate=validate.Length(min=1, max=500))
    phone = fields.String(required=True, validate=E164)
    email = fields.Email(required=True)
    currency = fields.String(load_default="CAD", validate=validate.Regexp(r"^[A-Z]{3}$"))


class ClinicSchema(ClinicRequest):
    id = fields.UUID(dump_only=True)
    min_notice_minutes = fields.Integer(dump_only=True)
    horizon_days = fields.Integer(dump_only=True)
    slot_step_minutes = fields.Integer(dump_only=True)


class PractitionerRequest(Schema):
    display_name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    registration_number = fields.String(required=True, validate=validate.Length(min=1, max=50))
    ims_qualified = fields.Boolean(load_default=False)


class PractitionerSchema(PractitionerRequest):
    id = fields.UUID(dump_only=True)
    clinic_id = fields.UUID(dump_only=True)
    active = fields.Boolean(dump_only=True)


class TreatmentTypeRequest(Schema):
    code = fields.String(required=True, validate=validate.Regexp(r"^[A-Za-z0-9_-]{1,40}$"))
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    kind = fields.Enum(AppointmentKind, by_value=True, required=True)
    duration_minutes = fields.Integer(required=True, strict=True, validate=validate.Range(min=5, max=480))
    buffer_minutes = fields.Integer(load_default=0, strict=True, validate=validate.Range(min=0, max=120))
    late_cancel_hours = fields.Integer(load_default=24, strict=True, validate=validate.Range(min=0, max=168))


class TreatmentTypeSchema(TreatmentTypeRequest):
    id = fields.UUID(dump_only=True)
    clinic_id = fields.UUID(dump_only=True)
    active = fields.Boolean(dump_only=True)


class BookAppointmentRequest(Schema):
    clinic_id = fields.UUID(required=True)
    practitioner_id = fields.UUID(required=True)
    treatment_type_id = fields.UUID(required=True)
    starts_at = fields.AwareDateTime(required=True, format="iso")
    patient_id = fields.UUID(load_default=None, allow_none=True, metadata={"description": "Staff only"})
    allow_patient_overlap = fields.Boolean(
        load_default=False,
        metadata={
            "description": "Staff only: book it although the patient has another appointment at this time "
            "(without it, an overlap is a 409 naming that appointment)"
        },
    )


_STRONG_VERSION_TAG = re.compile(r'"(\d{1,9})"', re.ASCII)


class EntityTags(fields.Field):
    """An If-Match header as the set of appointment versions it names; ``*`` (any version) loads as None.

    If-Match compares strongly (RFC 9110 13.1.1), so a weak tag (``W/"3"``) or one not of ours never
    matches: the change is refused with 412.
    """

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> frozenset[int] | None:
        tags = [tag.strip() for tag in str(value).split(",")]
        if tags == ["*"]:
            return None
        return frozenset(
            int(match.group(1)) for tag in tags if (match := _STRONG_VERSION_TAG.fullmatch(tag)) is not None
        )


class IfMatchHeader(Schema):
    if_match = EntityTags(
        data_key="If-Match",
        load_default=None,
        metadata={
            "description": "Change only if the appointment is still at this version: the ETag of its last "
            'read (e.g. `"3"`); otherwise 412. Without it the change applies to the current version.',
            "type": "string",
        },
    )


class CancelAppointmentRequest(Schema):
    reason = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=500))
    waive_fee = fields.Boolean(
        load_default=False, metadata={"description": "Staff only: waive a late-cancellation fee"}
    )


class RescheduleRequest(Schema):
    starts_at = fields.AwareDateTime(required=True, format="iso")
    practitioner_id = fields.UUID(
        load_default=None, allow_none=True, metadata={"description": "Move to another practitioner"}
    )


class NoShowRequest(Schema):
    waive_fee = fields.Boolean(load_default=False)


class SuitabilityRequest(Schema):
    suitable = fields.Boolean(required=True)
    consent_recorded = fields.Boolean(required=True)


class SuitabilitySchema(Schema):
    id = fields.UUID()
    clinic_id = fields.UUID()
    patient_id = fields.UUID()
    assessment_id = fields.UUID()
    practitioner_id = fields.UUID()
    suitable = fields.Boolean()
    consent_recorded = fields.Boolean()
    recorded_at = fields.AwareDateTime(format="iso")


WEEKDAY_HELP = "0 = Monday ... 6 = Sunday"
LOCAL_TIME_HELP = "local wall-clock time in the clinic's zone, HH:MM"


class WeeklySpanSchema(Schema):
    weekday = fields.Integer(
        required=True,
        strict=True,
        validate=validate.Range(min=0, max=6),
        metadata={"description": WEEKDAY_HELP},
    )
    starts = fields.Time(required=True, format="%H:%M", metadata={"description": LOCAL_TIME_HELP})
    ends = fields.Time(required=True, format="%H:%M", metadata={"description": LOCAL_TIME_HELP})


class WeeklyHoursRequest(Schema):
    hours = fields.List(fields.Nested(WeeklySpanSchema), required=True, validate=validate.Length(max=50))


class WeeklyHoursSchema(Schema):
    hours = fields.List(fields.Nested(WeeklySpanSchema))


class ClosureRequest(Schema):
    starts_on = fields.Date(required=True)
    ends_on = fields.Date(required=True)
    reason = fields.String(required=True, validate=validate.Length(min=1, max=200))


class ClosureSchema(ClosureRequest):
    id = fields.UUID(dump_only=True)
    clinic_id = fields.UUID(dump_only=True)


class TimeOffRequest(Schema):
    starts_at = fields.AwareDateTime(required=True, format="iso")
    ends_at = fields.AwareDateTime(required=True, format="iso")
    reason = fields.String(load_default="", validate=validate.Length(max=200))


class TimeOffSchema(TimeOffRequest):
    id = fields.UUID(dump_only=True)
    practitioner_id = fields.UUID(dump_only=True)


class RoomRequest(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=100))


class RoomSchema(RoomRequest):
    id = fields.UUID(dump_only=True)
    clinic_id = fields.UUID(dump_only=True)
    active = fields.Boolean(dump_only=True)


class BookingPolicyRequest(Schema):
    min_notice_minutes = fields.Integer(strict=True, validate=validate.Range(min=0, max=60 * 24 * 14))
    horizon_days = fields.Integer(strict=True, validate=validate.Range(min=1, max=730))
    slot_step_minutes = fields.Integer(strict=True, validate=validate.OneOf([5, 10, 15, 20, 30, 60]))


class SlotQuery(Schema):
    treatment_type_id = fields.UUID(required=True)
    first_day = fields.Date(required=True, data_key="from", metadata={"description": "First local day"})
    last_day = fields.Date(
        required=True, data_key="to", metadata={"description": "Last local day (inclusive)"}
    )
    practitioner_id = fields.UUID(load_default=None, metadata={"description": "Omit for any qualified one"})


class SlotSchema(Schema):
    practitioner_id = fields.UUID()
    starts_at = fields.AwareDateTime(format="iso", metadata={"description": "UTC"})
    ends_at = fields.AwareDateTime(format="iso", metadata={"description": "UTC"})
    local_starts_at = fields.AwareDateTime(format="iso", metadata={"description": "In the clinic's zone"})
    local_ends_at = fields.AwareDateTime(format="iso", metadata={"description": "In the clinic's zone"})


class AppointmentSchema(Schema):
    id = fields.UUID()
    clinic_id = fields.UUID()
    practitioner_id = fields.UUID()
    patient_id = fields.UUID()
    treatment_type_id = fields.UUID()
    kind = fields.Enum(AppointmentKind, by_value=True)
    status = fields.Enum(AppointmentStatus, by_value=True)
    starts_at = fields.AwareDateTime(format="iso")
    ends_at = fields.AwareDateTime(format="iso")
    booked_at = fields.AwareDateTime(format="iso")
    sequence = fields.Integer()
    cancelled_at = fields.AwareDateTime(format="iso", allow_none=True)
    cancelled_by = fields.String(allow_none=True)
    late_cancellation = fields.Boolean()
    free_cancellation_until = fields.AwareDateTime(
        format="iso",
        metadata={
            "description": "Cancelling before this time is free; from then on the cancellation is late and "
            "the clinic's late-cancellation fee may be charged (billing: GET /charges/fee-quote)"
        },
    )
    fee_waived = fields.Boolean()
    room_id = fields.UUID(allow_none=True)
    plan_id = fields.UUID(allow_none=True)
    arrived_at = fields.AwareDateTime(format="iso", allow_none=True)
    completed_at = fields.AwareDateTime(format="iso", allow_none=True)
    confirmed_at = fields.AwareDateTime(format="iso", allow_none=True)
    allow_patient_overlap = fields.Boolean(
        metadata={"description": "Staff booked it knowing it overlaps the patient's other appointments"}
    )
    version = fields.Integer(
        metadata={
            "description": "Changes with every change of the appointment; the ETag is this version in quotes "
            "(send it back in If-Match)"
        }
    )


class AppointmentQuery(Schema):
    """Filters of the appointment list; it is ordered by start time (then id)."""

    patient_id = fields.UUID(load_default=None, metadata={"description": "Staff only: filter by patient"})
    clinic_id = fields.UUID(load_default=None, metadata={"description": "Only this clinic's appointments"})
    practitioner_id = fields.UUID(load_default=None, metadata={"description": "Only this practitioner's"})
    starts_from = fields.AwareDateTime(
        load_default=None, metadata={"description": "Only appointments starting at or after this instant"}
    )
    starts_before = fields.AwareDateTime(
        load_default=None, metadata={"description": "Only appointments starting before this instant"}
    )


class SessionOverrideSchema(Schema):
    index = fields.Integer(required=True, strict=True, validate=validate.Range(min=0))
    starts_at = fields.AwareDateTime(required=True, format="iso")
    practitioner_id = fields.UUID(load_default=None, allow_none=True)


OCCURRENCE_HELP = (
    "On the day clocks go back, a local time such as 01:30 happens twice: `first` (default) or `second` "
    "books that occurrence. Such sessions carry `ambiguous_local_time: true`"
)


class CreatePlanRequest(Schema):
    clinic_id = fields.UUID(required=True)
    practitioner_id = fields.UUID(required=True)
    treatment_type_id = fields.UUID(required=True)
    sessions = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=52))
    every_weeks = fields.Integer(load_default=1, strict=True, validate=validate.Range(min=1, max=12))
    weekday = fields.Integer(
        required=True,
        strict=True,
        validate=validate.Range(min=0, max=6),
        metadata={"description": WEEKDAY_HELP},
    )
    local_time = fields.Time(required=True, format="%H:%M", metadata={"description": LOCAL_TIME_HELP})
    first_day = fields.Date(
        required=True, metadata={"description": "Sessions start on or after this local day"}
    )
    patient_id = fields.UUID(load_default=None, allow_none=True, metadata={"description": "Staff only"})
    overrides = fields.List(
        fields.Nested(SessionOverrideSchema),
        load_default=list,
        metadata={
            "description": "Per-session replacements (index counts from 0), e.g. a proposed alternative"
        },
    )
    occurrence = fields.Enum(
        Occurrence,
        by_value=True,
        load_default=Occurrence.FIRST,
        metadata={"description": OCCURRENCE_HELP},
    )


class ExtendPlanRequest(Schema):
    sessions = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=52))
    overrides = fields.List(fields.Nested(SessionOverrideSchema), load_default=list)
    occurrence = fields.Enum(
        Occurrence, by_value=True, load_default=Occurrence.FIRST, metadata={"description": OCCURRENCE_HELP}
    )


class CancelPlanRequest(Schema):
    from_appointment_id = fields.UUID(
        load_default=None,
        allow_none=True,
        metadata={"description": "Cancel this session and every later one (default: every future session)"},
    )


class PlanQuery(Schema):
    patient_id = fields.UUID(load_default=None, metadata={"description": "Staff only: filter by patient"})
    status = fields.Enum(PlanStatus, by_value=True, load_default=None)


class PlanSessionSchema(AppointmentSchema):
    ambiguous_local_time = fields.Boolean(
        metadata={
            "description": "Its local time happens twice that day (clocks went back): `starts_at` (UTC) says "
            "which occurrence it is"
        }
    )


class PlanSchema(Schema):
    id = fields.UUID(attribute="plan.id")
    clinic_id = fields.UUID(attribute="plan.clinic_id")
    patient_id = fields.UUID(attribute="plan.patient_id")
    practitioner_id = fields.UUID(attribute="plan.practitioner_id")
    treatment_type_id = fields.UUID(attribute="plan.treatment_type_id")
    status = fields.String(attribute="plan.status")
    total_sessions = fields.Integer(attribute="plan.total_sessions")
    every_weeks = fields.Integer(attribute="plan.every_weeks")
    weekday = fields.Integer(attribute="plan.weekday")
    local_time = fields.Time(attribute="plan.local_time", format="%H:%M")
    completed_sessions = fields.Integer()
    remaining_sessions = fields.Integer()
    sessions = fields.List(fields.Nested(PlanSessionSchema))


class JoinWaitlistRequest(Schema):
    clinic_id = fields.UUID(required=True)
    treatment_type_id = fields.UUID(required=True)
    not_before = fields.AwareDateTime(required=True, format="iso", metadata={"description": "Earliest start"})
    not_after = fields.AwareDateTime(required=True, format="iso", metadata={"description": "Latest start"})
    practitioner_id = fields.UUID(
        load_default=None, allow_none=True, metadata={"description": "Omit for any"}
    )
    patient_id = fields.UUID(load_default=None, allow_none=True, metadata={"description": "Staff only"})
    appointment_id = fields.UUID(
        load_default=None,
        allow_none=True,
        metadata={
            "description": "The patient's own booked appointment, later than the window, to move to an "
            "offered time (instead of booking a second appointment)"
        },
    )


class WaitlistEntrySchema(Schema):
    id = fields.UUID()
    clinic_id = fields.UUID()
    patient_id = fields.UUID()
    treatment_type_id = fields.UUID()
    practitioner_id = fields.UUID(allow_none=True)
    not_before = fields.AwareDateTime(format="iso")
    not_after = fields.AwareDateTime(format="iso")
    created_at = fields.AwareDateTime(format="iso")
    status = fields.String()
    offer_appointment_id = fields.UUID(allow_none=True)
    offer_expires_at = fields.AwareDateTime(format="iso", allow_none=True)
    appointment_id = fields.UUID(allow_none=True)


class PatientExportSchema(Schema):
    """Everything scheduling holds about one patient (the patient's own copy)."""

    patient = fields.Nested(PatientSchema)
    account_email = fields.String(allow_none=True)
    appointments = fields.List(fields.Nested(AppointmentSchema))
    waitlist_entries = fields.List(fields.Nested(WaitlistEntrySchema))
    access_log = fields.List(fields.Nested(PatientAccessSchema))
