"""The patient's own data: who looked at their record, and the one file that holds everything we keep.

Plain rules, no I/O: the service layer fetches, these describe and assemble.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

# The three services, in the order the downloaded file lists them.
SERVICES = ("scheduling", "billing", "notifications")

# What staff did (``read``/``change``) with what (``patient``: the personal details); the page says each
# in words. Anything newer than this list reads as "opened your record".
KNOWN_ACTIONS = ("read", "change")
KNOWN_RESOURCES = ("patient",)


@dataclass(frozen=True)
class Access:
    """One line of "Who looked at your record": when, what, and by whom (never an id)."""

    at: datetime
    zone: str
    what: str  # "read:patient", "change:patient", "read:record", "change:record" or "other"
    clinic_id: str | None  # None: organisation-wide staff

    @property
    def by_organisation(self) -> bool:
        return self.clinic_id is None


def describe_access(entry: Mapping[str, Any], zones: Mapping[str, str], fallback_zone: str) -> Access:
    """An access-log entry (``action``, ``resource``, ``actor_clinic_id``, ``at``) in words, dated in the
    zone of the clinic whose staff looked (organisation staff: the clinics' usual zone)."""
    clinic_id = entry.get("actor_clinic_id")
    clinic = str(clinic_id) if clinic_id else None
    at = entry["at"]
    moment = at if isinstance(at, datetime) else datetime.fromisoformat(str(at))
    return Access(
        at=moment,
        zone=zones.get(clinic, fallback_zone) if clinic else fallback_zone,
        what=_what(entry.get("action"), entry.get("resource")),
        clinic_id=clinic,
    )


def _what(action: object, resource: object) -> str:
    if action not in KNOWN_ACTIONS:
        return "other"
    return f"{action}:{resource if resource in KNOWN_RESOURCES else 'record'}"


def describe_log(
    entries: list[Mapping[str, Any]], zones: Mapping[str, str], fallback_zone: str
) -> list[Access]:
    """The access log, newest first."""
    described = [describe_access(entry, zones, fallback_zone) for entry in entries]
    return sorted(described, key=lambda access: access.at, reverse=True)


def clinics_in(entries: list[Mapping[str, Any]]) -> set[str]:
    """The clinics whose staff appear in the access log (their zones date the lines)."""
    return {str(entry["actor_clinic_id"]) for entry in entries if entry.get("actor_clinic_id")}


def export_document(parts: Mapping[str, Any]) -> dict[str, Any]:
    """The downloaded file's shape: one part per service, null where a service holds nothing of yours."""
    return {service: parts.get(service) for service in SERVICES}


def export_filename(today: date) -> str:
    return f"my-data-{today.isoformat()}.json"


def export_bytes(document: Mapping[str, Any]) -> bytes:
    """Readable JSON (indented, accents kept as they are) for a person to open."""
    return json.dumps(document, indent=2, ensure_ascii=False, sort_keys=False).encode("utf-8")
