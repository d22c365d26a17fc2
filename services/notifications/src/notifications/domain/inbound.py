"""Patients' texts: C / CONFIRM confirms, STOP / ARRET opts out of SMS, START / DEBUT opts back in, HELP /
AIDE asks who we are.

Keywords are read without case or accents (``arrêt`` is ARRET); anything else is not a command and gets no
answer, so a chatty patient is not sent a loop of automatic replies. Answers are in the contact's language.
"""

from __future__ import annotations

import enum
import unicodedata
import uuid
from dataclasses import dataclass
from datetime import datetime


class Command(enum.StrEnum):
    CONFIRM = "confirm"
    STOP = "stop"
    START = "start"
    HELP = "help"


_KEYWORDS = {
    Command.CONFIRM: {"C", "CONFIRM", "CONFIRMER", "CONFIRME", "OUI", "YES"},
    Command.STOP: {"STOP", "STOPALL", "UNSUBSCRIBE", "END", "QUIT", "ARRET", "ARRETER", "DESABONNER"},
    # Not YES (Twilio's opt-in word too): here YES confirms an appointment.
    Command.START: {"START", "UNSTOP", "DEBUT", "REPRENDRE", "ABONNER"},
    Command.HELP: {"HELP", "INFO", "AIDE"},
}


@dataclass
class InboundSms:
    """A text a patient sent us, kept once per provider message id (a redelivered webhook is a no-op)."""

    message_sid: str
    patient_id: uuid.UUID | None
    command: str | None
    received_at: datetime
    appointment_id: uuid.UUID | None = None


def parse_command(body: str) -> Command | None:
    """The command a reply carries (its first word, punctuation aside), or None."""
    plain = unicodedata.normalize("NFKD", body).encode("ascii", "ignore").decode().upper()
    words = "".join(ch if ch.isalnum() else " " for ch in plain).split()
    if not words:
        return None
    for command, keywords in _KEYWORDS.items():
        if words[0] in keywords:
            return command
    return None


@dataclass(frozen=True)
class ClinicContact:
    name: str
    address: str
    phone: str
    email: str


_GENERIC = ClinicContact("IMS Clinic", "", "", "")

_REPLIES = {
    "en": {
        "confirmed": "{name}: Thank you{first_name}, your appointment is confirmed. See you soon.",
        "nothing_to_confirm": "{name}: we found no upcoming appointment to confirm. Questions: {phone}",
        "stopped": "{name}: you will receive no more text messages from us. Questions: {phone}",
        "started": "{name}: you will receive our text messages again. Reply STOP to unsubscribe.",
        "help": "{name}, {address}. Call {phone} or e-mail {email}. Reply C to confirm, STOP to unsubscribe.",
    },
    "fr": {
        "confirmed": "{name} : Merci{first_name}, votre rendez-vous est confirmé. À bientôt.",
        "nothing_to_confirm": "{name} : aucun rendez-vous à venir à confirmer. Questions : {phone}",
        "stopped": "{name} : vous ne recevrez plus de textos de notre part. Questions : {phone}",
        "started": "{name} : vous recevrez de nouveau nos textos. Répondez ARRET pour vous désabonner.",
        "help": "{name}, {address}. Appelez le {phone} ou écrivez à {email}. "
        "Répondez C pour confirmer, ARRET pour vous désabonner.",
    },
}


def reply_text(kind: str, language: str, clinic: ClinicContact | None, first_name: str | None = None) -> str:
    """One of the fixed answers (confirmed, nothing_to_confirm, stopped, started, help) in ``language``."""
    texts = _REPLIES.get(language, _REPLIES["en"])
    clinic = clinic or _GENERIC
    return texts[kind].format(
        name=clinic.name,
        address=clinic.address,
        phone=clinic.phone,
        email=clinic.email,
        first_name=f" {first_name}" if first_name else "",
    )
