"""Each clinic's reminder policy: when reminders go out on each channel, and the SMS quiet hours."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import time
from zoneinfo import ZoneInfo

from clinic_shared.tokens import Principal
from notifications.domain.errors import InvalidPolicy
from notifications.domain.reminders import QuietHours, ReminderPolicy
from notifications.service_layer.tenancy import CLINIC_NOT_FOUND, require_clinic
from notifications.service_layer.unit_of_work import NotificationsUnitOfWork

# Staff who may change a clinic's reminder policy.
POLICY_EDITORS = frozenset({"front_desk", "admin"})

# Used for quiet hours only until the clinic's own details arrive (clinics here are in British Columbia).
FALLBACK_TIMEZONE = "America/Vancouver"


@dataclass(frozen=True)
class ChangeReminderPolicy:
    """The whole policy (PUT semantics); ``None`` hours turn a channel's reminder off."""

    clinic_id: uuid.UUID
    email_hours_before: int | None
    sms_hours_before: int | None
    skip_when_confirmed: bool
    quiet_hours_start: time | None
    quiet_hours_end: time | None


def get_reminder_policy(
    uow: NotificationsUnitOfWork, actor: Principal, clinic_id: uuid.UUID
) -> ReminderPolicy:
    """The clinic's policy, or the default one if it never changed it (staff of that clinic, or
    organisation-wide; another clinic's is not found)."""
    require_clinic(actor, clinic_id, CLINIC_NOT_FOUND, field="clinic_id")
    return policy_of(uow, clinic_id)


def policy_of(uow: NotificationsUnitOfWork, clinic_id: uuid.UUID) -> ReminderPolicy:
    """The clinic's policy, or the default one if it never changed it."""
    return uow.repo.reminder_policy(clinic_id) or ReminderPolicy.default(clinic_id)


def clinic_zone(uow: NotificationsUnitOfWork, clinic_id: uuid.UUID) -> ZoneInfo:
    """The clinic's time zone, or ``FALLBACK_TIMEZONE`` until the clinic's details arrive."""
    clinic = uow.repo.clinic(clinic_id)
    return ZoneInfo(clinic.timezone if clinic else FALLBACK_TIMEZONE)


def change_reminder_policy(
    uow: NotificationsUnitOfWork, actor: Principal, cmd: ChangeReminderPolicy
) -> ReminderPolicy:
    """Replace a clinic's policy; it applies to appointments booked or rescheduled from now on (staff of
    that clinic, or organisation-wide; another clinic's is not found)."""
    require_clinic(actor, cmd.clinic_id, CLINIC_NOT_FOUND, field="clinic_id")
    quiet: QuietHours | None = None
    if (cmd.quiet_hours_start is None) != (cmd.quiet_hours_end is None):
        raise InvalidPolicy("give both ends of the quiet hours, or neither", field="quiet_hours_end")
    if cmd.quiet_hours_start is not None and cmd.quiet_hours_end is not None:
        quiet = QuietHours(cmd.quiet_hours_start, cmd.quiet_hours_end)
    policy = ReminderPolicy(
        clinic_id=cmd.clinic_id,
        email_hours_before=cmd.email_hours_before,
        sms_hours_before=cmd.sms_hours_before,
        skip_when_confirmed=cmd.skip_when_confirmed,
        quiet_hours=quiet,
        updated_at=uow.clock.now(),
    )
    uow.repo.save_reminder_policy(policy)
    return policy
