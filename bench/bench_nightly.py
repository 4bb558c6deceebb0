"""The nightly run end to end on real Celery workers: 1 worker process against 2, wall time and speedup.

Usage (from the project root; needs PostgreSQL at 127.0.0.1:5432 user postgres and Redis at 127.0.0.1:6379):

    .venv/bin/python bench/bench_nightly.py                        # 100,000 customers, 500 reps, 1 and 2 workers
    .venv/bin/python bench/bench_nightly.py --repeat 3             # three measurements per worker count
    .venv/bin/python bench/bench_nightly.py --chunk-reps 10,25,50  # compare chunk sizes (PLANNER_CHUNK_REPS)
    .venv/bin/python bench/bench_nightly.py --pool prefork         # one worker, --concurrency N, instead
    make bench                                                     # every bench/bench_*.py

The data set lives in its own database `fieldwise_bench_nightly_<customers>`: created
when missing, migrated, seeded once with `seed_demo --customers 100000 --reps 500`,
reused while it holds that many customers and reps (dropped and reseeded otherwise).
The broker and result backend are Redis db 12, flushed before every measurement.

Every measurement starts from the same state, the nightly steady state: an
untimed warm-up in this process first does the one-off work (the sweep of the
visits missed since seeding, the first fill of the score table, a plan for every
rep), so each timed run updates every score row in place and replaces every rep's
whole plan, as the real nightly run replaces yesterday's. `--fresh` deletes the
bench's plans before each run instead (a first night: nothing to replace). Before
each run the tables a run rewrites are vacuumed (autovacuum has had all day in
real life), a CHECKPOINT is taken (the nightly run is the first to touch those
pages since the last one, so it pays the full-page WAL writes), a run left running
by an interrupted bench is closed, and the bench waits until other processes
leave the machine idle (`--max-busy`, read from /proc/stat;
the load average lags by minutes). All runs plan for the same `as_of` (today 00:00
in TIME_ZONE).

A measurement starts the workers, waits until they answer ping, then times from
queuing `analytics.tasks.nightly` to the planning PlanRun being finished. The
nightly task runs on a worker: missed-visit sweep and scoring (one set-based run
in one process), then the chord of plan chunks shared by the workers, closed by
`plans_finish`.

Workers: by default N separate `celery worker --pool solo` processes, one task at
a time each with its own database connection, the way tests/celery_worker.py
runs them; `--pool prefork` runs one worker with `--concurrency N` (the
docker-compose deployment) for comparison. Task durations are read back from the
workers' INFO logs to split the wall time into its serial part (queue, sweep,
scoring, dispatch) and its parallel part (the chunks).

Targets (100,000 customers, 500 reps): the whole run in under 30 s with 2 workers,
and a speedup of at least 1.6 from 1 to 2 workers.
"""

import argparse
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SERVER = "postgres://postgres@127.0.0.1:5432"
DEFAULT_REDIS = "redis://127.0.0.1:6379/12"
TARGET_SECONDS = 30.0
TARGET_SPEEDUP = 1.6
TARGET_SIZE = (100_000, 500)  # customers, reps
SEED = 42
TASK_LINE = re.compile(r"Task (?P<name>[\w.]+)\[[^\]]+\] succeeded in (?P<seconds>[0-9.]+)s")


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--reps", type=int, default=500)
    parser.add_argument("--workers", default="1,2", help="comma-separated worker counts (default 1,2)")
    parser.add_argument("--repeat", type=int, default=2, help="measurements per worker count (default 2)")
    parser.add_argument("--pool", choices=("solo", "prefork"), default="solo")
    parser.add_argument(
        "--chunk-reps",
        default=os.environ.get("PLANNER_CHUNK_REPS", ""),
        help="comma-separated reps per plan_chunk task (default: the setting, PLANNER_CHUNK_REPS or 25)",
    )
    parser.add_argument(
        "--fresh",
        action="store_true",
        help="plan from nothing each time (a first night) instead of replacing the previous plan",
    )
    parser.add_argument(
        "--max-busy",
        type=float,
        default=0.3,
        help="wait before each run until other processes use at most this many cores, "
        "and measure again a run they took more during (default 0.3)",
    )
    parser.add_argument("--quiet-timeout", type=float, default=300, help="give up waiting after this many s")
    parser.add_argument(
        "--retries",
        type=int,
        default=3,
        help="measure again when others took more than --max-busy cores during a run (default 3 times)",
    )
    parser.add_argument("--server-url", default=os.environ.get("BENCH_POSTGRES_URL", DEFAULT_SERVER))
    parser.add_argument("--redis-url", default=os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS))
    return parser.parse_args(argv)


@dataclass
class Measurement:
    workers: int
    chunk_reps: int
    wall_s: float  # queued -> planning run finished (database clock of the finishing worker)
    pickup_s: float  # queued -> scoring run started: pickup and missed sweep
    scoring_s: float
    handover_s: float  # scoring finished -> planning run opened
    planning_s: float  # planning run opened -> finished: dispatch, the chunks, plans_finish
    visits: int
    reps: int
    chunks: int
    chunk_busy_s: float  # sum of plan_chunk durations over all workers
    chunk_max_s: float
    busy_by_worker: list[float] = field(default_factory=list)
    disturbance: float = 0.0  # cores other processes took during the run


# --- database and Django ---------------------------------------------------------------------------


def database_prepare(server_url: str, name: str, customers: int, reps: int) -> str:
    """Create the database if missing; drop it if it holds another data set."""
    import psycopg

    with psycopg.connect(f"{server_url}/postgres", autocommit=True) as admin:
        if admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            with psycopg.connect(f"{server_url}/{name}") as conn:
                seeded = conn.execute("SELECT to_regclass('crm_customer') IS NOT NULL").fetchone()[0]
                counts = (
                    conn.execute(
                        "SELECT (SELECT count(*) FROM crm_customer), (SELECT count(*) FROM crm_repprofile)"
                    ).fetchone()
                    if seeded
                    else (0, 0)
                )
            if counts == (customers, reps):
                return "reused"
            if counts[0] == 0:
                return "empty"
            print(f"  {name} holds {counts[0]:,} customers and {counts[1]:,} reps: recreating it")
            admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
        return "created"


def django_setup(*, database_url: str, redis_url: str) -> None:
    # This process queues the task and watches the run, against the same database and broker as the workers.
    os.environ.update(
        DJANGO_SETTINGS_MODULE="config.settings.base",
        DEBUG="1",
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        LOG_LEVEL=os.environ.get("LOG_LEVEL", "WARNING"),
    )
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def data_prepare(*, customers: int, reps: int) -> None:
    from django.core.management import call_command

    from crm.models import Customer

    call_command("migrate", verbosity=0)
    if not Customer.objects.exists():
        started = time.perf_counter()
        print(f"  seeding {customers:,} customers and {reps:,} reps with seed_demo (once) ...", flush=True)
        call_command("seed_demo", customers=customers, reps=reps, seed=SEED, stdout=open(os.devnull, "w"))  # noqa: SIM115
        print(f"  seeded in {time.perf_counter() - started:.0f} s", flush=True)
        sql("VACUUM ANALYZE")


def sql(statement: str, params=None) -> list[tuple]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.fetchall() if cursor.description else []


def state_reset(*, fresh: bool) -> int:
    """Put the database back in the state every measurement starts from; returns planner visits deleted."""
    from django.db import connection
    from django.utils import timezone

    from analytics.models import CustomerScore, PlanRun
    from core.audit import audit_trail_paused
    from visits.models import Visit

    # A run left running by an interrupted bench would refuse the next one until its lease expired.
    PlanRun.objects.filter(status=PlanRun.Status.RUNNING).update(
        status=PlanRun.Status.FAILED, finished_at=timezone.now(), lease_expires_at=None
    )
    deleted = 0
    if fresh:
        # Seeded history has no plan_run; everything with one was planned by a bench run.
        # Machine cleanup, like the plan swap: no audit row (and reload) per deleted visit.
        with audit_trail_paused():
            deleted, _ = Visit.objects.filter(
                origin=Visit.Origin.PLANNER, status=Visit.Status.PLANNED, plan_run__isnull=False
            ).delete()
    # Each run rewrites every score row and every rep's plan and updates its PlanRuns many times:
    # clean out the previous run's dead rows (as autovacuum would have done since yesterday; it
    # may be off on a development server) so every measurement starts alike. Dead PlanRun rows
    # alone slow the commit of the scores (a foreign-key check per score row) several-fold.
    for model in (Visit, CustomerScore, PlanRun):
        sql(f"VACUUM ANALYZE {connection.ops.quote_name(model._meta.db_table)}")
    sql("CHECKPOINT")
    return deleted


def warm_up(*, as_of, fresh: bool) -> None:
    """Untimed, in this process: the one-off work, so that every timed run starts from the same state.

    The sweep of the visits missed since seeding, the first fill of the score table
    (every later run updates rows in place) and, unless `fresh`, a plan for every
    rep at the same as_of (every timed run then replaces a whole plan, as the nightly
    run replaces yesterday's).
    """
    from analytics.runs import run_finish
    from analytics.services import scores_recalculate
    from visits.services import plans_build, plans_run_start, visits_mark_missed

    started = time.perf_counter()
    missed = visits_mark_missed(as_of=as_of)
    scores = scores_recalculate(as_of=as_of)
    line = f"  warm-up (untimed): {missed:,} visits marked missed, {scores.done:,} customers scored"
    if not fresh:
        run, chunks = plans_run_start(as_of=as_of)
        planned = plans_build(rep_ids=[rep for chunk in chunks for rep in chunk], as_of=as_of, run=run)
        run_finish(run_id=run.pk)
        line += f", {planned:,} visits planned in process"
    print(f"{line} in {time.perf_counter() - started:.1f} s", flush=True)


# --- workers ---------------------------------------------------------------------------------------


class Workers:
    """N solo worker processes (or one prefork worker with N children) until the block ends."""

    def __init__(self, *, count: int, pool: str, env: dict, tag: str):
        self.count, self.pool, self.env, self.tag = count, pool, env, tag
        self.processes: list[subprocess.Popen] = []
        self.logs: list[str] = []
        self.nodes: list[str] = []

    def __enter__(self):
        from config.celery import app

        host = socket.gethostname()
        if self.pool == "solo":
            specs = [(f"bench{self.tag}-{i + 1}@{host}", ["--pool", "solo"]) for i in range(self.count)]
        else:
            specs = [(f"bench{self.tag}@{host}", ["--pool", "prefork", "--concurrency", str(self.count)])]
        for node, pool_args in specs:
            log = tempfile.NamedTemporaryFile(prefix="bench-nightly-", suffix=".log", delete=False)  # noqa: SIM115
            command = [sys.executable, "-m", "celery", "-A", "config", "worker", "-n", node, *pool_args]
            command += ["--without-mingle", "--without-gossip", "--loglevel", "INFO"]
            self.processes.append(
                subprocess.Popen(command, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT)  # noqa: S603
            )
            self.logs.append(log.name)
            self.nodes.append(node)
            log.close()
        deadline = time.monotonic() + 90
        waiting = set(self.nodes)
        while waiting:
            for reply in app.control.ping(destination=sorted(waiting), timeout=0.5):
                waiting -= set(reply)
            if any(p.poll() is not None for p in self.processes) or time.monotonic() > deadline:
                self.__exit__(None, None, None)
                raise SystemExit(f"workers {sorted(waiting)} did not start; see {self.logs}")
        return self

    def __exit__(self, *exc):
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def task_seconds(self) -> list[list[tuple[str, float]]]:
        """(task name, seconds) of every task each worker process finished, read from its log."""
        per_log = []
        for path in self.logs:
            text = Path(path).read_text(errors="replace")
            per_log.append([(m["name"], float(m["seconds"])) for m in TASK_LINE.finditer(text)])
        return per_log

    def remove_logs(self) -> None:
        for path in self.logs:
            Path(path).unlink(missing_ok=True)


def worker_env(*, database_url: str, redis_url: str, chunk_reps: int) -> dict:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.base",
        "DEBUG": "1",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "PLANNER_CHUNK_REPS": str(chunk_reps),
        "LOG_LEVEL": "INFO",
    }


# --- a quiet machine -------------------------------------------------------------------------------
# The machine is shared: the bench waits for a quiet moment before each run and accounts for
# the CPU others took during it (machine busy time minus that of our workers, this process and
# the PostgreSQL backends serving our database), measuring a disturbed run again.


def machine_ticks() -> tuple[int, int]:
    """(all, busy) CPU ticks of the machine since boot, summed over the cores (Linux /proc/stat)."""
    with open("/proc/stat") as stat:
        ticks = [int(x) for x in stat.readline().split()[1:9]]  # user nice system idle iowait irq softirq steal
    return sum(ticks), sum(ticks) - ticks[3] - ticks[4]


def process_ticks(pid: int) -> int:
    """User + system CPU ticks a process used so far (0 once it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    return int(fields[11]) + int(fields[12])  # utime, stime


def child_pids(pids: list[int]) -> list[int]:
    """Direct children of `pids` (a prefork worker's pool processes)."""
    children = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    ppid = int(stat.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            if ppid in pids:
                children.append(int(entry))
    return children


def database_backend_pids() -> list[int]:
    return [pid for (pid,) in sql("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")]


class CpuAccount:
    """Cores used by everyone else between start() and stop(): machine busy time minus ours.

    Celery closes the database connection around every task, so our PostgreSQL
    backends come and go: sample() (called while the run is polled) keeps the last
    reading of each, losing only a backend's last moments before it exits.
    """

    def __init__(self, worker_pids: list[int]):
        self.worker_pids = worker_pids
        self.last: dict[int, int] = {}

    def sample(self) -> None:
        pids = {os.getpid(), *self.worker_pids, *child_pids(self.worker_pids), *database_backend_pids()}
        for pid in pids:
            self.last[pid] = max(self.last.get(pid, 0), process_ticks(pid))

    def start(self) -> None:
        self.sample()
        self.first = dict(self.last)
        self.machine0 = machine_ticks()
        self.started = time.monotonic()

    def stop(self) -> float:
        machine1 = machine_ticks()
        self.sample()
        seconds = time.monotonic() - self.started
        mine = sum(ticks - self.first.get(pid, 0) for pid, ticks in self.last.items())
        busy = machine1[1] - self.machine0[1]
        return max(0.0, (busy - mine) / os.sysconf("SC_CLK_TCK") / seconds)


def others_busy(seconds: float = 1.0) -> float:
    """Cores busy over `seconds` while this bench is idle: everyone else's load right now."""
    total0, busy0 = machine_ticks()
    time.sleep(seconds)
    total1, busy1 = machine_ticks()
    return (os.cpu_count() or 1) * (busy1 - busy0) / max(1, total1 - total0)


def quiet_wait(*, max_busy: float, timeout: float) -> float:
    """Wait (up to `timeout` s) until others use at most `max_busy` cores; returns the last reading.

    The load average lags by minutes and counts the workers of the previous run that
    just stopped; a direct reading of idle time does not.
    """
    deadline = time.monotonic() + timeout
    busy = others_busy()
    while busy > max_busy and time.monotonic() < deadline:
        print(f"      (others use {busy:.2f} cores; waiting for a quiet machine)", flush=True)
        time.sleep(10)
        busy = others_busy()
    return busy


# --- one measurement -------------------------------------------------------------------------------


def measure(
    *, workers: int, chunk_reps: int, pool: str, env: dict, as_of, redis_url: str, fresh: bool, quiet: tuple
) -> Measurement:
    import redis
    from django.utils import timezone

    from analytics.models import PlanRun
    from analytics.tasks import nightly
    from visits.models import Visit

    state_reset(fresh=fresh)
    redis.Redis.from_url(redis_url).flushdb()
    quiet_wait(max_busy=quiet[0], timeout=quiet[1])
    with Workers(count=workers, pool=pool, env=env, tag=f"{workers}x{chunk_reps}") as pool_:
        account = CpuAccount([p.pid for p in pool_.processes])
        account.start()
        queued = timezone.now()
        started = time.perf_counter()
        result = nightly.apply_async(kwargs={"as_of": as_of.isoformat()})
        while not result.ready():  # the nightly task: sweep, scoring, dispatch
            if time.perf_counter() - started > 900:
                raise SystemExit("the nightly task did not finish in 900 s")
            account.sample()
            time.sleep(0.05)
        run_id = result.get()
        if run_id is None:
            raise SystemExit("the nightly task refused to start (another run live?)")
        while PlanRun.objects.filter(pk=run_id, status=PlanRun.Status.RUNNING).exists():
            if time.perf_counter() - started > 900:
                raise SystemExit(f"planning run #{run_id} did not finish in 900 s")
            account.sample()
            time.sleep(0.05)
        disturbance = account.stop()
        time.sleep(0.5)  # let the workers write their last log lines
    tasks = pool_.task_seconds()
    pool_.remove_logs()
    plans = PlanRun.objects.get(pk=run_id)
    scores = PlanRun.objects.filter(kind=PlanRun.Kind.SCORES, started_at__gte=queued).latest("started_at")
    for run in (scores, plans):
        if run.status != PlanRun.Status.SUCCEEDED:
            raise SystemExit(f"{run.kind} run #{run.pk} ended {run.status}: {run.error}")
    if plans.done != plans.total:
        raise SystemExit(f"planning run #{run_id}: {plans.done} of {plans.total} reps done")
    planned = Visit.objects.filter(plan_run=plans)
    chunk_times = [seconds for log in tasks for name, seconds in log if name == "visits.tasks.plan_chunk"]
    return Measurement(
        workers=workers,
        chunk_reps=chunk_reps,
        wall_s=(plans.finished_at - queued).total_seconds(),
        pickup_s=(scores.started_at - queued).total_seconds(),
        scoring_s=(scores.finished_at - scores.started_at).total_seconds(),
        handover_s=(plans.started_at - scores.finished_at).total_seconds(),
        planning_s=(plans.finished_at - plans.started_at).total_seconds(),
        visits=planned.count(),
        reps=planned.values("rep_id").distinct().count(),
        chunks=len(chunk_times),
        chunk_busy_s=sum(chunk_times),
        chunk_max_s=max(chunk_times, default=0.0),
        busy_by_worker=[sum(seconds for name, seconds in log if name == "visits.tasks.plan_chunk") for log in tasks],
        disturbance=disturbance,
    )


def report(m: Measurement, index: int) -> None:
    busy = " + ".join(f"{seconds:.1f}" for seconds in m.busy_by_worker)
    print(
        f"  #{index} {m.workers} worker(s), chunks of {m.chunk_reps}: {m.wall_s:6.2f} s "
        f"[pickup+sweep {m.pickup_s:.2f}, scoring {m.scoring_s:.2f}, handover {m.handover_s:.2f}, "
        f"planning {m.planning_s:.2f}]; {m.visits:,} visits for {m.reps} reps; "
        f"{m.chunks} chunks busy {m.chunk_busy_s:.1f} s ({busy} per process), longest {m.chunk_max_s:.2f} s; "
        f"others took {m.disturbance:.2f} cores during it",
        flush=True,
    )


# --- summary ---------------------------------------------------------------------------------------


def summary(results: dict[tuple[int, int], list[Measurement]], *, judged_chunk: int | None) -> None:
    print("\n== summary (wall = queued -> planning run finished)")
    best: dict[tuple[int, int], Measurement] = {}
    for (chunk, workers), runs in sorted(results.items()):
        walls = [m.wall_s for m in runs]
        best[chunk, workers] = min(runs, key=lambda m: m.wall_s)
        b = best[chunk, workers]
        print(
            f"  chunks of {chunk:>3} reps, {workers} worker(s): best {min(walls):6.2f} s, "
            f"median {statistics.median(walls):6.2f} s over {len(walls)}, "
            f"others took up to {max(m.disturbance for m in runs):.2f} cores "
            f"(best: scoring {b.scoring_s:.2f} s, planning {b.planning_s:.2f} s, "
            f"serial part {b.wall_s - b.planning_s:.2f} s)"
        )
    chunks = sorted({chunk for chunk, _ in results})
    for chunk in chunks:
        one, two = best.get((chunk, 1)), best.get((chunk, 2))
        if not (one and two):
            continue
        one_median = statistics.median(m.wall_s for m in results[chunk, 1])
        two_median = statistics.median(m.wall_s for m in results[chunk, 2])
        speedup = one.wall_s / two.wall_s
        # Amdahl: only the planning part is shared; the rest (pickup, sweep, scoring, handover) is one process.
        serial = one.wall_s - one.planning_s
        bound = one.wall_s / (serial + one.planning_s / 2)
        planning_speedup = one.planning_s / two.planning_s
        print(
            f"  chunks of {chunk:>3} reps: 1 worker {one.wall_s:.2f} s, 2 workers {two.wall_s:.2f} s, "
            f"speedup {speedup:.2f} (medians {one_median:.2f} / {two_median:.2f} s = {one_median / two_median:.2f}); "
            f"planning part alone {one.planning_s:.2f} -> {two.planning_s:.2f} s = {planning_speedup:.2f}x; "
            f"Amdahl bound with a serial {serial:.2f} s of {one.wall_s:.2f} s: {bound:.2f}"
        )
        # The serial part that would give the target speedup with the planning times measured:
        # (s + P1) / (s + P2) >= target  <=>  s <= (P1 - target * P2) / (target - 1).
        room = (one.planning_s - TARGET_SPEEDUP * two.planning_s) / (TARGET_SPEEDUP - 1)
        print(
            f"      a speedup of {TARGET_SPEEDUP} with these planning times needs a serial part "
            + (
                f"<= {room:.2f} s (measured {serial:.2f} s)"
                if room > 0
                else "of 0 s: the planning part alone scales less"
            )
        )
        if chunk == judged_chunk:
            time_met = two.wall_s < TARGET_SECONDS
            speed_met = speedup >= TARGET_SPEEDUP
            print(
                f"  targets (chunks of {chunk}): 2 workers {two.wall_s:.2f} s "
                f"[{'met' if time_met else 'MISSED'} < {TARGET_SECONDS:.0f} s]; "
                f"speedup {speedup:.2f} [{'met' if speed_met else 'MISSED'} >= {TARGET_SPEEDUP}]"
                + ("" if speed_met or bound >= TARGET_SPEEDUP else " (out of reach: the serial part caps it)")
            )


def main(argv=None) -> int:
    args = parse_args(argv)
    # Killed (timeout, Ctrl-C): unwind, so the worker processes are stopped too.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    name = f"fieldwise_bench_nightly_{args.customers}"
    database_url = f"{args.server_url}/{name}"
    workers = [int(n) for n in args.workers.split(",") if n.strip()]
    print(
        f"bench_nightly: nightly run (sweep + scores + plans) for {args.customers:,} customers and "
        f"{args.reps:,} reps on PostgreSQL, {', '.join(map(str, workers))} worker process(es), pool {args.pool}"
    )
    print(f"  load average {', '.join(f'{x:.2f}' for x in os.getloadavg())}; {os.cpu_count()} CPUs")
    state = database_prepare(args.server_url, name, args.customers, args.reps)
    print(f"  database {name} ({state}), broker {args.redis_url}")
    django_setup(database_url=database_url, redis_url=args.redis_url)
    from django.conf import settings
    from django.utils import timezone

    from visits.services import day_start

    chunk_sizes = [int(n) for n in args.chunk_reps.split(",") if n.strip()] or [settings.FIELDWISE_PLANNER_CHUNK_REPS]
    data_prepare(customers=args.customers, reps=args.reps)
    counts = sql(
        "SELECT (SELECT count(*) FROM crm_customer), (SELECT count(*) FROM crm_repprofile), "
        "(SELECT count(*) FROM visits_visit)"
    )[0]
    print(f"  data: {counts[0]:,} customers, {counts[1]:,} reps, {counts[2]:,} visits")
    as_of = day_start(timezone.localdate())  # fixed for every measurement: plans start at today's 00:00
    print(f"  as_of {as_of.isoformat()}, horizon {settings.FIELDWISE_PLANNER_HORIZON_DAYS} working days")
    state_reset(fresh=args.fresh)
    warm_up(as_of=as_of, fresh=args.fresh)

    results: dict[tuple[int, int], list[Measurement]] = {}
    index = 0
    for chunk in chunk_sizes:
        env = worker_env(database_url=database_url, redis_url=args.redis_url, chunk_reps=chunk)
        for _ in range(args.repeat):
            # Alternate the worker counts so a slow spell of the machine does not hit one count only.
            for count in workers:
                index += 1
                options = {
                    "workers": count,
                    "chunk_reps": chunk,
                    "pool": args.pool,
                    "env": env,
                    "as_of": as_of,
                    "redis_url": args.redis_url,
                    "fresh": args.fresh,
                    "quiet": (args.max_busy, args.quiet_timeout),
                }
                m = measure(**options)
                for _ in range(args.retries):
                    if m.disturbance <= args.max_busy:
                        break
                    print(f"      disturbed (others took {m.disturbance:.2f} cores): measuring again", flush=True)
                    m = measure(**options)
                results.setdefault((chunk, count), []).append(m)
                report(m, index)
    default = settings.FIELDWISE_PLANNER_CHUNK_REPS
    judged = default if default in chunk_sizes else chunk_sizes[0]
    if (args.customers, args.reps) != TARGET_SIZE:
        print(f"\n(targets are set for {TARGET_SIZE[0]:,} customers and {TARGET_SIZE[1]} reps: not judged here)")
        judged = None
    summary(results, judged_chunk=judged)
    return 0


if __name__ == "__main__":
    sys.exit(main())
