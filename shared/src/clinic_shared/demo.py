"""Fixed ids of the demo clinic seeded by `make run`, so each service can seed its own part independently."""

from __future__ import annotations

import uuid

_NAMESPACE = uuid.UUID("6f1d5a3e-2f0c-4b8e-9a57-3d1b2c4e5f60")


def demo_id(name: str) -> uuid.UUID:
    return uuid.uuid5(_NAMESPACE, name)


CLINIC_ID = demo_id("clinic:VAN")
PRACTITIONER_IMS_ID = demo_id("practitioner:ims")
PRACTITIONER_ASSESSOR_ID = demo_id("practitioner:assessor")
ASSESSMENT_ID = demo_id("treatment:ASSESS60")
IMS_30_ID = demo_id("treatment:IMS30")
IMS_45_ID = demo_id("treatment:IMS45")
IMS_60_ID = demo_id("treatment:IMS60")

# Prices in cents (CAD) for the demo clinic's treatment types.
DEMO_PRICES = {ASSESSMENT_ID: 12000, IMS_30_ID: 9000, IMS_45_ID: 11000, IMS_60_ID: 13500}
