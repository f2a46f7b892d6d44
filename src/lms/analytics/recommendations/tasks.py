"""Names of the recommendation jobs (the wrappers live in workers/recommendations.py)."""

# Beat, nightly: recompute every active tenant's course similarities.
RECOMPUTE_ALL_TASK = "recommendations.recompute_all"
