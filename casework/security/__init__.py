"""Security area."""
