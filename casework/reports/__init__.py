"""Dashboards, the family statement, the programme report, and exports."""
