"""The hot read paths cost a known, small number of statements and never load lazily.

Every statement the app sends during one request is counted (the tenant lookup and token revocations
are cached and left out); lazy loads (a deferred column or an expired attribute read on access, a
relationship loaded on access) are refused by the mappings: no model declares a lazily loaded
relationship or a deferred column that would load silently."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session, configure_mappers

from lms.app import create_app
from lms.config import Settings
from lms.db.base import Base, metadata
from lms.models import tenancy_models
from tests.conftest import Login, MakeTenant, MakeUser, host
from tests.integration.assessments.helpers import enrol
from tests.integration.catalog.helpers import build_course, instructor, learner
from tests.integration.db.statements import statements_sent

# Route -> statements it may send (beyond BEGIN+tenant binding and COMMIT, which travel as messages),
# counted at the driver: the ORM's and the read path's alike.
HOT_PATHS = {
    "/api/v1/me": 1,
    "/api/v1/courses?limit=50": 1,
    "/api/v1/me/learning/courses": 1,
    "/api/v1/me/certificates": 1,
    "/api/v1/catalog/search?q=privacy": 1,
    "/api/v1/progress/lessons/{lesson}/resume": 2,
    "/api/v1/courses/{course}": 4,
}


@pytest.fixture
def cached_app(settings: Settings) -> Litestar:
    return create_app(replace(settings, profile_cache_seconds=0, tenant_cache_seconds=60))


@pytest.fixture
def lazy_loads() -> Iterator[list[str]]:
    """Statements the ORM sends on its own to load an attribute or relationship on access."""
    seen: list[str] = []

    def watch(state: ORMExecuteState) -> None:
        if state.is_column_load or state.is_relationship_load:
            seen.append(str(state.statement))

    event.listen(Session, "do_orm_execute", watch)
    yield seen
    event.remove(Session, "do_orm_execute", watch)


@pytest.mark.parametrize(("path", "most"), HOT_PATHS.items())
async def test_hot_reads_send_few_statements_and_no_lazy_loads(
    cached_app: Litestar,
    make_tenant: MakeTenant,
    make_user: MakeUser,
    login: Login,
    lazy_loads: list[str],
    path: str,
    most: int,
) -> None:
    tenant = await make_tenant()
    _, author = await instructor(make_user, login, tenant)
    async with AsyncTestClient(app=cached_app, base_url=host(tenant)) as client:
        course = await build_course(client, tenant, author)
        _, headers = await learner(make_user, login, tenant)
        await enrol(client, course.base, course.id, headers)
        url = path.format(lesson=course.lessons["Reading"], course=course.id)
        assert (await client.get(url, headers=headers)).status_code == 200  # warms caches
        async with statements_sent(cached_app) as own:
            response = await client.get(url, headers=headers)
    assert response.status_code == 200, response.text
    assert own  # every hot read reads the database (the counting sees both paths)
    assert len(own) <= most, own
    assert lazy_loads == []


def test_no_mapping_loads_anything_lazily() -> None:
    """Relationships must be eager or raise; deferred columns must raise when read unasked."""
    assert tenancy_models is not None  # every model is imported, so every mapper is configured below
    configure_mappers()
    silent = []
    for mapper in Base.registry.mappers:
        for rel in mapper.relationships:
            if rel.lazy not in ("raise", "raise_on_sql", "selectin", "joined", "immediate", "subquery"):
                silent.append(f"{mapper.class_.__name__}.{rel.key} (lazy={rel.lazy})")
        for prop in mapper.column_attrs:
            if prop.deferred and not prop.raiseload:
                silent.append(f"{mapper.class_.__name__}.{prop.key} (deferred without raiseload)")
    assert metadata.tables
    assert silent == []
