"""Treatment plans: a series of weekly sessions, extended, cancelled and listed."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from scheduling.domain.plans import Occurrence, PlanStatus
from scheduling.entrypoints.api.schemas.appointments import AppointmentSchema
from scheduling.entrypoints.api.schemas.common import LOCAL_TIME_HELP, WEEKDAY_HELP


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
