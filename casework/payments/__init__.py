"""Arrears, payment requests, approvals, payments and the hours they create."""
