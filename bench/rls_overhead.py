"""What row-level security costs a tenant-scoped query: `lms_app` under RLS versus the owner with a
hand-written `WHERE tenant_id = $1`, on a fresh database of 1,000 tenants and 1,000,000 users.

Run: `.venv/bin/python bench/rls_overhead.py` (or `make bench`). With DATABASE_URL set it uses that
server; without it, an embedded PostgreSQL, as `lms` does. The database it creates is dropped at the end.
Exit status 0 when every query meets the target ratio, 1 otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import random
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg
import psycopg
import uuid_utils
from sqlalchemy.dialects.postgresql import asyncpg as asyncpg_dialect

from lms.config import Settings, with_credentials
from lms.db.binding import _SET_TENANT
from lms.db.migrate import migrate
from lms.db.scratch import scratch_database
from lms.runtime.embedded import EmbeddedServices, start_embedded

# The exact statement the app's after_begin hook sends, compiled for asyncpg:
# select set_config('app.tenant_id', $1, true)
BIND_TENANT_SQL = str(_SET_TENANT.compile(dialect=asyncpg_dialect.dialect()))
# The baseline makes the same call on a setting no policy reads, so both paths make the same round
# trips (BEGIN, set_config, query, COMMIT) and the only difference left is RLS.
BASELINE_SET_SQL = "select set_config('bench.tenant_id', $1, true)"

# Not in the schema: `--created-at-index` adds it to the benchmark's own database, to see what it changes.
CREATED_AT_INDEX = "create index ix_users_tenant_created_at on users (tenant_id, created_at, id)"

COLUMNS = "id, tenant_id, email, display_name, status, roles, created_at, updated_at"


@dataclass(frozen=True)
class Query:
    """One query in its two forms: as the app writes it (RLS scopes it) and with the explicit filter."""

    name: str
    rls_sql: str
    baseline_sql: str
    expected_rows: int
    by_user: bool  # the query takes a user id as well as the tenant


QUERIES = (
    Query(
        name="lookup by id",
        rls_sql=f"select {COLUMNS} from users where id = $1",
        baseline_sql=f"select {COLUMNS} from users where tenant_id = $1 and id = $2",
        expected_rows=1,
        by_user=True,
    ),
    Query(
        name="50 newest",
        rls_sql=f"select {COLUMNS} from users order by created_at desc, id desc limit 50",
        baseline_sql=f"select {COLUMNS} from users where tenant_id = $1 order by created_at desc, id desc limit 50",
        expected_rows=50,
        by_user=False,
    ),
    Query(
        name="50 by e-mail",
        rls_sql=f"select {COLUMNS} from users order by lower(email) limit 50",
        baseline_sql=f"select {COLUMNS} from users where tenant_id = $1 order by lower(email) limit 50",
        expected_rows=50,
        by_user=False,
    ),
)


@dataclass
class Dataset:
    tenant_ids: list[str]
    # (tenant_id, user_id) pairs drawn uniformly from every row loaded.
    sample: list[tuple[str, str]]


@dataclass
class Timing:
    rls: list[float]
    baseline: list[float]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--tenants", type=int, default=1_000)
    parser.add_argument("--users-per-tenant", type=int, default=1_000)
    parser.add_argument("--iterations", type=int, default=2_000, help="timed transactions per query and path")
    parser.add_argument("--warmup", type=int, default=300, help="untimed transactions per query and path")
    parser.add_argument("--target", type=float, default=1.10, help="highest acceptable RLS/baseline median ratio")
    parser.add_argument("--seed", type=int, default=20261121)
    parser.add_argument("--explain", action="store_true", help="also print both paths' query plans")
    parser.add_argument("--created-at-index", action="store_true", help=f"before measuring: {CREATED_AT_INDEX}")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    settings = Settings.from_env()
    services = EmbeddedServices()
    if not settings.database_url:
        settings, services = start_embedded(settings)
        print(f"embedded services under {settings.data_dir.resolve()}", file=sys.stderr)
    try:
        with scratch_database(settings, prefix="lms_bench") as db_settings:
            assert db_settings.database_url
            started = time.monotonic()
            migrate(db_settings)
            owner_url = with_credentials(db_settings.database_url, "lms_owner", db_settings.database_role_password)
            rng = random.Random(args.seed)
            dataset = load(owner_url, args.tenants, args.users_per_tenant, rng, args.created_at_index)
            loaded = time.monotonic() - started
            app_url = db_settings.role_url("lms_app")
            timings, plans = asyncio.run(measure(app_url, owner_url, dataset, args, rng))
        print_report(args, timings, plans, loaded)
        return 0 if all(ratio(t) <= args.target for t in timings.values()) else 1
    finally:
        services.stop()


def load(owner_url: str, tenants: int, users_per_tenant: int, rng: random.Random, created_at_index: bool) -> Dataset:
    """COPY the tenants and their users as the owner, in creation order, then VACUUM ANALYZE.

    Users of all tenants arrive interleaved over two years, as sign-ups do, so a tenant's rows are
    spread over the whole table rather than stored together.
    """
    now = datetime.now(UTC).replace(microsecond=0)
    tenant_ids = [str(uuid_utils.uuid7()) for _ in range(tenants)]
    total = tenants * users_per_tenant
    owners = [t for t in range(tenants) for _ in range(users_per_tenant)]
    rng.shuffle(owners)
    span = 2 * 365 * 86_400
    offsets = sorted(rng.uniform(0, span) for _ in range(total))
    start = now - timedelta(seconds=span)
    sampled = set(rng.sample(range(total), k=min(total, 20_000)))
    sample: list[tuple[str, str]] = []
    counters = [0] * tenants
    progress = Progress("users", total)
    with psycopg.connect(owner_url) as conn:
        with conn.cursor() as cur:
            with cur.copy("COPY tenants (id, created_at, updated_at, slug, name, plan, seats) FROM STDIN") as copy:
                for n, tenant_id in enumerate(tenant_ids):
                    ts = start.isoformat()
                    copy.write(
                        f"{tenant_id}\t{ts}\t{ts}\tbench-{n:05d}\tBench tenant {n}\tbusiness\t{users_per_tenant}\n"
                    )
            columns = "id, created_at, updated_at, tenant_id, email, display_name"
            with cur.copy(f"COPY users ({columns}) FROM STDIN") as copy:
                chunk: list[str] = []
                for i in range(total):
                    t = owners[i]
                    counters[t] += 1
                    user_id = str(uuid_utils.uuid7())
                    ts = (start + timedelta(seconds=offsets[i])).isoformat()
                    chunk.append(
                        f"{user_id}\t{ts}\t{ts}\t{tenant_ids[t]}\t"
                        f"user{counters[t]:05d}@bench-{t:05d}.example\tUser {counters[t]} of tenant {t}\n"
                    )
                    if i in sampled:
                        sample.append((tenant_ids[t], user_id))
                    if len(chunk) == 10_000:
                        copy.write("".join(chunk))
                        chunk.clear()
                        progress.update(i + 1)
                copy.write("".join(chunk))
                progress.update(total)
        conn.commit()
        progress.done()
        conn.autocommit = True
        if created_at_index:
            conn.execute(CREATED_AT_INDEX)
        conn.execute("VACUUM (ANALYZE) tenants, users")
    rng.shuffle(sample)
    return Dataset(tenant_ids=tenant_ids, sample=sample)


class Progress:
    """A one-line progress count on stderr."""

    def __init__(self, what: str, total: int) -> None:
        self.what, self.total, self.started = what, total, time.monotonic()
        self.interactive = sys.stderr.isatty()

    def update(self, done: int) -> None:
        if self.interactive:
            print(f"\rloading {self.what}: {done:,}/{self.total:,}", end="", file=sys.stderr, flush=True)

    def done(self) -> None:
        elapsed = time.monotonic() - self.started
        print(f"\rloaded {self.what}: {self.total:,} in {elapsed:.1f}s", file=sys.stderr)


async def measure(
    app_url: str, owner_url: str, dataset: Dataset, args: argparse.Namespace, rng: random.Random
) -> tuple[dict[str, Timing], dict[str, tuple[str, str]]]:
    """Time every query on both paths, alternating the paths so that drift hits both alike."""
    app = await asyncpg.connect(app_url)
    owner = await asyncpg.connect(owner_url)
    try:
        await check_isolation(app, dataset)
        timings: dict[str, Timing] = {}
        plans: dict[str, tuple[str, str]] = {}
        for query in QUERIES:
            await check_same_rows(app, owner, query, dataset)
            rls_run = transaction_runner(app, BIND_TENANT_SQL, query.rls_sql, query, rls=True)
            baseline_run = transaction_runner(owner, BASELINE_SET_SQL, query.baseline_sql, query, rls=False)
            for _ in range(args.warmup):
                await rls_run(pick(dataset, rng))
                await baseline_run(pick(dataset, rng))
            timing = Timing(rls=[], baseline=[])
            gc.disable()
            try:
                for _ in range(args.iterations):
                    runs = [(rls_run, timing.rls), (baseline_run, timing.baseline)]
                    rng.shuffle(runs)
                    for run, into in runs:
                        into.append(await run(pick(dataset, rng)))
            finally:
                gc.enable()
            timings[query.name] = timing
            if args.explain:
                plans[query.name] = await explain(app, owner, query, dataset.sample[0])
        return timings, plans
    finally:
        await app.close()
        await owner.close()


def pick(dataset: Dataset, rng: random.Random) -> tuple[str, str]:
    return dataset.sample[rng.randrange(len(dataset.sample))]


def transaction_runner(
    conn: asyncpg.Connection, set_sql: str, sql: str, query: Query, *, rls: bool
) -> Callable[[tuple[str, str]], Awaitable[float]]:
    """One timed iteration: BEGIN; set_config; the query; COMMIT. Returns seconds."""

    async def run(target: tuple[str, str]) -> float:
        tenant_id, user_id = target
        params: tuple[object, ...]
        if rls:
            params = (user_id,) if query.by_user else ()
        else:
            params = (tenant_id, user_id) if query.by_user else (tenant_id,)
        started = time.perf_counter()
        async with conn.transaction():
            await conn.fetchval(set_sql, tenant_id)
            rows = await conn.fetch(sql, *params)
        elapsed = time.perf_counter() - started
        if len(rows) != query.expected_rows:
            raise AssertionError(f"{query.name}: {len(rows)} rows, expected {query.expected_rows}")
        return elapsed

    return run


async def check_isolation(app: asyncpg.Connection, dataset: Dataset) -> None:
    """The RLS path really is RLS: another tenant's row is invisible, and no tenant means no rows."""
    tenant_a, user_a = dataset.sample[0]
    tenant_b = next(tenant for tenant in dataset.tenant_ids if tenant != tenant_a)
    async with app.transaction():
        await app.fetchval(BIND_TENANT_SQL, tenant_b)
        if await app.fetchval("select count(*) from users where id = $1", user_a):
            raise AssertionError("lms_app sees another tenant's user: RLS is not in force")
    async with app.transaction():
        if await app.fetchval("select count(*) from users"):
            raise AssertionError("lms_app sees users with no tenant bound: RLS is not in force")


async def check_same_rows(app: asyncpg.Connection, owner: asyncpg.Connection, query: Query, dataset: Dataset) -> None:
    """Both paths return the same rows, so the timings compare like with like."""
    for tenant_id, user_id in dataset.sample[:20]:
        async with app.transaction():
            await app.fetchval(BIND_TENANT_SQL, tenant_id)
            rls_rows = await app.fetch(query.rls_sql, *((user_id,) if query.by_user else ()))
        baseline_rows = await owner.fetch(
            query.baseline_sql, *((tenant_id, user_id) if query.by_user else (tenant_id,))
        )
        if [tuple(r) for r in rls_rows] != [tuple(r) for r in baseline_rows]:
            raise AssertionError(f"{query.name}: the RLS and baseline paths return different rows")


async def explain(
    app: asyncpg.Connection, owner: asyncpg.Connection, query: Query, target: tuple[str, str]
) -> tuple[str, str]:
    tenant_id, user_id = target
    options = "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF, BUFFERS)"
    async with app.transaction():
        await app.fetchval(BIND_TENANT_SQL, tenant_id)
        rls = await app.fetch(f"{options} {query.rls_sql}", *((user_id,) if query.by_user else ()))
    params = (tenant_id, user_id) if query.by_user else (tenant_id,)
    baseline = await owner.fetch(f"{options} {query.baseline_sql}", *params)
    return "\n".join(r[0] for r in rls), "\n".join(r[0] for r in baseline)


def ratio(timing: Timing) -> float:
    return statistics.median(timing.rls) / statistics.median(timing.baseline)


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20, method="inclusive")[-1]


def print_report(
    args: argparse.Namespace, timings: dict[str, Timing], plans: dict[str, tuple[str, str]], loaded: float
) -> None:
    rows = args.tenants * args.users_per_tenant
    lines = [
        "",
        f"RLS overhead: {args.tenants:,} tenants x {args.users_per_tenant:,} users = {rows:,} rows "
        f"(created, migrated, loaded and analysed in {loaded:.0f}s)",
        f"{args.iterations:,} timed transactions per query and path (after {args.warmup:,} untimed), "
        "a random tenant and user each time, the two paths interleaved",
        "each transaction: BEGIN; select set_config(...); the query; COMMIT (4 round trips on both paths)",
        f"  RLS       lms_app under the policy, tenant bound with `{BIND_TENANT_SQL}`",
        "            exactly as the app's after_begin hook does; no tenant filter in the query",
        f"  baseline  lms_owner (BYPASSRLS) with an explicit `where tenant_id = $1`; it runs `{BASELINE_SET_SQL}`",
        "            on a setting no policy reads, so both paths make the same round trips",
    ]
    if args.created_at_index:
        lines.append(f"  extra index for this run: {CREATED_AT_INDEX}")
    header = (
        f"{'query':<14} {'RLS median':>11} {'RLS p95':>9} {'base median':>12} {'base p95':>9} "
        f"{'ratio':>6} {'p95 ratio':>10}  result"
    )
    lines += ["", header, "-" * len(header)]
    for name, timing in timings.items():
        median_ratio = ratio(timing)
        lines.append(
            f"{name:<14} {us(statistics.median(timing.rls)):>11} {us(p95(timing.rls)):>9} "
            f"{us(statistics.median(timing.baseline)):>12} {us(p95(timing.baseline)):>9} "
            f"{median_ratio:>6.3f} {p95(timing.rls) / p95(timing.baseline):>10.3f}  "
            f"{'PASS' if median_ratio <= args.target else 'FAIL'}"
        )
    overall = all(ratio(t) <= args.target for t in timings.values())
    lines += [
        "(microseconds per transaction; ratio = RLS median / baseline median)",
        "",
        f"{'PASS' if overall else 'FAIL'}: RLS/baseline median ratio <= {args.target:.2f} for every query",
    ]
    for name, (rls_plan, baseline_plan) in plans.items():
        lines += ["", f"== {name}, RLS plan:", rls_plan, f"== {name}, baseline plan:", baseline_plan]
    print("\n".join(lines), flush=True)


def us(seconds: float) -> str:
    return f"{seconds * 1e6:,.0f}"


if __name__ == "__main__":
    sys.exit(main())
