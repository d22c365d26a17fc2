"""Notifications' domain: plain Python, no Flask, SQLAlchemy, Jinja or pika."""
