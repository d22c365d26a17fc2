"""The patient's "Your data" page: who looked at their record, a copy of everything the clinic keeps about
them (one file from the three services' exports), and erasing their personal details.

Each service answers for itself, in the patient's name: scheduling's export holds the access log; a
service that knows nothing of the patient answers 404 and its part of the file is null; a service that
cannot answer makes the whole download fail (never a file that silently lacks a part).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import structlog

from web.domain.privacy import (
    SERVICES,
    Access,
    clinics_in,
    describe_log,
    export_bytes,
    export_document,
    export_filename,
)
from web.service_layer.accounts import Credentials
from web.service_layer.ports import ApiError, Apis, Unavailable

log = structlog.get_logger(__name__)

FALLBACK_ZONE = "America/Vancouver"  # organisation staff, or a clinic that could not be read (all in BC)
EXPORT_PATHS = {
    "scheduling": "/patients/{patient_id}/export",
    "billing": "/patients/{patient_id}/export",
    "notifications": "/contacts/{patient_id}/export",
}


class ExportFailed(Exception):
    """A service could not give its part of the file (down, or an error other than "nothing held")."""

    def __init__(self, service: str) -> None:
        super().__init__(f"{service} export failed")
        self.service = service


class EraseRefused(Exception):
    """Scheduling will not erase yet (upcoming appointments); ``reason`` is its sentence."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class YourData:
    access_log: list[Access]
    email: str | None


@dataclass(frozen=True)
class Document:
    filename: str
    content: bytes


def _ids(credentials: Credentials) -> tuple[str, str]:
    assert credentials.patient_id is not None, "a patient's page"
    return credentials.access_token, credentials.patient_id


def your_data(apis: Apis, credentials: Credentials) -> YourData:
    token, patient_id = _ids(credentials)
    export = apis.scheduling.get(f"/patients/{patient_id}/export", token=token)
    entries = list(export.get("access_log") or [])
    zones = _zones(apis, token, clinics_in(entries))
    return YourData(access_log=describe_log(entries, zones, FALLBACK_ZONE), email=export.get("account_email"))


def _zones(apis: Apis, token: str, clinic_ids: set[str]) -> dict[str, str]:
    found = {}
    for clinic_id in sorted(clinic_ids):
        try:
            clinic = apis.scheduling.get(f"/clinics/{clinic_id}", token=token)
        except ApiError as error:
            if error.status != 404:
                raise
            continue  # the line is still shown, dated in the clinics' usual zone
        found[clinic_id] = str(clinic["timezone"])
    return found


def _part(apis: Apis, service: str, token: str, patient_id: str) -> Any:
    path = EXPORT_PATHS[service].format(patient_id=patient_id)
    try:
        return getattr(apis, service).get(path, token=token)
    except Unavailable:
        log.warning("export part unavailable", service=service)
        raise ExportFailed(service) from None
    except ApiError as error:
        if error.status == 404:
            return None  # this service holds nothing about the patient
        if error.status == 401:
            raise  # the session ended: sign in again
        log.warning("export part refused", service=service, status=error.status)
        raise ExportFailed(service) from None


def download(apis: Apis, credentials: Credentials, today: date) -> Document:
    """Everything the three services hold about the patient, as one JSON file."""
    token, patient_id = _ids(credentials)
    parts = {service: _part(apis, service, token, patient_id) for service in SERVICES}
    return Document(export_filename(today), export_bytes(export_document(parts)))


def erase(apis: Apis, credentials: Credentials) -> None:
    """Erase the patient's personal details (scheduling tells the other services); the account is closed.

    Raises ``EraseRefused`` with scheduling's sentence while upcoming appointments remain.
    """
    token, patient_id = _ids(credentials)
    try:
        apis.scheduling.delete(f"/patients/{patient_id}", token=token)
    except ApiError as error:
        if error.status != 422:
            raise
        reason = error.fields.get("patient_id") or error.detail or error.title
        raise EraseRefused(reason) from None
