"""The billing clerk's reports: what is owed by age, payments by day and method, revenue; and their CSV files.

Billing computes them (``GET /reports/outstanding``, ``/reports/payments``, ``/reports/revenue`` and the same
with ``.csv``); the web front adds patients' names and hands the CSV files on unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from web.service_layer.accounts import Credentials
from web.service_layer.concurrency import together
from web.service_layer.listing import every_page
from web.service_layer.ports import Apis
from web.service_layer.staff_day import patient_names

REPORTS = ("outstanding", "payments", "revenue")


@dataclass(frozen=True)
class AgingRow:
    patient_id: str
    name: str
    payer_kind: str
    days_0_30: int
    days_31_60: int
    days_61_90: int
    days_over_90: int
    total: int


@dataclass(frozen=True)
class ReportsPage:
    currency: str
    aging: list[AgingRow]
    payments: list[dict[str, Any]]
    revenue: list[dict[str, Any]]


def _params(kind: str, clinic_id: str, as_of: date | None, first: date, last: date) -> dict[str, str]:
    if kind == "outstanding":
        return {"clinic_id": clinic_id} | ({"as_of": as_of.isoformat()} if as_of else {})
    return {"clinic_id": clinic_id, "from": first.isoformat(), "to": last.isoformat()}


def reports_page(
    apis: Apis, credentials: Credentials, clinic_id: str, *, as_of: date | None, first: date, last: date
) -> ReportsPage:
    token = credentials.access_token
    aging, payments, revenue, policy = together(
        *(
            (
                lambda kind=kind: every_page(
                    apis.billing, f"/reports/{kind}", token, _params(kind, clinic_id, as_of, first, last)
                )
            )  # type: ignore[misc]
            for kind in REPORTS
        ),
        lambda: apis.billing.get(f"/clinics/{clinic_id}/billing-policy", token=token),
    )
    names = patient_names(apis, credentials, clinic_id, [str(row["patient_id"]) for row in aging])
    return ReportsPage(
        currency=str(policy.get("currency") or "CAD"),
        aging=[
            AgingRow(
                patient_id=str(row["patient_id"]),
                name=names.get(str(row["patient_id"]), ""),
                payer_kind=str(row["payer_kind"]),
                days_0_30=int(row["days_0_30_cents"]),
                days_31_60=int(row["days_31_60_cents"]),
                days_61_90=int(row["days_61_90_cents"]),
                days_over_90=int(row["days_over_90_cents"]),
                total=int(row["total_cents"]),
            )
            for row in aging
        ],
        payments=[row | {"day": date.fromisoformat(str(row["day"]))} for row in payments],
        revenue=list(revenue),
    )


def report_csv(
    apis: Apis,
    credentials: Credentials,
    kind: str,
    clinic_id: str,
    *,
    as_of: date | None,
    first: date,
    last: date,
) -> bytes:
    """The report as billing writes it in CSV."""
    response = apis.billing.request(
        "GET",
        f"/reports/{kind}.csv",
        token=credentials.access_token,
        params=_params(kind, clinic_id, as_of, first, last),
        headers={"Accept": "text/csv"},
    )
    content: bytes = response.content
    return content
