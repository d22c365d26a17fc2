"""Structured JSON logs. Log ids only: never names, emails, phone numbers or message bodies."""

from __future__ import annotations

import logging
import sys

import pika.exceptions
import structlog
from sqlalchemy.exc import DBAPIError, SQLAlchemyError


def configure_logging(service: str, level: str = "INFO") -> None:
    logging.basicConfig(format="%(message)s", stream=sys.stderr, level=level.upper(), force=True)
    logging.getLogger("pika").setLevel(logging.WARNING)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            structlog.processors.EventRenamer("msg"),
            structlog.processors.JSONRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=True,
    )
    structlog.contextvars.bind_contextvars(service=service)


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
