"""Scheduled balance checks: snapshots of every family's progress, alerts when one falls behind."""
