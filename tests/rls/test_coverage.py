"""The database as deployed: every tenant table has forced RLS and exactly the policy in policies/."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import create_engine, pool, text

from lms.config import PROJECT_ROOT, Settings, sync_url

POLICY_RE = re.compile(r"CREATE POLICY\s+(\w+)\s+ON\s+(\w+)(.*?);", re.S | re.I)


def declared_policies() -> dict[tuple[str, str], str]:
    """(table, policy) -> the rest of the CREATE POLICY statement, from policies/*.sql."""
    found: dict[tuple[str, str], str] = {}
    for path in sorted(Path(PROJECT_ROOT / "policies").glob("*.sql")):
        sql = re.sub(r"--[^\n]*", "", path.read_text())
        for name, table, body in POLICY_RE.findall(sql):
            found[(table, name)] = body
    return found


@pytest.fixture(scope="module")
def owner(settings: Settings):  # type: ignore[no-untyped-def]
    engine = create_engine(sync_url(settings.database_url or ""), poolclass=pool.NullPool)
    with engine.connect() as conn:
        conn.execute(text("SET ROLE lms_owner"))
        conn.commit()
        yield conn
    engine.dispose()


def test_every_table_with_tenant_id_forces_rls(owner) -> None:  # type: ignore[no-untyped-def]
    rows = owner.execute(
        text(
            """
            select c.relname, c.relrowsecurity, c.relforcerowsecurity
              from pg_class c join pg_namespace n on n.oid = c.relnamespace
             where n.nspname = 'public' and c.relkind in ('r', 'p')
               and (exists (select 1 from pg_attribute a where a.attrelid = c.oid
                             and a.attname = 'tenant_id' and not a.attisdropped)
                    or c.relname = 'tenants')
            """
        )
    ).all()
    assert rows, "no tenant tables found"
    unprotected = [r.relname for r in rows if not (r.relrowsecurity and r.relforcerowsecurity)]
    assert not unprotected, f"tables without ENABLE + FORCE ROW LEVEL SECURITY: {unprotected}"
    declared_tables = {table for table, _ in declared_policies()}
    undeclared = sorted({r.relname for r in rows} - declared_tables)
    assert not undeclared, f"tenant tables with no policy in policies/: {undeclared}"


def test_deployed_policies_match_policies_dir(owner) -> None:  # type: ignore[no-untyped-def]
    """Re-create each declared policy under a scratch name and compare what PostgreSQL stores."""
    deployed = {
        (r.tablename, r.policyname): (r.cmd, r.qual, r.with_check, tuple(r.roles))
        for r in owner.execute(text("select * from pg_policies where schemaname = 'public'"))
    }
    declared = declared_policies()
    assert set(deployed) == set(declared), "pg_policies and policies/ name different policies"
    owner.rollback()
    try:
        for (table, name), body in declared.items():
            # One scratch name per declared policy: a table may carry several (the shared catalogue).
            scratch = f"zz_expected_{name}"
            owner.execute(text(f"CREATE POLICY {scratch} ON {table} {body}"))
            expected = owner.execute(
                text("select cmd, qual, with_check, roles from pg_policies where tablename = :t and policyname = :p"),
                {"t": table, "p": scratch},
            ).one()
            assert deployed[(table, name)] == (
                expected.cmd,
                expected.qual,
                expected.with_check,
                tuple(expected.roles),
            ), f"policy {name} on {table} drifted from policies/"
    finally:
        owner.rollback()


def test_app_role_owns_nothing_and_cannot_bypass_rls(owner) -> None:  # type: ignore[no-untyped-def]
    role = owner.execute(
        text("select rolsuper, rolbypassrls, rolcreaterole, rolcreatedb from pg_roles where rolname = 'lms_app'")
    ).one()
    assert not any(role), "lms_app must not be superuser, bypass RLS, create roles or databases"
    owned = (
        owner.execute(
            text("select c.relname from pg_class c join pg_roles r on r.oid = c.relowner where r.rolname = 'lms_app'")
        )
        .scalars()
        .all()
    )
    assert owned == []
    functions = (
        owner.execute(
            text("select p.proname from pg_proc p join pg_roles r on r.oid = p.proowner where r.rolname = 'lms_app'")
        )
        .scalars()
        .all()
    )
    assert functions == []


def test_app_role_cannot_reach_platform_tables(owner) -> None:  # type: ignore[no-untyped-def]
    for table in ("operators", "operator_audit_log"):
        allowed = owner.execute(text("select has_table_privilege('lms_app', :t, 'SELECT')"), {"t": table}).scalar()
        assert allowed is False, f"lms_app can read {table}"
    can_write_tenants = owner.execute(text("select has_table_privilege('lms_app', 'tenants', 'UPDATE')")).scalar()
    assert can_write_tenants is False


def test_security_definer_functions_are_only_the_reviewed_ones(owner) -> None:  # type: ignore[no-untyped-def]
    definers = (
        owner.execute(
            text(
                "select n.nspname || '.' || p.proname from pg_proc p join pg_namespace n on n.oid = p.pronamespace "
                "where p.prosecdef and n.nspname not in ('pg_catalog', 'information_schema')"
            )
        )
        .scalars()
        .all()
    )
    # resolve_tenant: tests/rls/test_resolve_function.py; recently_revoked_users:
    # tests/integration/identity/signin/test_token_revocation.py; recently_revoked_sessions:
    # tests/integration/identity/signin/test_session_revocation.py
    assert sorted(definers) == ["app.recently_revoked_sessions", "app.recently_revoked_users", "app.resolve_tenant"]
