"""Learning: enrolments, progress events, completion rules, resume positions, learner views."""
