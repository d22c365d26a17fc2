"""Billing: price lists, and the charges that follow a clinic's appointments."""
