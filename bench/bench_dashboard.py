"""Manager dashboard server time on PostgreSQL: a team over a year, through the Django test client.

Usage (from the project root; needs the local PostgreSQL server):

    .venv/bin/python bench/bench_dashboard.py                  # 100,000 customers
    .venv/bin/python bench/bench_dashboard.py --customers 10000  # a quick run

The database `fieldwise_bench_dashboard` is created and seeded once with
`seed_demo --customers N --opportunity-scale 1.45` (at 100,000 customers: about
1,000,000 visits and 200,000 opportunities), and reused when it holds N customers.
Then, in a child process: the need model is fitted (as the nightly job does), a
manager of the largest team is logged in, and the dashboard of that team over the
last 365 days is requested 20 times (after one warm-up request). Printed: median
and p95 server time and the query count of one request; as baselines measured in
the same run, the same figures with every load on the request's own connection
(`FIELDWISE_PARALLEL_LOADS` 0, requested in turn with the default) and for the runs
page (a plain list page). Target: median under 300 ms.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SERVER = "postgres://postgres@127.0.0.1:5432"
DATABASE = "fieldwise_bench_dashboard"
OPPORTUNITY_SCALE = 1.45
REQUESTS = 20
TARGET_MEDIAN_MS = 300.0


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=REQUESTS)
    parser.add_argument("--server-url", default=os.environ.get("BENCH_POSTGRES_URL", DEFAULT_SERVER))
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def database_prepare(server_url: str, customers: int) -> bool:
    """Create the database if missing; drop it when it holds another number of customers. True: seed it."""
    import psycopg

    with psycopg.connect(f"{server_url}/postgres", autocommit=True) as admin:
        if admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE]).fetchone():
            with psycopg.connect(f"{server_url}/{DATABASE}") as conn:
                ready = conn.execute("SELECT to_regclass('crm_customer') IS NOT NULL").fetchone()[0]
                count = conn.execute("SELECT count(*) FROM crm_customer").fetchone()[0] if ready else 0
            if count == customers:
                return False
            admin.execute(f'DROP DATABASE "{DATABASE}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{DATABASE}"')
    return True


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def child(customers: int, requests: int) -> int:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, reset_queries
    from django.db.models import Count
    from django.test import Client, override_settings
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from analytics.need_fits import need_model_fit_run
    from analytics.visit_days import visit_days_refresh
    from crm.models import Customer, Team
    from sales.models import Opportunity
    from visits.models import Visit

    call_command("migrate", verbosity=0)
    if not Customer.objects.exists():
        started = time.perf_counter()
        print(f"  seeding {customers:,} customers (opportunity scale {OPPORTUNITY_SCALE}) ...", flush=True)
        call_command(
            "seed_demo",
            customers=customers,
            opportunity_scale=OPPORTUNITY_SCALE,
            stdout=open(os.devnull, "w"),  # noqa: SIM115
        )
        print(f"  seeded in {time.perf_counter() - started:.0f} s", flush=True)
    # Planner statistics as a live database has them (autovacuum may be off on a dev server):
    # without them PostgreSQL guesses row counts wrong by 100x and the page takes twice as long.
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    # The nightly job's step: store the closed days' visit term sums (a rebuild the first time).
    started = time.perf_counter()
    written = visit_days_refresh()
    print(f"  visit day sums: {written:,} written in {time.perf_counter() - started:.1f} s", flush=True)
    print(
        f"  data: customers {Customer.objects.count():,}, visits {Visit.objects.count():,}, "
        f"opportunities {Opportunity.objects.count():,}",
        flush=True,
    )
    fit = need_model_fit_run(as_of=timezone.now())
    print(f"  need model: {fit.status} on {fit.sample_size:,} closed opportunities", flush=True)

    team = Team.objects.annotate(n=Count("members")).order_by("-n", "pk").first()
    manager = team.managers.order_by("pk").first()
    today = timezone.localdate()
    query = {
        "team": team.pk,
        "period": "custom",
        "date_from": (today - timezone.timedelta(days=364)).isoformat(),
        "date_to": today.isoformat(),
    }
    client = Client()
    client.force_login(manager)
    print(f"  team {team.name!r}: {team.n} reps, manager {manager.username}; period the last 365 days", flush=True)

    # The dashboard with its loads in parallel (the default) and, as a baseline in the same run, in series
    # (FIELDWISE_PARALLEL_LOADS off), requested in turn so that a drift in the machine's speed hits both.
    variants = {
        "dashboard": ("/dashboard/", query, 2),
        "dashboard, loads in series": ("/dashboard/", query, 0),
        "runs page (baseline)": ("/runs/", {}, 2),
    }
    times = {label: [] for label in variants}
    counts = {}
    for label, (path, params, parallel) in variants.items():
        with override_settings(FIELDWISE_PARALLEL_LOADS=parallel):
            response = client.get(path, params)  # warm-up: caches, connections, templates
            assert response.status_code == 200, (path, response.status_code)
            reset_queries()  # DEBUG's query log is a bounded deque: a full one would count 0
            with CaptureQueriesContext(connection) as queries:
                client.get(path, params)
        counts[label] = len(queries)
    for turn in range(requests):
        labels = list(variants) if turn % 2 else list(reversed(variants))
        for label in labels:
            path, params, parallel = variants[label]
            with override_settings(FIELDWISE_PARALLEL_LOADS=parallel):
                started = time.perf_counter()
                response = client.get(path, params)
                times[label].append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200
    result = {}
    for label in variants:
        result[label] = {
            "median_ms": statistics.median(times[label]),
            "p95_ms": percentile(times[label], 0.95),
            "queries": counts[label],
        }
        print(
            f"  {label}: median {result[label]['median_ms']:.0f} ms, p95 {result[label]['p95_ms']:.0f} ms "
            f"over {requests} requests, {counts[label]} queries",
            flush=True,
        )
    print(json.dumps(result))
    return 0


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.child:
        return child(args.customers, args.requests)
    print(f"bench_dashboard: manager dashboard, a team over a year, {args.customers:,} customers on PostgreSQL")
    database_prepare(args.server_url, args.customers)
    # DEBUG=1 as `make run` (plain static storage, no collectstatic needed); its query log costs
    # microseconds per query. No REDIS_URL: the cache is in-process memory.
    env = {**os.environ, "DATABASE_URL": f"{args.server_url}/{DATABASE}", "DEBUG": "1", "ALLOWED_HOSTS": "testserver"}
    env.pop("REDIS_URL", None)
    command = [sys.executable, str(Path(__file__).resolve()), "--child", "--customers", str(args.customers)]
    command += ["--requests", str(args.requests)]
    output = subprocess.run(command, env=env, cwd=ROOT, stdout=subprocess.PIPE, text=True, check=False)  # noqa: S603
    lines = output.stdout.strip().splitlines()
    print("\n".join(lines[:-1]))
    if output.returncode:
        print(f"bench child failed ({output.returncode})")
        return 1
    result = json.loads(lines[-1])
    dashboard, baseline = result["dashboard"], result["runs page (baseline)"]
    series = result["dashboard, loads in series"]
    met = dashboard["median_ms"] < TARGET_MEDIAN_MS
    print("\n== summary")
    print(
        f"dashboard median {dashboard['median_ms']:.0f} ms (p95 {dashboard['p95_ms']:.0f} ms, "
        f"{dashboard['queries']} queries) = {dashboard['median_ms'] / baseline['median_ms']:.1f}x the runs page "
        f"({baseline['median_ms']:.0f} ms) [{'met' if met else 'MISSED'} < {TARGET_MEDIAN_MS:.0f} ms]"
    )
    print(
        f"loads in series: median {series['median_ms']:.0f} ms; parallel / series = "
        f"{dashboard['median_ms'] / series['median_ms']:.2f}"
    )
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
