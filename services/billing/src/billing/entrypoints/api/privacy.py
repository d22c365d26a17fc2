"""Privacy (PIPA BC / PIPEDA): a patient downloads everything billing holds about them."""

from __future__ import annotations

import uuid

from billing.entrypoints.api.context import container
from billing.entrypoints.api.schemas.privacy import PatientExportSchema
from billing.service_layer import privacy
from clinic_shared.web.auth import current_principal
from clinic_shared.web.request_limits import Blueprint

blp = Blueprint(
    "privacy", __name__, url_prefix="", description="A patient's own copy of their billing records"
)


@blp.route("/patients/<uuid:patient_id>/export", methods=["GET"])
@blp.response(200, PatientExportSchema)
@blp.alt_response(
    404,
    description="Patient not found: not the caller, nor a patient an admin may see (a clinic's admin sees "
    "only a patient with a charge or an invoice at their clinic), or billing holds nothing about them",
)
def export_patient(patient_id: uuid.UUID) -> privacy.PatientExport:
    """Download everything billing holds about you (or, as an admin who may see the patient, about a
    patient who asked): charges, invoices, credit notes, payments, credit, coverages and packages."""
    with container().uow() as uow:
        return privacy.export_patient(uow, current_principal(), patient_id)
