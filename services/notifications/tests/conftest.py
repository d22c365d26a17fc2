"""Fixtures for notifications' tests: migrated databases, a token issuer, the app, a broker vhost, a real SMTP
server, fake transports and a builder of scheduling's events.

With pytest's importlib mode test modules cannot import each other, so every helper is reached through a
fixture defined here.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from flask.testing import FlaskClient

from clinic_shared.events import Envelope as EventEnvelope
from clinic_shared.events import new_event
from clinic_shared.migrations import upgrade
from clinic_shared.testing import waiting
from clinic_shared.testing.clock import ManualClock
from clinic_shared.testing.ports import free_port
from clinic_shared.testing.postgres import temporary_database
from clinic_shared.testing.rabbit import temporary_vhost
from clinic_shared.testing.tokens import TestIssuer
from notifications.bootstrap import Container, bootstrap
from notifications.config import NotificationsSettings
from notifications.domain.appointments import AppointmentFacts
from notifications.domain.channels import Channel
from notifications.domain.composition import Notice, compose
from notifications.domain.copies import ClinicInfo, Contact, PractitionerInfo, TreatmentInfo
from notifications.domain.deliveries import Delivery
from notifications.domain.kinds import DeliveryKind
from notifications.entrypoints.api import create_app
from notifications.entrypoints.cli import MIGRATIONS
from notifications.entrypoints.handlers import HANDLERS
from notifications.service_layer.dispatch import DispatchPolicy
from notifications.service_layer.ports import OutgoingEmail, OutgoingSms, TransportError


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "integration: needs real PostgreSQL and/or RabbitMQ")


# --- time, tokens, settings ----------------------------------------------------------------------------


NOW = datetime(2025, 3, 3, 17, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(NOW)


@pytest.fixture
def issuer() -> TestIssuer:
    return TestIssuer()


@pytest.fixture
def make_settings(tmp_path: Path) -> Callable[..., NotificationsSettings]:
    """Settings for a database URL; files (mailbox, SMS sink) go under tmp_path; ``env`` adds variables."""

    def make(database_url: str, **env: str) -> NotificationsSettings:
        base = {
            "VAR_DIR": str(tmp_path / "var"),
            "NOTIFICATIONS_DATABASE_URL": database_url,
            "MAILBOX_DIR": str(tmp_path / "mailbox"),
            "SMS_SINK_DIR": str(tmp_path / "sms"),
            # Backbone tests send at once; the debounce has its own tests.
            "NOTIFICATIONS_DEBOUNCE_SECONDS": "0",
        }
        return NotificationsSettings.from_env(base | env)

    return make


# --- databases -----------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database file migrated once per session; each test gets a copy (migrating takes a while)."""
    path = tmp_path_factory.mktemp("template") / "notifications.db"
    upgrade(f"sqlite:///{path}", MIGRATIONS)
    return path


@pytest.fixture
def sqlite_url(tmp_path: Path, migrated_sqlite: Path) -> str:
    path = tmp_path / "notifications.db"
    shutil.copyfile(migrated_sqlite, path)
    return f"sqlite:///{path}"


@pytest.fixture
def pg_url() -> Iterator[str]:
    with temporary_database("notifications") as url:
        upgrade(url, MIGRATIONS)
        yield url


# --- fake transports -----------------------------------------------------------------------------------


@dataclass
class RecordingTransport:
    """A Mailer and SmsSender in one: records what it is given; ``failures`` are raised first, in order."""

    emails: list[OutgoingEmail] = field(default_factory=list)
    sms: list[OutgoingSms] = field(default_factory=list)
    failures: list[Exception] = field(default_factory=list)
    on_send: Callable[[Any], None] | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def close(self) -> None:
        """Nothing kept open (a Mailer's part)."""

    def send(self, message: OutgoingEmail | OutgoingSms) -> str:
        if self.on_send is not None:
            self.on_send(message)
        with self._lock:
            if self.failures:
                raise self.failures.pop(0)
            if isinstance(message, OutgoingEmail):
                self.emails.append(message)
                return f"mail-{len(self.emails)}"
            self.sms.append(message)
            return f"sms-{len(self.sms)}"

    @staticmethod
    def transient(reason: str = "SMTP server unavailable (TimeoutError)") -> TransportError:
        return TransportError(reason)

    @staticmethod
    def permanent(reason: str = "SMTP recipient refused (550)") -> TransportError:
        return TransportError(reason, permanent=True)


@pytest.fixture
def transport() -> RecordingTransport:
    return RecordingTransport()


FAST_POLICY = DispatchPolicy(
    max_attempts=3,
    retry_delay=lambda attempt: timedelta(minutes=attempt),
    reference_retry=timedelta(seconds=30),
    reference_wait=timedelta(hours=1),
    stale_after=timedelta(minutes=5),
)


@pytest.fixture
def policy() -> DispatchPolicy:
    """Three attempts, retried after 1 then 2 minutes; details awaited an hour; stale after 5 minutes."""
    return FAST_POLICY


@pytest.fixture
def container(
    sqlite_url: str,
    make_settings: Callable[..., NotificationsSettings],
    clock: ManualClock,
    issuer: TestIssuer,
    transport: RecordingTransport,
    policy: DispatchPolicy,
) -> Iterator[Container]:
    """SQLite, the stepping clock, the test issuer's keys and the recording transport."""
    c = bootstrap(
        make_settings(sqlite_url),
        clock=clock,
        verifier=issuer.verifier(),
        mailer=transport,
        sms=transport,
        policy=policy,
    )
    yield c
    c.engine.dispose()


@pytest.fixture
def debounced(
    sqlite_url: str,
    make_settings: Callable[..., NotificationsSettings],
    clock: ManualClock,
    issuer: TestIssuer,
    transport: RecordingTransport,
) -> Iterator[Container]:
    """The container with the default two-minute debounce."""
    c = bootstrap(
        make_settings(sqlite_url, NOTIFICATIONS_DEBOUNCE_SECONDS="120"),
        clock=clock,
        verifier=issuer.verifier(),
        mailer=transport,
        sms=transport,
    )
    yield c
    c.engine.dispose()


@pytest.fixture
def client(container: Container) -> FlaskClient:
    return create_app(container=container).test_client()


@pytest.fixture
def apply(container: Container) -> Callable[..., None]:
    """Apply events through their handlers, each in its own unit of work and transaction as the consumer does
    (without its inbox and broker, which the consumer tests cover)."""

    def run(*events: EventEnvelope) -> None:
        for event in events:
            with container.uow() as uow:
                HANDLERS[event.type](uow, event)
                uow.commit()

    return run


# --- scheduling's events -------------------------------------------------------------------------------


class Events:
    """Builds scheduling's events for one clinic, practitioner, treatment and patient (ids fixed per test)."""

    def __init__(self, clock: ManualClock) -> None:
        self.clock = clock
        self.clinic_id = uuid.uuid4()
        self.practitioner_id = uuid.uuid4()
        self.treatment_type_id = uuid.uuid4()
        self.patient_id = uuid.uuid4()
        self.appointment_id = uuid.uuid4()

    def _event(self, event_type: str, data: Mapping[str, Any], occurred_at: datetime | None) -> EventEnvelope:
        return new_event(event_type, data, producer="scheduling", occurred_at=occurred_at or self.clock.now())

    def patient_registered(
        self,
        *,
        first_name: str = "Pat",
        email: str = "pat@example.com",
        phone: str | None = "+16045550100",
        language: str = "en",
        patient_id: uuid.UUID | None = None,
        updated: bool = False,
        occurred_at: datetime | None = None,
    ) -> EventEnvelope:
        return self._event(
            "scheduling.patient.updated" if updated else "scheduling.patient.registered",
            {
                "patient_id": patient_id or self.patient_id,
                "first_name": first_name,
                "last_name": "Demo",
                "email": email,
                "phone": phone,
                "language": language,
            },
            occurred_at,
        )

    def clinic_changed(
        self, *, timezone: str = "America/Vancouver", name: str = "Demo IMS Clinic"
    ) -> EventEnvelope:
        return self._event(
            "scheduling.clinic.changed",
            {
                "clinic_id": self.clinic_id,
                "code": "VAN",
                "name": name,
                "timezone": timezone,
                "address": "100 Main St, Vancouver BC",
                "phone": "+16045550199",
                "email": "front@demo.clinic",
                "currency": "CAD",
            },
            None,
        )

    def practitioner_changed(self, *, display_name: str = "Dr. Ida Needham") -> EventEnvelope:
        return self._event(
            "scheduling.practitioner.changed",
            {
                "practitioner_id": self.practitioner_id,
                "clinic_id": self.clinic_id,
                "display_name": display_name,
                "registration_number": "PT-1001",
                "active": True,
            },
            None,
        )

    def treatment_type_changed(self, *, name: str = "IMS session, 30 min") -> EventEnvelope:
        return self._event(
            "scheduling.treatment_type.changed",
            {
                "treatment_type_id": self.treatment_type_id,
                "clinic_id": self.clinic_id,
                "code": "IMS30",
                "name": name,
                "kind": "treatment",
                "duration_minutes": 30,
                "active": True,
            },
            None,
        )

    def catalogue(self, **patient: Any) -> list[EventEnvelope]:
        """Everything a message needs to be rendered: patient, clinic, practitioner, treatment type."""
        return [
            self.patient_registered(**patient),
            self.clinic_changed(),
            self.practitioner_changed(),
            self.treatment_type_changed(),
        ]

    def _facts(
        self,
        starts_at: datetime,
        sequence: int,
        appointment_id: uuid.UUID | None,
        plan_id: uuid.UUID | None = None,
    ) -> dict[str, Any]:
        return {
            "plan_id": plan_id,
            "appointment_id": appointment_id or self.appointment_id,
            "clinic_id": self.clinic_id,
            "practitioner_id": self.practitioner_id,
            "patient_id": self.patient_id,
            "treatment_type_id": self.treatment_type_id,
            "kind": "treatment",
            "starts_at": starts_at,
            "ends_at": starts_at + timedelta(minutes=30),
            "sequence": sequence,
        }

    def booked(
        self,
        *,
        starts_at: datetime = datetime(2025, 3, 10, 16, 0, tzinfo=UTC),
        sequence: int = 0,
        appointment_id: uuid.UUID | None = None,
        booked_via: str = "staff",
        plan_id: uuid.UUID | None = None,
    ) -> EventEnvelope:
        data = self._facts(starts_at, sequence, appointment_id, plan_id) | {"booked_via": booked_via}
        return self._event("scheduling.appointment.booked", data, None)

    def cancelled(
        self,
        *,
        starts_at: datetime = datetime(2025, 3, 10, 16, 0, tzinfo=UTC),
        sequence: int = 1,
        appointment_id: uuid.UUID | None = None,
        late: bool = False,
        plan_id: uuid.UUID | None = None,
        with_plan: bool = False,
        plan_shortened: bool = False,
    ) -> EventEnvelope:
        data = self._facts(starts_at, sequence, appointment_id, plan_id) | {
            "cancelled_at": self.clock.now(),
            "cancelled_by": "patient",
            "late": late,
            "with_plan": with_plan,
            "plan_shortened": plan_shortened,
        }
        return self._event("scheduling.appointment.cancelled", data, None)

    def rescheduled(
        self,
        *,
        starts_at: datetime,
        previous_starts_at: datetime = datetime(2025, 3, 10, 16, 0, tzinfo=UTC),
        sequence: int = 1,
        appointment_id: uuid.UUID | None = None,
        plan_id: uuid.UUID | None = None,
    ) -> EventEnvelope:
        data = self._facts(starts_at, sequence, appointment_id, plan_id) | {
            "previous_practitioner_id": self.practitioner_id,
            "previous_starts_at": previous_starts_at,
            "previous_ends_at": previous_starts_at + timedelta(minutes=30),
        }
        return self._event("scheduling.appointment.rescheduled", data, None)

    def waitlist_offered(
        self, *, starts_at: datetime, expires_at: datetime, offer_id: uuid.UUID
    ) -> EventEnvelope:
        data = {
            "offer_id": offer_id,
            "waitlist_entry_id": uuid.uuid4(),
            "clinic_id": self.clinic_id,
            "patient_id": self.patient_id,
            "practitioner_id": self.practitioner_id,
            "treatment_type_id": self.treatment_type_id,
            "starts_at": starts_at,
            "ends_at": starts_at + timedelta(minutes=30),
            "expires_at": expires_at,
        }
        return self._event("scheduling.waitlist.offered", data, None)

    def confirmed(
        self,
        *,
        starts_at: datetime = datetime(2025, 3, 10, 16, 0, tzinfo=UTC),
        sequence: int = 0,
        appointment_id: uuid.UUID | None = None,
    ) -> EventEnvelope:
        data = self._facts(starts_at, sequence, appointment_id) | {"confirmed_at": self.clock.now()}
        return self._event("scheduling.appointment.confirmed", data, None)


@pytest.fixture
def events(clock: ManualClock) -> Events:
    return Events(clock)


@pytest.fixture
def make_notice() -> Callable[..., Notice]:
    """A Notice as the dispatcher would compose it; keyword arguments override its parts."""

    def make(
        *,
        kind: DeliveryKind = DeliveryKind.BOOKING_CONFIRMATION,
        channel: Channel = Channel.EMAIL,
        language: str = "en",
        first_name: str = "Pat",
        phone: str | None = "+16045550100",
        timezone: str = "America/Vancouver",
        starts_at: datetime = datetime(2025, 3, 10, 16, 0, tzinfo=UTC),
        sequence: int = 0,
        clinic_name: str = "Demo IMS Clinic",
        practitioner_name: str = "Dr. Ida Needham",
        treatment_name: str = "IMS session, 30 min",
    ) -> Notice:
        now = datetime(2025, 3, 3, 17, 0, tzinfo=UTC)
        ids = [uuid.uuid4() for _ in range(5)]
        facts = AppointmentFacts(
            *ids, starts_at=starts_at, ends_at=starts_at + timedelta(minutes=30), sequence=sequence
        )  # type: ignore[misc]
        delivery = Delivery.record(
            delivery_id=uuid.uuid4(), kind=kind, channel=channel, facts=facts, event_id=uuid.uuid4(), now=now
        )
        return compose(
            delivery,
            Contact(facts.patient_id, first_name, "pat@example.com", phone, language, now),
            ClinicInfo(
                facts.clinic_id,
                clinic_name,
                timezone,
                "100 Main St, Vancouver BC",
                "+16045550199",
                "front@demo.clinic",
                now,
            ),
            PractitionerInfo(facts.practitioner_id, practitioner_name, now),
            TreatmentInfo(facts.treatment_type_id, treatment_name, now),
        )

    return make


# --- broker --------------------------------------------------------------------------------------------


@pytest.fixture
def amqp_url() -> Iterator[str]:
    with temporary_vhost("notifications") as url:
        yield url


# --- a real SMTP server --------------------------------------------------------------------------------


class SmtpSink:
    """aiosmtpd handler collecting what it receives; ``refuse`` makes it reject recipients with a 550."""

    def __init__(self) -> None:
        self.envelopes: list[Envelope] = []
        self.logins: list[str] = []
        self.refuse = False
        self._cond = threading.Condition()
        # When set, the first RCPT is held (the sender is mid-send, nothing accepted) until ``release``.
        self.hold_first: threading.Event | None = None
        self.held = threading.Event()
        self.rcpts = 0

    async def handle_RCPT(  # noqa: N802 - aiosmtpd's hook name
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        self.rcpts += 1
        if self.hold_first is not None and self.rcpts == 1:
            self.held.set()
            while not self.hold_first.is_set():
                await asyncio.sleep(0.05)
            return "451 4.3.0 try again later"
        if self.refuse:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        with self._cond:
            self.envelopes.append(envelope)
            self._cond.notify_all()
        return "250 OK queued"

    def authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> Any:
        from aiosmtpd.smtp import AuthResult, LoginPassword

        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (b"mailer", b"s3cret/pass")
        if ok:
            self.logins.append(data.login.decode())
        return AuthResult(success=ok, handled=False)

    @property
    def messages(self) -> list[EmailMessage]:
        with self._cond:
            raw = [envelope.original_content or envelope.content for envelope in self.envelopes]
        return [
            email.message_from_bytes(body, policy=email.policy.default)  # type: ignore[misc]
            for body in raw
            if isinstance(body, bytes)
        ]

    def wait_for(self, count: int, timeout: float = 20) -> list[EmailMessage]:
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self.envelopes) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"expected {count} e-mails, got {len(self.envelopes)}")
                self._cond.wait(remaining)
        return self.messages


@dataclass
class SmtpServer:
    host: str
    port: int
    sink: SmtpSink

    def url(self, scheme: str = "smtp", credentials: str = "") -> str:
        return f"{scheme}://{credentials}{self.host}:{self.port}"


@pytest.fixture
def start_smtp_server() -> Iterator[Callable[..., SmtpServer]]:
    """Start aiosmtpd servers on free local ports (``smtp_kwargs`` go to aiosmtpd's SMTP); stopped after."""
    controllers: list[Controller] = []

    def start(**smtp_kwargs: Any) -> SmtpServer:
        sink = SmtpSink()
        port = free_port()
        controller = Controller(
            sink, hostname="127.0.0.1", port=port, authenticator=sink.authenticate, **smtp_kwargs
        )
        controller.start()
        controllers.append(controller)
        return SmtpServer("127.0.0.1", port, sink)

    yield start
    for controller in controllers:
        controller.stop()


@pytest.fixture
def smtp_server(start_smtp_server: Callable[..., SmtpServer]) -> SmtpServer:
    """A plain SMTP server on 127.0.0.1 (AUTH offered without TLS so credentials can be tested)."""
    return start_smtp_server(auth_require_tls=False)


# --- threads and waiting ---


class Outcomes:
    """Collects the consumer's ``on_processed`` reports; ``wait`` blocks until a condition over them holds."""

    def __init__(self) -> None:
        self.items: list[tuple[EventEnvelope | None, str]] = []
        self._cond = threading.Condition()
        self.also: Callable[[], None] | None = None

    def __call__(self, envelope: EventEnvelope | None, outcome: str) -> None:
        with self._cond:
            self.items.append((envelope, outcome))
            self._cond.notify_all()
        if self.also is not None:
            self.also()

    def count(self, outcome: str) -> int:
        with self._cond:
            return sum(1 for _, o in self.items if o == outcome)

    def wait(self, predicate: Callable[[Outcomes], bool], timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate(self):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"timed out; outcomes so far: {[o for _, o in self.items]}")
                self._cond.wait(remaining)


@pytest.fixture
def outcomes() -> Outcomes:
    return Outcomes()


@pytest.fixture
def running() -> Callable[..., Any]:
    """``with running(component.run, "name"):`` runs ``run(stop)`` in a thread and stops it at the end."""
    return waiting.running


# --- waiting -------------------------------------------------------------------------------------------


@pytest.fixture
def wait_until() -> Callable[..., Any]:
    """Poll ``predicate`` until it is truthy (returns its value) or fail after ``timeout`` seconds."""
    return waiting.wait_until


def parse_email(raw: bytes) -> EmailMessage:
    return email.message_from_bytes(raw, policy=email.policy.default)  # type: ignore[return-value]


@pytest.fixture
def read_eml() -> Callable[[Path], EmailMessage]:
    return lambda path: parse_email(path.read_bytes())
