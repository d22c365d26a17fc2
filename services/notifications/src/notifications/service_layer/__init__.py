"""Notifications' use cases: each function takes a unit of work and a command, and returns domain objects."""
