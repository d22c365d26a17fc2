"""The waitlist: joining it and its entries."""

from __future__ import annotations

from marshmallow import Schema, fields


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
