"""Refresh-token and reset-link rules: what presenting a token amounts to, and which link still opens."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from clinic_shared.settings import ConfigError
from scheduling.config import SchedulingSettings
from scheduling.domain.auth import RESET_LINK_TTL, PasswordResetToken, Redemption, RefreshToken
from scheduling.domain.calendar import token_digest

NOW = datetime(2026, 3, 2, 17, 30, tzinfo=UTC)


def refresh_token(**changes: object) -> RefreshToken:
    token = RefreshToken.issue(
        token_id=uuid.uuid4(),
        family_id=uuid.uuid4(),
        account_id=uuid.uuid4(),
        token="raw-refresh-token",
        now=NOW,
        ttl=timedelta(days=30),
    )
    for name, value in changes.items():
        setattr(token, name, value)
    return token


def test_only_a_digest_of_the_token_is_kept() -> None:
    token = refresh_token()
    assert token.token_hash == token_digest("raw-refresh-token")
    assert "raw-refresh-token" not in repr(token)
    assert token.expires_at == NOW + timedelta(days=30)


def test_a_fresh_token_is_valid_until_it_expires() -> None:
    token = refresh_token()
    assert token.redemption(NOW + timedelta(days=30) - timedelta(seconds=1)) is Redemption.VALID
    assert token.redemption(NOW + timedelta(days=30)) is Redemption.INVALID


def test_a_used_token_presented_again_is_a_reuse_even_after_it_expired() -> None:
    token = refresh_token()
    token.use(NOW)
    assert token.redemption(NOW) is Redemption.REUSED
    assert token.redemption(NOW + timedelta(days=31)) is Redemption.REUSED


def test_a_revoked_token_is_invalid_whether_or_not_it_was_used() -> None:
    assert refresh_token(revoked_at=NOW).redemption(NOW) is Redemption.INVALID
    assert refresh_token(used_at=NOW, revoked_at=NOW).redemption(NOW) is Redemption.INVALID


def test_only_a_valid_token_can_be_used() -> None:
    token = refresh_token(used_at=NOW)
    with pytest.raises(ValueError, match="valid"):
        token.use(NOW)


def reset_link(created_at: datetime = NOW) -> PasswordResetToken:
    return PasswordResetToken.issue(
        token_id=uuid.uuid4(), account_id=uuid.uuid4(), token="raw", now=created_at
    )


def test_a_reset_link_opens_for_thirty_minutes() -> None:
    link = reset_link()
    assert link.expires_at - link.created_at == RESET_LINK_TTL == timedelta(minutes=30)
    assert link.opens(NOW + timedelta(minutes=29, seconds=59), link)
    assert not link.opens(NOW + timedelta(minutes=30), link)


def test_a_reset_link_opens_once() -> None:
    link = reset_link()
    link.used_at = NOW
    assert not link.opens(NOW, link)


def test_only_the_newest_reset_link_of_an_account_opens() -> None:
    older, newer = reset_link(), reset_link(NOW + timedelta(minutes=1))
    assert not older.opens(NOW + timedelta(minutes=2), newer)
    assert newer.opens(NOW + timedelta(minutes=2), newer)
    assert not older.opens(NOW, None)


def test_the_refresh_token_lifetime_is_a_setting_of_at_least_a_day() -> None:
    assert SchedulingSettings.from_env({}).refresh_token_ttl_days == 30
    assert SchedulingSettings.from_env({"REFRESH_TOKEN_TTL_DAYS": "7"}).refresh_token_ttl_days == 7
    with pytest.raises(ConfigError, match="REFRESH_TOKEN_TTL_DAYS"):
        SchedulingSettings.from_env({"REFRESH_TOKEN_TTL_DAYS": "0"})
