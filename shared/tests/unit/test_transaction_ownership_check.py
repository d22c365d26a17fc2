"""The source check every service runs on its use cases (clinic_shared.testing.transaction_ownership)."""

from __future__ import annotations

from pathlib import Path

from clinic_shared.testing.transaction_ownership import transaction_enders, use_case_modules


def test_the_check_sees_a_commit_and_a_rollback() -> None:
    source = "def use_case(uow):\n    uow.repo.add(1)\n    uow.commit()\n    uow.session.rollback()\n"
    assert transaction_enders(source) == ["3: uow.commit()", "4: uow.session.rollback()"]


def test_the_check_sees_a_commit_inside_a_block_and_leaves_other_calls_alone() -> None:
    source = (
        "def use_case(uow):\n"
        "    with uow.conflicts_as(Conflict('taken')):\n"
        "        uow.repo.add(1)\n"
        "        if True:\n"
        "            uow.commit()\n"
        "    uow.flush()\n"
        "    committed = uow.commit\n"
    )
    assert transaction_enders(source) == ["5: uow.commit()"]


def test_the_modules_are_the_service_layer_and_what_is_named(tmp_path: Path) -> None:
    (tmp_path / "service_layer" / "inner").mkdir(parents=True)
    for name in ("service_layer/b.py", "service_layer/a.py", "service_layer/inner/c.py"):
        (tmp_path / name).write_text("")
    found = use_case_modules(tmp_path, "entrypoints/handlers.py")
    assert [p.relative_to(tmp_path).as_posix() for p in found] == [
        "service_layer/a.py",
        "service_layer/b.py",
        "service_layer/inner/c.py",
        "entrypoints/handlers.py",
    ]
