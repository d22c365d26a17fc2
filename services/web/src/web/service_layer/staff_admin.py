"""The clinic admin's set-up pages: what they ask of scheduling and billing, in the admin's name.

Scheduling keeps the clinic (its zone, currency and booking policy), its treatment types, weekly opening
hours (``/clinics/{id}/opening-hours``, local wall-clock times) and closures; billing keeps the price list
(``/clinics/{id}/prices``: every entry, past and announced, each from a date in the clinic's calendar),
the fee and tax policy (``/clinics/{id}/billing-policy``) and the GST/HST number
(``/clinics/{id}/tax-registration``).
Both services check the admin's role and clinic again on every call.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from web.domain.clinic_setup import DayHours, PriceEntry, TreatmentPrices, prices_on, week_from_spans
from web.service_layer.accounts import Credentials
from web.service_layer.listing import every_page
from web.service_layer.ports import ApiError, Apis

ADMIN_ROLES = frozenset({"admin"})


@dataclass(frozen=True)
class ClinicSettings:
    id: str
    name: str
    timezone: str
    currency: str
    min_notice_minutes: int
    horizon_days: int
    slot_step_minutes: int

    def today(self, now: datetime) -> date:
        """The clinic's date at ``now`` (prices and closures are days of the clinic's calendar)."""
        return now.astimezone(ZoneInfo(self.timezone)).date()


def clinic(apis: Apis, credentials: Credentials, clinic_id: str) -> ClinicSettings:
    body = apis.scheduling.get(f"/clinics/{clinic_id}", token=credentials.access_token)
    return ClinicSettings(
        id=str(body["id"]),
        name=str(body["name"]),
        timezone=str(body["timezone"]),
        currency=str(body.get("currency") or "CAD"),
        min_notice_minutes=int(body.get("min_notice_minutes") or 0),
        horizon_days=int(body.get("horizon_days") or 0),
        slot_step_minutes=int(body.get("slot_step_minutes") or 0),
    )


# --- opening hours ------------------------------------------------------------------------------------


def opening_hours(apis: Apis, credentials: Credentials, clinic_id: str) -> list[DayHours] | None:
    """The week as seven days (None: no hours set, open around the clock)."""
    body = apis.scheduling.get(f"/clinics/{clinic_id}/opening-hours", token=credentials.access_token)
    return week_from_spans(body.get("hours") or [])


def set_opening_hours(
    apis: Apis, credentials: Credentials, clinic_id: str, spans: list[dict[str, Any]]
) -> list[DayHours] | None:
    body = apis.scheduling.put(
        f"/clinics/{clinic_id}/opening-hours", json={"hours": spans}, token=credentials.access_token
    )
    return week_from_spans((body or {}).get("hours") or [])


# --- booking policy -----------------------------------------------------------------------------------


def set_booking_policy(
    apis: Apis,
    credentials: Credentials,
    clinic_id: str,
    *,
    min_notice_minutes: int,
    horizon_days: int,
    slot_step_minutes: int,
) -> None:
    apis.scheduling.patch(
        f"/clinics/{clinic_id}/booking-policy",
        json={
            "min_notice_minutes": min_notice_minutes,
            "horizon_days": horizon_days,
            "slot_step_minutes": slot_step_minutes,
        },
        token=credentials.access_token,
    )


# --- closures -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClosureRow:
    id: str
    starts_on: date
    ends_on: date
    reason: str


def closures(apis: Apis, credentials: Credentials, clinic_id: str) -> list[ClosureRow]:
    """The clinic's closures, earliest first."""
    rows = [
        ClosureRow(
            id=str(body["id"]),
            starts_on=date.fromisoformat(str(body["starts_on"])),
            ends_on=date.fromisoformat(str(body["ends_on"])),
            reason=str(body.get("reason") or ""),
        )
        for body in every_page(apis.scheduling, f"/clinics/{clinic_id}/closures", credentials.access_token)
    ]
    return sorted(rows, key=lambda row: (row.starts_on, row.ends_on))


def add_closure(
    apis: Apis, credentials: Credentials, clinic_id: str, starts_on: date, ends_on: date, reason: str
) -> None:
    apis.scheduling.post(
        f"/clinics/{clinic_id}/closures",
        json={"starts_on": starts_on.isoformat(), "ends_on": ends_on.isoformat(), "reason": reason},
        token=credentials.access_token,
    )


def remove_closure(apis: Apis, credentials: Credentials, clinic_id: str, closure_id: str) -> None:
    apis.scheduling.delete(f"/clinics/{clinic_id}/closures/{closure_id}", token=credentials.access_token)


# --- prices -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TreatmentPriceRow:
    id: str
    name: str
    duration_minutes: int
    prices: TreatmentPrices


def price_list(apis: Apis, credentials: Credentials, clinic_id: str, today: date) -> list[TreatmentPriceRow]:
    """Each active treatment type with its price in force today and the ones announced after."""
    token = credentials.access_token
    treatments = every_page(apis.scheduling, f"/clinics/{clinic_id}/treatment-types", token)
    entries: dict[str, list[PriceEntry]] = {}
    for body in every_page(apis.billing, f"/clinics/{clinic_id}/prices", token):
        entries.setdefault(str(body["treatment_type_id"]), []).append(
            PriceEntry(
                effective_from=date.fromisoformat(str(body["effective_from"])),
                amount_cents=int(body["amount_cents"]),
                currency=str(body["currency"]),
            )
        )
    rows = [
        TreatmentPriceRow(
            id=str(body["id"]),
            name=str(body["name"]),
            duration_minutes=int(body.get("duration_minutes") or 0),
            prices=prices_on(entries.get(str(body["id"]), []), today),
        )
        for body in treatments
        if body.get("active", True)
    ]
    return sorted(rows, key=lambda row: row.name.casefold())


def set_price(
    apis: Apis,
    credentials: Credentials,
    clinic_id: str,
    treatment_type_id: str,
    *,
    amount_cents: int,
    currency: str,
    effective_from: date,
) -> None:
    """Price a treatment type from a day (the same day again replaces that day's price)."""
    apis.billing.put(
        f"/clinics/{clinic_id}/prices/{treatment_type_id}",
        json={
            "amount_cents": amount_cents,
            "currency": currency,
            "effective_from": effective_from.isoformat(),
        },
        token=credentials.access_token,
    )


# --- billing policy and GST/HST registration ----------------------------------------------------------


@dataclass(frozen=True)
class BillingPolicy:
    """Billing's fee and tax policy: fee values are cents (``fixed``) or basis points (``percent``)."""

    late_cancel_fee_mode: str | None = None
    late_cancel_fee_value: int = 0
    no_show_fee_mode: str | None = None
    no_show_fee_value: int = 0
    fee_tax_rate_bp: int = 0
    treatment_tax_rate_bp: int = 0
    payment_terms_days: int = 30
    recorded: bool = False  # False: the clinic has none yet (these are billing's defaults)


def billing_policy(apis: Apis, credentials: Credentials, clinic_id: str) -> BillingPolicy:
    try:
        body = apis.billing.get(f"/clinics/{clinic_id}/billing-policy", token=credentials.access_token)
    except ApiError as error:
        if error.status != 404 or "clinic_id" in error.fields:
            raise
        return BillingPolicy()
    return BillingPolicy(
        late_cancel_fee_mode=body.get("late_cancel_fee_mode"),
        late_cancel_fee_value=int(body.get("late_cancel_fee_value") or 0),
        no_show_fee_mode=body.get("no_show_fee_mode"),
        no_show_fee_value=int(body.get("no_show_fee_value") or 0),
        fee_tax_rate_bp=int(body.get("fee_tax_rate_bp") or 0),
        treatment_tax_rate_bp=int(body.get("treatment_tax_rate_bp") or 0),
        payment_terms_days=int(body.get("payment_terms_days") or 0),
        recorded=True,
    )


def set_billing_policy(
    apis: Apis, credentials: Credentials, clinic_id: str, currency: str, policy: BillingPolicy
) -> None:
    body = {name: value for name, value in vars(policy).items() if name != "recorded"}
    apis.billing.put(
        f"/clinics/{clinic_id}/billing-policy",
        json=body | {"currency": currency},
        token=credentials.access_token,
    )


def gst_hst_number(apis: Apis, credentials: Credentials, clinic_id: str) -> str | None:
    body = apis.billing.get(f"/clinics/{clinic_id}/tax-registration", token=credentials.access_token)
    return body.get("gst_hst_number") or None


def set_gst_hst_number(
    apis: Apis, credentials: Credentials, clinic_id: str, number: str | None
) -> str | None:
    """Record the number (billing drops spaces and hyphens); None: the clinic is not registered."""
    body = apis.billing.put(
        f"/clinics/{clinic_id}/tax-registration",
        json={"gst_hst_number": number},
        token=credentials.access_token,
    )
    return (body or {}).get("gst_hst_number") or None
