"""Bulk user import: a 100,000-row CSV (with groups and managers) into a tenant that already has
50,000 users, from upload to committed, through the import service (COPY into a staging table and
set-based upserts under RLS as `lms_app`). Baseline in the same run: a bare COPY of the same rows
into the users table as the owner (no parsing, no checks, no RLS).

Run: `.venv/bin/python bench/user_import.py [--rows 100000] [--existing 50000]`. With DATABASE_URL set
it uses that server; without it, an embedded PostgreSQL. The database it creates is dropped at the end.
The import runs in a child process so that its peak memory (max RSS) is the import's alone
(BENCH_CHILD_PREFIX, e.g. "py-spy record -o import.svg --", runs it under a profiler).
Targets: < 5 s end to end, >= 0.3x the bare COPY rate, peak memory < 300 MB. Exit status 0 when met.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg
import uuid_utils
from sqlalchemy import event

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.support import bench_settings
from lms.config import Settings, with_credentials
from lms.db.migrate import migrate

CHILD_PREFIX: list[str] = [a for a in os.environ.get("BENCH_CHILD_PREFIX", "").split() if a]
TARGET_SECONDS = 5.0
TARGET_RATIO = 0.3
TARGET_MB = 300
USER_COLUMNS = (
    "id",
    "tenant_id",
    "email",
    "display_name",
    "status",
    "roles",
    "groups",
    "external_id",
    "manager_id",
    "mfa_enabled",
    "created_at",
    "updated_at",
)


def uuid7() -> UUID:
    return UUID(str(uuid_utils.uuid7()))


def write_csv(path: Path, rows: int, existing: int) -> None:
    """Half of the file's people already exist (matched by external id, some with a new name), half are
    new; each has a department group and a manager (one of the first 500 people of the file)."""
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["email", "name", "employee id", "department", "manager", "role"])
        for i in range(rows):
            n = i if i < existing // 2 else existing + i
            name = f"Person {n}" if i % 10 else f"Person {n} (renamed)"
            manager = f"person{(i % 500)}@corp.example" if i >= 500 else ""
            writer.writerow([f"person{n}@corp.example", name, f"E{n:07d}", f"Dept {i % 40}", manager, "learner"])


async def seed(owner_url: str, tenant_id: UUID, existing: int) -> UUID:
    """The tenant's existing users (COPY as owner) and the admin who imports."""
    conn = await asyncpg.connect(owner_url)
    try:
        now = datetime.now(UTC)
        admin = uuid7()
        records: list[tuple[Any, ...]] = [
            (
                admin,
                tenant_id,
                "admin@corp.example",
                "Admin",
                "active",
                ["tenant_admin"],
                [],
                None,
                None,
                False,
                now,
                now,
            )
        ]
        for n in range(existing):
            records.append(
                (
                    uuid7(),
                    tenant_id,
                    f"person{n}@corp.example",
                    f"Person {n}",
                    "active",
                    ["learner"],
                    [f"Dept {n % 40}"],
                    f"E{n:07d}",
                    None,
                    False,
                    now,
                    now,
                )
            )
        await conn.copy_records_to_table("users", records=records, columns=list(USER_COLUMNS))
        await conn.execute("analyze users")
        return admin
    finally:
        await conn.close()


async def bare_copy(owner_url: str, tenant_id: UUID, path: Path) -> float:
    """Seconds to COPY the file's rows (already parsed into tuples) into users for an empty tenant."""
    now = datetime.now(UTC)
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        next(reader)
        records = [
            (uuid7(), tenant_id, email, name, "active", [role], [dept], ext, None, False, now, now)
            for email, name, ext, dept, _manager, role in reader
        ]
    conn = await asyncpg.connect(owner_url)
    try:
        started = time.perf_counter()
        await conn.copy_records_to_table("users", records=records, columns=list(USER_COLUMNS))
        return time.perf_counter() - started
    finally:
        await conn.close()


async def make_tenant(settings: Settings, slug: str) -> UUID:
    from lms.db.engines import create_database
    from lms.tenancy.services import Actor, TenantAdmin

    db = create_database(settings)
    try:
        async with db.operator_sessions() as session, session.begin():
            tenant = await TenantAdmin(session, Actor(name="bench"), settings.public_base_domain).create(slug, slug)
            return tenant.id
    finally:
        await db.dispose()


async def run_import(
    settings: Settings, tenant_id: UUID, admin_id: UUID, path: Path, storage_dir: Path
) -> dict[str, Any]:
    """Upload, then apply, each committed: what an admin's upload and "Import now" do."""
    from lms.db.binding import tenant_session
    from lms.db.engines import create_database
    from lms.lib.storage import LocalStorage
    from lms.organisation.models import ImportStatus
    from lms.organisation.services.imports import UserImports

    db = create_database(settings)
    storage = LocalStorage(storage_dir)
    size = os.path.getsize(path)  # noqa: ASYNC240 (before the clock starts)
    backends: set[int] = set()

    def remember_backend(_dbapi_connection: Any, record: Any) -> None:
        backends.add(record.driver_connection.get_server_pid())

    event.listen(db.app_engine.sync_engine, "connect", remember_backend)
    try:
        started, cpu_started = time.perf_counter(), time.process_time()
        async with tenant_session(db.app_sessions, tenant_id) as session:
            imports = UserImports(session, tenant_id, settings, storage)
            with path.open("rb") as f:
                record = await imports.upload(path.name, f, size, admin_id)
            import_id = record.id
        uploaded = time.perf_counter()
        async with tenant_session(db.app_sessions, tenant_id) as session:
            imports = UserImports(session, tenant_id, settings, storage)
            record = await imports.get(import_id)
            # The preview (same statements, rolled back) is measured on its own before; this is the apply.
            record.status = ImportStatus.APPLYING.value
            await imports.run(record, admin_id)
            result, status, errors = dict(record.result), record.status, record.error_count
        committed = time.perf_counter()
        return {
            "upload_s": uploaded - started,
            "apply_s": committed - uploaded,
            "total_s": committed - started,
            "cpu_s": time.process_time() - cpu_started,
            "backend_cpu_s": backend_cpu_seconds(backends),
            "result": result,
            "status": status,
            "errors": errors,
        }
    finally:
        await db.dispose()


def backend_cpu_seconds(pids: set[int]) -> float | None:
    """CPU seconds the import's PostgreSQL backends used so far (None when the server is not local)."""
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


async def run_preview(settings: Settings, tenant_id: UUID, admin_id: UUID, path: Path, storage_dir: Path) -> float:
    from lms.db.binding import tenant_session
    from lms.db.engines import create_database
    from lms.lib.storage import LocalStorage
    from lms.organisation.models import ImportStatus
    from lms.organisation.services.imports import UserImports

    db = create_database(settings)
    storage = LocalStorage(storage_dir)
    size = os.path.getsize(path)  # noqa: ASYNC240 (before the clock starts)
    try:
        async with tenant_session(db.app_sessions, tenant_id) as session:
            imports = UserImports(session, tenant_id, settings, storage)
            with path.open("rb") as f:
                record = await imports.upload(path.name, f, size, admin_id)
            started = time.perf_counter()
            record.status = ImportStatus.PREVIEWING.value
            await imports.run(record, admin_id)
            return time.perf_counter() - started
    finally:
        await db.dispose()


def child(args: argparse.Namespace) -> int:
    from celery import Celery

    from lms.lib.jobs import redirect_jobs

    settings = replace(Settings.from_env(), database_url=args.database_url)
    if not settings.redis_url:
        # No worker runs here: the jobs an applied import sends with its commit (the compliance sync)
        # are sent, and so counted, but to an in-memory broker.
        redirect_jobs(Celery("bench", broker="memory://"))
    work = Path(args.work)
    outcome = asyncio.run(
        run_import(settings, UUID(args.tenant), UUID(args.admin), work / "people.csv", work / "storage")
    )
    outcome["max_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(outcome))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--existing", type=int, default=50_000)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--database-url", help=argparse.SUPPRESS)
    parser.add_argument("--tenant", help=argparse.SUPPRESS)
    parser.add_argument("--admin", help=argparse.SUPPRESS)
    parser.add_argument("--work", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(args)

    with bench_settings("lms_bench_import", needs_redis=False) as settings, tempfile.TemporaryDirectory() as tmp:
        assert settings.database_url
        migrate(settings)
        owner_url = with_credentials(settings.database_url, "lms_owner", settings.database_role_password)
        work = Path(tmp)
        path = work / "people.csv"
        write_csv(path, args.rows, args.existing)
        size_mb = path.stat().st_size / 1e6
        tenant_id = asyncio.run(make_tenant(settings, "bench-import"))
        admin_id = asyncio.run(seed(owner_url, tenant_id, args.existing))
        preview_s = asyncio.run(run_preview(settings, tenant_id, admin_id, path, work / "storage"))
        load_before = os.getloadavg()[0]
        answer = subprocess.run(
            [
                *CHILD_PREFIX,
                sys.executable,
                __file__,
                "--child",
                "--database-url",
                settings.database_url,
                "--tenant",
                str(tenant_id),
                "--admin",
                str(admin_id),
                "--work",
                str(work),
            ],
            check=True,
            stdout=subprocess.PIPE,
            text=True,
        )
        outcome = json.loads(answer.stdout.strip().splitlines()[-1])
        load_after = os.getloadavg()[0]
        baseline_tenant = asyncio.run(make_tenant(settings, "bench-copy"))
        copy_s = asyncio.run(bare_copy(owner_url, baseline_tenant, path))

    rows = args.rows
    import_rate = rows / outcome["total_s"]
    copy_rate = rows / copy_s
    ratio = import_rate / copy_rate
    print(f"file: {rows:,} rows ({size_mb:.1f} MB) into a tenant with {args.existing:,} users")
    print(f"outcome: {outcome['status']}, {outcome['result']}, {outcome['errors']} row problems")
    print(f"preview (dry run, rolled back): {preview_s:.2f} s")
    print(
        f"import, upload to committed:   {outcome['total_s']:.2f} s (upload {outcome['upload_s']:.2f} s, "
        f"apply {outcome['apply_s']:.2f} s) = {import_rate:,.0f} rows/s"
    )
    print(f"bare COPY of the same rows:     {copy_s:.2f} s = {copy_rate:,.0f} rows/s")
    print(f"ratio import/COPY: {ratio:.2f} (target >= {TARGET_RATIO})")
    print(f"peak memory of the import process: {outcome['max_rss_mb']:.0f} MB (target < {TARGET_MB} MB)")
    backend_cpu = "n/a" if outcome["backend_cpu_s"] is None else f"{outcome['backend_cpu_s']:.2f} s"
    print(f"CPU used by the import: its process {outcome['cpu_s']:.2f} s, its PostgreSQL backends {backend_cpu}")
    print(f"machine load average around the import: {load_before:.1f} -> {load_after:.1f} on {os.cpu_count()} cores")
    met = outcome["total_s"] < TARGET_SECONDS and ratio >= TARGET_RATIO and outcome["max_rss_mb"] < TARGET_MB
    print("targets met" if met else "targets NOT met")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
