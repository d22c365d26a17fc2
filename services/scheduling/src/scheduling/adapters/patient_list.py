"""Who a clinic's patients are (ADR 0006) and finding them: the queries behind the desk's patient list."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import exists, func, or_, select
from sqlalchemy.orm import Session

from clinic_shared.db import counted_page
from scheduling.adapters import orm
from scheduling.domain.model import ERASED_DOMAIN, ClinicPatient, Patient

# What makes a patient one of a clinic's: any row naming both in these tables.
_CARE_RELATIONSHIPS = (orm.clinic_patients, orm.appointments, orm.treatment_plans, orm.waitlist_entries)


class PatientListQueries:
    """Part of ``SqlAlchemyRepository``: the patient-list reads of the repository protocol."""

    session: Session

    def patient_related_to_clinic(self, patient_id: uuid.UUID, clinic_id: uuid.UUID) -> bool:
        """Whether the patient is on the clinic's list or has an appointment, a plan or a waitlist entry
        there (one query)."""
        related = [
            exists().where(table.c.patient_id == patient_id, table.c.clinic_id == clinic_id)
            for table in _CARE_RELATIONSHIPS
        ]
        return bool(self.session.scalar(select(or_(*related))))

    def find_patients(
        self, text: str, clinic_id: uuid.UUID, *, offset: int, limit: int
    ) -> tuple[Sequence[Patient], int]:
        """The clinic's patients (as ``patient_related_to_clinic``) whose name, e-mail or phone holds every
        word of ``text`` (any case; digits against the phone number too), by name; and how many in all."""
        patients = orm.patients
        related = [
            exists().where(table.c.patient_id == patients.c.id, table.c.clinic_id == clinic_id)
            for table in _CARE_RELATIONSHIPS
        ]
        query = select(Patient).where(or_(*related), patients.c.email.not_like(f"%@{ERASED_DOMAIN}"))
        for word in text.split():
            fields = [patients.c.first_name, patients.c.last_name, patients.c.email]
            matches = [field.icontains(word, autoescape=True) for field in fields]
            digits = "".join(ch for ch in word if ch.isdigit())
            if digits:
                matches.append(patients.c.phone.contains(digits, autoescape=True))
            query = query.where(or_(*matches))
        order = (patients.c.last_name, patients.c.first_name, patients.c.id)
        return counted_page(self.session, query, order, offset, limit)

    def clinic_patients_among(
        self, patient_ids: Sequence[uuid.UUID], clinic_id: uuid.UUID
    ) -> Sequence[Patient]:
        """Those of ``patient_ids`` related to the clinic (see ``patient_related_to_clinic``)."""
        if not patient_ids:
            return []
        patients = orm.patients
        related = [
            exists().where(table.c.patient_id == patients.c.id, table.c.clinic_id == clinic_id)
            for table in _CARE_RELATIONSHIPS
        ]
        query = select(Patient).where(patients.c.id.in_(patient_ids), or_(*related)).order_by(patients.c.id)
        return self.session.scalars(query).all()

    def patients_booked_at(
        self, clinic_id: uuid.UUID, starts_from: datetime, starts_before: datetime
    ) -> Sequence[Patient]:
        """The patients with an appointment at the clinic starting in [from, before), by id (one query)."""
        appointments = orm.appointments
        booked = exists().where(
            appointments.c.patient_id == orm.patients.c.id,
            appointments.c.clinic_id == clinic_id,
            appointments.c.starts_at >= starts_from,
            appointments.c.starts_at < starts_before,
        )
        return self.session.scalars(select(Patient).where(booked).order_by(orm.patients.c.id)).all()

    def patient_by_contact(self, *, email: str | None = None, phone: str | None = None) -> Patient | None:
        """The patient with exactly this e-mail address (any case) or E.164 phone number, if one has it."""
        if email is not None:
            condition = func.lower(orm.patients.c.email) == email.strip().lower()
        elif phone is not None:
            condition = orm.patients.c.phone == phone
        else:
            return None
        query = select(Patient).where(condition).order_by(orm.patients.c.id).limit(1)
        return self.session.scalars(query).first()

    def clinic_patient(self, clinic_id: uuid.UUID, patient_id: uuid.UUID) -> ClinicPatient | None:
        return self.session.get(ClinicPatient, (clinic_id, patient_id))
