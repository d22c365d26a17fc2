"""Fixed ids and facts of the demo clinic seeded by `make run`, so each service can seed its own part.

Scheduling plays the clinic's recent history (see scheduling.entrypoints.demo_seed); billing invoices
some of it once the workers have relayed the visits (see billing.entrypoints.demo_seed). Both name the
same records by the ids below. Names, e-mails (@demo.clinic, example.test) and 555 numbers are fictitious.
"""

from __future__ import annotations

import uuid
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

_NAMESPACE = uuid.UUID("6f1d5a3e-2f0c-4b8e-9a57-3d1b2c4e5f60")


def demo_id(name: str) -> uuid.UUID:
    return uuid.uuid5(_NAMESPACE, name)


CLINIC_ID = demo_id("clinic:VAN")
CLINIC_TIMEZONE = "America/Vancouver"
PRACTITIONER_IMS_ID = demo_id("practitioner:ims")
PRACTITIONER_ASSESSOR_ID = demo_id("practitioner:assessor")
ASSESSMENT_ID = demo_id("treatment:ASSESS60")
IMS_30_ID = demo_id("treatment:IMS30")
IMS_45_ID = demo_id("treatment:IMS45")
IMS_60_ID = demo_id("treatment:IMS60")

# Prices in cents (CAD) for the demo clinic's treatment types.
DEMO_PRICES = {ASSESSMENT_ID: 12000, IMS_30_ID: 9000, IMS_45_ID: 11000, IMS_60_ID: 13500}

# The billing policy: a late cancellation (inside a treatment's 24 h window) costs $40, a no-show half
# the visit's price.
LATE_CANCEL_FEE_CENTS = 4000
NO_SHOW_FEE_PERCENT_BP = 5000


# --- accounts ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DemoAccount:
    label: str
    email: str
    password: str
    roles: tuple[str, ...]
    account_id: uuid.UUID
    practitioner_id: uuid.UUID | None = None


ADMIN = DemoAccount("admin", "admin@demo.clinic", "demo-admin-pass", ("admin",), demo_id("account:admin"))
BILLING = DemoAccount(
    "billing clerk", "billing@demo.clinic", "demo-billing-pass", ("billing",), demo_id("account:billing")
)
FRONT_DESK = DemoAccount(
    "front desk",
    "frontdesk@demo.clinic",
    "demo-frontdesk-pass",
    ("front_desk",),
    demo_id("account:front-desk"),
)
PRACTITIONER = DemoAccount(
    "practitioner",
    "ims@demo.clinic",
    "demo-practitioner-pass",
    ("practitioner",),
    demo_id("account:ims"),
    PRACTITIONER_IMS_ID,
)
STAFF = (ADMIN, BILLING, FRONT_DESK, PRACTITIONER)

# Every demo patient signs in with this password.
PATIENT_PASSWORD = "demo-patient-pass"  # noqa: S105 - a published demo password


@dataclass(frozen=True)
class DemoPatient:
    key: str
    first_name: str
    last_name: str
    email: str
    phone: str

    @property
    def id(self) -> uuid.UUID:
        return demo_id(f"patient:{self.key}")

    @property
    def account_id(self) -> uuid.UUID:
        return demo_id(f"account:patient:{self.key}")


# The patient whose portal tells the whole story: an assessment, a weekly IMS plan half done, an invoice.
PATIENT = DemoPatient("pat", "Pat", "Demo", "patient@demo.clinic", "+16045550100")
RILEY = DemoPatient("riley", "Riley", "Chen", "riley.chen@example.test", "+16045550101")
JORDAN = DemoPatient("jordan", "Jordan", "Patel", "jordan.patel@example.test", "+16045550102")
MORGAN = DemoPatient("morgan", "Morgan", "Lee", "morgan.lee@example.test", "+16045550103")
PATIENTS = (PATIENT, RILEY, JORDAN, MORGAN)
PATIENT_ID = PATIENT.id


def credentials() -> list[tuple[str, str, str]]:
    """(label, e-mail, password) of every demo sign-in worth printing."""
    rows = [(a.label, a.email, a.password) for a in STAFF]
    rows.append(("patient", PATIENT.email, PATIENT_PASSWORD))
    rows += [("patient", p.email, PATIENT_PASSWORD) for p in PATIENTS if p is not PATIENT]
    return rows


# --- the clinic's recent history (times are chosen by scheduling's seed, relative to today) ---------------

PAT_ASSESSMENT_ID = demo_id("appointment:pat:assessment")
PAT_PLAN_ID = demo_id("plan:pat:ims30")
PAT_PLAN_SESSIONS = 6
PAT_PLAN_SESSIONS_DONE = 3  # the first three lie in the past, completed; three are ahead
PAT_PLAN_SESSION_IDS = tuple(demo_id(f"appointment:pat:plan:{n}") for n in range(PAT_PLAN_SESSIONS))
PAT_REVIEW_ID = demo_id("appointment:pat:review")
RILEY_ASSESSMENT_ID = demo_id("appointment:riley:assessment")
RILEY_FIRST_IMS_ID = demo_id("appointment:riley:ims:1")
RILEY_NEXT_IMS_ID = demo_id("appointment:riley:ims:2")
JORDAN_MISSED_ID = demo_id("appointment:jordan:missed")
JORDAN_ASSESSMENT_ID = demo_id("appointment:jordan:assessment")
MORGAN_CANCELLED_ID = demo_id("appointment:morgan:cancelled")
MORGAN_ASSESSMENT_ID = demo_id("appointment:morgan:assessment")


@dataclass(frozen=True)
class DemoInvoice:
    """An invoice billing issues for past visits once their charges are billable, and a payment on it."""

    invoice_id: uuid.UUID
    payment_id: uuid.UUID
    visits: tuple[uuid.UUID, ...]  # appointments whose charges it bills
    paid_cents: int | None  # None: paid in full
    method: str


INVOICES = (
    DemoInvoice(
        demo_id("invoice:pat"),
        demo_id("payment:pat"),
        (PAT_ASSESSMENT_ID, *PAT_PLAN_SESSION_IDS[:PAT_PLAN_SESSIONS_DONE]),
        DEMO_PRICES[ASSESSMENT_ID],  # the assessment is paid; the sessions are still owed
        "card",
    ),
    DemoInvoice(
        demo_id("invoice:riley"),
        demo_id("payment:riley"),
        (RILEY_ASSESSMENT_ID, RILEY_FIRST_IMS_ID),
        None,
        "e_transfer",
    ),
)


# --- seeding helpers -----------------------------------------------------------------------------------


class SeedClock:
    """The clock a seed plays the past with: it says whatever instant it was last set to."""

    def __init__(self) -> None:
        self._now = datetime.now(UTC)

    def now(self) -> datetime:
        return self._now

    def set(self, instant: datetime) -> None:
        self._now = instant.astimezone(UTC)


class SeedIds:
    """An id factory that hands out chosen ids first (so seeded records get fixed ids), then random ones."""

    def __init__(self) -> None:
        self._queue: deque[uuid.UUID] = deque()

    def __call__(self) -> uuid.UUID:
        return self._queue.popleft() if self._queue else uuid.uuid4()

    @contextmanager
    def first(self, *ids: uuid.UUID) -> Iterator[None]:
        """The next ``len(ids)`` ids asked for are these, in order (whatever is left unused is dropped)."""
        self._queue.extend(ids)
        try:
            yield
        finally:
            self._queue.clear()
