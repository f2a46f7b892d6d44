"""Assessments: quizzes drawn from question banks, attempts, assignments with rubrics and peer review."""
