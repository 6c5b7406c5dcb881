"""Households area."""
