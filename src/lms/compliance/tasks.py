"""Names of the compliance domain's background jobs."""

from __future__ import annotations

APPLY_RULES_TASK = "compliance.apply_training_rules"
