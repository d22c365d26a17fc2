"""When a treatment plan's own message speaks for its sessions, so that theirs are not sent.

A plan is told as a plan: its summary confirms the sessions booked with it, its cancellation cancels the
sessions cancelled with it (``with_plan``), and the message of a shortening cancels the sessions cut off it
(``plan_shortened``). And while a plan message announcing a session is still pending, the patient has not
heard of that session yet: the message, composed when it goes, shows it as it is then (or leaves it out).
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterable

from notifications.domain.channels import Channel
from notifications.domain.deliveries import Delivery, DeliveryStatus
from notifications.domain.kinds import PLAN_ANNOUNCEMENT_KINDS, DeliveryKind


def plan_speaks_for(kind: DeliveryKind, *, in_plan: bool, with_plan: bool, plan_shortened: bool) -> bool:
    """True when a session's own ``kind`` of message is left to its plan's message."""
    if kind is DeliveryKind.BOOKING_CONFIRMATION:
        return in_plan
    if kind is DeliveryKind.CANCELLATION:
        return with_plan or plan_shortened
    return False


def untold(channel: Channel, session_ids: Collection[uuid.UUID], pending: Iterable[Delivery]) -> bool:
    """True when each of ``session_ids`` is named by a plan announcement still pending on ``channel``.

    The patient has then heard of none of them there, and will not: so nothing about them (their
    cancellation) needs saying on that channel.
    """
    announced: set[uuid.UUID] = set()
    for delivery in pending:
        if (
            delivery.channel is channel
            and delivery.kind in PLAN_ANNOUNCEMENT_KINDS
            and delivery.status is DeliveryStatus.PENDING
            and not delivery.went_out
        ):
            announced.update(i for i in session_ids if delivery.announces(i))
    return announced >= set(session_ids)
