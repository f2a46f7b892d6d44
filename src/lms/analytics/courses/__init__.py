"""Course analytics for instructors: rollup tables refreshed by a worker, read by the analytics pages."""
