"""Availability: weekly hours, closures, time off, rooms, the booking policy and open slots."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from scheduling.entrypoints.api.schemas.common import LOCAL_TIME_HELP, WEEKDAY_HELP


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
