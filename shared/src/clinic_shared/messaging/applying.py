"""Applying messages to the database: the consumer's side that knows events, the inbox and transactions.

``Applier.results`` turns a batch of messages into their results (what the consumer then tells the broker):
a message that is not an event the catalog accepts is dead-lettered, one without a handler ignored; the
rest are applied with their inbox rows (``inbox.py``), together in one transaction when there are several,
and each alone when together fails. Alone, a database error worth retrying is retried a few times, an
unreachable database holds the message (``sleep``), and any other failure requeues it. Each message is
handled in a CONSUMER span continuing the publisher's trace (``clinic_shared.tracing``).
"""

from __future__ import annotations

import contextlib
import enum
import json
import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Generic, Literal, Protocol, TypeVar

from sqlalchemy import Table
from sqlalchemy.exc import DBAPIError, OperationalError

from clinic_shared import tracing
from clinic_shared.clock import Clock
from clinic_shared.db import is_retryable, sqlstate
from clinic_shared.events.envelope import Envelope, EventCatalog, EventContractError, load_event
from clinic_shared.messaging.connection import Backoff
from clinic_shared.messaging.inbox import check_claim_kept, claim
from clinic_shared.uow import SqlAlchemyUnitOfWork, current_correlation_id

log = logging.getLogger("clinic_shared.messaging.consumer")

Outcome = Literal["applied", "duplicate", "ignored", "dead-lettered", "retry"]
UoWT = TypeVar("UoWT", bound=SqlAlchemyUnitOfWork)

_MAX_REASON = 300


class Verdict(enum.Enum):
    ACK = "ack"
    DEAD_LETTER = "dead-letter"
    REQUEUE = "requeue"
    # Shutting down while the database is unreachable: send nothing, the channel close requeues it.
    LEAVE = "leave"


@dataclass(frozen=True)
class Result:
    verdict: Verdict
    outcome: Outcome
    envelope: Envelope | None = None


class Message(Protocol):
    """What applying needs of a delivery."""

    @property
    def message_id(self) -> str | None: ...
    @property
    def delivery_count(self) -> int: ...
    @property
    def body(self) -> bytes: ...
    @property
    def routing_key(self) -> str: ...
    @property
    def headers(self) -> Mapping[str, object]: ...


@dataclass(frozen=True)
class Parsed(Generic[UoWT]):
    """A message with a handler, its envelope accepted by the catalog: ready to apply."""

    delivery: Message
    envelope: Envelope
    handler: Callable[[UoWT, Envelope], None]


class _HandlerFailed(Exception):
    """The handler of a batch's ``index``-th message failed: its ``result`` (the batch is rolled back)."""

    def __init__(self, index: int, result: Result) -> None:
        super().__init__(index)
        self.index = index
        self.result = result


class Applier(Generic[UoWT]):
    """Applies a consumer's messages through its handlers and inbox. ``sleep(seconds)`` waits unless the
    consumer is stopping (True when it is)."""

    def __init__(
        self,
        name: str,
        queue: str,
        handlers: Mapping[str, Callable[[UoWT, Envelope], None]],
        uow_factory: Callable[[], UoWT],
        inbox: Table,
        *,
        clock: Clock,
        catalog: EventCatalog,
        backoff: Backoff,
        db_retries: int,
        delivery_limit: int,
        sleep: Callable[[float], bool],
    ) -> None:
        self.name = name
        self._queue = queue
        self._handlers = dict(handlers)
        self._uow_factory = uow_factory
        self._inbox = inbox
        self._clock = clock
        self._catalog = catalog
        self._backoff = backoff
        self._db_retries = db_retries
        self._delivery_limit = delivery_limit
        self._sleep = sleep

    def results(self, batch: list[Message]) -> list[Result]:
        """Each message's result, in order: those with a handler applied, the rest settled as parsing
        found them."""
        parsed: list[Parsed[UoWT] | Result] = [self._parse_traced(delivery) for delivery in batch]
        ready = [item for item in parsed if isinstance(item, Parsed)]
        applied = dict(zip(map(id, ready), self._apply_all(ready), strict=True))
        return [item if isinstance(item, Result) else applied[id(item)] for item in parsed]

    def _apply_all(self, items: list[Parsed[UoWT]]) -> list[Result]:
        """Several together in one transaction. When a handler fails there, that message has had its try
        (it saw what it would have seen alone, its predecessors' work) and the others are applied again
        without it; when anything else fails (the database, the commit), each is applied alone."""
        if len(items) < 2:
            return [self._apply_traced(item) for item in items]
        try:
            return self._apply_together(items)
        except _HandlerFailed as failed:
            k = failed.index
            rest = self._apply_all(items[:k] + items[k + 1 :])
            return [*rest[:k], failed.result, *rest[k:]]
        except Exception as exc:  # noqa: BLE001 - a batch's own failure: each message is applied alone
            log.info(
                "consumer %s: a batch of %d failed (%s); applying each alone",
                self.name,
                len(items),
                type(exc).__name__,
            )
            return [self._apply_traced(item) for item in items]

    def _span(self, delivery: Message) -> contextlib.AbstractContextManager[tracing.Span]:
        """A message's CONSUMER span, child of the publisher's (its context is in the message headers): the
        handler's logs and the events it emits (outbox rows store the current context) join its trace."""
        attributes = tracing.messaging_attributes(
            "process", self._queue, delivery.routing_key, delivery.message_id, consumer=self.name
        )
        kind = tracing.SpanKind.CONSUMER
        return tracing.span(
            f"process {delivery.routing_key}", kind=kind, parent=delivery.headers, attributes=attributes
        )

    def _parse_traced(self, delivery: Message) -> Parsed[UoWT] | Result:
        """``_parse``; a message refused or ignored is reported in a span of its own."""
        try:
            parsed = self._parse(delivery)
        except Exception as exc:  # noqa: BLE001 - keep the worker alive; the message is retried
            log.error("consumer %s: unexpected error (%s)", self.name, type(exc).__name__)
            parsed = Result(Verdict.REQUEUE, "retry")
        if isinstance(parsed, Result):
            with self._span(delivery) as span:
                _report(span, parsed)
        return parsed

    def _apply_traced(self, item: Parsed[UoWT]) -> Result:
        """``_apply`` alone, in the message's span."""
        with self._span(item.delivery) as span:
            token = current_correlation_id.set(item.envelope.correlation_id)
            try:
                result = self._apply(item.handler, item.envelope, item.delivery)
            except BaseException as exc:  # noqa: BLE001 - _apply handles failures; keep the worker alive
                log.error("consumer %s: unexpected error (%s)", self.name, type(exc).__name__)
                result = Result(Verdict.REQUEUE, "retry", item.envelope)
            finally:
                current_correlation_id.reset(token)
            _report(span, result)
        return result

    def _apply_together(self, items: list[Parsed[UoWT]]) -> list[Result]:
        """Apply ``items`` in one transaction, in order; raises ``_HandlerFailed`` naming the message whose
        handler failed, or what else failed. Each message's span stays open until the commit, so it reports
        the outcome that was kept (the spans of a batch rolled back end failed)."""
        with contextlib.ExitStack() as spans, self._uow_factory() as uow:
            opened = []
            envelopes = list({item.envelope.id: item.envelope for item in items}.values())
            claimed = claim(uow.session, self._inbox, self.name, envelopes, self._clock.now())
            results = []
            for index, item in enumerate(items):
                envelope = item.envelope
                opened.append(spans.enter_context(self._span(item.delivery)))
                if envelope.id not in claimed:  # applied before, or earlier in this batch
                    results.append(Result(Verdict.ACK, "duplicate", envelope))
                    continue
                claimed.discard(envelope.id)
                token = current_correlation_id.set(envelope.correlation_id)
                try:
                    claimed_in = uow.session.get_transaction()
                    item.handler(uow, envelope)
                    check_claim_kept(uow.session, self._inbox, self.name, envelope, claimed_in)
                except DBAPIError:
                    raise
                except EventContractError as exc:
                    reason = str(exc)
                    rejected = self._reject(item.delivery, envelope, envelope.type, reason)
                    raise _HandlerFailed(index, rejected) from exc
                except Exception as exc:  # the handler's failure, as it would be alone
                    raise _HandlerFailed(index, self._requeue(item.delivery, envelope, exc)) from exc
                finally:
                    current_correlation_id.reset(token)
                results.append(Result(Verdict.ACK, "applied", envelope))
            uow.commit()
            for span, result in zip(opened, results, strict=True):
                _report(span, result)
        log.debug("consumer %s: applied a batch of %d", self.name, len(items))
        return results

    def _parse(self, delivery: Message) -> Parsed[UoWT] | Result:
        try:
            raw = json.loads(delivery.body)
        except (UnicodeDecodeError, ValueError):
            return self._reject(delivery, None, None, "body is not JSON")
        event_type = raw.get("type") if isinstance(raw, dict) else None
        if not isinstance(event_type, str):
            return self._reject(delivery, None, None, "no event type")
        handler = self._handlers.get(event_type)
        if handler is None:
            log.debug("consumer %s: ignoring %s %s", self.name, event_type, delivery.message_id)
            return Result(Verdict.ACK, "ignored")
        try:
            envelope = load_event(raw, self._catalog)
        except EventContractError as exc:
            return self._reject(delivery, None, event_type, str(exc))
        return Parsed(delivery, envelope, handler)

    def _apply(
        self, handler: Callable[[UoWT, Envelope], None], envelope: Envelope, delivery: Message
    ) -> Result:
        attempt = 0
        outage = Backoff(self._backoff.initial, self._backoff.cap)
        while True:
            try:
                with self._uow_factory() as uow:
                    if not claim(uow.session, self._inbox, self.name, [envelope], self._clock.now()):
                        log.info("consumer %s: %s %s already applied", self.name, envelope.type, envelope.id)
                        return Result(Verdict.ACK, "duplicate", envelope)
                    claimed_in = uow.session.get_transaction()
                    handler(uow, envelope)
                    check_claim_kept(uow.session, self._inbox, self.name, envelope, claimed_in)
                    uow.commit()
                log.debug("consumer %s: applied %s %s", self.name, envelope.type, envelope.id)
                return Result(Verdict.ACK, "applied", envelope)
            except EventContractError as exc:
                return self._reject(delivery, envelope, envelope.type, str(exc))
            except DBAPIError as exc:
                if is_retryable(exc) and attempt < self._db_retries:
                    attempt += 1
                    time.sleep(random.uniform(0.02, 0.1) * attempt)
                    continue
                if database_unavailable(exc):
                    # Not the message's fault: hold it (and the queue) instead of spending its deliveries.
                    delay = outage.next_delay()
                    log.warning(
                        "consumer %s: database unavailable (%s) while handling %s; retrying in %.1fs",
                        self.name,
                        type(exc.orig).__name__,
                        envelope.id,
                        delay,
                    )
                    if self._sleep(delay):
                        return Result(Verdict.LEAVE, "retry", envelope)
                    continue
                return self._requeue(delivery, envelope, exc)
            except Exception as exc:  # noqa: BLE001 - any handler failure is retried, then dead-lettered
                return self._requeue(delivery, envelope, exc)

    def _reject(
        self, delivery: Message, envelope: Envelope | None, event_type: str | None, reason: str
    ) -> Result:
        log.warning(
            "consumer %s: dead-lettering message %s (%s): %s",
            self.name,
            delivery.message_id,
            event_type or "unknown type",
            reason[:_MAX_REASON],
        )
        return Result(Verdict.DEAD_LETTER, "dead-lettered", envelope)

    def _requeue(self, delivery: Message, envelope: Envelope, exc: Exception) -> Result:
        log.warning(
            "consumer %s: handling %s %s failed (%s), delivery %d of at most %d; requeueing",
            self.name,
            envelope.type,
            envelope.id,
            type(exc).__name__,
            delivery.delivery_count + 1,
            self._delivery_limit + 1,
        )
        # The traceback may quote data from the event, so it is only logged at debug level.
        log.debug("consumer %s: failure of %s", self.name, envelope.id, exc_info=exc)
        return Result(Verdict.REQUEUE, "retry", envelope)


def _report(span: tracing.Span, result: Result) -> None:
    span.set_attribute("messaging.clinic.outcome", result.outcome)
    if result.verdict in (Verdict.REQUEUE, Verdict.DEAD_LETTER):
        tracing.mark_failed(span, result.outcome)


CONNECTION_SQLSTATES = frozenset({"57P01", "57P02", "57P03"})


def database_unavailable(exc: DBAPIError) -> bool:
    """True when the database itself is unreachable (lost connection, shutdown), not the statement."""
    if exc.connection_invalidated:
        return True
    if not isinstance(exc, OperationalError):
        return False
    state = sqlstate(exc)
    return state is None or state.startswith("08") or state in CONNECTION_SQLSTATES
