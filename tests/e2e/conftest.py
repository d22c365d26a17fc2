"""A whole running system per test module: real processes, PostgreSQL, RabbitMQ and SMTP."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from clinic_shared.testing.postgres import temporary_database
from clinic_shared.testing.rabbit import temporary_vhost

from .journey import Journey
from .system import SERVICES, Mailbox, System


@pytest.fixture(scope="module")
def mailbox() -> Iterator[Mailbox]:
    box = Mailbox()
    box.start()
    yield box
    box.stop()


@pytest.fixture(scope="module")
def system(mailbox: Mailbox, tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    with ExitStack() as stack:
        urls = {name: stack.enter_context(temporary_database(f"e2e_{name}")) for name in SERVICES}
        amqp_url = stack.enter_context(temporary_vhost("e2e"))
        var_dir: Path = tmp_path_factory.mktemp("system")
        running = System(database_urls=urls, amqp_url=amqp_url, smtp_port=mailbox.port, var_dir=var_dir)
        try:
            running.start()
        except BaseException:
            running.stop()
            print(running.logs())
            raise
        yield running
        running.stop()


@pytest.fixture
def journey(system: System) -> Iterator[Journey]:
    client = Journey(system)
    yield client
    client.http.close()
