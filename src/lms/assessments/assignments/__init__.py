"""Assignments: submissions, rubrics, grading and peer review."""
