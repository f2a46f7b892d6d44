"""The periodic job: every tenant's training rules applied (new group members enrolled, lapsed
completions reopened, managers told of overdue training). Cheap when nothing changed: per rule one
query for its members and one set-based query for those without an enrolment."""

from __future__ import annotations

from lms.compliance.services import RulesApplied, apply_all_rules
from lms.db.binding import tenant_session
from lms.db.engines import Database
from lms.tenancy.queries import active_tenant_ids


async def apply_training_rules(db: Database) -> RulesApplied:
    """What the rules did over every active tenant."""
    async with db.operator_sessions() as session:
        tenants = await active_tenant_ids(session)
    done = RulesApplied()
    for tenant_id in tenants:
        async with tenant_session(db.app_sessions, tenant_id) as session:
            done.add(await apply_all_rules(session))
    return done
