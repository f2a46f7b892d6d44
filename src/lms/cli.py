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


@click.group()
def main() -> None:
    """Multi-tenant learning platform."""


@main.command()
@click.option("--revision", default="heads", show_default=True, help="Target revision.")
@click.option("--downgrade", "down", default=None, help="Downgrade to this revision instead (e.g. base).")
def migrate(revision: str, down: str | None) -> None:
    """Create the database roles and migrate the schema (as lms_owner)."""
    from lms.db.migrate import downgrade
    from lms.db.migrate import migrate as run_migrate

    with runtime() as settings:
        if down:
            downgrade(settings, down)
            click.echo(f"downgraded to {down}")
        else:
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
@click.option("--role", "roles", multiple=True, default=["learner"], show_default=True, help="Repeatable.")
def users_invite(slug: str, email: str, name: str, roles: tuple[str, ...]) -> None:
    """Invite a user (e.g. a tenant's first tenant_admin) and print the invitation link."""
    with runtime() as settings:
        link = asyncio.run(_invite_user(settings, slug, email, name, list(roles)))
    click.echo(link)


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


def _start_worker(concurrency: int, beat: bool) -> subprocess.Popen[bytes]:
    return subprocess.Popen(_worker_command(concurrency, beat))  # noqa: S603 - fixed argv, no shell


def _worker_command(concurrency: int, beat: bool) -> list[str]:
    command = [sys.executable, "-m", "celery", "-A", "workers.app", "worker", "--loglevel", "INFO"]
    command += ["--concurrency", str(concurrency), "--queues", get_settings().celery_queue]
    if beat:
        command += ["--beat", "--schedule", str(get_settings().data_dir.resolve() / "celerybeat-schedule")]
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
        "lms.app:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.api_processes,
        loop="uvloop",
        http="httptools",
        timeout_keep_alive=settings.keep_alive_seconds,
        log_level="warning",
        timeout_graceful_shutdown=API_SHUTDOWN_SECONDS - 5,
    )


if __name__ == "__main__":
    main()
