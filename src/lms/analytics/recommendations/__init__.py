"""Recommendations and learner streaks: next in track, co-enrolment, popular in your team; weekly goals."""
