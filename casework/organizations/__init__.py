"""Organizations area."""
