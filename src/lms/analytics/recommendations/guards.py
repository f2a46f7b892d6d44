"""Who may call the recommendation routes: the signed-in learner, about themselves only."""

from __future__ import annotations

from lms.identity.guards import requires_user

requires_learner = requires_user
