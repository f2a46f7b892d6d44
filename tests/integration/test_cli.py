"""The `lms` command an operator reaches for: version and help, role and plan choices checked before
anything runs, tenants listed and created, users listed, and migrations that show their progress."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

from click.testing import CliRunner, Result

from lms.cli import PLANS, ROLES, TENANT_STATUSES, main
from lms.config import PROJECT_ROOT, Settings, get_settings
from lms.identity.models import Role
from lms.tenancy.models import Plan, TenantStatus
from tests.conftest import MakeTenant, MakeUser


def environment(settings: Settings) -> dict[str, str]:
    return {
        "DATABASE_URL": settings.database_url or "",
        "REDIS_URL": settings.redis_url or "",
        "DATABASE_ROLE_PASSWORD": settings.database_role_password,
        "PUBLIC_BASE_DOMAIN": settings.public_base_domain,
        "LMS_DATA_DIR": str(settings.data_dir),
    }


def lms(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    """`python -m lms ...` as an operator runs it: its own process, the settings from its environment."""
    return subprocess.run(
        [sys.executable, "-m", "lms", *args],
        cwd=PROJECT_ROOT,
        env={**os.environ, **environment(settings)},
        capture_output=True,
        text=True,
        timeout=120,
    )


def lms_here(settings: Settings, *args: str) -> Result:
    """The same command in this process (click's runner; the environment is restored afterwards): the
    command's own behaviour without another interpreter start-up of several seconds."""
    get_settings.cache_clear()  # the command reads its settings from this environment, as a new process would
    try:
        return CliRunner().invoke(main, list(args), env=environment(settings))
    finally:
        get_settings.cache_clear()  # and the tests' own environment again afterwards


def test_version_and_short_help() -> None:
    runner = CliRunner()
    version = runner.invoke(main, ["--version"])
    short_help = runner.invoke(main, ["tenants", "-h"])
    assert version.exit_code == 0
    assert version.output.startswith("lms ")
    assert short_help.exit_code == 0
    assert "list" in short_help.output
    assert "create" in short_help.output


def test_choices_match_the_platform_and_bad_ones_stop_before_anything_runs() -> None:
    assert set(ROLES) == {r.value for r in Role}
    assert set(PLANS) == {p.value for p in Plan}
    assert set(TENANT_STATUSES) == {s.value for s in TenantStatus}
    runner = CliRunner()
    bad_role = runner.invoke(
        main, ["users", "invite", "--tenant", "x", "--email", "a@b.c", "--name", "A", "--role", "boss"]
    )
    bad_plan = runner.invoke(main, ["tenants", "create", "--slug", "x", "--name", "X", "--plan", "gold"])
    assert bad_role.exit_code == 2
    assert "'boss' is not one of" in bad_role.output
    assert bad_plan.exit_code == 2
    assert "'gold' is not one of" in bad_plan.output


def test_create_and_list_tenants_and_list_users(
    settings: Settings, make_tenant: MakeTenant, make_user: MakeUser
) -> None:
    slug = f"cli-{uuid.uuid4().hex[:6]}"
    created = lms(
        settings,
        "tenants",
        "create",
        "--slug",
        slug,
        "--name",
        "Cli Corp",
        "--plan",
        "team",
        "--seats",
        "5",
        "--admin-email",
        "boss@cli.example",
    )
    assert created.returncode == 0, created.stderr
    assert f"created {slug}" in created.stdout
    assert f"{slug}.{settings.public_base_domain}" in created.stdout  # the invitation link
    again = lms_here(settings, "tenants", "create", "--slug", slug, "--name", "Again")
    assert again.exit_code == 1
    assert "already exists" in again.stderr

    listed = lms_here(settings, "tenants", "list", "--status", "active")
    line = next(row for row in listed.stdout.splitlines() if row.startswith(slug))
    assert line.split()[:4] == [slug, "active", "team", "1/5"]

    users = lms_here(settings, "users", "list", "--tenant", slug, "--role", "tenant_admin")
    assert users.exit_code == 0, users.stderr
    assert "boss@cli.example" in users.stdout
    assert "invited" in users.stdout
    missing = lms_here(settings, "users", "list", "--tenant", "no-such-tenant")
    assert missing.exit_code == 2


def test_migrate_prints_progress(settings: Settings) -> None:
    # Already at head: it says so and applies nothing; the count is printed before Alembic runs.
    done = lms_here(settings, "migrate")
    assert done.exit_code == 0, done.stderr
    assert "checking the schema" in done.stderr or "revisions to apply" in done.stderr
    assert "migrated to heads" in done.stdout
