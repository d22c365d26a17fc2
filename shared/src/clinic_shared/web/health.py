"""Liveness (/healthz: the process answers) and readiness (/readyz: database and broker reachable)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping

import pika
from flask import Blueprint, Response, jsonify
from pika.exceptions import AMQPError
from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

from clinic_shared.messaging.connection import node_parameters
from clinic_shared.web.auth import public

Check = Callable[[], bool]


def database_check(engine: Engine) -> Check:
    def check() -> bool:
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            return True
        except SQLAlchemyError:
            return False

    return check


def broker_check(amqp_url: str, cache_seconds: float = 5.0) -> Check:
    """Open and close an AMQP connection; the answer is cached briefly so probes do not flood the broker."""
    lock = threading.Lock()
    last: dict[str, float | bool] = {"at": 0.0, "ok": False}

    def check() -> bool:
        with lock:
            if time.monotonic() - float(last["at"]) < cache_seconds:
                return bool(last["ok"])
            try:
                # Any node of a cluster will do: pika tries them in turn.
                nodes = node_parameters(amqp_url, heartbeat=0, socket_timeout=2, blocked_connection_timeout=2)
                pika.BlockingConnection(nodes).close()
                ok = True
            except (AMQPError, OSError):
                ok = False
            last.update(at=time.monotonic(), ok=ok)
            return ok

    return check


def health_blueprint(checks: Mapping[str, Check]) -> Blueprint:
    bp = Blueprint("health", __name__)

    @bp.get("/healthz")
    @public
    def healthz() -> Response:
        return jsonify(status="ok")

    @bp.get("/readyz")
    @public
    def readyz() -> tuple[Response, int]:
        results = {name: ("ok" if check() else "unavailable") for name, check in checks.items()}
        ready = all(value == "ok" for value in results.values())
        return jsonify(status="ready" if ready else "not ready", checks=results), 200 if ready else 503

    return bp
