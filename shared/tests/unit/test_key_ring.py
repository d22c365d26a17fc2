"""The signing key ring: the newest key signs, replaced keys stay published until their tokens expire."""

from __future__ import annotations

import stat
import threading
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from clinic_shared.key_ring import KeyRing
from clinic_shared.testing.clock import ManualClock
from clinic_shared.tokens import SigningKey, TokenError, TokenVerifier

TTL = timedelta(minutes=15)
MARGIN = timedelta(minutes=5)
INTERVAL = timedelta(seconds=2)
ACTIVATION = 2 * INTERVAL


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime.now(UTC))


def ring(directory: Path, clock: ManualClock, legacy: Path | None = None) -> KeyRing:
    return KeyRing(
        directory,
        token_ttl=TTL,
        clock=clock,
        legacy_key_file=legacy,
        margin=MARGIN,
        refresh_interval=INTERVAL,
    )


def issue(keys: KeyRing, clock: ManualClock) -> str:
    return keys.issue(
        subject=uuid.uuid4(), roles=["patient"], issuer="iss", audience="aud", now=clock.now(), ttl=TTL
    )


def published_kids(keys: KeyRing) -> set[str]:
    return {jwk["kid"] for jwk in keys.jwks()["keys"]}


def test_the_first_key_is_created_once_as_a_private_file_named_by_time_and_kid(
    tmp_path: Path, clock: ManualClock
) -> None:
    keys = ring(tmp_path / "signing", clock)
    kid = keys.ensure_key().kid

    files = list((tmp_path / "signing").glob("*.pem"))
    assert [f.name for f in files] == [f"{clock.now().strftime('%Y%m%dT%H%M%S%fZ')}-{kid}.pem"]
    assert stat.S_IMODE(files[0].stat().st_mode) == 0o600
    assert ring(tmp_path / "signing", clock).ensure_key().kid == kid
    assert published_kids(keys) == {kid}


def test_processes_starting_together_share_one_first_key(tmp_path: Path, clock: ManualClock) -> None:
    rings = [ring(tmp_path / "signing", clock) for _ in range(8)]
    barrier = threading.Barrier(len(rings))
    kids: list[str] = []

    def start(keys: KeyRing) -> None:
        barrier.wait()
        kids.append(keys.ensure_key().kid)

    threads = [threading.Thread(target=start, args=(keys,)) for keys in rings]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(kids) == len(rings)
    assert len(set(kids)) == 1
    assert len(list((tmp_path / "signing").glob("*.pem"))) == 1


def test_the_pre_rotation_key_file_becomes_the_first_key_so_its_tokens_keep_verifying(
    tmp_path: Path, clock: ManualClock
) -> None:
    legacy = SigningKey.load_or_create(tmp_path / "jwt-signing-key.pem")
    old_token = legacy.issue(
        subject=uuid.uuid4(), roles=["patient"], issuer="iss", audience="aud", now=clock.now(), ttl=TTL
    )

    keys = ring(tmp_path / "signing", clock, legacy=tmp_path / "jwt-signing-key.pem")

    assert keys.ensure_key().kid == legacy.kid
    assert TokenVerifier(keys, issuer="iss", audience="aud").verify(old_token)


def test_a_new_key_is_published_at_once_and_signs_after_the_activation_delay(
    tmp_path: Path, clock: ManualClock
) -> None:
    keys = ring(tmp_path / "signing", clock)
    old = keys.ensure_key()

    clock.advance(timedelta(seconds=1))
    new, removed = keys.rotate()

    assert removed == []
    assert published_kids(keys) == {old.kid, new.kid}
    assert keys.signing_key().kid == old.kid
    clock.advance(ACTIVATION)
    assert keys.signing_key().kid == new.kid


def test_another_worker_sees_a_rotation_within_the_refresh_interval(
    tmp_path: Path, clock: ManualClock
) -> None:
    worker = ring(tmp_path / "signing", clock)
    old = worker.ensure_key()
    clock.advance(timedelta(seconds=1))
    new, _ = ring(tmp_path / "signing", clock).rotate()

    assert published_kids(worker) == {old.kid}
    clock.advance(INTERVAL)
    assert published_kids(worker) == {old.kid, new.kid}
    assert worker.signing_key().kid == old.kid
    clock.advance(ACTIVATION - INTERVAL)
    assert worker.signing_key().kid == new.kid


def test_a_replaced_key_is_dropped_ttl_and_margin_after_its_successor_took_over(
    tmp_path: Path, clock: ManualClock
) -> None:
    keys = ring(tmp_path / "signing", clock)
    old = keys.ensure_key()
    old_token = issue(keys, clock)
    verifier = TokenVerifier(keys, issuer="iss", audience="aud")
    clock.advance(timedelta(seconds=1))
    new, _ = keys.rotate()
    clock.advance(ACTIVATION)

    clock.advance(TTL + MARGIN - timedelta(seconds=1))
    assert published_kids(keys) == {old.kid, new.kid}
    assert verifier.verify(old_token)
    clock.advance(timedelta(seconds=1))
    assert published_kids(keys) == {new.kid}
    with pytest.raises(TokenError):
        verifier.verify(old_token)
    with pytest.raises(TokenError):
        keys.key(old.kid)


def test_rotating_deletes_the_files_of_dropped_keys_but_never_the_newest(
    tmp_path: Path, clock: ManualClock
) -> None:
    keys = ring(tmp_path / "signing", clock)
    first = keys.ensure_key()
    second, _ = keys.rotate()
    clock.advance(timedelta(days=1))

    third, removed = keys.rotate()

    assert [k.kid for k in removed] == [first.kid]
    remaining = sorted(p.name for p in (tmp_path / "signing").glob("*.pem"))
    assert [name.removesuffix(".pem").split("-", 1)[1] for name in remaining] == [second.kid, third.kid]
    assert keys.prune() == []
    clock.advance(timedelta(days=1))
    assert [k.kid for k in keys.prune()] == [second.kid]
    assert published_kids(keys) == {third.kid}


def test_a_key_file_whose_name_names_another_kid_is_refused(tmp_path: Path, clock: ManualClock) -> None:
    directory = tmp_path / "signing"
    directory.mkdir()
    other = SigningKey.generate()
    (directory / f"20261201T000000000000Z-{SigningKey.generate().kid}.pem").write_bytes(other.to_pem())

    with pytest.raises(ValueError, match="not the one its name says"):
        ring(directory, clock).ensure_key()
