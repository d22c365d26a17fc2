"""Treatment packages: sessions of one treatment sold at once, drawn down by the patient's completed visits
until they are used up or the package's last day has passed."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime

from billing.domain.errors import RuleViolation
from billing.domain.money import Money

NAME_MAX = 120


@dataclass
class Package:
    """Prepaid sessions of one treatment for one patient (e.g. "IMS 6-pack": 6 sessions for a price).

    Completed sessions draw it down instead of creating charges; ``plan_id`` ties it to scheduling's
    treatment plan when the clinic sold the plan as a package. ``expires_on`` is the last day (the clinic's
    calendar) on which a visit may use it; none: it does not expire.
    """

    id: uuid.UUID
    clinic_id: uuid.UUID
    patient_id: uuid.UUID
    treatment_type_id: uuid.UUID
    sessions_total: int
    sessions_used: int
    price: Money
    sold_at: datetime
    updated_at: datetime
    name: str
    plan_id: uuid.UUID | None = None
    invoice_id: uuid.UUID | None = None
    expires_on: date | None = None

    def __post_init__(self) -> None:
        if self.sessions_total < 1:
            raise RuleViolation("a package has at least one session", field="sessions")
        self.name = self.name.strip()
        if not self.name:
            raise RuleViolation("a package needs a name", field="name")
        if len(self.name) > NAME_MAX:
            raise RuleViolation(f"a package's name has at most {NAME_MAX} characters", field="name")

    @classmethod
    def sell(
        cls,
        *,
        package_id: uuid.UUID,
        clinic_id: uuid.UUID,
        patient_id: uuid.UUID,
        treatment_type_id: uuid.UUID,
        name: str,
        sessions: int,
        price: Money,
        today: date,
        now: datetime,
        expires_on: date | None = None,
        plan_id: uuid.UUID | None = None,
    ) -> Package:
        """A new package, none of it used; it may not have expired already (``today``: the clinic's)."""
        if expires_on is not None and expires_on < today:
            raise RuleViolation("a package's last day is today or later", field="expires_on")
        return cls(
            id=package_id,
            clinic_id=clinic_id,
            patient_id=patient_id,
            treatment_type_id=treatment_type_id,
            sessions_total=sessions,
            sessions_used=0,
            price=price,
            sold_at=now,
            updated_at=now,
            name=name,
            plan_id=plan_id,
            expires_on=expires_on,
        )

    @property
    def sessions_left(self) -> int:
        return self.sessions_total - self.sessions_used

    def expired_on(self, day: date) -> bool:
        return self.expires_on is not None and day > self.expires_on

    def covers(self, treatment_type_id: uuid.UUID, plan_id: uuid.UUID | None, day: date) -> bool:
        """Whether a visit of this treatment (and plan) on ``day`` may use one of its sessions."""
        if self.sessions_left <= 0 or treatment_type_id != self.treatment_type_id or self.expired_on(day):
            return False
        return self.plan_id is None or self.plan_id == plan_id

    def draw(self, now: datetime) -> bool:
        """Use one session; False when none is left."""
        if self.sessions_left <= 0:
            return False
        self.sessions_used += 1
        self.updated_at = now
        return True
