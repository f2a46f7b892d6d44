"""Every tenant table can be distributed by its tenant (Citus, docs/capacity.md): its primary key, unique
keys and foreign keys include the distribution column, so no key ever spans two shards.

The distribution column is `tenant_id`; catalogue tables (a tenant's own rows, or the platform's shared
ones) distribute on `catalogue_owner`, which is the tenant or the shared catalogue's owner. Primary keys
are `(tenant_id, id)` or `(catalogue_owner, id)` (revision 1500); the ORM still identifies a row by `id`
alone (`lms.db.base.identified_by_id`).
"""

from __future__ import annotations

import pytest
from sqlalchemy import ForeignKeyConstraint, Table, UniqueConstraint

import lms.models  # noqa: F401 - every domain's tables
from lms.db.base import Base

# Platform-wide lookups that are read without a tenant: Citus reference tables (copied to every node).
REFERENCE_TABLES = {
    "tenant_domains": "a host name maps to one tenant platform-wide; the resolver reads it before a tenant is known",
}
# Foreign keys into the shared catalogue: a tenant's row may point at a platform-shared course or
# lesson (owner = the shared catalogue). The shared catalogue is small and read-mostly; on Citus its
# rows are a reference table, and these keys point into it.
SHARED_CATALOGUE_KEYS = {
    ("lesson_progress", ("lesson_owner", "lesson_id"), "lessons"),
    ("shared_course_offers", ("shared_owner", "course_id"), "courses"),
}


def tenant_tables() -> list[Table]:
    return sorted(
        (t for t in Base.metadata.tables.values() if "tenant_id" in t.c and t.name not in REFERENCE_TABLES),
        key=lambda t: t.name,
    )


def distribution_column(table: Table) -> str:
    return "catalogue_owner" if "catalogue_owner" in table.c else "tenant_id"


def unique_keys(table: Table) -> list[tuple[str, list[str]]]:
    keys = [
        (c.name or "?", [col.name for col in c.columns]) for c in table.constraints if isinstance(c, UniqueConstraint)
    ]
    keys += [(i.name or "?", [col.name for col in i.columns]) for i in table.indexes if i.unique]
    keys += [(f"{table.name}.{col.name}", [col.name]) for col in table.columns if col.unique]
    return keys


@pytest.mark.parametrize("table", tenant_tables(), ids=lambda t: t.name)
def test_unique_keys_include_the_distribution_column(table: Table) -> None:
    column = distribution_column(table)
    spanning = [name for name, columns in unique_keys(table) if column not in columns and "tenant_id" not in columns]
    assert spanning == [], f"{table.name}: unique keys without {column}: {spanning}"


@pytest.mark.parametrize("table", tenant_tables(), ids=lambda t: t.name)
def test_foreign_keys_include_the_distribution_column(table: Table) -> None:
    spanning = []
    for constraint in table.constraints:
        if not isinstance(constraint, ForeignKeyConstraint):
            continue
        referred = constraint.referred_table
        columns = tuple(col.name for col in constraint.columns)
        if referred.name == "tenants" or "tenant_id" not in referred.c:
            continue  # to the tenant itself, or to a platform table (a reference table under Citus)
        if (table.name, columns, referred.name) in SHARED_CATALOGUE_KEYS or referred.name in REFERENCE_TABLES:
            continue
        target_column = distribution_column(referred)
        targets = [element.column.name for element in constraint.elements]
        if target_column not in targets and "tenant_id" not in targets:
            spanning.append(f"{columns} -> {referred.name}{tuple(targets)}")
    assert spanning == [], f"{table.name}: foreign keys that could cross tenants' shards: {spanning}"


@pytest.mark.parametrize("table", tenant_tables(), ids=lambda t: t.name)
def test_primary_keys_lead_with_the_distribution_column(table: Table) -> None:
    """`(tenant_id, id)`: the key's index also serves the tenant's range scans and the composite foreign keys."""
    primary = [col.name for col in table.primary_key.columns]
    assert primary[:1] == [distribution_column(table)], f"{table.name}: primary key {primary}"


@pytest.mark.parametrize("table", tenant_tables(), ids=lambda t: t.name)
def test_rows_are_identified_by_id(table: Table) -> None:
    """`session.get(Model, id)` and the identity map keep working with the composite key."""
    mapper = next(m for m in Base.registry.mappers if m.local_table is table)
    assert [col.name for col in mapper.primary_key] == ["id"], f"{table.name}: mapper key {mapper.primary_key}"


def test_the_lists_name_only_existing_tables() -> None:
    names = set(Base.metadata.tables)
    assert set(REFERENCE_TABLES) <= names
    assert {table for table, _, _ in SHARED_CATALOGUE_KEYS} <= names
