"""The `lms` command: serve, api, worker, migrate, tenants, operators, users, keys, demo."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import click

from lms.config import Settings, get_settings
from lms.runtime.embedded import EmbeddedServices, start_embedded

WORKER_SHUTDOWN_SECONDS = 30
API_SHUTDOWN_SECONDS = 25


@contextmanager
def runtime(settings: Settings | None = None) -> Iterator[Settings]:
    """Settings with every URL filled in: from the environment, or from embedded services."""
    settings = settings or get_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    services = EmbeddedServices()
    if not (settings.database_url or settings.database_app_url) or not settings.redis_url:
        settings, services = start_embedded(settings)
        click.echo(f"embedded services under {settings.data_dir.resolve()}", err=True)
    # Child processes (the worker) and get_settings() callers see the same URLs.
    if settings.database_url:
        os.environ["DATABASE_URL"] = settings.database_url
    os.environ["REDIS_URL"] = settings.redis_url or ""
    get_settings.cache_clear()
    try:
        yield settings
    finally:
        services.stop()


# The roles a user may hold (lms.identity's Role; a test keeps them equal): checked before anything runs.
ROLES = ("learner", "instructor", "tenant_admin")
PLANS = ("trial", "team", "business", "enterprise")
TENANT_STATUSES = ("active", "suspended", "deleted")


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("lms")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "unknown"


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(_version(), "--version", "-V", prog_name="lms", message="%(prog)s %(version)s")
def main() -> None:
    """Multi-tenant learning platform."""


class _MigrationProgress:
    """Prints `[k/N] revision: message` as Alembic applies each revision (stderr, one line each)."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.done = 0

    def __enter__(self) -> _MigrationProgress:
        import logging

        self.handler = logging.Handler()
        self.handler.emit = self._emit  # type: ignore[method-assign]
        self.logger = logging.getLogger("alembic.runtime.migration")
        self.previous = self.logger.level
        self.logger.setLevel(logging.INFO)
        self.logger.addHandler(self.handler)
        return self

    def _emit(self, record: Any) -> None:
        message = record.getMessage()
        if message.startswith(("Running upgrade", "Running downgrade")):
            self.done += 1
            total = max(self.total, self.done)
            click.echo(f"[{self.done}/{total}] {message.removeprefix('Running ')}", err=True)

    def __exit__(self, *_: object) -> None:
        self.logger.removeHandler(self.handler)
        self.logger.setLevel(self.previous)


def _pending_revisions(settings: Settings) -> int:
    """How many revisions `upgrade heads` will apply (0 when the count cannot be known)."""
    try:
        from alembic.runtime.migration import MigrationContext
        from alembic.script import ScriptDirectory
        from sqlalchemy import create_engine, pool

        from lms.config import sync_url
        from lms.db.migrate import alembic_config

        url = settings.database_url or ""
        script = ScriptDirectory.from_config(alembic_config(url))
        engine = create_engine(sync_url(url), poolclass=pool.NullPool)
        try:
            with engine.connect() as connection:
                current = set(MigrationContext.configure(connection).get_current_heads())
        finally:
            engine.dispose()
        applied: set[str] = set()
        for head in current:
            applied |= {rev.revision for rev in script.iterate_revisions(head, "base")}
        return len([rev for rev in script.walk_revisions() if rev.revision not in applied])
    except Exception:
        return 0


@main.command()
@click.option("--revision", default="heads", show_default=True, help="Target revision.")
@click.option("--downgrade", "down", default=None, help="Downgrade to this revision instead (e.g. base).")
def migrate(revision: str, down: str | None) -> None:
    """Create the database roles and migrate the schema (as lms_owner)."""
    from lms.db.migrate import downgrade
    from lms.db.migrate import migrate as run_migrate

    with runtime() as settings:
        if down:
            with _MigrationProgress(0):
                downgrade(settings, down)
            click.echo(f"downgraded to {down}")
        else:
            pending = _pending_revisions(settings)
            click.echo(f"{pending} revisions to apply" if pending else "checking the schema", err=True)
            with _MigrationProgress(pending):
                run_migrate(settings, revision)
            click.echo(f"migrated to {revision}")


@main.group()
def tenants() -> None:
    """Tenants as code."""


@tenants.command("apply")
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Show what would change and change nothing.")
def tenants_apply(directory: Path, dry_run: bool) -> None:
    """Apply tenants/<slug>.yaml manifests idempotently, printing the diff."""
    from lms.tenancy.services.manifests import InvalidManifests

    with runtime() as settings:
        try:
            changes = asyncio.run(_apply_tenants(settings, directory, dry_run))
        except InvalidManifests as exc:
            for problem in exc.problems:
                click.echo(f"error: {problem}", err=True)
            click.echo("nothing was applied", err=True)
            sys.exit(2)
    for line in changes or ["no changes"]:
        click.echo(line)
    if dry_run and changes:
        click.echo("(dry run: nothing was applied)")


@tenants.command("list")
@click.option("--status", type=click.Choice(TENANT_STATUSES), default=None, help="Only tenants with this status.")
def tenants_list(status: str | None) -> None:
    """List tenants: slug, status, plan, seats used / seats, name."""
    with runtime() as settings:
        rows = asyncio.run(_list_tenants(settings, status))
    if not rows:
        click.echo("no tenants")
        return
    click.echo(f"{'SLUG':<24} {'STATUS':<10} {'PLAN':<11} {'SEATS':>13}  NAME")
    for tenant in rows:
        seats = f"{tenant.usage.get('users', 0)}/{tenant.seats}"
        click.echo(f"{tenant.slug:<24} {tenant.status.value:<10} {tenant.plan.value:<11} {seats:>13}  {tenant.name}")


async def _list_tenants(settings: Settings, status: str | None) -> list[Any]:
    import lms.models  # noqa: F401 - every domain's tables, so that usage counts see them all
    from lms.db.engines import create_database
    from lms.tenancy.models import TenantStatus
    from lms.tenancy.services import Actor, TenantAdmin

    db = create_database(settings)
    try:
        async with db.operator_sessions() as session:
            admin = TenantAdmin(session, Actor(name="cli"), settings.public_base_domain)
            found: list[Any] = []
            offset, total = 0, 1
            while offset < total:
                items, total = await admin.list_tenants(TenantStatus(status) if status else None, 200, offset)
                found += items
                offset += 200
            return found
    finally:
        await db.dispose()


@tenants.command("create")
@click.option("--slug", required=True, help="Lower-case letters, digits and hyphens; the site is <slug>.<domain>.")
@click.option("--name", required=True)
@click.option("--plan", type=click.Choice(PLANS), default="trial", show_default=True)
@click.option("--seats", type=click.IntRange(0, 1_000_000), default=0, show_default=True)
@click.option("--admin-email", default=None, help="Invite this person as the tenant's first tenant_admin.")
def tenants_create(slug: str, name: str, plan: str, seats: int, admin_email: str | None) -> None:
    """Create a tenant (audited as `cli`); with --admin-email, print its first admin's invitation link."""
    with runtime() as settings:
        link = asyncio.run(_create_tenant(settings, slug, name, plan, seats, admin_email))
    click.echo(f"created {slug}")
    if link:
        click.echo(link)


async def _create_tenant(
    settings: Settings, slug: str, name: str, plan: str, seats: int, admin_email: str | None
) -> str | None:
    import msgspec

    # The services package first: tenancy.schemas and tenancy.services import each other.
    import lms.tenancy.services
    from lms.db.engines import create_database
    from lms.lib.errors import DomainError
    from lms.tenancy.schemas import TenantCreate

    Actor, TenantAdmin = lms.tenancy.services.Actor, lms.tenancy.services.TenantAdmin

    try:
        data = msgspec.convert({"slug": slug, "name": name, "plan": plan, "seats": seats}, TenantCreate)
    except msgspec.ValidationError as exc:
        raise click.BadParameter(str(exc)) from exc
    if admin_email is not None and "@" not in admin_email:
        raise click.BadParameter("an e-mail address such as name@example.com", param_hint="--admin-email")
    db = create_database(settings)
    try:
        async with db.operator_sessions() as session:
            admin = TenantAdmin(session, Actor(name="cli"), settings.public_base_domain)
            try:
                await admin.create(data.slug, data.name, data.plan, data.seats, data.branding)
            except DomainError as exc:
                raise click.ClickException(exc.message) from exc
            await session.commit()
    finally:
        await db.dispose()
    if admin_email is None:
        return None
    return await _invite_user(settings, slug, admin_email, admin_email.split("@")[0], ["tenant_admin"])


async def _apply_tenants(settings: Settings, directory: Path, dry_run: bool) -> list[str]:
    from lms.db.engines import create_database
    from lms.tenancy.services.manifests import apply_manifests, load_manifests

    loaded = load_manifests(directory, settings.public_base_domain)
    db = create_database(settings)
    try:
        async with db.operator_sessions() as session:
            plan = await apply_manifests(session, loaded, settings.public_base_domain, dry_run)
            if dry_run:
                await session.rollback()
            else:
                await session.commit()
        return plan.changes
    finally:
        await db.dispose()


@main.group()
def operators() -> None:
    """Platform operator accounts."""


@operators.command("create")
@click.option("--email", required=True)
@click.option("--name", required=True)
def operators_create(email: str, name: str) -> None:
    """Create an operator and print its API token (shown once)."""
    with runtime() as settings:
        token = asyncio.run(_create_operator(settings, email, name))
    click.echo(token)


async def _create_operator(settings: Settings, email: str, name: str, rotate: bool = False) -> str:
    from lms.db.engines import create_database
    from lms.tenancy.services.operators import create_operator, rotate_operator_token

    db = create_database(settings)
    try:
        async with db.operator_sessions() as session, session.begin():
            token = await rotate_operator_token(session, email) if rotate else None
            if token is None:
                _, token = await create_operator(session, email, name)
        return token
    finally:
        await db.dispose()


async def _ensure_demo_operator(settings: Settings) -> Path:
    """The demo's operator token lives in the data directory (for local use only)."""
    token_file = settings.data_dir / "operator-token"
    if token_file.exists():
        return token_file
    token = await _create_operator(settings, "operator@demo.localhost", "Demo operator", rotate=True)
    token_file.write_text(token + "\n")
    token_file.chmod(0o600)
    return token_file


async def _ensure_demo_learner(settings: Settings) -> tuple[str, str] | None:
    """A learner with a known password, enrolled in a short demo course (created once)."""
    from lms.runtime.demo_learning import ensure_demo_learning

    return await ensure_demo_learning(settings)


@main.group()
def users() -> None:
    """Tenant user accounts."""


@users.command("invite")
@click.option("--tenant", "slug", required=True, help="Tenant slug.")
@click.option("--email", required=True)
@click.option("--name", required=True, help="Display name.")
@click.option(
    "--role",
    "roles",
    multiple=True,
    default=["learner"],
    show_default=True,
    type=click.Choice(ROLES),
    help="Repeatable.",
)
def users_invite(slug: str, email: str, name: str, roles: tuple[str, ...]) -> None:
    """Invite a user (e.g. a tenant's first tenant_admin) and print the invitation link."""
    with runtime() as settings:
        link = asyncio.run(_invite_user(settings, slug, email, name, list(roles)))
    click.echo(link)


@users.command("list")
@click.option("--tenant", "slug", required=True, help="Tenant slug.")
@click.option("--role", type=click.Choice(ROLES), default=None, help="Only users holding this role.")
def users_list(slug: str, role: str | None) -> None:
    """List a tenant's users: e-mail, status, roles, name."""
    with runtime() as settings:
        rows = asyncio.run(_list_users(settings, slug, role))
    if not rows:
        click.echo("no users")
        return
    click.echo(f"{'E-MAIL':<36} {'STATUS':<12} {'ROLES':<34} NAME")
    for user in rows:
        click.echo(f"{user.email:<36} {user.status:<12} {','.join(user.roles):<34} {user.display_name}")


async def _list_users(settings: Settings, slug: str, role: str | None) -> list[Any]:
    from sqlalchemy import select

    from lms.db.binding import tenant_session
    from lms.db.engines import create_database
    from lms.identity.models import User
    from lms.tenancy.services import Actor, TenantAdmin

    db = create_database(settings)
    try:
        async with db.operator_sessions() as session:
            tenant = await TenantAdmin(session, Actor(name="cli"), settings.public_base_domain).get_by_slug(slug)
        if tenant is None:
            raise click.BadParameter(f"no tenant {slug!r}", param_hint="--tenant")
        async with tenant_session(db.app_sessions, tenant.id) as session:
            query = select(User).order_by(User.email)
            if role is not None:
                query = query.where(User.roles.contains([role]))
            return list((await session.execute(query)).scalars())
    finally:
        await db.dispose()


async def _invite_user(settings: Settings, slug: str, email: str, name: str, roles: list[str]) -> str:
    import msgspec
    from sqlalchemy import select

    from lms.db.binding import tenant_session
    from lms.db.engines import create_database
    from lms.identity.accounts.services.directory import UserDirectory
    from lms.identity.schemas import UserCreate
    from lms.lib.errors import DomainError
    from lms.tenancy.models import Tenant

    try:
        data = msgspec.convert({"email": email, "display_name": name, "roles": roles}, UserCreate)
    except msgspec.ValidationError as exc:
        raise click.BadParameter(str(exc)) from exc
    db = create_database(settings)
    try:
        async with db.operator_sessions() as session:
            tenant = (await session.execute(select(Tenant).where(Tenant.slug == slug))).scalar_one_or_none()
        if tenant is None:
            raise click.BadParameter(f"no tenant {slug!r}", param_hint="--tenant")
        local = settings.public_base_domain == "localhost"
        site = f"http://{slug}.localhost:{settings.port}" if local else f"https://{slug}.{settings.public_base_domain}"
        try:
            async with tenant_session(db.app_sessions, tenant.id) as session:
                _, link = await UserDirectory(session, tenant.id, settings, site).create_with_link(data)
        except DomainError as exc:
            raise click.ClickException(exc.message) from exc
        assert link is not None
        return link
    finally:
        await db.dispose()


@main.group()
def keys() -> None:
    """Access-token signing keys."""


@keys.command("rotate")
def keys_rotate() -> None:
    """Add a signing key; older keys keep verifying until their tokens have expired."""
    with runtime() as settings:
        kid = asyncio.run(_rotate_keys(settings))
    click.echo(f"new signing key {kid}")


async def _rotate_keys(settings: Settings) -> str:
    from datetime import timedelta

    from lms.db.engines import create_database
    from lms.identity.signin.services.keys import rotate_keys

    db = create_database(settings)
    try:
        async with db.operator_sessions() as session, session.begin():
            key = await rotate_keys(session, settings.secret_key, timedelta(minutes=settings.access_token_minutes))
        return key.kid
    finally:
        await db.dispose()


@main.command()
@click.option("--concurrency", default=2, show_default=True)
@click.option("--beat/--no-beat", default=False, help="Also run the periodic scheduler.")
def worker(concurrency: int, beat: bool) -> None:
    """Run a Celery worker alone."""
    with runtime():
        process = _start_worker(concurrency, beat)
        _wait_for(process)


@main.command("beat")
@click.option(
    "--schedule",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Schedule state file (default LMS_DATA_DIR/celerybeat-schedule).",
)
def beat_command(schedule: Path | None) -> None:
    """Run the periodic scheduler alone (one per deployment); needs only REDIS_URL."""
    settings = get_settings()
    if not settings.redis_url:
        raise click.UsageError("`lms beat` needs REDIS_URL; `lms serve` runs the scheduler with embedded Redis")
    state = schedule or settings.data_dir.resolve() / "celerybeat-schedule"
    state.parent.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "workers", "-A", "workers.app", "-q", "beat", "--loglevel", settings.log_level]
    command += ["--schedule", str(state)]
    _wait_for(subprocess.Popen(command))  # noqa: S603 - fixed argv, no shell


def _start_worker(concurrency: int, beat: bool) -> subprocess.Popen[bytes]:
    return subprocess.Popen(_worker_command(concurrency, beat))  # noqa: S603 - fixed argv, no shell


def _worker_command(concurrency: int, beat: bool) -> list[str]:
    settings = get_settings()
    # `python -m workers` is Celery's command line with the pool's metrics files set up (its start-up
    # banner becomes a JSON log line: workers/observability.py).
    command = [sys.executable, "-m", "workers", "-A", "workers.app", "worker", "--loglevel", settings.log_level]
    command += ["--concurrency", str(concurrency), "--queues", settings.celery_queue]
    if beat:
        command += ["--beat", "--schedule", str(settings.data_dir.resolve() / "celerybeat-schedule")]
    return command


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)  # Celery's warm shutdown: finish the current job
        try:
            process.wait(WORKER_SHUTDOWN_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()


def _wait_for(process: subprocess.Popen[bytes]) -> None:
    # As PID 1 in a container an unhandled SIGTERM is dropped: forward it so Celery shuts down warm.
    signal.signal(signal.SIGTERM, lambda *_: process.send_signal(signal.SIGTERM))
    try:
        process.wait()
    except KeyboardInterrupt:
        pass
    finally:
        _stop(process)


@main.command()
@click.option("--host", default=None, help="Bind address (default HOST or 127.0.0.1).")
@click.option("--port", default=None, type=int, help="Port (default PORT or 8000).")
@click.option("--demo", is_flag=True, help="Apply tenants/ and create a local operator token.")
@click.option("--migrate/--no-migrate", "run_migrations", default=None, help="Migrate first (default: embedded only).")
@click.option("--worker/--no-worker", "with_worker", default=True, help="Start a Celery worker process too.")
def serve(host: str | None, port: int | None, demo: bool, run_migrations: bool | None, with_worker: bool) -> None:
    """Run the API and a Celery worker; with no URLs set, on embedded PostgreSQL and Redis.

    Supervises them: a process that dies is restarted; one that keeps dying stops everything (exit 1).
    SIGTERM, SIGINT or SIGHUP stop the API, the worker and the embedded PostgreSQL and Redis."""
    from lms.db.migrate import migrate as run_migrate
    from lms.runtime.supervisor import Child, Supervisor

    # Until the supervisor takes over, a stop signal unwinds (and so stops embedded services) too.
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _exit_on_signal)
    configured = get_settings()
    embedded = not ((configured.database_url or configured.database_app_url) and configured.redis_url)
    with runtime() as settings:
        settings = replace(settings, host=host or settings.host, port=port or settings.port)
        if run_migrations or (run_migrations is None and embedded):
            run_migrate(settings)
        if demo:
            for line in asyncio.run(_apply_tenants(settings, settings.tenants_dir, dry_run=False)) or [
                "tenants up to date"
            ]:
                click.echo(line, err=True)
            token_file = asyncio.run(_ensure_demo_operator(settings))
            click.echo(f"operator token: {token_file.resolve()}", err=True)
            click.echo(f"demo tenant: http://demo.{settings.public_base_domain}:{settings.port}/", err=True)
            learner = asyncio.run(_ensure_demo_learner(settings))
            if learner:
                click.echo(f"demo learner: {learner[0]} / {learner[1]}", err=True)
        api_command = [sys.executable, "-m", "lms", "api", "--host", settings.host, "--port", str(settings.port)]
        children = [Child("api", api_command, stop_seconds=API_SHUTDOWN_SECONDS)]
        if with_worker:
            children.append(Child("worker", _worker_command(2, beat=True), stop_seconds=WORKER_SHUTDOWN_SECONDS))
        status = Supervisor(children).run()
    if status:
        sys.exit(status)


def _exit_on_signal(signum: int, _: object) -> None:
    sys.exit(128 + signum)


@main.command()
@click.option("--host", default=None, help="Bind address (default HOST or 127.0.0.1).")
@click.option("--port", default=None, type=int, help="Port (default PORT or 8000).")
def api(host: str | None, port: int | None) -> None:
    """Run the web API alone, with its metrics listener on METRICS_HOST:METRICS_PORT.

    Needs DATABASE_URL and REDIS_URL; `lms serve` starts this (and embedded services when needed)."""
    import uvicorn

    from lms.lib.http_protocol import PROTOCOL_PATH
    from lms.lib.telemetry import start_metrics_listener

    settings = get_settings()
    if not (settings.database_url or settings.database_app_url) or not settings.redis_url:
        raise click.UsageError("`lms api` needs DATABASE_URL and REDIS_URL; `lms serve` starts embedded ones")
    settings = replace(settings, host=host or settings.host, port=port or settings.port)
    try:
        start_metrics_listener(settings.metrics_host, settings.metrics_port)
    except OSError as exc:
        address = f"{settings.metrics_host}:{settings.metrics_port}"
        raise click.ClickException(f"metrics listener on {address}: {exc}") from exc
    # uvloop + httptools, chosen by measurement (bench/requests.py); each process builds its app from
    # the environment (runtime() completed it for `lms serve`).
    uvicorn.run(
        "lms.app:create_served_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.api_processes,
        loop="uvloop",
        http=PROTOCOL_PATH,  # httptools, a response's head and body in one socket write
        timeout_keep_alive=settings.keep_alive_seconds,
        log_level="warning",
        timeout_graceful_shutdown=API_SHUTDOWN_SECONDS - 5,
    )


if __name__ == "__main__":
    main()
