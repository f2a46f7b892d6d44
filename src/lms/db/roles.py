"""The three database roles and the privileges the platform relies on.

`lms_owner` owns the schema and runs migrations; `lms_app` serves requests (owns nothing, no
BYPASSRLS); `lms_operator` is the audited platform-wide path (reads every tenant, writes only the
platform tables).
"""

from __future__ import annotations

from sqlalchemy import Connection, text

ROLES = {
    # BYPASSRLS for the owner: data migrations must reach every tenant's rows.
    "lms_owner": "NOSUPERUSER NOCREATEDB NOCREATEROLE BYPASSRLS",
    "lms_app": "NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS NOINHERIT",
    "lms_operator": "NOSUPERUSER NOCREATEDB NOCREATEROLE BYPASSRLS NOINHERIT",
}


def ensure_roles(conn: Connection, database: str, password: str) -> None:
    """Create or correct the roles; idempotent. Runs on the administrative connection."""
    # Roles are cluster-wide: two migrations of this database at once must not race here. (The lock is
    # per database: migrations of two databases on one server can still race; `migrate` retries.)
    conn.execute(text("select pg_advisory_xact_lock(hashtext('lms.ensure_roles'))"))
    for role, attributes in ROLES.items():
        exists = conn.execute(text("select 1 from pg_roles where rolname = :r"), {"r": role}).scalar()
        verb = "ALTER" if exists else "CREATE"
        literal = password.replace("'", "''")  # DDL takes no bind parameters
        conn.execute(text(f"{verb} ROLE {role} LOGIN {attributes} PASSWORD '{literal}'"))
    is_superuser = conn.execute(text("select rolsuper from pg_roles where rolname = current_user")).scalar()
    if not is_superuser:
        conn.execute(text("GRANT lms_owner TO current_user"))
    quoted_db = conn.dialect.identifier_preparer.quote(database)
    conn.execute(text(f"GRANT CONNECT, CREATE ON DATABASE {quoted_db} TO lms_owner"))
    conn.execute(text(f"GRANT CONNECT ON DATABASE {quoted_db} TO lms_app, lms_operator"))
    conn.execute(text("GRANT USAGE, CREATE ON SCHEMA public TO lms_owner"))
    conn.execute(text("GRANT USAGE ON SCHEMA public TO lms_app, lms_operator"))
