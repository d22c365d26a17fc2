"""Scheduling: clinics, practitioners, patients and their accounts, appointments and treatment plans."""
