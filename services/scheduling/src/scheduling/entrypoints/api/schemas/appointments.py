"""Appointments: booking, changing (If-Match), cancelling, no-shows, suitability and listing them."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from marshmallow import Schema, fields, validate

from clinic_shared.web.fast_dump import FastDumpSchema
from scheduling.domain.model import AppointmentKind, AppointmentStatus


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


class AppointmentSchema(FastDumpSchema):
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
