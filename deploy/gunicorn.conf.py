"""Gunicorn settings shared by the three web apps (the app factory is named on the command line).

No preload: each worker builds its own engine and pools after fork. Access logs carry method, path and
status only (no query strings, no bodies), so no patient data reaches the logs.
"""

import os
import shutil
import tempfile

import gunicorn.http.wsgi

bind = f"{os.environ.get('BIND_HOST', '0.0.0.0')}:{os.environ.get('PORT', '8000')}"  # noqa: S104
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = "gthread"
threads = int(os.environ.get("WEB_THREADS", "4"))
preload_app = False
timeout = 30
graceful_timeout = 20
keepalive = 5
accesslog = "-"
errorlog = "-"
access_log_format = (
    '{"remote":"%(h)s","method":"%(m)s","path":"%(U)s","status":%(s)s,"bytes":"%(B)s","ms":%(M)s}'
)

# Name no server software in the Server header (its name and version help only an attacker).
gunicorn.http.wsgi.SERVER = "ims-clinic"

# Prometheus counts of every worker of this server in one directory, summed at each scrape
# (clinic_shared.web.metrics): one directory per server (the master's pid), removed when it stops.
METRICS_DIR = os.environ.setdefault(
    "PROMETHEUS_MULTIPROC_DIR", os.path.join(tempfile.gettempdir(), f"ims-metrics-{os.getpid()}")
)


def on_starting(server: object) -> None:
    shutil.rmtree(METRICS_DIR, ignore_errors=True)  # a restart does not add up old counts
    os.makedirs(METRICS_DIR, exist_ok=True)


def on_exit(server: object) -> None:
    shutil.rmtree(METRICS_DIR, ignore_errors=True)


def child_exit(server: object, worker: object) -> None:
    try:
        from prometheus_client import multiprocess
    except ImportError:  # an app without metrics (the web front)
        return
    multiprocess.mark_process_dead(worker.pid)  # type: ignore[attr-defined]
