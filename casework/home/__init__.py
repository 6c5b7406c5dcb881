"""Home area."""
