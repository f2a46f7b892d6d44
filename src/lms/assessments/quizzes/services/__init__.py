"""Quiz services: authoring banks and quizzes, attempts, grading and deterministic shuffling."""
