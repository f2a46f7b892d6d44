"""Quizzes: question banks, quizzes, attempts and grading."""
