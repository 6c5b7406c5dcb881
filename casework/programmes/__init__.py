"""Programmes area."""
