"""Notifications: tells patients about their appointments by e-mail (with a calendar invitation) and SMS."""
