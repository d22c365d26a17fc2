"""The caller owns the transaction (issue 13), on SQLite and PostgreSQL: a use case that loses a race to a
unique key undoes its own rows only (a savepoint, ``uow.conflicts_as``) and answers the same Conflict as
before, and what its caller wrote earlier in the same unit of work is kept when the caller commits.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from scheduling.adapters import orm
from scheduling.bootstrap import Container
from scheduling.domain.errors import Conflict
from scheduling.domain.model import Clinic
from scheduling.service_layer import accounts, clinic_setup
from scheduling.service_layer.tenancy import OPERATOR

EMAIL = "raced@clinic.test"


def staff_account(email: str) -> accounts.CreateStaffAccount:
    return accounts.CreateStaffAccount(email, "staff password 1", ["admin"], organisation_wide=True)


def new_clinic() -> clinic_setup.CreateClinic:
    return clinic_setup.CreateClinic(
        "RACE", "Race IMS", "America/Vancouver", "1 Main St", "+16045550100", "r@x.test"
    )


def test_a_lost_race_undoes_the_use_cases_rows_only_and_the_caller_commits_the_rest(
    container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    with container.uow() as rival:
        accounts.create_staff_account(rival, container.hasher, OPERATOR, staff_account(EMAIL))
        rival.commit()

    with container.uow() as uow:
        clinic = clinic_setup.create_clinic(uow, OPERATOR, new_clinic())  # the caller's earlier work
        # The use case looked before the rival committed: only the database sees the address taken.
        monkeypatch.setattr(uow.repo, "account_by_email", lambda _email: None)
        with pytest.raises(Conflict) as lost:
            accounts.create_staff_account(uow, container.hasher, OPERATOR, staff_account(EMAIL))
        uow.commit()

    assert (str(lost.value), lost.value.field) == ("an account with this email already exists", "email")
    with container.uow() as uow:
        assert uow.repo.get(Clinic, clinic.id) is not None, "the caller's work before the lost race is kept"
        taken = uow.session.scalar(
            select(func.count()).select_from(orm.accounts).where(orm.accounts.c.email == EMAIL)
        )
        assert taken == 1


def test_without_a_commit_by_the_caller_nothing_a_use_case_did_is_kept(container: Container) -> None:
    with container.uow() as uow:
        clinic = clinic_setup.create_clinic(uow, OPERATOR, new_clinic())
        accounts.create_staff_account(uow, container.hasher, OPERATOR, staff_account(EMAIL))

    with container.uow() as uow:
        assert uow.repo.get(Clinic, clinic.id) is None
        assert uow.repo.account_by_email(EMAIL) is None
