"""Structured JSON logs. Log ids only: never names, emails, phone numbers or message bodies.

Every line, from structlog and standard-library loggers alike, is one JSON object on stderr with the
service, and, while a request or message is being handled, its ``correlation_id`` and the current span's
``trace_id`` and ``span_id`` (when tracing is on), so a line can be found from a trace and the other way.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any

import pika.exceptions
import structlog
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from structlog.typing import Processor

from clinic_shared import tracing
from clinic_shared.uow import current_correlation_id


def add_trace_context(_logger: object, _method: str, event_dict: MutableMapping[str, Any]) -> Any:
    """A structlog processor: the correlation id and trace/span ids of what is being handled, if any."""
    correlation = current_correlation_id.get()
    if correlation is not None:
        event_dict.setdefault("correlation_id", str(correlation))
    ids = tracing.current_ids()
    if ids is not None:
        event_dict.setdefault("trace_id", ids[0])
        event_dict.setdefault("span_id", ids[1])
    return event_dict


def configure_logging(service: str, level: str = "INFO") -> None:
    """JSON logs for this process; also switches tracing on when an OTLP endpoint is configured, so every
    process that sets up its logs (each API worker, each service worker) traces too."""
    tracing.configure_tracing(service)

    def add_service(_logger: object, _method: str, event_dict: MutableMapping[str, Any]) -> Any:
        # Not a bound context variable: threads (the relay, the consumer, the dispatcher) start without it.
        event_dict.setdefault("service", service)
        return event_dict

    common: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        add_service,
        add_trace_context,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    rendering: list[Processor] = [
        structlog.processors.format_exc_info,
        structlog.processors.EventRenamer("msg"),
        structlog.processors.JSONRenderer(),
    ]
    # Standard-library records (the relay, the consumer, the dispatcher) get the same processors.
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[*common, structlog.stdlib.add_logger_name],
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *rendering],
        )
    )
    logging.basicConfig(handlers=[handler], level=level.upper(), force=True)
    logging.getLogger("pika").setLevel(logging.WARNING)
    structlog.configure(
        processors=[*common, *rendering],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=True,
    )


def describe_error(exc: BaseException) -> str:
    """Exception summary without SQL parameters (which may carry personal data)."""
    if isinstance(exc, DBAPIError):
        state = getattr(exc.orig, "sqlstate", None)
        return f"{type(exc).__name__}({type(exc.orig).__name__}, sqlstate={state})"
    if isinstance(exc, SQLAlchemyError):
        return type(exc).__name__
    if isinstance(exc, pika.exceptions.AMQPError):
        return repr(exc)
    return f"{type(exc).__name__}: {exc}"
