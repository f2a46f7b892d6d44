"""Stripe webhooks through the inbox: 10,000 signed deliveries for 500 tenants, 20 % of them
duplicates, shuffled, posted by 20 concurrent senders to a real API, handled by a real Celery worker
that re-reads each subscription from a local Stripe stand-in.

Prints deliveries/s accepted (against `GET /health` through the same senders, measured in the same run),
the end-to-end time until every tenant's account shows its subscription's final state, and checks that
every stored event was handled exactly once and every final state equals the one in-order delivery
gives (the subscription's state after its last change). Targets: >= 500 deliveries/s accepted, 0 wrong states.

Run: `.venv/bin/python bench/webhooks.py` (DATABASE_URL/REDIS_URL, or embedded servers).
Exit status 0 when the checks pass and the target is met, 1 otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from progress_ingest import BASE_DOMAIN, Connection, service_env, wait_ready
from support import bench_settings, free_port, percentile, process_tree_cpu_seconds

from lms.billing.services.accounts import STRIPE_STATUS
from lms.config import PROJECT_ROOT, Settings, with_credentials
from lms.db.engines import create_database
from lms.db.migrate import migrate
from lms.tenancy.models import Plan
from lms.tenancy.services import Actor, TenantAdmin
from tests.stripe_standin import API_KEY, WEBHOOK_SECRET, StripeStandIn, running_standin, signed

WEBHOOK = "/api/v1/billing/webhooks/stripe"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--tenants", type=int, default=500)
    parser.add_argument("--deliveries", type=int, default=10_000)
    parser.add_argument("--duplicates", type=float, default=0.20)
    parser.add_argument("--senders", type=int, default=20)
    parser.add_argument("--api-workers", type=int, default=2)
    parser.add_argument("--worker-concurrency", type=int, default=4)
    parser.add_argument("--target", type=float, default=500.0, help="deliveries/s accepted")
    parser.add_argument("--drain-limit", type=float, default=900.0, help="seconds to wait for the worker")
    parser.add_argument(
        "--profile", type=Path, default=None, help="folder for py-spy profiles of the API and the worker"
    )
    return parser.parse_args()


@dataclass
class TenantHistory:
    tenant_id: UUID
    subscription_id: str
    events: list[dict[str, Any]] = field(default_factory=list)


async def create_tenants(settings: Settings, count: int) -> list[UUID]:
    db = create_database(settings)
    try:
        async with db.operator_sessions() as session, session.begin():
            admin = TenantAdmin(session, Actor(name="bench"), BASE_DOMAIN)
            return [
                (await admin.create(f"wh-{i}-{uuid.uuid4().hex[:6]}", f"Tenant {i}", Plan.TRIAL, 0)).id
                for i in range(count)
            ]
    finally:
        await db.dispose()


def stripe_history(standin: StripeStandIn, tenants: list[UUID], per_tenant: int) -> list[TenantHistory]:
    """Each tenant subscribes through Checkout, changes seats, and a third end with a failed payment."""
    state = standin.state
    plans = []
    for index, tenant_id in enumerate(tenants):
        metadata = {"tenant_id": str(tenant_id), "plan": "business"}
        customer = state.create_customer({"metadata": metadata})
        session = state.create_checkout_session(
            {
                "mode": "subscription",
                "customer": customer["id"],
                "line_items": [{"quantity": "10", "price_data": {"currency": "eur", "unit_amount": "1500"}}],
                "subscription_data": {"metadata": metadata},
                "metadata": metadata,
            }
        )
        state.complete_checkout(session["id"])
        sub_id = session["subscription"]
        fail_at_end = index % 3 == 0
        item_id = state.objects[sub_id]["items"]["data"][0]["id"]
        while len(state.events) < per_tenant - (2 if fail_at_end else 0):
            quantity = random.randint(5, 200)
            state.update_subscription(
                sub_id, {"items": [{"id": item_id, "quantity": str(quantity)}], "proration_behavior": "none"}
            )
        if fail_at_end:
            state.payment_failed(sub_id)
        plans.append(TenantHistory(tenant_id, sub_id, standin.take_events()))
    return plans


def expected_state(standin: StripeStandIn, plan: TenantHistory) -> tuple[str, int]:
    """What in-order delivery ends in: the subscription's state after its last change."""
    sub = standin.state.objects[plan.subscription_id]
    return str(STRIPE_STATUS[sub["status"]]), int(sub["items"]["data"][0]["quantity"])


def start_api(settings: Settings, port: int, workers: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    command = [
        sys.executable, "-m", "uvicorn", "--factory", "lms.app:create_app", "--host", "127.0.0.1",
        "--port", str(port), "--workers", str(workers), "--no-access-log", "--log-level", "warning",
        "--loop", "uvloop", "--http", "httptools",
    ]  # fmt: skip
    return subprocess.Popen(command, cwd=PROJECT_ROOT, env={**service_env(settings), **env})


def start_worker(settings: Settings, concurrency: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    command = [
        sys.executable, "-m", "celery", "-A", "workers.app", "worker", "--queues", settings.celery_queue,
        "--concurrency", str(concurrency), "--loglevel", "WARNING", "--hostname", f"bench-{uuid.uuid4().hex[:6]}@%h",
    ]  # fmt: skip
    return subprocess.Popen(command, cwd=PROJECT_ROOT, env={**service_env(settings), **env})


def start_profilers(parents: dict[str, int], folder: Path, seconds: float) -> list[subprocess.Popen[bytes]]:
    """py-spy, for `seconds` (shorter than the sending), on each child of the named processes (uvicorn's
    API processes, the worker's pool): collapsed stacks in `folder`, one file per process."""
    folder.mkdir(parents=True, exist_ok=True)
    py_spy = str(Path(sys.executable).parent / "py-spy")
    profilers = []
    for label, parent in parents.items():
        for pid in Path(f"/proc/{parent}/task/{parent}/children").read_text().split():
            output = str(folder / f"{label}-{pid}.txt")
            command = [py_spy, "record", "--nonblocking", "-d", str(max(1, int(seconds))), "-p", pid]
            profilers.append(subprocess.Popen([*command, "--format", "raw", "-o", output], stdout=subprocess.DEVNULL))
    return profilers


@dataclass
class SendResult:
    statuses: dict[int, int] = field(default_factory=dict)
    duplicates: int = 0
    latencies: list[float] = field(default_factory=list)
    seconds: float = 0.0


async def send_all(port: int, bodies: list[bytes], senders: int, path: str = WEBHOOK) -> SendResult:
    result = SendResult()
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)

    async def sender() -> None:
        connection = Connection(port, f"platform.{BASE_DOMAIN}")
        while not queue.empty():
            body = queue.get_nowait()
            started = time.perf_counter()
            if path == WEBHOOK:
                headers = signed(body)
                status, answer = await connection.request("POST", path, headers, body)
                if status == 200 and json.loads(answer).get("duplicate"):
                    result.duplicates += 1
            else:
                status, _ = await connection.request("GET", path, {})
            result.latencies.append(time.perf_counter() - started)
            result.statuses[status] = result.statuses.get(status, 0) + 1

    started = time.perf_counter()
    await asyncio.gather(*(sender() for _ in range(senders)))
    result.seconds = time.perf_counter() - started
    return result


async def settled(owner_url: str, unique: int, expected: dict[UUID, tuple[str, int]], limit: float) -> float:
    """Seconds until every stored event is handled and every account shows its expected state."""
    started = time.perf_counter()
    connection = await asyncpg.connect(owner_url)
    try:
        while time.perf_counter() - started < limit:
            handled = await connection.fetchval("select count(*) from billing_webhook_events where status = 'handled'")
            if handled >= unique:
                rows = await connection.fetch("select tenant_id, status, seats from billing_accounts")
                states = {r["tenant_id"]: (r["status"], r["seats"]) for r in rows}
                if all(states.get(t) == want for t, want in expected.items()):
                    return time.perf_counter() - started
            await asyncio.sleep(0.5)
    finally:
        await connection.close()
    return float("nan")


async def verify(owner_url: str, unique: int, expected: dict[UUID, tuple[str, int]]) -> tuple[int, int, int, int]:
    """(stored events, handled exactly once, not handled or retried, wrong final states)."""
    connection = await asyncpg.connect(owner_url)
    try:
        stored = await connection.fetchval("select count(*) from billing_webhook_events")
        once = await connection.fetchval(
            "select count(*) from billing_webhook_events where status = 'handled' and attempts = 1"
        )
        rows = await connection.fetch("select tenant_id, status, seats from billing_accounts")
    finally:
        await connection.close()
    states = {r["tenant_id"]: (r["status"], r["seats"]) for r in rows}
    wrong = sum(1 for t, want in expected.items() if states.get(t) != want)
    return stored, once, stored - once, wrong


def main() -> int:
    args = parse_args()
    per_tenant = round(args.deliveries * (1 - args.duplicates) / args.tenants)
    with bench_settings("lms_bench_webhooks") as settings, running_standin() as standin:
        migrate(settings)
        tenants = asyncio.run(create_tenants(settings, args.tenants))
        plans = stripe_history(standin, tenants, per_tenant)
        events = [event for plan in plans for event in plan.events]
        duplicates = random.sample(events, args.deliveries - len(events))
        deliveries = events + duplicates
        random.shuffle(deliveries)
        bodies = [json.dumps(event).encode() for event in deliveries]
        expected = {plan.tenant_id: expected_state(standin, plan) for plan in plans}
        env = {
            "STRIPE_API_KEY": API_KEY,
            "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "STRIPE_API_BASE": standin.api_base,
            "DB_POOL_TIMEOUT": "5",
        }
        port = free_port()
        api = start_api(settings, port, args.api_workers, env)
        worker = start_worker(settings, args.worker_concurrency, env)
        owner_url = with_credentials(settings.database_url or "", "lms_owner", settings.database_role_password)
        try:
            asyncio.run(wait_ready(port, f"platform.{BASE_DOMAIN}"))
            health = asyncio.run(send_all(port, [b""] * args.deliveries, args.senders, "/health"))
            api_cpu, worker_cpu = process_tree_cpu_seconds(api.pid), process_tree_cpu_seconds(worker.pid)
            profiled = {"api": api.pid, "worker": worker.pid}
            profilers = start_profilers(profiled, args.profile, len(bodies) / 600) if args.profile else []
            reads_before, own_cpu = len(standin.state.requests), time.process_time()
            begun = time.perf_counter()
            sent = asyncio.run(send_all(port, bodies, args.senders))
            own_cpu = time.process_time() - own_cpu
            api_cpu = process_tree_cpu_seconds(api.pid) - api_cpu
            drain = asyncio.run(settled(owner_url, len(events), expected, args.drain_limit))
            worker_cpu = process_tree_cpu_seconds(worker.pid) - worker_cpu
            reads = [path for _, path in standin.state.requests[reads_before:] if path.startswith("/v1/subscriptions/")]
            for profiler in profilers:
                profiler.wait(60)
            end_to_end = time.perf_counter() - begun
            stored, once, other, wrong = asyncio.run(verify(owner_url, len(events), expected))
        finally:
            for process in (api, worker):
                process.terminate()
            for process in (api, worker):
                process.wait(30)

    accepted = sent.statuses.get(200, 0)
    rate = accepted / sent.seconds if sent.seconds else 0.0
    health_rate = args.deliveries / health.seconds if health.seconds else 0.0
    print("Stripe webhooks through the inbox")
    print(f"  tenants                  {args.tenants}, {per_tenant} events each")
    dup = len(duplicates)
    print(f"  deliveries               {len(bodies):,} ({len(events):,} events + {dup:,} duplicates, shuffled)")
    print(f"  senders                  {args.senders}; API processes {args.api_workers}", end="")
    print(f"; worker concurrency {args.worker_concurrency}")
    print(
        f"  answers                  {dict(sorted(sent.statuses.items()))}; answered as duplicate {sent.duplicates:,}"
    )
    print(f"  accepted                 {rate:,.0f} deliveries/s (p50 {percentile(sent.latencies, 50) * 1e3:.1f} ms, "
          f"p99 {percentile(sent.latencies, 99) * 1e3:.1f} ms)")  # fmt: skip
    print(f"  baseline GET /health     {health_rate:,.0f} requests/s through the same senders "
          f"(webhook/health ratio {rate / health_rate if health_rate else 0:.2f})")  # fmt: skip
    print(f"  API CPU per delivery     {api_cpu / max(len(bodies), 1) * 1e3:.2f} ms")
    print(f"  worker CPU per delivery  {worker_cpu / max(len(bodies), 1) * 1e3:.2f} ms (handling until all settled)")
    print(f"  sender CPU per delivery  {own_cpu / max(len(bodies), 1) * 1e3:.2f} ms (senders and Stripe stand-in)")
    print(f"  Stripe reads             {len(reads):,} subscription reads for {len(events):,} events")
    print(f"  end to end               {end_to_end:.1f} s until every account showed its final state "
          f"({drain:.1f} s after the last delivery was accepted)")  # fmt: skip
    print(f"  stored events            {stored:,} (expected {len(events):,})")
    print(f"  handled exactly once     {once:,}; handled more than once or not at all: {other:,}")
    print(f"  wrong final states       {wrong} of {len(expected)}")
    ok = (
        stored == len(events)
        and once == len(events)
        and wrong == 0
        and sent.duplicates == len(duplicates)
        and accepted == len(bodies)
    )
    met = rate >= args.target
    verdict = "met" if met else "NOT met"
    print(f"  checks                   {'pass' if ok else 'FAIL'}; target {args.target:.0f}/s {verdict}")
    return 0 if ok and met else 1


if __name__ == "__main__":
    sys.exit(main())
