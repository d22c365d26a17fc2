"""My appointments: what the pages ask of scheduling (appointments, plans, waitlist) and of billing (the
late-cancellation fee a cancellation would bring), always in the signed-in patient's name.

Scheduling decides what may be cancelled, moved or claimed; these functions gather what the pages show
and hand the patient's choices on. Appointments carry ids; the clinic's names are read once per page.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

from web.domain.cancellation import CancellationTerms, FeeQuote, cancellation_terms, terms_for
from web.domain.visits import (
    ClinicName,
    Names,
    PlanProgress,
    Visit,
    plan_progress,
    session_number,
    split_upcoming_and_past,
    without_released_offers,
)
from web.domain.waitlist import OfferState, WaitlistEntry, Window
from web.service_layer.accounts import Credentials
from web.service_layer.concurrency import together
from web.service_layer.listing import every_page
from web.service_layer.ports import ApiError, Apis


class OfferGone(Exception):
    """The offered time can no longer be taken (it lapsed, or was released, meanwhile)."""


class NotCancellable(Exception):
    """The appointment is no longer booked, or has started: it cannot be cancelled here."""


def _reference_list(apis: Apis, path: str, token: str) -> list[dict[str, Any]]:
    return apis.reference.get(f"all:{path}", lambda: every_page(apis.scheduling, path, token))


def _reference_item(apis: Apis, path: str, token: str) -> dict[str, Any]:
    return apis.reference.get(path, lambda: apis.scheduling.get(path, token=token))  # type: ignore[no-any-return]


def names_for(apis: Apis, credentials: Credentials, clinic_ids: Iterable[str]) -> Names:
    """The names of each clinic and of its practitioners and treatments (reference data, kept briefly)."""
    token = credentials.access_token
    ids = sorted(set(clinic_ids))

    calls: list[Callable[[], Any]] = []
    for clinic_id in ids:
        calls += [
            partial(_reference_list, apis, f"/clinics/{clinic_id}/practitioners", token),
            partial(_reference_list, apis, f"/clinics/{clinic_id}/treatment-types", token),
            partial(_reference_item, apis, f"/clinics/{clinic_id}", token),
        ]
    answers = iter(together(*calls))
    clinics: dict[str, ClinicName] = {}
    practitioners: dict[str, str] = {}
    treatments: dict[str, str] = {}
    for clinic_id in ids:
        people, kinds, clinic = next(answers), next(answers), next(answers)
        clinics[clinic_id] = ClinicName(
            name=str(clinic["name"]), timezone=str(clinic["timezone"]), phone=str(clinic.get("phone", ""))
        )
        practitioners.update({str(person["id"]): str(person["display_name"]) for person in people})
        treatments.update({str(treatment["id"]): str(treatment["name"]) for treatment in kinds})
    return Names(clinics=clinics, practitioners=practitioners, treatments=treatments)


def visit(apis: Apis, credentials: Credentials, appointment_id: str, names: Names | None = None) -> Visit:
    """One of the patient's appointments, named (another patient's is a 404 from scheduling)."""
    body = apis.scheduling.get(f"/appointments/{appointment_id}", token=credentials.access_token)
    return Visit.from_api(body, names or names_for(apis, credentials, [str(body["clinic_id"])]))


# --- the list -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Waiting:
    """An active waitlist entry as the list shows it: for which appointment, from when, with whom."""

    entry: WaitlistEntry
    treatment: str
    practitioner: str | None  # None: any practitioner
    timezone: str
    appointment: Visit | None
    offered: Visit | None = None  # the time held for the patient while an offer is open

    @property
    def local_not_before(self) -> datetime:
        """The first start asked for, on the clinic's clock (the page names its day)."""
        return self.entry.not_before.astimezone(ZoneInfo(self.timezone))


@dataclass(frozen=True)
class Overview:
    upcoming: list[Visit]
    past: list[Visit]
    plans: list[PlanProgress]
    waiting: list[Waiting]
    open_offers: list[Waiting] = field(default_factory=list)

    def waiting_for(self, appointment_id: str) -> bool:
        """Whether the patient already asked for an earlier time than this appointment."""
        return any(w.entry.appointment_id == appointment_id for w in self.waiting + self.open_offers)


def overview(apis: Apis, credentials: Credentials, now: datetime) -> Overview:
    token = credentials.access_token
    appointments, plans, listed_entries = together(
        lambda: every_page(apis.scheduling, "/appointments", token),
        lambda: every_page(apis.scheduling, "/plans", token),
        lambda: every_page(apis.scheduling, "/waitlist", token),
    )
    entries = [WaitlistEntry.from_api(e) for e in listed_entries]
    clinic_ids = [str(a["clinic_id"]) for a in appointments] + [str(p["clinic_id"]) for p in plans]
    names = names_for(apis, credentials, clinic_ids + [e.clinic_id for e in entries])
    every = [Visit.from_api(a, names) for a in appointments]
    visits = without_released_offers(every, [e.offer_id for e in entries if e.offer_id])
    upcoming, past = split_upcoming_and_past(visits, now)
    by_id = {v.id: v for v in every}  # holds of open offers included
    waiting = [_waiting(entry, names, by_id) for entry in entries if entry.active(now)]
    return Overview(
        upcoming=upcoming,
        past=past,
        plans=[_plan(plan, names, now) for plan in plans if plan.get("status") == "active"],
        waiting=[w for w in waiting if w.entry.offer_state(now) is not OfferState.OPEN],
        open_offers=[w for w in waiting if w.entry.offer_state(now) is OfferState.OPEN],
    )


def _waiting(entry: WaitlistEntry, names: Names, visits: Mapping[str, Visit]) -> Waiting:
    clinic = names.clinics.get(entry.clinic_id)
    return Waiting(
        entry=entry,
        treatment=names.treatments.get(entry.treatment_type_id, ""),
        practitioner=names.practitioners.get(entry.practitioner_id, "") if entry.practitioner_id else None,
        timezone=clinic.timezone if clinic else "UTC",
        appointment=visits.get(entry.appointment_id) if entry.appointment_id else None,
        offered=visits.get(entry.offer_id) if entry.offer_id else None,
    )


def _plan(plan: Mapping[str, Any], names: Names, now: datetime) -> PlanProgress:
    sessions = [Visit.from_api(s, names) for s in plan.get("sessions", [])]
    return plan_progress(
        plan,
        sessions,
        now,
        treatment=names.treatments.get(str(plan["treatment_type_id"]), ""),
        practitioner=names.practitioners.get(str(plan["practitioner_id"]), ""),
    )


# --- cancelling -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cancellation:
    """The cancel page: the visit, the terms of cancelling now, and its plan if it is a plan session."""

    visit: Visit
    terms: CancellationTerms
    plan: PlanProgress | None = None
    session_number: int | None = None


def fee_quote(apis: Apis, credentials: Credentials, appointment_id: str) -> FeeQuote | None:
    """Billing's late-cancellation fee for this appointment; None if billing cannot say (not heard yet)."""
    try:
        body = apis.billing.get(
            "/charges/fee-quote",
            token=credentials.access_token,
            params={"appointment_id": appointment_id, "kind": "late_cancel_fee"},
        )
    except ApiError as error:
        if error.status in (404, 422):
            return None
        raise
    return FeeQuote.from_api(body)


def cancellation(apis: Apis, credentials: Credentials, appointment_id: str, now: datetime) -> Cancellation:
    body = apis.scheduling.get(f"/appointments/{appointment_id}", token=credentials.access_token)
    names = names_for(apis, credentials, [str(body["clinic_id"])])
    visit = Visit.from_api(body, names)
    free_until = visit.free_cancellation_until or visit.starts_at
    terms = cancellation_terms(free_until, now, fee_quote(apis, credentials, visit.id))
    if not visit.plan_id:
        return Cancellation(visit=visit, terms=terms)
    plan = apis.scheduling.get(f"/plans/{visit.plan_id}", token=credentials.access_token)
    sessions = [Visit.from_api(s, names) for s in plan.get("sessions", [])]
    return Cancellation(
        visit=visit,
        terms=terms,
        plan=_plan(plan, names, now),
        session_number=session_number(sessions, visit.id),
    )


def cancelled(apis: Apis, credentials: Credentials, appointment_id: str) -> Cancellation:
    """A cancelled appointment and what its cancellation brings: a fee if it was late and not waived."""
    cancelled_visit = visit(apis, credentials, appointment_id)
    charged = cancelled_visit.late_cancellation and not cancelled_visit.fee_waived
    quote = fee_quote(apis, credentials, appointment_id) if charged else None
    free_until = cancelled_visit.free_cancellation_until or cancelled_visit.starts_at
    return Cancellation(visit=cancelled_visit, terms=terms_for(free_until, late=charged, quote=quote))


def cancel(apis: Apis, credentials: Credentials, appointment_id: str) -> None:
    """Cancel this one appointment (a plan's session alone: the rest of the plan stays booked)."""
    try:
        apis.scheduling.post(
            f"/appointments/{appointment_id}/cancel", token=credentials.access_token, json={}
        )
    except ApiError as error:
        if error.status in (403, 422):  # cancelled already, started, or otherwise no longer booked
            raise NotCancellable from None
        raise


# --- the waitlist ---------------------------------------------------------------------------------------


def join_waitlist(
    apis: Apis, credentials: Credentials, later: Visit, window: Window, *, same_practitioner: bool
) -> WaitlistEntry:
    """Ask to be offered an earlier time; taking one moves ``later`` there (never a second booking)."""
    body = apis.scheduling.post(
        "/waitlist",
        token=credentials.access_token,
        json={
            "clinic_id": later.clinic_id,
            "treatment_type_id": later.treatment_type_id,
            "practitioner_id": later.practitioner_id if same_practitioner else None,
            "not_before": window.not_before.isoformat(),
            "not_after": window.not_after.isoformat(),
            "appointment_id": later.id,
        },
    )
    return WaitlistEntry.from_api(body)


def waiting_for(
    apis: Apis, credentials: Credentials, appointment_id: str, now: datetime
) -> WaitlistEntry | None:
    """The patient's active waitlist entry for this appointment, if any."""
    entries = every_page(apis.scheduling, "/waitlist", credentials.access_token)
    return next(
        (
            entry
            for entry in map(WaitlistEntry.from_api, entries)
            if entry.active(now) and entry.appointment_id == appointment_id
        ),
        None,
    )


def withdraw(apis: Apis, credentials: Credentials, entry_id: str) -> None:
    try:
        apis.scheduling.post(f"/waitlist/{entry_id}/withdraw", token=credentials.access_token)
    except ApiError as error:
        if error.status != 422:  # already taken, lapsed or withdrawn: nothing left to withdraw
            raise


@dataclass(frozen=True)
class Offer:
    """An offer's page: the offered time, its state, and the appointment it would move (or has moved)."""

    id: str
    entry: WaitlistEntry
    state: OfferState
    offered: Visit
    current: Visit | None  # the patient's appointment the offer moves (at its new time once taken)

    @property
    def booked(self) -> Visit:
        """The appointment the patient has now that the offer is taken."""
        return self.current or self.offered


def offer(apis: Apis, credentials: Credentials, offer_id: str, now: datetime) -> Offer:
    entry = WaitlistEntry.from_api(
        apis.scheduling.get(f"/waitlist/offers/{offer_id}", token=credentials.access_token)
    )
    names = names_for(apis, credentials, [entry.clinic_id])
    offered = visit(apis, credentials, offer_id, names)
    current = visit(apis, credentials, entry.appointment_id, names) if entry.appointment_id else None
    return Offer(id=offer_id, entry=entry, state=entry.offer_state(now), offered=offered, current=current)


def take_offer(apis: Apis, credentials: Credentials, entry: WaitlistEntry) -> None:
    try:
        apis.scheduling.post(f"/waitlist/{entry.id}/claim", token=credentials.access_token)
    except ApiError as error:
        if error.status in (404, 409, 422):
            raise OfferGone from None
        raise
