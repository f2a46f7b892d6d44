"""Assignment services: submissions and grading, peer-review allocation and reviews, submission storage."""
