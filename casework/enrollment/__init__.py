"""Enrollment: from application to active case."""
