"""JSON API v1: a second door to the same services, with tokens instead of sessions."""
