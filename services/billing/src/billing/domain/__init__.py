"""Billing's domain: plain Python, no Flask, SQLAlchemy or pika."""
