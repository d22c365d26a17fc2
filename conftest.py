"""Hooks for the whole test suite: the API fuzz runs' case counts, listed at the end of the session."""

from clinic_shared.testing.fuzz import pytest_terminal_summary

__all__ = ["pytest_terminal_summary"]
