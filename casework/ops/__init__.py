"""Running casework: health and readiness, process heartbeats, backup and restore."""
