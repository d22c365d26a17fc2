"""Sign-in limits, the guard that applies them, and the password policy: plain objects, tested fast.

The guard counts in a SQLite file on a hand-moved clock; a counting hasher shows which password checks
were paid for.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path

import pytest

from clinic_shared.settings import ConfigError
from clinic_shared.throttle import SqliteCounterStore
from scheduling.adapters.passwords import Argon2PasswordHasher, common_passwords
from scheduling.config import SchedulingSettings
from scheduling.domain.auth import SignInLimits, TooManyAttempts
from scheduling.domain.errors import RuleViolation
from scheduling.domain.model import Account
from scheduling.domain.passwords import (
    LIKE_EMAIL,
    TOO_COMMON,
    TOO_SHORT,
    TOO_SIMPLE,
    PasswordPolicy,
)
from scheduling.service_layer.auth import SignInGuard

EMAIL = "ana.li@example.test"
RIGHT = "correct horse battery"
ADDRESS = "203.0.113.7"

# Every password the repository's tests, browser journeys and demo seed sign up or create staff with.
PASSWORDS_IN_USE = [
    "correct horse battery",
    "a brand new passphrase",
    "yet another passphrase",
    "admin password 1",
    "staff password 1",
    "patient password",
    "long enough 1",
    "long enough pass",
    "another long one",
    "practitioner pass",
    "mot de passe assez long",
    "demo-patient-pass",
    "demo-admin-pass",
    "demo-billing-pass",
    "demo-frontdesk-pass",
    "demo-practitioner-pass",
]


class CountingHasher:
    """The fast Argon2 hasher, noting every hash it is asked to check a password against."""

    def __init__(self) -> None:
        self.inner = Argon2PasswordHasher(fast=True)
        self.hashed = 0
        self.checked: list[str] = []

    def hash(self, password: str) -> str:
        self.hashed += 1
        return self.inner.hash(password)

    def verify(self, password_hash: str, password: str) -> bool:
        self.checked.append(password_hash)
        return self.inner.verify(password_hash, password)


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta.total_seconds()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def hasher() -> CountingHasher:
    return CountingHasher()


def guard_for(tmp_path: Path, clock: Clock, hasher: CountingHasher, **limits: object) -> SignInGuard:
    store = SqliteCounterStore(tmp_path / "counters.db", clock)
    return SignInGuard(hasher, store, SignInLimits(**limits))  # type: ignore[arg-type]


@pytest.fixture
def guard(tmp_path: Path, clock: Clock, hasher: CountingHasher) -> SignInGuard:
    return guard_for(tmp_path, clock, hasher)


def account(hasher: CountingHasher) -> Account:
    return Account(uuid.uuid4(), EMAIL, hasher.inner.hash(RIGHT), ["patient"])


def attempt(guard: SignInGuard, who: Account | None, password: str, address: str = ADDRESS) -> bool:
    """What sign_in does with the guard: admit, verify, count the failure or forget the attempts."""
    guard.admit(EMAIL, address)
    if guard.verify(who, password):
        guard.succeeded(EMAIL)
        return True
    guard.failed(address)
    return False


# --- limits --------------------------------------------------------------------------------------------


def test_the_attempt_after_the_allowed_failures_starts_a_lock() -> None:
    limits = SignInLimits(max_failures=10)
    assert not limits.locks(10)
    assert limits.locks(11)


def test_a_lock_says_how_long_and_how_to_unlock_now() -> None:
    refusal = SignInLimits().account_locked(timedelta(minutes=14, seconds=1))
    assert refusal.retry_after_seconds == 14 * 60 + 1
    assert "locked for 15 more minute(s)" in str(refusal)
    assert "reset your password" in str(refusal)
    assert refusal.reason == "account_locked"


def test_retry_after_is_whole_seconds_rounded_up_and_never_zero() -> None:
    assert TooManyAttempts("x", retry_after=timedelta(seconds=2.1), reason="r").retry_after_seconds == 3
    assert TooManyAttempts("x", retry_after=timedelta(0), reason="r").retry_after_seconds == 1


def test_a_client_address_is_refused_from_its_limit_on_and_zero_means_no_limit() -> None:
    limits = SignInLimits(max_failures_per_address=3)
    assert limits.address_refusal(2, timedelta(minutes=5)) is None
    refusal = limits.address_refusal(3, timedelta(minutes=5))
    assert refusal is not None
    assert refusal.retry_after_seconds == 300
    assert refusal.reason == "too_many_failures_from_address"
    assert SignInLimits(max_failures_per_address=0).address_refusal(10_000, timedelta(minutes=5)) is None


@pytest.mark.parametrize(
    "limits",
    [
        {"max_failures": 0},
        {"max_failures_per_address": -1},
        {"window": timedelta(0)},
        {"lockout": timedelta(seconds=-1)},
    ],
)
def test_limits_that_make_no_sense_are_refused(limits: dict[str, object]) -> None:
    with pytest.raises(ValueError):  # noqa: PT011
        SignInLimits(**limits)  # type: ignore[arg-type]


def test_the_settings_read_the_limits_and_refuse_nonsense(tmp_path: Path) -> None:
    settings = SchedulingSettings.from_env({"VAR_DIR": str(tmp_path)})
    assert settings.sign_in_max_failures == 10
    assert settings.sign_in_lockout_minutes == 15
    assert settings.sign_in_max_failures_per_address == 100
    assert settings.redis_url is None
    assert settings.sign_in_throttle_file == tmp_path / "scheduling-sign-in.db"
    custom = SchedulingSettings.from_env(
        {
            "SIGN_IN_MAX_FAILURES": "5",
            "SIGN_IN_MAX_FAILURES_PER_ADDRESS": "0",
            "REDIS_URL": "redis://r:6379/1",
        }
    )
    assert (custom.sign_in_max_failures, custom.sign_in_max_failures_per_address) == (5, 0)
    assert custom.redis_url == "redis://r:6379/1"
    for name, value in (("SIGN_IN_LOCKOUT_MINUTES", "0"), ("SIGN_IN_MAX_FAILURES_PER_ADDRESS", "-1")):
        with pytest.raises(ConfigError, match=name):
            SchedulingSettings.from_env({name: value})


# --- the guard -----------------------------------------------------------------------------------------


def test_fifty_wrong_passwords_pay_for_ten_checks_and_lock_the_right_one_out_too(
    guard: SignInGuard, hasher: CountingHasher
) -> None:
    ana = account(hasher)
    answers = []
    for _ in range(50):
        try:
            answers.append(attempt(guard, ana, "not the password"))
        except TooManyAttempts as refusal:
            answers.append(refusal.reason)
    assert answers == [False] * 10 + ["account_locked"] * 40
    assert len(hasher.checked) == 10
    with pytest.raises(TooManyAttempts) as locked:
        attempt(guard, ana, "correct horse battery")
    assert locked.value.reason == "account_locked"
    assert len(hasher.checked) == 10, "a locked account's password is not checked"


def test_the_lock_ends_after_the_lockout(guard: SignInGuard, hasher: CountingHasher, clock: Clock) -> None:
    ana = account(hasher)
    for _ in range(10):
        attempt(guard, ana, "not the password")
    with pytest.raises(TooManyAttempts) as locked:
        attempt(guard, ana, "correct horse battery")
    assert locked.value.retry_after_seconds == 15 * 60
    clock.advance(timedelta(minutes=14))
    with pytest.raises(TooManyAttempts) as still:
        attempt(guard, ana, "correct horse battery")
    assert still.value.retry_after_seconds == 60
    clock.advance(timedelta(minutes=1))
    assert attempt(guard, ana, "correct horse battery")


def test_failures_spread_beyond_the_window_never_lock(
    guard: SignInGuard, hasher: CountingHasher, clock: Clock
) -> None:
    ana = account(hasher)
    for _ in range(4):
        for _ in range(5):
            assert not attempt(guard, ana, "not the password")
        clock.advance(timedelta(minutes=8))
    assert attempt(guard, ana, "correct horse battery")


def test_a_successful_sign_in_forgets_the_wrong_passwords_before_it(
    guard: SignInGuard, hasher: CountingHasher
) -> None:
    ana = account(hasher)
    for _ in range(9):
        attempt(guard, ana, "not the password")
    assert attempt(guard, ana, "correct horse battery")
    for _ in range(10):
        assert not attempt(guard, ana, "not the password")
    with pytest.raises(TooManyAttempts):
        attempt(guard, ana, "correct horse battery")


def test_unlocking_ends_the_lock_and_forgets_the_attempts(guard: SignInGuard, hasher: CountingHasher) -> None:
    ana = account(hasher)
    for _ in range(10):
        attempt(guard, ana, "not the password")
    with pytest.raises(TooManyAttempts):
        attempt(guard, ana, "not the password")
    guard.unlock(EMAIL)
    for _ in range(10):
        assert not attempt(guard, ana, "not the password")
    guard.unlock(EMAIL)
    assert attempt(guard, ana, "correct horse battery")


def test_an_address_without_an_account_locks_alike(guard: SignInGuard, hasher: CountingHasher) -> None:
    answers = []
    for _ in range(12):
        try:
            answers.append(attempt(guard, None, "any password"))
        except TooManyAttempts as refusal:
            answers.append(refusal.reason)
    assert answers == [False] * 10 + ["account_locked"] * 2


def test_too_many_failures_from_one_client_address_stop_it_on_every_account(
    tmp_path: Path, clock: Clock, hasher: CountingHasher
) -> None:
    guard = guard_for(tmp_path, clock, hasher, max_failures_per_address=3)
    for _ in range(3):
        assert not attempt(guard, None, "a guess")
    checks = len(hasher.checked)
    with pytest.raises(TooManyAttempts) as refused:
        attempt(guard, account(hasher), "correct horse battery")
    assert refused.value.reason == "too_many_failures_from_address"
    assert len(hasher.checked) == checks
    assert attempt(guard, account(hasher), "correct horse battery", address="198.51.100.9")
    clock.advance(timedelta(minutes=15))
    assert attempt(guard, account(hasher), "correct horse battery")


def test_no_account_or_a_disabled_one_costs_one_check_against_a_hash_like_the_real_ones(
    guard: SignInGuard, hasher: CountingHasher
) -> None:
    real = account(hasher)
    disabled = account(hasher)
    disabled.active = False
    assert not guard.verify(None, "correct horse battery")
    assert not guard.verify(disabled, "correct horse battery")
    assert hasher.checked == [guard.dummy_hash, guard.dummy_hash]
    assert hasher.hashed == 1, "the dummy hash is made once"
    # Same algorithm, version and cost parameters ($argon2id$v=19$m=...,t=...,p=...$salt$hash).
    assert guard.dummy_hash.split("$")[1:4] == real.password_hash.split("$")[1:4]
    assert guard.verify(real, "correct horse battery")


# --- the password policy -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def policy() -> PasswordPolicy:
    return PasswordPolicy(common_passwords())


def test_the_shipped_list_holds_thousands_of_common_passwords() -> None:
    shipped = common_passwords()
    assert len(shipped) > 10_000
    assert {"password", "123456", "qwertyuiop", "iloveyou"} <= shipped


@pytest.mark.parametrize("password", PASSWORDS_IN_USE)
def test_the_passwords_the_repository_uses_are_accepted(policy: PasswordPolicy, password: str) -> None:
    assert policy.refusal(password, "someone@example.test") is None


@pytest.mark.parametrize(
    "password",
    ["ana.li@example.test", "ANA.LI@EXAMPLE.TEST", "ana.li.example.test", "Ana.Li2024!", "2024ana_li"],
)
def test_the_e_mail_address_or_its_local_part_is_refused(policy: PasswordPolicy, password: str) -> None:
    assert policy.refusal(password, EMAIL) == LIKE_EMAIL


@pytest.mark.parametrize(
    "password",
    ["xxxxxxxxxxxx", "abababababab", "abcdabcdabcd", "aaaa bbbb aaaa", "abcdefghijkl", "9876543210"],
)
def test_too_little_variety_is_refused(policy: PasswordPolicy, password: str) -> None:
    assert policy.refusal(password, EMAIL) == TOO_SIMPLE


@pytest.mark.parametrize(
    "password",
    [
        "password1234",
        "Password!!!!",
        "qwertyuiop",
        "p a s s w o r d",
        "1234iloveyou",
        "monkeymonkey",
        "Football#2024",
    ],
)
def test_common_passwords_are_refused_whatever_the_case_separators_or_digits_around(
    policy: PasswordPolicy, password: str
) -> None:
    assert policy.refusal(password, EMAIL) == TOO_COMMON


def test_the_length_rule_stays(policy: PasswordPolicy) -> None:
    assert policy.refusal("Zq8#vL2!", EMAIL) == TOO_SHORT


def test_a_refusal_names_the_password_field(policy: PasswordPolicy) -> None:
    with pytest.raises(RuleViolation) as refused:
        policy.check("password1234", EMAIL)
    assert refused.value.field == "password"
    assert str(refused.value) == TOO_COMMON
