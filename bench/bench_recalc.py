"""Scoring run end to end on PostgreSQL: load + compute + save + commit, against Django bulk_update.

Usage (from the project root; needs a PostgreSQL server, default 127.0.0.1:5432 user postgres):

    .venv/bin/python bench/bench_recalc.py                       # sizes 100000 and 1000000
    .venv/bin/python bench/bench_recalc.py --sizes 10000         # a quick run
    BENCH_SIZES=100000 make bench                                # through bench/run_all.py

Each size N gets its own database `fieldwise_bench_<N>` (one per size, so a run
over several sizes does not reseed every time; seeding 1,000,000 customers takes
minutes). It is created and seeded with `manage.py seed_demo --customers N` when
missing, reused when it already holds N customers, and dropped and recreated when
it holds another number. Then, per size, in a child process:

  * floor facts: reading 7 numeric columns of every customer with values_list
    versus binary COPY decoded by NumPy;
  * `recalc_scores` (the service the command and the Celery task call) three times,
    timing load / compute / save+commit: on an empty score table (a new install's
    first run: every row inserted), after VACUUM (the nightly steady state: every row
    upserted; autovacuum has run since yesterday) and again at once (back-to-back,
    the previous run's dead rows still there). The targets are judged on the nightly run;
  * at the baseline size (100,000 by default): Django `bulk_update(batch_size=1000)`
    of the same 8 score columns on the CustomerScore rows, rows per second.

Targets: 1,000,000 customers scored in under 20 s; at least 20x the rows per second
of bulk_update. `--server-url` points at another server (the maintenance database
`postgres` on it is used to create/drop the bench databases).
"""

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SERVER = "postgres://postgres@127.0.0.1:5432"
TARGET_SECONDS_1M = 20.0
TARGET_RATIO = 20.0
SEED = 42
COLD = "first run (empty score table)"
NIGHTLY = "nightly (after VACUUM)"
BACK_TO_BACK = "back-to-back rerun (no VACUUM)"


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes",
        default=os.environ.get("BENCH_SIZES", "100000,1000000"),
        help="comma-separated customer counts (default 100000,1000000; env BENCH_SIZES)",
    )
    parser.add_argument("--server-url", default=os.environ.get("BENCH_POSTGRES_URL", DEFAULT_SERVER))
    parser.add_argument(
        "--baseline-rows",
        type=int,
        default=100_000,
        help="bulk_update baseline runs in the child of this size (default 100000; too slow for a million)",
    )
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--baseline", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


# --- parent: databases and the summary -----------------------------------------------------------


def database_prepare(server_url: str, name: str, size: int) -> str:
    """Create the size's database if missing; drop it if it holds another number of customers."""
    import psycopg

    with psycopg.connect(f"{server_url}/postgres", autocommit=True) as admin:
        exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if exists:
            with psycopg.connect(f"{server_url}/{name}") as conn:
                has_table = conn.execute("SELECT to_regclass('crm_customer') IS NOT NULL").fetchone()[0]
                count = conn.execute("SELECT count(*) FROM crm_customer").fetchone()[0] if has_table else 0
            if count in (0, size):
                return "reused" if count == size else "empty"
            print(f"  {name} holds {count:,} customers, not {size:,}: recreating it")
            admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
        return "created"


def run_child(server_url: str, name: str, size: int, baseline: bool) -> dict:
    env = {**os.environ, "DATABASE_URL": f"{server_url}/{name}", "DEBUG": "1", "CONN_MAX_AGE": "0"}
    env.pop("REDIS_URL", None)  # the run is called in-process; no broker needed
    env.setdefault("LOG_LEVEL", "WARNING")
    command = [sys.executable, str(Path(__file__).resolve()), "--child", str(size)]
    if baseline:
        command.append("--baseline")
    # Stream the child's progress; its last line is the JSON result.
    last = ""
    with subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.PIPE, text=True) as proc:  # noqa: S603
        for line in proc.stdout:
            if last:
                print(last, flush=True)
            last = line.rstrip("\n")
    if proc.returncode:
        raise SystemExit(f"bench child for {size:,} customers failed ({proc.returncode})")
    return json.loads(last)


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.child:
        return child(args.child, baseline=args.baseline)
    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    print(f"bench_recalc: scoring run end to end on PostgreSQL, sizes {', '.join(f'{n:,}' for n in sizes)}")
    results = {}
    for size in sizes:
        name = f"fieldwise_bench_{size}"
        state = database_prepare(args.server_url, name, size)
        print(f"\n== {size:,} customers (database {name}, {state})")
        results[size] = run_child(args.server_url, name, size, baseline=size == args.baseline_rows)
    return summary(results)


def summary(results: dict[int, dict]) -> int:
    print("\n== summary")
    baseline = next((r["bulk_update_rows_per_s"] for r in results.values() if "bulk_update_rows_per_s" in r), None)
    ok = True
    for size, r in sorted(results.items()):
        for run in r["runs"]:
            rate = f"{run['rows_per_s']:>10,.0f} rows/s"
            print(f"{size:>9,} customers, {run['label']:<32} {run['total_s']:6.2f} s {rate}")
        nightly = next(run for run in r["runs"] if run["label"] == NIGHTLY)
        line = f"{size:>9,} customers, judged on the nightly run: {nightly['total_s']:.2f} s"
        if baseline:
            ratio = nightly["rows_per_s"] / baseline
            line += f", {ratio:5.1f}x bulk_update ({baseline:,.0f} rows/s)"
            met = ratio >= TARGET_RATIO
            ok &= met
            line += f" [{'met' if met else 'MISSED'} >= {TARGET_RATIO:.0f}x]"
        if size == 1_000_000:
            met = nightly["total_s"] < TARGET_SECONDS_1M
            ok &= met
            line += f" [{'met' if met else 'MISSED'} < {TARGET_SECONDS_1M:.0f} s]"
        print(line)
    if baseline is None:
        print("(no bulk_update baseline in this run: include the baseline size in --sizes to get the ratio)")
    print("targets:", "met" if ok else "NOT met")
    return 0


# --- child: one size, Django set up against its database -----------------------------------------


def child(size: int, *, baseline: bool) -> int:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")
    import django

    django.setup()
    from django.core.management import call_command

    from crm.models import Customer

    call_command("migrate", verbosity=0)
    if not Customer.objects.exists():
        started = time.perf_counter()
        print(f"  seeding {size:,} customers with seed_demo (once per size) ...", flush=True)
        call_command("seed_demo", customers=size, seed=SEED, stdout=open(os.devnull, "w"))  # noqa: SIM115
        print(f"  seeded in {time.perf_counter() - started:.0f} s", flush=True)
        vacuum_analyze()
    counts = table_counts()
    print(
        "  data: "
        + ", ".join(f"{label} {count:,}" for label, count in counts.items())
        + f"; active customers {Customer.objects.filter(status='active').count():,}",
        flush=True,
    )
    result: dict = {"size": size, "counts": counts}
    result.update(floor_facts())
    # Three states of the score table: empty (a new install's first run: every row is an
    # insert), vacuumed (the nightly steady state: autovacuum ran since yesterday's run),
    # and full of the previous run's dead rows (a rerun minutes later).
    score_table("TRUNCATE")
    runs = [recalc_once(COLD)]
    score_table("VACUUM ANALYZE")
    runs.append(recalc_once(NIGHTLY))
    runs.append(recalc_once(BACK_TO_BACK))
    result["runs"] = runs
    if baseline:
        result.update(bulk_update_baseline(runs[1]))
    print(json.dumps(result))
    return 0


def vacuum_analyze() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")


def score_table(command: str) -> None:
    from django.db import connection

    from analytics.models import CustomerScore

    with connection.cursor() as cursor:
        cursor.execute(f"{command} {connection.ops.quote_name(CustomerScore._meta.db_table)}")


def table_counts() -> dict[str, int]:
    from analytics.models import CustomerScore
    from crm.models import Customer
    from sales.models import Opportunity
    from visits.models import Visit

    return {
        "customers": Customer.objects.count(),
        "visits": Visit.objects.count(),
        "opportunities": Opportunity.objects.count(),
        "scores": CustomerScore.objects.count(),
    }


def floor_facts() -> dict:
    """Reading 7 numeric columns of every customer: values_list + np.array vs binary COPY + np.frombuffer."""
    import numpy as np
    from django.db import connection

    from analytics import bridge
    from crm.models import Customer

    names = ["id", "owner_id", "annual_value", "visit_cadence_days", "latitude", "longitude", "employees"]
    started = time.perf_counter()
    rows = list(Customer.objects.values_list(*names))
    values = np.array(rows, dtype=np.float64)
    orm_s = time.perf_counter() - started

    columns = [("id", ">i8")] + [(name, ">f8") for name in names[1:]]
    select = ", ".join(["id"] + [f"COALESCE({name}::float8, 'NaN'::float8)" for name in names[1:]])
    statement = f"COPY (SELECT {select} FROM crm_customer) TO STDOUT (FORMAT binary)"
    started = time.perf_counter()
    buf = bytearray()
    with connection.cursor() as cursor, cursor.cursor.copy(statement) as copy:
        for chunk in copy:
            buf += chunk
    decoded = bridge._decode_binary_copy(buf, columns)
    copy_s = time.perf_counter() - started
    assert len(decoded["id"]) == len(values)
    n = len(values)
    print(
        f"  floor: read 7 numeric columns x {n:,} customers: values_list {orm_s:.2f} s, "
        f"binary COPY {copy_s:.2f} s ({orm_s / copy_s:.1f}x)",
        flush=True,
    )
    return {"floor_values_list_s": orm_s, "floor_binary_copy_s": copy_s}


def recalc_once(label: str) -> dict:
    from analytics.services import scores_recalculate

    phases: dict[str, float] = {}
    started = time.perf_counter()
    run = scores_recalculate(on_phase=lambda name, seconds: phases.__setitem__(name, seconds))
    total = time.perf_counter() - started
    rows = run.done
    print(
        f"  recalc_scores {label}: {rows:,} customers in {total:.2f} s = {rows / total:,.0f} rows/s "
        f"(load {phases['load']:.2f} s, compute {phases['compute']:.2f} s, save+commit {phases['save']:.2f} s, "
        f"run bookkeeping {total - sum(phases.values()):.2f} s)",
        flush=True,
    )
    return {"label": label, "rows": rows, "total_s": total, "rows_per_s": rows / total, **phases}


def bulk_update_baseline(nightly_run: dict) -> dict:
    """Django's bulk_update of the 8 score columns on every CustomerScore row, in one transaction."""
    from django.db import transaction

    from analytics.models import CustomerScore

    fields = ["t1", "t2", "t3", "t4", "t5", "t6", "p", "t"]
    scores = list(CustomerScore.objects.only("customer_id", *fields))  # loading is not timed
    for score in scores:
        for name in fields:
            setattr(score, name, getattr(score, name) * 1.0001 if name != "t4" else score.t4 + 0.001)
    started = time.perf_counter()
    with transaction.atomic():
        CustomerScore.objects.bulk_update(scores, fields, batch_size=1000)
    seconds = time.perf_counter() - started
    rate = len(scores) / seconds
    save_rate = nightly_run["rows"] / nightly_run["save"]
    print(
        f"  baseline: bulk_update(batch_size=1000) of 8 columns x {len(scores):,} rows: {seconds:.1f} s "
        f"= {rate:,.0f} rows/s; recalc_scores end to end is {nightly_run['rows_per_s'] / rate:.1f}x that, "
        f"its save+commit phase alone {save_rate / rate:.1f}x",
        flush=True,
    )
    return {"bulk_update_s": seconds, "bulk_update_rows": len(scores), "bulk_update_rows_per_s": rate}


if __name__ == "__main__":
    sys.exit(main())
