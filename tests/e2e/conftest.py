"""A whole running system per test module: real processes, PostgreSQL, RabbitMQ and SMTP."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest

from clinic_shared.testing.postgres import temporary_database
from clinic_shared.testing.rabbit import temporary_vhost

from .browser import Browser, launch
from .journey import Journey
from .system import SERVICES, Mailbox, System


@pytest.fixture(scope="module")
def mailbox() -> Iterator[Mailbox]:
    box = Mailbox()
    box.start()
    yield box
    box.stop()


@contextmanager
def running_system(
    mailbox: Mailbox, var_dir: Path, *, with_web: bool, extra_env: dict[str, str] | None = None
) -> Iterator[System]:
    with ExitStack() as stack:
        urls = {name: stack.enter_context(temporary_database(f"e2e_{name}")) for name in SERVICES}
        amqp_url = stack.enter_context(temporary_vhost("e2e"))
        running = System(
            database_urls=urls,
            amqp_url=amqp_url,
            smtp_port=mailbox.port,
            var_dir=var_dir,
            mailbox=mailbox,
            with_web=with_web,
            extra_env=extra_env or {},
        )
        try:
            running.start()
        except BaseException as failure:
            running.stop()
            failure.add_note(running.logs())
            raise
        yield running
        running.stop()


@pytest.fixture(scope="module")
def system(mailbox: Mailbox, tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    with running_system(mailbox, tmp_path_factory.mktemp("system"), with_web=False) as running:
        yield running


@pytest.fixture(scope="module")
def portal(mailbox: Mailbox, tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    """The system with its web front, for browser journeys."""
    with running_system(mailbox, tmp_path_factory.mktemp("portal"), with_web=True) as running:
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with launch() as running:
        yield running


@pytest.fixture
def journey(system: System) -> Iterator[Journey]:
    client = Journey(system)
    yield client
    client.http.close()
