"""Assigned training and compliance: rules that assign a course to a group or a person with a due
date and an optional recurrence, the job that keeps them applied, and the compliance report."""
