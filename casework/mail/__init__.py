"""Outgoing e-mail: an outbox table and a real SMTP client that never sends a message twice."""
