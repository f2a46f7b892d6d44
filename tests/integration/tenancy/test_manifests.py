"""Tenants as code: manifests apply idempotently, and an invalid one stops everything."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import tracemalloc
import uuid
from pathlib import Path

import pytest
from sqlalchemy import func, select

from lms.config import Settings
from lms.db.engines import Database
from lms.tenancy.models import OperatorAuditEntry, Tenant, TenantDomain, TenantStatus
from lms.tenancy.services.manifests import InvalidManifests, apply_manifests, load_manifests
from tests.support import TEST_BASE_DOMAIN

MANIFEST = """\
slug: {slug}
name: {name}
plan: business
seats: 250
domains:
  - hostname: learn.{slug}.example.com
    primary: true
    verified: true
branding:
  primary_color: "#0b5fff"
sso:
  required: false
"""


def write(directory: Path, slug: str, name: str = "Acme Corp", text: str | None = None) -> Path:
    path = directory / f"{slug}.yaml"
    path.write_text(text if text is not None else MANIFEST.format(slug=slug, name=name))
    return path


async def apply(db: Database, directory: Path, dry_run: bool = False) -> list[str]:
    loaded = load_manifests(directory, TEST_BASE_DOMAIN)
    async with db.operator_sessions() as session:
        plan = await apply_manifests(session, loaded, TEST_BASE_DOMAIN, dry_run)
        await (session.rollback() if dry_run else session.commit())
    return plan.changes


async def tenant_by_slug(db: Database, slug: str) -> Tenant | None:
    async with db.operator_sessions() as session:
        return (await session.execute(select(Tenant).where(Tenant.slug == slug))).scalar_one_or_none()


def unique_slug() -> str:
    return f"m-{uuid.uuid4().hex[:8]}"


async def test_apply_creates_then_applying_again_changes_nothing(db: Database, tmp_path: Path) -> None:
    slug = unique_slug()
    write(tmp_path, slug)
    first = await apply(db, tmp_path)
    assert first[0].startswith(f"+ tenant {slug}: create")
    assert f"+ domain learn.{slug}.example.com ({slug})" in first

    second = await apply(db, tmp_path)
    assert second == []

    tenant = await tenant_by_slug(db, slug)
    assert tenant is not None
    assert (tenant.name, tenant.seats, tenant.branding) == ("Acme Corp", 250, {"primary_color": "#0b5fff"})
    async with db.operator_sessions() as session:
        domain = (await session.execute(select(TenantDomain).where(TenantDomain.tenant_id == tenant.id))).scalar_one()
        audited = (
            await session.execute(
                select(func.count()).where(
                    OperatorAuditEntry.target_tenant_id == tenant.id,
                    OperatorAuditEntry.actor == f"manifest:{slug}.yaml",
                )
            )
        ).scalar_one()
    assert domain.verified
    assert domain.is_primary
    assert audited >= 2


async def test_changes_are_shown_and_dry_run_writes_nothing(db: Database, tmp_path: Path) -> None:
    slug = unique_slug()
    write(tmp_path, slug)
    await apply(db, tmp_path)
    text = MANIFEST.format(slug=slug, name="Acme Corporation").replace("seats: 250", "seats: 300")
    text = text.replace("domains:\n  - hostname: learn", "status: suspended\ndomains:\n  - hostname: academy")
    write(tmp_path, slug, text=text)

    planned = await apply(db, tmp_path, dry_run=True)
    assert f"~ tenant {slug}: name 'Acme Corp' -> 'Acme Corporation'" in planned
    assert f"~ tenant {slug}: seats 250 -> 300" in planned
    assert f"~ tenant {slug}: status active -> suspended" in planned
    assert f"- domain learn.{slug}.example.com ({slug})" in planned
    assert f"+ domain academy.{slug}.example.com ({slug})" in planned
    unchanged = await tenant_by_slug(db, slug)
    assert unchanged is not None
    assert unchanged.name == "Acme Corp"

    assert await apply(db, tmp_path) == planned
    changed = await tenant_by_slug(db, slug)
    assert changed is not None
    assert (changed.name, changed.seats, changed.status) == ("Acme Corporation", 300, TenantStatus.SUSPENDED)


@pytest.mark.parametrize(
    ("text", "line", "field", "message"),
    [
        ("slug: {slug}\nname: X\nseats: many\n", 3, "seats", "Expected `int`"),
        ("slug: {slug}\nname: X\nbranding:\n  primary_color: red\n", 4, "branding.primary_color", "matching regex"),
        ("slug: {slug}\nname: X\ncolour: blue\n", 3, "colour", "unknown field"),
        ("slug: {slug}\nplan: business\n", 1, "name", "missing required field"),
        (
            "slug: {slug}\nname: X\ndomains:\n  - hostname: a.example.com\n  - hostname: Bad Host\n",
            5,
            "domains[1].hostname",
            "matching regex",
        ),
        ("slug: {slug}\nname: X\nplan: platinum\n", 3, "plan", "Invalid enum value"),
        ("slug: other\nname: X\n", 1, "slug", "must match the file name"),
        ("slug: {slug}\nname: [unclosed\n", 3, "(yaml)", ""),
    ],
)
async def test_invalid_manifest_names_file_line_and_field_and_applies_nothing(
    db: Database, tmp_path: Path, text: str, line: int, field: str, message: str
) -> None:
    good = unique_slug()
    write(tmp_path, good)
    bad = unique_slug()
    bad_path = write(tmp_path, bad, text=text.format(slug=bad))

    with pytest.raises(InvalidManifests) as caught:
        await apply(db, tmp_path)

    problem = caught.value.problems[0]
    assert problem.file == bad_path
    assert (problem.line, problem.field) == (line, field)
    assert message in problem.message
    assert await tenant_by_slug(db, good) is None  # the valid manifest beside it was not applied either


async def test_same_hostname_in_two_manifests_is_rejected(db: Database, tmp_path: Path) -> None:
    first, second = unique_slug(), unique_slug()
    write(tmp_path, first)
    write(tmp_path, second, text=MANIFEST.format(slug=second, name="B").replace(f"learn.{second}", f"learn.{first}"))
    with pytest.raises(InvalidManifests, match="also declared in"):
        await apply(db, tmp_path)


def test_shipped_demo_manifest_is_valid() -> None:
    from lms.config import PROJECT_ROOT

    loaded = load_manifests(PROJECT_ROOT / "tenants", "localhost")
    assert [m.manifest.slug for m in loaded] == ["demo"]


ALIAS_BOMB = "slug: {slug}\nname: X\nbranding:\n  a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"  {chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 9)}]\n" for i in range(8)
)


@pytest.mark.parametrize(
    ("content", "line", "field", "message"),
    [
        (b'slug: {slug}\nname: "Acme\\0 Corp"\n', 2, "name", "NUL"),
        (b'slug: {slug}\nbranding:\n  bad\\0key: 1\nname: "x\\ud800"\n', 4, "name", "UTF-8"),
        (b"slug: {slug}\nname: Acme\x00 Corp\n", 2, "(yaml)", "#x0000"),
        (b"slug: {slug}\nname: Acme\n\nseats: 1 \xff\n", 4, "(file)", "not valid UTF-8"),
        (b"slug: {slug}\nname: x\nbranding: " + b"[" * 10_000 + b"]" * 10_000 + b"\n", 3, "(yaml)", "nested deeper"),
        (ALIAS_BOMB.encode(), 5, "(yaml)", "aliases (*a) are not allowed"),
        (b"slug: {slug}\n" + b"# padding\n" * 30_000, 1, "(file)", "larger than"),
    ],
    ids=["nul-escape", "lone-surrogate", "raw-nul", "invalid-utf8", "deep-nesting", "alias-bomb", "oversized"],
)
def test_hostile_manifests_end_quickly_with_file_line_and_message(
    tmp_path: Path, content: bytes, line: int, field: str, message: str
) -> None:
    slug = unique_slug()
    path = tmp_path / f"{slug}.yaml"
    path.write_bytes(content.replace(b"{slug}", slug.encode()))
    started = time.perf_counter()
    with pytest.raises(InvalidManifests) as caught:
        load_manifests(tmp_path, TEST_BASE_DOMAIN)
    elapsed = time.perf_counter() - started
    problem = caught.value.problems[0]
    assert (problem.file, problem.line, problem.field) == (path, line, field), str(problem)
    assert message in problem.message
    assert str(problem).startswith(f"{path}:{line}: ")
    assert elapsed < 3.0
    tracemalloc.start()  # once more, measuring memory (tracing slows it down several times)
    with pytest.raises(InvalidManifests):
        load_manifests(tmp_path, TEST_BASE_DOMAIN)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 32 * 1024 * 1024


def test_cli_refuses_an_alias_bomb_on_dry_run_with_file_and_line(tmp_path: Path, settings: Settings) -> None:
    slug = unique_slug()
    path = tmp_path / f"{slug}.yaml"
    path.write_text(ALIAS_BOMB.format(slug=slug))
    env = {**os.environ, "DATABASE_URL": settings.database_url or "", "REDIS_URL": settings.redis_url or ""}
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "lms", "tenants", "apply", str(tmp_path), "--dry-run"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    assert f"error: {path}:5: (yaml): aliases (*a) are not allowed in manifests" in result.stderr
    assert "Traceback" not in result.stderr
    assert time.perf_counter() - started < 30
