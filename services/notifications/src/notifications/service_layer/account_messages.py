"""Messages about a login: password-reset and sign-up links, and word of an attempt to sign up again."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from notifications.domain.channels import Channel
from notifications.domain.deliveries import Delivery
from notifications.domain.instants import require_utc
from notifications.domain.kinds import ACCOUNT_KINDS, DeliveryKind
from notifications.domain.reasons import LINK_EXPIRED
from notifications.service_layer.unit_of_work import NotificationsUnitOfWork


@dataclass(frozen=True)
class RecordAccountMessage:
    """A message about a login (ACCOUNT_KINDS): a password-reset link (scheduling.password_reset.requested),
    a link that finishes signing up (scheduling.sign_up.requested), or word that someone tried to sign up
    with an address that has an account (scheduling.sign_up.account_exists)."""

    kind: DeliveryKind
    event_id: uuid.UUID
    patient_id: uuid.UUID | None
    email: str
    language: str
    first_name: str | None
    requested_at: datetime
    # The link's token and when it stops working; None for a message without a link.
    token: str | None = None
    expires_at: datetime | None = None


def record_account_message(uow: NotificationsUnitOfWork, cmd: RecordAccountMessage) -> Delivery | None:
    """One e-mail, due at once (no debounce: a link lapses), keyed by the event.

    E-mail only and whatever the patient's channel choices: the holder asked for it, and it is
    transactional. A token stays in the delivery's payload only until the message is done with (sent,
    finally failed, or skipped once the link expired); then it is redacted. A link heard of after it
    expired is recorded as skipped. Returns None when the event was recorded before.
    """
    if cmd.kind not in ACCOUNT_KINDS:
        raise ValueError(f"{cmd.kind} is not a message about an account")
    now = uow.clock.now()
    key = Delivery.key_for(cmd.event_id, cmd.kind, Channel.EMAIL, 0)
    if uow.repo.delivery_by_key(key) is not None:
        return None
    payload: dict[str, Any] = {"email": cmd.email, "language": cmd.language, "first_name": cmd.first_name}
    expires_at = require_utc(cmd.expires_at, "expires_at") if cmd.expires_at else None
    if cmd.token is not None and expires_at is not None:
        payload["token"] = cmd.token
        # The e-mail says how long the link works, as scheduling set it.
        payload["valid_minutes"] = max(1, round((expires_at - cmd.requested_at).total_seconds() / 60))
    delivery = Delivery.record_message(
        delivery_id=uow.new_id(),
        kind=cmd.kind,
        subject_id=cmd.event_id,
        patient_id=cmd.patient_id,
        clinic_id=None,
        payload=payload,
        event_id=cmd.event_id,
        now=now,
        due_at=now,
    )
    delivery.expires_at = expires_at
    if expires_at is not None and now >= expires_at:
        delivery.skip(now, LINK_EXPIRED)
    uow.repo.add(delivery)
    return delivery
