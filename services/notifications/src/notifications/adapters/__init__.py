"""Notifications' adapters: tables and repositories, templates, calendar files, mail and SMS transports."""
