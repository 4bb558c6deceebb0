"""Load: simulated reps and managers against gunicorn (2 workers) on PostgreSQL, then again with a worker killed.

Usage (from the project root; needs PostgreSQL at 127.0.0.1:5432 user postgres, and
Redis at 127.0.0.1:6379 unless `--redis-url ""`):

    .venv/bin/python bench/bench_load.py                    # 20 users for 60 s, twice (the second with a kill)
    .venv/bin/python bench/bench_load.py --duration 30 --users 10
    .venv/bin/python bench/bench_load.py --no-kill-run      # the load run only
    make bench                                              # every bench/bench_*.py

Data: the database `fieldwise_bench_load` (`fieldwise_bench_load_<N>` for another
`--customers N`) is created, migrated and seeded once with `seed_demo --customers 100000`
(about a minute), and reused while it holds that many customers. The reps of the
bench need planned visits today: when they have none (a new day), the nightly job
is run in this process with `run_nightly --as-of <today 00:00>` (about 25 s at
100,000 customers: every rep's plan from the start of today, so the bench finds a
full day whatever the hour). On a day the demo reps do not work (a weekend) the
bench reps' profiles get that weekday as a working day first, said in the output.
Before each run the visits of today the bench reps checked in or completed (the
seeded history ends yesterday: only the bench does today's) are reopened, planned or
confirmed as they were, and the needs and follow-ups their reports created deleted,
so every run starts from the same day and the bench can be re-run any number of
times; the database is left in place for the next time.

Server: gunicorn, 2 sync workers, as the Docker image runs it, on 127.0.0.1 at a free
port, with production settings: DEBUG=0, a random SECRET_KEY, ALLOWED_HOSTS=127.0.0.1,
static files collected to a temporary STATIC_ROOT and served by WhiteNoise, the Redis
cache (`--redis-url`, db 10 by default, flushed first). The settings are not relaxed:
SECURE_SSL_REDIRECT and BEHIND_TLS_PROXY keep their production value (on), so the
clients play the browser behind the TLS proxy, as config/healthcheck.py does: every
request carries `X-Forwarded-Proto: https`, a POST carries the Origin and Referer a
browser on https sends (Django's CSRF check for secure requests wants them), and the
Secure session and CSRF cookies are sent back (a browser sends them: its URL is
https; it is only the last hop, proxy to gunicorn, that is plain http on loopback).
The clients use the standard library's http.client with their own cookie jar for
that reason (`requests` would drop Secure cookies over http), in threads rather than
locust: no new dependency (locust brings gevent, Flask, ZeroMQ), and the phone-app
retries, the report checks and the kill are plain code; 20 users spend their time
sleeping, well within threads' reach. The server is warmed with a few untimed
requests per worker before each run.

Users (`--users`, default 20; a quarter managers, `--managers`): threads, each its own
account and session, think time 0.5-1 s between requests (`--think`); a browser's
cache: each static file once per user. Every user logs in first (spread over 2 s,
untimed: 20 password hashes at once would only measure the login stampede of a
morning that never comes all in one second; the login figures are printed apart),
then the measured window of `--duration` s opens for all of them at once.
- A rep (`rep1`, `rep2`, ...) logs in, then loops: Today, the week calendar, the
  customer list searched for a name seen on it, a customer page, follow-ups, the
  pipeline board and, spread over the run, the write that matters: one of today's
  planned visits opened, checked in (with the customer's position) and its report
  filed with a need and a follow-up task, checking out in the same form.
- A manager (`manager1`, ...) logs in, then loops: the dashboard for their team this
  month with its field-today panel (the htmx request the page makes), the runs page,
  the customer list (a sort and page), a customer page, the pipeline board.

Printed per page type and overall: requests, requests/s, median and p95 latency (ms)
and errors (an unexpected status, a page that does not show the expected result, a
connection failure). Target of the load run: zero errors and p95 under 500 ms over
all pages ("all pages": the static files, fast and few per user, are listed apart and
would only flatter the p95). Next to the client's figures, "in worker": the time a
worker spent on the request (gunicorn's access log, %(D)s), without the wait for a
free worker; where the two differ, requests queued (2 workers, CPUs shared).

The kill run (unless `--no-kill-run`): the same load, and at `--kill-at` s (default:
half way) one gunicorn worker is killed with SIGKILL; the master starts another. The
victim is a worker in the middle of a report submission (the bench matches the
client's port with the workers' sockets in /proc, freezes that worker with SIGSTOP and
kills it if the client is still waiting for the answer 50 ms later; up to 15 s are
given to catch one, then any worker is killed), so the kill hits the write that must
not be lost. The clients behave like a phone app: a request that fails at the
connection level (reset, refused, 502/503/504, timeout) is sent again until a definite
answer comes back (a report for up to 60 s). A report re-posted after its answer was lost meets a visit
already reported: the server refuses it ("already been filed") and the client then
checks the visit page shows its own report. At the end every report a client
considers filed is looked up in the database: the visit completed, its report text
equal to the one sent (each holds a unique token), exactly one need and one follow-up
(no duplicate). To see the server's answer to a re-posted report whatever the kill
hits, each rep of the kill run also posts their first report a second time on purpose
(page "report (re-POST)"): it must be refused, creating nothing. Reports lost must
be 0, errors after retries 0; connection failures of the requests in flight at the
kill are expected and counted apart. The load run's reports are checked the same way.

The machine may be shared: before each run the bench waits (up to `--quiet-timeout`
s) until other processes use at most `--max-busy` cores, and the output gives the
load average and the cores others used during each run (machine busy time minus this
process, gunicorn and our PostgreSQL backends). Exit status: non-zero when a target
is missed.
"""

import argparse
import html
import http.client
import math
import os
import random
import re
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from html.parser import HTMLParser
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode, urlsplit

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SERVER = "postgres://postgres@127.0.0.1:5432"
DEFAULT_REDIS = "redis://127.0.0.1:6379/10"
DATABASE = "fieldwise_bench_load"
DEFAULT_CUSTOMERS = 100_000
TARGET_P95_MS = 500.0
REQUEST_TIMEOUT_S = 30.0
RETRY_FOR_S = 30.0  # a page: keep retrying a connection-level failure this long
REPORT_RETRY_FOR_S = 60.0  # a report submission: this long
SEED = 42

# Page types, by path (the POSTs are named by the caller).
PAGES = [
    (re.compile(r"^/static/"), "static"),
    (re.compile(r"^/login/$"), "login"),
    (re.compile(r"^/$"), "home"),
    (re.compile(r"^/today/$"), "today"),
    (re.compile(r"^/calendar/$"), "calendar"),
    (re.compile(r"^/customers/$"), "customer list"),
    (re.compile(r"^/customers/\d+/$"), "customer"),
    (re.compile(r"^/followups/$"), "follow-ups"),
    (re.compile(r"^/pipeline/$"), "pipeline"),
    (re.compile(r"^/visits/\d+/$"), "visit"),
    (re.compile(r"^/visits/\d+/report/$"), "report form"),
    (re.compile(r"^/dashboard/$"), "dashboard"),
    (re.compile(r"^/dashboard/field-today/$"), "field today"),
    (re.compile(r"^/runs/$"), "runs"),
]
CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
STATIC_REF = re.compile(r'(?:href|src)="(/static/[^"]+)"')
TODAY_VISIT = re.compile(r'data-visit-id="(\d+)".*?data-status="([a-z_]+)"', re.S)
CUSTOMER_LINK = re.compile(r'href="/customers/(\d+)/">([^<]+)</a>')
MAP_LINK = re.compile(r"query=(-?[0-9.]+)%2C(-?[0-9.]+)")
FIELD_TODAY = re.compile(r'hx-get="(/dashboard/field-today/[^"]*)"')
TEAM_SELECT = re.compile(r'<select[^>]*name="team"[^>]*>(.*?)</select>', re.S)
OPTION_VALUE = re.compile(r'<option value="(\d+)"')
# gunicorn's access log, in the format given with --access-logformat (%(D)s: microseconds in the worker).
ACCESS_FORMAT = "ACCESS %(m)s %(U)s %(s)s %(D)s %(t)s"
ACCESS_LINE = re.compile(r"^ACCESS (?P<method>\S+) (?P<path>\S+) (?P<status>\d+) (?P<us>\d+) \[(?P<at>[^\]]+)\]")
POST_PAGES = [
    (re.compile(r"^/login/$"), "login (POST)"),
    (re.compile(r"^/visits/\d+/check-in/$"), "check-in (POST)"),
    (re.compile(r"^/visits/\d+/report/$"), "report (POST)"),  # re-POSTs too: the log cannot tell them apart
]
GUNICORN_LINE = re.compile(r"^\[\d{4}-\d\d-\d\d [^]]+\] \[\d+\] \[[A-Z]+\]")
GUNICORN_ERROR = re.compile(r"^\[\d{4}-\d\d-\d\d [^]]+\] \[\d+\] \[(ERROR|CRITICAL)\]")
CUSTOMER_SORTS = ("priority", "last_visit", "-last_visit", "value", "name")
CONNECTION_ERRORS = (OSError, http.client.HTTPException)  # reset, refused, remote disconnected, timeout
RETRY_STATUSES = (502, 503, 504)  # what a proxy answers while the app restarts: as good as no answer


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load per run (default 60)")
    parser.add_argument("--users", type=int, default=20, help="concurrent simulated users (default 20)")
    parser.add_argument("--managers", type=int, default=None, help="of which managers (default: a quarter)")
    parser.add_argument("--think", default="0.5,1.0", help="think time between requests, min,max s (default 0.5,1.0)")
    parser.add_argument("--kill-at", type=float, default=None, help="kill a worker this many s in (default: half way)")
    parser.add_argument("--no-kill-run", action="store_true", help="skip the second run (the worker kill)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2)")
    parser.add_argument(
        "--max-busy",
        type=float,
        default=0.5,
        help="before each run, wait until other processes use at most this many cores (default 0.5) ...",
    )
    parser.add_argument("--quiet-timeout", type=float, default=120, help="... for up to this many s (default 120)")
    parser.add_argument("--customers", type=int, default=DEFAULT_CUSTOMERS)
    parser.add_argument("--server-url", default=os.environ.get("BENCH_POSTGRES_URL", DEFAULT_SERVER))
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS),
        help='the server\'s cache (REDIS_URL; "" for per-process memory)',
    )
    args = parser.parse_args(argv)
    if args.users < 2:
        parser.error("--users: at least 2 (a rep and a manager)")
    args.managers = max(1, args.users // 4) if args.managers is None else args.managers
    if not 1 <= args.managers < args.users:
        parser.error("--managers: at least 1, and fewer than --users")
    try:
        low, high = (float(part) for part in args.think.split(","))
    except ValueError:
        parser.error("--think: two numbers, min,max (e.g. 0.5,1.0)")
    if not 0 <= low <= high:
        parser.error("--think: 0 <= min <= max")
    args.think = (low, high)
    if args.duration <= 0:
        parser.error("--duration: more than 0 s")
    args.kill_at = args.duration / 2 if args.kill_at is None else args.kill_at
    if not 0 < args.kill_at < args.duration:
        parser.error("--kill-at: within the run (0 < s < --duration)")
    return args


# --- database, data and Django (this process: preparation and checks only) ------------------------------


def database_name(customers: int) -> str:
    return DATABASE if customers == DEFAULT_CUSTOMERS else f"{DATABASE}_{customers}"


def database_prepare(server_url: str, name: str, customers: int) -> str:
    """Create the database if missing; drop it when it holds another number of customers."""
    import psycopg

    with psycopg.connect(f"{server_url}/postgres", autocommit=True) as admin:
        if admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            with psycopg.connect(f"{server_url}/{name}") as conn:
                ready = conn.execute("SELECT to_regclass('crm_customer') IS NOT NULL").fetchone()[0]
                count = conn.execute("SELECT count(*) FROM crm_customer").fetchone()[0] if ready else 0
            if count == customers:
                return "reused"
            if count == 0:
                return "empty"
            print(f"  {name} holds {count:,} customers: recreating it")
            admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
        return "created"


def django_setup(database_url: str) -> None:
    # Tasks in this process (no broker): run_nightly plans in process, as `make run` does.
    os.environ.update(
        DJANGO_SETTINGS_MODULE="config.settings.base",
        DEBUG="1",
        DATABASE_URL=database_url,
        REDIS_URL="",
        LOG_LEVEL=os.environ.get("LOG_LEVEL", "WARNING"),
    )
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def data_prepare(customers: int) -> None:
    from django.core.management import call_command

    from crm.models import Customer

    call_command("migrate", verbosity=0)
    from analytics.visit_days import visit_days_refresh

    visit_days_refresh()  # as the nightly job and beat keep them (a rebuild on data seeded before they existed)
    if not Customer.objects.exists():
        started = time.perf_counter()
        print(f"  seeding {customers:,} customers with seed_demo (once) ...", flush=True)
        call_command("seed_demo", customers=customers, seed=SEED, stdout=open(os.devnull, "w"))  # noqa: SIM115
        print(f"  seeded in {time.perf_counter() - started:.0f} s", flush=True)
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")


def bench_accounts(*, reps: int, managers: int) -> tuple[list[str], list[str]]:
    """The demo usernames the simulated users log in as (crm/demo/people.py names them)."""
    from django.contrib.auth import get_user_model

    from crm.demo.people import MANAGER_PREFIX, REP_PREFIX

    rep_names = [f"{REP_PREFIX}{i + 1}" for i in range(reps)]
    manager_names = [f"{MANAGER_PREFIX}{i + 1}" for i in range(managers)]
    found = set(
        get_user_model().objects.filter(username__in=rep_names + manager_names).values_list("username", flat=True)
    )
    missing = [name for name in rep_names + manager_names if name not in found]
    if missing:
        raise SystemExit(f"the demo data has no user {', '.join(missing[:5])}: use fewer --users or --managers")
    return rep_names, manager_names


def today_bounds() -> tuple[date, datetime, datetime]:
    from django.utils import timezone

    from visits.services import day_start

    today = timezone.localdate()
    return today, day_start(today), day_start(today + timedelta(days=1))


def visits_reopen(pks: list[int], status: str) -> None:
    """Undo a check-in, report and check-out (the bench's cleanup; the needs and follow-ups go separately)."""
    from django.db.models.functions import Now

    from visits.models import Visit

    Visit.objects.filter(pk__in=pks).update(
        status=status,
        checked_in_at=None,
        check_in_latitude=None,
        check_in_longitude=None,
        check_in_result="",
        check_in_distance_m=None,
        checked_out_at=None,
        check_out_latitude=None,
        check_out_longitude=None,
        report="",
        outcome="",
        next_step="",
        report_filed_at=None,
        actual_satisfaction=None,
        expected_satisfaction=None,
        needs_raised=0,
        needs_satisfied=0,
        updated_at=Now(),
    )


def day_prepare(rep_names: list[str]) -> None:
    """Give the bench reps a planned day today: put back what a previous run did, plan when needed."""
    from django.core.management import call_command
    from django.db import connection
    from django.db.models import F

    from analytics.models import PlanRun
    from core.audit import audit_trail_paused
    from crm.models import Need, RepProfile
    from visits.models import FollowUp, Visit

    today, start, end = today_bounds()
    profiles = RepProfile.objects.filter(user__username__in=rep_names)
    rep_ids = list(profiles.values_list("user_id", flat=True))
    bit = 1 << today.weekday()
    off = profiles.exclude(working_days=F("working_days").bitor(bit))
    replan = False
    if off.exists():
        count = off.update(working_days=F("working_days").bitor(bit))
        print(f"  today ({today:%A}) is no working day of the demo reps: made it one for the {count} bench reps")
        replan = True

    # Put back the visits of today a previous run checked in or completed: the seeded history ends
    # yesterday, so those are the bench's. The planner's become planned again, the others (seeded
    # as confirmed, or manual) confirmed, as they were.
    touched = list(
        Visit.objects.filter(
            rep_id__in=rep_ids,
            planned_start__gte=start,
            planned_start__lt=end,
            status__in=(Visit.Status.CHECKED_IN, Visit.Status.COMPLETED),
        ).values_list("pk", "plan_run_id")
    )
    if touched:
        ids = [pk for pk, _run in touched]
        with audit_trail_paused():  # the bench's own cleanup, no one's change
            Need.objects.filter(visit_id__in=ids).delete()
            FollowUp.objects.filter(visit_id__in=ids).delete()
            visits_reopen([pk for pk, run in touched if run is not None], Visit.Status.PLANNED)
            visits_reopen([pk for pk, run in touched if run is None], Visit.Status.CONFIRMED)
        print(f"  {len(touched)} visits of today a previous run checked in or completed: reopened")

    open_today = Visit.objects.filter(
        rep_id__in=rep_ids,
        planned_start__gte=start,
        planned_start__lt=end,
        status__in=(Visit.Status.PLANNED, Visit.Status.CONFIRMED),
    )
    if replan or not open_today.exists():
        # A run left running by an interrupted process would refuse this one until its lease expired.
        PlanRun.objects.filter(status=PlanRun.Status.RUNNING).update(
            status=PlanRun.Status.FAILED, lease_expires_at=None
        )
        started = time.perf_counter()
        print(f"  no plan for today yet: run_nightly --as-of {start.isoformat()} (in process) ...", flush=True)
        call_command("run_nightly", as_of=start.isoformat(), stdout=open(os.devnull, "w"))  # noqa: SIM115
        with connection.cursor() as cursor:  # as autovacuum would before the day's first page
            cursor.execute(f"VACUUM ANALYZE {Visit._meta.db_table}")
        print(f"  nightly run done in {time.perf_counter() - started:.0f} s", flush=True)
    counts = Counter(open_today.values_list("rep_id", flat=True))
    per_rep = [counts[rep_id] for rep_id in rep_ids]
    print(
        f"  open visits today for the {len(rep_ids)} bench reps: {sum(per_rep)} "
        f"({min(per_rep)}-{max(per_rep)} per rep)",
        flush=True,
    )


def reports_check(filed: list["FiledReport"]) -> tuple[int, list[str]]:
    """(reports found as sent, problems): every report a client considers filed, looked up in the database."""
    from django.db.models import Count

    from crm.models import Need
    from visits.models import FollowUp, Visit

    ids = [report.visit_id for report in filed]
    visits = {v["pk"]: v for v in Visit.objects.filter(pk__in=ids).values("pk", "status", "report", "report_filed_at")}
    needs = dict(Need.objects.filter(visit_id__in=ids).values_list("visit_id").annotate(n=Count("pk")))
    follow_ups = dict(FollowUp.objects.filter(visit_id__in=ids).values_list("visit_id").annotate(n=Count("pk")))
    found, problems = 0, []
    for report in filed:
        visit = visits.get(report.visit_id)
        if visit is None or visit["report_filed_at"] is None:
            problems.append(f"visit {report.visit_id}: report LOST (the client got a success answer)")
        elif visit["report"] != report.notes:
            problems.append(f"visit {report.visit_id}: another report text: {visit['report'][:80]!r}")
        elif visit["status"] != Visit.Status.COMPLETED:
            problems.append(f"visit {report.visit_id}: report filed but the visit is {visit['status']}")
        elif needs.get(report.visit_id, 0) != 1 or follow_ups.get(report.visit_id, 0) != 1:
            problems.append(
                f"visit {report.visit_id}: {needs.get(report.visit_id, 0)} needs and "
                f"{follow_ups.get(report.visit_id, 0)} follow-ups for 1 of each sent (duplicate?)"
            )
        else:
            found += 1
    return found, problems


def reports_unclaimed(*, rep_names: list[str], filed: list["FiledReport"]) -> int:
    """Visits the bench completed today that no client counts as filed (a client gave up on an answer)."""
    from visits.models import Visit

    _today, start, end = today_bounds()
    return (
        Visit.objects.filter(
            rep__username__in=rep_names, planned_start__gte=start, planned_start__lt=end, report__startswith="Bench "
        )
        .exclude(pk__in=[report.visit_id for report in filed])
        .count()
    )


# --- the server ------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_env(*, database_url: str, redis_url: str, static_root: str) -> dict:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DEBUG", "DJANGO_SETTINGS_MODULE", "REDIS_URL", "SECURE_SSL_REDIRECT", "BEHIND_TLS_PROXY"}
    }
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.base",
        DEBUG="0",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="127.0.0.1",
        DATABASE_URL=database_url,
        STATIC_ROOT=static_root,
        BEHIND_TLS_PROXY="1",
        SECURE_SSL_REDIRECT="1",
        LOG_LEVEL="WARNING",
    )
    if redis_url:
        env["REDIS_URL"] = redis_url
    return env


class Server:
    """gunicorn with N sync workers on 127.0.0.1:<free port> until the block ends."""

    def __init__(self, *, env: dict, workers: int):
        self.env, self.workers = env, workers
        self.port = free_port()
        self.process: subprocess.Popen | None = None
        log = tempfile.NamedTemporaryFile(prefix="bench-load-gunicorn-", suffix=".log", delete=False)  # noqa: SIM115
        self.log_path = log.name
        log.close()

    def __enter__(self):
        command = [
            str(Path(sys.executable).with_name("gunicorn")),
            "config.wsgi:application",
            "--bind",
            f"127.0.0.1:{self.port}",
            "--workers",
            str(self.workers),
            "--access-logfile",
            "-",
            "--access-logformat",
            ACCESS_FORMAT,
        ]
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(command, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT)  # noqa: S603
        deadline = time.monotonic() + 90
        while True:
            if self.process.poll() is not None:
                raise SystemExit(f"gunicorn exited ({self.process.returncode}); see {self.log_path}")
            try:
                status, _body, _headers = raw_get(self.port, "/login/")
                if status == 200 and len(self.worker_pids()) == self.workers:
                    return self
            except CONNECTION_ERRORS:
                pass
            if time.monotonic() > deadline:
                self.__exit__(None, None, None)
                raise SystemExit(f"gunicorn did not answer in 90 s; see {self.log_path}")
            time.sleep(0.3)

    def __exit__(self, *exc):
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)  # graceful: the workers finish their request
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def worker_pids(self) -> list[int]:
        return child_pids([self.process.pid])

    def server_times(self, *, since: float, until: float) -> dict[str, list[float]]:
        """Milliseconds each request spent in a worker (no queueing), by page, finished within [since, until]."""
        times: dict[str, list[float]] = {}
        first, last = math.ceil(since), math.floor(until) + 1  # the log has whole seconds
        for line in Path(self.log_path).read_text(errors="replace").splitlines():
            match = ACCESS_LINE.match(line)
            if not match:
                continue
            at = datetime.strptime(match["at"], "%d/%b/%Y:%H:%M:%S %z").timestamp()
            if first <= at <= last:
                page = page_of(match["path"])
                if match["method"] == "POST":
                    page = next((name for pattern, name in POST_PAGES if pattern.match(match["path"])), page)
                times.setdefault(page, []).append(int(match["us"]) / 1000)
        return times

    def log_errors(self) -> list[str]:
        """Errors the server logged: Django's 500s with their traceback, gunicorn's [ERROR]/[CRITICAL] lines.

        The [ERROR] gunicorn logs for the worker the kill run killed is expected, not counted.
        """
        blocks: list[list[str]] = []
        current: list[str] | None = None
        for line in Path(self.log_path).read_text(errors="replace").splitlines():
            if ACCESS_LINE.match(line) or GUNICORN_LINE.match(line) and not GUNICORN_ERROR.match(line):
                current = None
                continue
            starts = line.startswith(("Internal Server Error", "Traceback")) or GUNICORN_ERROR.match(line)
            if starts and "was sent SIGKILL" in line:
                current = None
            elif current is not None and (not starts or line.startswith("Traceback")):
                current.append(line)
            elif starts:
                current = [line]
                blocks.append(current)
        return ["\n".join(block) for block in blocks]


def raw_get(port: int, path: str) -> tuple[int, bytes, http.client.HTTPMessage]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path, headers={"X-Forwarded-Proto": "https"})
        response = conn.getresponse()
        return response.status, response.read(), response.headers
    finally:
        conn.close()


def collect_static(env: dict) -> None:
    started = time.perf_counter()
    subprocess.run(  # noqa: S603
        [sys.executable, "manage.py", "collectstatic", "--noinput", "--verbosity", "0"], cwd=ROOT, env=env, check=True
    )
    print(f"  static files collected to {env['STATIC_ROOT']} in {time.perf_counter() - started:.0f} s", flush=True)


def redis_flush(url: str) -> bool:
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).flushdb()
    except redis.RedisError as exc:
        print(f"  Redis at {url} unreachable ({exc}): use --redis-url '' to run without it")
        return False
    return True


# --- CPU accounting (a shared machine) -------------------------------------------------------------------


def machine_ticks() -> int:
    """Busy CPU ticks of the machine since boot, summed over the cores."""
    with open("/proc/stat") as stat:
        ticks = [int(x) for x in stat.readline().split()[1:9]]
    return sum(ticks) - ticks[3] - ticks[4]


def process_ticks(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    return int(fields[11]) + int(fields[12])  # utime, stime


def child_pids(pids: list[int]) -> list[int]:
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


def others_busy(seconds: float = 2.0) -> float:
    """Cores busy over `seconds` while this bench is idle: everyone else's load right now."""
    busy0, started = machine_ticks(), time.monotonic()
    time.sleep(seconds)
    return (machine_ticks() - busy0) / os.sysconf("SC_CLK_TCK") / (time.monotonic() - started)


def quiet_wait(*, max_busy: float, timeout: float) -> None:
    """Wait (up to `timeout` s) until other processes use at most `max_busy` cores; say what was found."""
    deadline = time.monotonic() + timeout
    busy = others_busy()
    while busy > max_busy and time.monotonic() < deadline:
        print(f"    (other processes use {busy:.2f} cores: waiting for a quieter machine)", flush=True)
        time.sleep(10)
        busy = others_busy()
    state = "" if busy <= max_busy else f" (more than {max_busy}: measuring anyway after {timeout:.0f} s)"
    print(f"    other processes use {busy:.2f} cores before the run{state}", flush=True)


class CpuAccount:
    """Cores used by this bench (driver, gunicorn, our PostgreSQL backends) and by everyone else."""

    def __init__(self, server: Server, database: str):
        import psycopg

        self.server, self.database = server, database
        self.last: dict[tuple[str, int], int] = {}
        self.stop_event = threading.Event()
        # Its own backend is another database's, so it is not counted as ours.
        self.conn = psycopg.connect(server.env["DATABASE_URL"].rsplit("/", 1)[0] + "/postgres", autocommit=True)

    def _pids(self) -> dict[str, list[int]]:
        query = "SELECT pid FROM pg_stat_activity WHERE datname = %s"
        backends = [pid for (pid,) in self.conn.execute(query, [self.database]).fetchall()]
        return {
            "driver": [os.getpid()],
            "gunicorn": [self.server.process.pid, *self.server.worker_pids()],
            "postgres": backends,
        }

    def sample(self) -> None:
        for group, pids in self._pids().items():
            for pid in pids:
                self.last[(group, pid)] = max(self.last.get((group, pid), 0), process_ticks(pid))

    def _loop(self) -> None:
        while not self.stop_event.wait(1.0):
            self.sample()

    def start(self) -> None:
        self.sample()
        self.first = dict(self.last)
        self.machine0, self.started = machine_ticks(), time.monotonic()
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def stop(self) -> dict[str, float]:
        """Cores used per group over the run, and `others`: the rest of the machine's busy time."""
        self.stop_event.set()
        self.thread.join()
        self.sample()
        self.conn.close()
        seconds, hz = time.monotonic() - self.started, os.sysconf("SC_CLK_TCK")
        used: dict[str, float] = {}
        for (group, pid), ticks in self.last.items():
            used[group] = used.get(group, 0.0) + (ticks - self.first.get((group, pid), 0)) / hz / seconds
        used["machine"] = (machine_ticks() - self.machine0) / hz / seconds
        used["others"] = max(0.0, used["machine"] - sum(used.get(g, 0.0) for g in ("driver", "gunicorn", "postgres")))
        return used


# --- the clients -----------------------------------------------------------------------------------------


@dataclass
class Sample:
    """One request (or one check of what a page showed, kind "check"; a bench bug, kind "bench")."""

    page: str
    at: float  # seconds since the run started
    ms: float
    status: int | None  # None: no HTTP answer
    ok: bool
    kind: str = "request"  # request | retried (no answer, sent again) | check | bench
    detail: str = ""

    @property
    def is_request(self) -> bool:
        return self.kind in ("request", "retried")

    @property
    def is_error(self) -> bool:
        """An error that stands: not a connection failure the client got past by sending again."""
        return not self.ok and self.kind != "retried"


@dataclass
class FiledReport:
    user: str
    visit_id: int
    notes: str
    attempts: int  # POSTs sent: more than 1 when an attempt got no answer
    confirmed_after_refusal: bool  # re-posted after a lost answer, refused as already filed, found on the page


@dataclass
class Run:
    """What the users of one run record; list.append is atomic, so the threads share it as is."""

    port: int
    started: float
    deadline: float
    think: tuple[float, float]
    today: date
    tag: str
    password: str  # the demo users' (settings.FIELDWISE_DEMO_PASSWORD)
    samples: list[Sample] = field(default_factory=list)
    login_samples: list[Sample] = field(default_factory=list)  # before the measured window
    filed: list[FiledReport] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)  # errors after retries, with their reason
    kills: list[str] = field(default_factory=list)
    reports_in_flight: dict[int, str] = field(default_factory=dict)  # client port -> what is being sent
    repost: bool = False  # each rep posts their first report twice
    wall_started: float = 0.0  # the window in wall-clock time, to read the access log
    wall_ended: float = 0.0
    reposted: set[str] = field(default_factory=set)
    reposts_refused: int = 0
    writes_skipped: int = 0


class Response:
    def __init__(self, status: int | None, body: str, path: str, attempts: int = 1):
        self.status, self.body, self.path, self.attempts = status, body, path, attempts


class PageError(Exception):
    """A request that got no acceptable answer (already recorded as an error sample)."""


class Browser:
    """One user's session: cookies (Secure ones included: the user is on https), the proxy's header."""

    def __init__(self, run: Run, username: str, rng: random.Random):
        self.run, self.username, self.rng = run, username, rng
        self.origin = f"https://127.0.0.1:{run.port}"
        self.cookies: dict[str, str] = {}
        self.referer = f"{self.origin}/login/"
        self.static_seen: set[str] = set()
        self.samples = run.samples  # run.login_samples while logging in

    def think(self) -> None:
        time.sleep(self.rng.uniform(*self.run.think))

    def _store_cookies(self, headers: http.client.HTTPMessage) -> None:
        for header in headers.get_all("Set-Cookie") or []:
            jar = SimpleCookie()
            jar.load(header)
            for name, morsel in jar.items():
                if morsel["max-age"] == "0":
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value

    def _send(
        self, method: str, path: str, body: str | None, extra: dict, track: bool
    ) -> tuple[int, str, http.client.HTTPMessage]:
        headers = {
            "X-Forwarded-Proto": "https",  # what the TLS proxy adds: the request came over https
            "User-Agent": "fieldwise-bench-load",
            "Accept": "text/html,*/*",
            "Referer": self.referer,
            **extra,
        }
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{name}={value}" for name, value in self.cookies.items())
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            headers["Origin"] = self.origin
        conn = http.client.HTTPConnection("127.0.0.1", self.run.port, timeout=REQUEST_TIMEOUT_S)
        port = None
        try:
            conn.connect()
            if track:  # the kill run aims at the worker serving this connection
                port = conn.sock.getsockname()[1]
                self.run.reports_in_flight[port] = f"{self.username}'s {method} {path}"
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            if port is not None:  # answered: the server's work is done, only bytes are left in transit
                self.run.reports_in_flight.pop(port, None)
            data = response.read()
            return response.status, data.decode("utf-8", "replace"), response.headers
        finally:
            if port is not None:
                self.run.reports_in_flight.pop(port, None)
            conn.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        page: str | None = None,
        data: dict | None = None,
        expect: tuple[int, ...] = (200,),
        follow: bool = True,
        retry_for: float = RETRY_FOR_S,
        extra: dict | None = None,
        track: bool = False,
    ) -> Response:
        """One request, sent again after a connection-level failure; redirects followed as their own pages."""
        page = page or page_of(path)
        body = urlencode(data, doseq=True) if data is not None else None
        give_up = time.monotonic() + retry_for
        delay = 0.2
        attempts = 0
        while True:
            attempts += 1
            sent = time.monotonic()
            try:
                status, text, headers = self._send(method, path, body, extra or {}, track)
                failure = f"HTTP {status}" if status in RETRY_STATUSES else None
            except CONNECTION_ERRORS as exc:
                status, text, headers, failure = None, "", None, f"{type(exc).__name__}: {exc}"
            ms = (time.monotonic() - sent) * 1000
            at = sent - self.run.started
            if failure is None:
                break
            retry = time.monotonic() + delay < give_up
            kind = "retried" if retry else "request"
            self.samples.append(Sample(page, at, ms, status, ok=False, kind=kind, detail=failure))
            if not retry:
                self.run.failures.append(f"{self.username} {method} {path}: {failure}, no answer after retries")
                raise PageError(failure)
            time.sleep(delay)
            delay = min(2.0, delay * 2)
        self._store_cookies(headers)
        ok = status in expect
        detail = "" if ok else f"HTTP {status}"
        self.samples.append(Sample(page, at, ms, status, ok=ok, detail=detail))
        if not ok:
            self.run.failures.append(f"{self.username} {method} {path}: HTTP {status} ({page})")
            raise PageError(detail)
        if status in (301, 302, 303) and follow:
            location = urlsplit(headers["Location"])
            target = location.path + (f"?{location.query}" if location.query else "")
            answer = self.request("GET", target)
            answer.attempts = attempts
            return answer
        if method == "GET":
            self.referer = self.origin + path
            self.fetch_static(text)
        return Response(status, text, path, attempts)

    def fetch_static(self, text: str) -> None:
        """A browser's first visit loads the page's CSS and JS, later ones come from its cache."""
        for ref in STATIC_REF.findall(text):
            ref = html.unescape(ref)
            if ref not in self.static_seen:
                self.static_seen.add(ref)
                self.request("GET", ref, page="static")

    def fail(self, page: str, reason: str) -> None:
        """A page that answered but does not show what it should: an error."""
        at = time.monotonic() - self.run.started
        self.samples.append(Sample(page, at, 0.0, None, ok=False, kind="check", detail=reason))
        self.run.failures.append(f"{self.username}: {reason}")
        raise PageError(reason)

    def login(self) -> None:
        page = self.request("GET", "/login/")
        token = csrf_token(page, self)
        self.request(
            "POST",
            "/login/",
            page="login (POST)",
            data={"csrfmiddlewaretoken": token, "username": self.username, "password": self.run.password},
            expect=(302,),
        )
        if "sessionid" not in self.cookies:
            self.fail("login (POST)", f"{self.username} is not logged in after the login form")

    def running(self) -> bool:
        return time.monotonic() < self.run.deadline


def page_of(path: str) -> str:
    route = urlsplit(path).path
    for pattern, name in PAGES:
        if pattern.match(route):
            return name
    return route


def csrf_token(page: Response, browser: Browser) -> str:
    match = CSRF_INPUT.search(page.body)
    if match is None:
        browser.fail(page_of(page.path), f"no CSRF token on {page.path}")
    return match.group(1)


class FormFields(HTMLParser):
    """The values a browser would submit from the form with id `form_id` (before the user edits them)."""

    def __init__(self, form_id: str):
        super().__init__(convert_charrefs=True)
        self.form_id, self.inside, self.fields = form_id, False, {}
        self._textarea: str | None = None
        self._select: str | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self.inside = attrs.get("id") == self.form_id
        if not self.inside or "name" not in attrs and tag != "option":
            return
        if tag == "input" and attrs.get("type") not in ("submit", "button"):
            if attrs.get("type") in ("checkbox", "radio"):
                if "checked" in attrs:
                    self.fields[attrs["name"]] = attrs.get("value", "on")
            else:
                self.fields[attrs["name"]] = attrs.get("value") or ""
        elif tag == "textarea":
            self._textarea = attrs["name"]
            self.fields[self._textarea] = ""
        elif tag == "select":
            self._select = attrs["name"]
        elif tag == "option" and self._select and "selected" in attrs:
            self.fields[self._select] = attrs.get("value", "")

    def handle_data(self, data):
        if self._textarea:
            self.fields[self._textarea] += data

    def handle_endtag(self, tag):
        if tag == "form":
            self.inside = False
        elif tag == "textarea":
            self._textarea = None
        elif tag == "select":
            self._select = None


def form_fields(text: str, form_id: str) -> dict:
    parser = FormFields(form_id)
    parser.feed(text)
    return parser.fields


# --- the users -------------------------------------------------------------------------------------------


def user(run: Run, username: str, seed: int, round_class, barrier: threading.Barrier) -> None:
    """Log in (untimed, before the window), wait for every user, then do rounds until the end of the run."""
    rng = random.Random(seed)
    browser = Browser(run, username, rng)
    time.sleep(rng.uniform(0, 2.0))  # users do not all arrive in the same millisecond
    browser.samples = run.login_samples
    logged_in = user_step(browser, browser.login)
    try:
        barrier.wait(timeout=300)
    except threading.BrokenBarrierError:
        run.failures.append(f"{username}: the other users did not log in within 300 s")
        return
    browser.samples = run.samples
    if logged_in:
        rounds = round_class(browser, rng)
        while browser.running():
            user_step(browser, rounds.loop)


class RepRound:
    """A rep's round of pages, and one of today's visits done now and then."""

    def __init__(self, browser: Browser, rng: random.Random):
        self.browser, self.rng = browser, rng
        self.names: list[str] = []  # customer names seen, to search for
        self.done: set[int] = set()
        self.writes = 0
        self.open_total: int | None = None

    def loop(self) -> None:
        browser, run = self.browser, self.browser.run
        browser.think()
        today = browser.request("GET", "/today/")
        open_ids = [int(pk) for pk, status in TODAY_VISIT.findall(today.body) if status in ("planned", "confirmed")]
        open_ids = [pk for pk in open_ids if pk not in self.done]
        if self.open_total is None:
            self.open_total = len(open_ids)
        for path in ("/calendar/", "customers", "/followups/", "/pipeline/"):
            if not browser.running():
                return
            browser.think()
            if path == "customers":
                customers_step(browser, self.rng, self.names)
            else:
                browser.request("GET", path)
        if not open_ids:
            run.writes_skipped += 1
            return
        # Today's visits spread over the run: the k-th (from 0) once (k - 1)/n of the run has passed.
        elapsed = (time.monotonic() - run.started) / (run.deadline - run.started)
        if browser.running() and self.writes < self.open_total * elapsed + 1:
            self.done.add(open_ids[0])
            self.writes += 1
            visit_do(browser, self.rng, open_ids[0])


def customers_step(browser: Browser, rng: random.Random, names: list[str]) -> None:
    if names:
        word = rng.choice(names).split()[0]
        found = browser.request("GET", "/customers/?" + urlencode({"q": word}))
    else:
        found = browser.request("GET", "/customers/")
    links = CUSTOMER_LINK.findall(found.body)
    names.extend(html.unescape(name) for _pk, name in links[:10] if len(names) < 200)
    if links:
        browser.think()
        browser.request("GET", f"/customers/{rng.choice(links)[0]}/")


def visit_do(browser: Browser, rng: random.Random, visit_id: int) -> None:
    """Open a planned visit, check in at the customer, file the report checking out: the write that matters."""
    run = browser.run
    detail = browser.request("GET", f"/visits/{visit_id}/")
    if 'id="check-in-form"' in detail.body:
        browser.think()
        where = MAP_LINK.search(detail.body)
        position = {"latitude": where.group(1), "longitude": where.group(2)} if where else {}
        detail = browser.request(
            "POST",
            f"/visits/{visit_id}/check-in/",
            page="check-in (POST)",
            data={"csrfmiddlewaretoken": csrf_token(detail, browser), **position},
            expect=(302,),
            retry_for=REPORT_RETRY_FOR_S,
        )
        if 'id="check-out-form"' not in detail.body:
            browser.fail("check-in (POST)", f"visit {visit_id}: not checked in after the check-in")
    elif 'id="check-out-form"' not in detail.body:
        browser.fail("visit", f"visit {visit_id} listed as planned today but cannot be checked in")
    browser.think()
    form = browser.request("GET", f"/visits/{visit_id}/report/")
    data = form_fields(form.body, "report-form")
    if "csrfmiddlewaretoken" not in data or "needs-TOTAL_FORMS" not in data:
        browser.fail("report form", f"visit {visit_id}: the report form is not on {form.path}")
    token = uuid.uuid4().hex
    notes = f"Bench {run.tag} report by {browser.username} on visit {visit_id}, token {token}"
    data.update(
        {
            "outcome": "successful",
            "notes": notes,
            "actual_satisfaction": str(rng.randint(3, 5)),
            "expected_satisfaction": str(rng.randint(2, 5)),
            "next_step": "Send the offer",
            "needs-0-description": f"Bench need {token[:8]}",
            "needs-0-satisfied": "on",
            "followups-0-title": f"Bench follow-up {token[:8]}",
            "followups-0-due_date": (run.today + timedelta(days=7)).isoformat(),
            "check_out": "on",
        }
    )
    browser.think()
    # Like a phone app: a submission that got no answer is sent again until one comes back.
    post = answer = browser.request(
        "POST",
        f"/visits/{visit_id}/report/",
        page="report (POST)",
        data=data,
        expect=(200, 302),
        retry_for=REPORT_RETRY_FOR_S,
        track=True,
    )
    refused = answer.path.endswith("/report/")  # the form came back instead of the redirect to the visit
    if refused:
        if "already been filed" not in answer.body:
            errors = re.findall(r'class="invalid-feedback[^"]*"[^>]*>(.*?)<', answer.body, re.S)
            browser.fail("report (POST)", f"visit {visit_id}: report refused: {errors[:3] or 'no message'}")
        # Filed by the attempt whose answer was lost: the visit page must show this very report.
        answer = browser.request("GET", f"/visits/{visit_id}/")
    if token not in answer.body or f'data-report-filed="{visit_id}"' not in answer.body:
        browser.fail("visit", f"visit {visit_id}: the visit page does not show the report just filed")
    run.filed.append(FiledReport(browser.username, visit_id, notes, post.attempts, confirmed_after_refusal=refused))
    if run.repost and browser.username not in run.reposted:
        # The same submission once more, as an app resends one whose answer it never saw: refused, no duplicate.
        run.reposted.add(browser.username)
        browser.think()
        again = browser.request("POST", f"/visits/{visit_id}/report/", page="report (re-POST)", data=data)
        if "already been filed" not in again.body:
            browser.fail("report (re-POST)", f"visit {visit_id}: the same report posted again was not refused")
        run.reposts_refused += 1


class ManagerRound:
    """A manager's round: their team's dashboard this month, the runs, customers, the pipeline."""

    def __init__(self, browser: Browser, rng: random.Random):
        self.browser, self.rng = browser, rng
        self.team: str | None = None

    def loop(self) -> None:
        browser, rng = self.browser, self.rng
        browser.think()
        query = {"period": "month", **({"team": self.team} if self.team else {})}
        dashboard = browser.request("GET", "/dashboard/?" + urlencode(query))
        if self.team is None:  # their team, as they pick it in the filter
            select = TEAM_SELECT.search(dashboard.body)
            teams = OPTION_VALUE.findall(select.group(1)) if select else []
            self.team = teams[0] if teams else ""
        panel = FIELD_TODAY.search(dashboard.body)
        if panel:  # htmx loads it as soon as the page is there
            browser.request("GET", html.unescape(panel.group(1)), extra={"HX-Request": "true"})
        for step in ("/runs/", "customers", "/pipeline/"):
            if not browser.running():
                return
            browser.think()
            if step != "customers":
                browser.request("GET", step)
                continue
            query = {"sort": rng.choice(CUSTOMER_SORTS), "page": rng.randint(1, 3)}
            found = browser.request("GET", "/customers/?" + urlencode(query))
            links = CUSTOMER_LINK.findall(found.body)
            if links:
                browser.think()
                browser.request("GET", f"/customers/{rng.choice(links)[0]}/")


def user_step(browser: Browser, step) -> bool:
    """Run one step of a user; an error is recorded and the user carries on (as a person would)."""
    try:
        step()
    except PageError:
        time.sleep(1.0)
        return False
    except Exception as exc:  # a bug in the bench itself must not silently stop a user
        browser.samples.append(
            Sample("bench", time.monotonic() - browser.run.started, 0.0, None, ok=False, kind="bench", detail=repr(exc))
        )
        browser.run.failures.append(f"{browser.username}: bench exception {exc!r}")
        time.sleep(1.0)
        return False
    return True


# --- a run -----------------------------------------------------------------------------------------------


def warm_up(server: Server, rep: str, manager: str) -> None:
    """Untimed: a few pages per worker, so the first measured requests do not pay imports and connections."""
    from django.conf import settings

    today, _start, _end = today_bounds()
    started = time.monotonic()
    run = Run(server.port, started, started + 3600, (0.0, 0.0), today, "warm-up", settings.FIELDWISE_DEMO_PASSWORD)
    for username, paths in ((rep, ("/today/", "/customers/", "/pipeline/")), (manager, ("/dashboard/", "/runs/"))):
        browser = Browser(run, username, random.Random(0))
        try:
            browser.login()
            for _ in range(server.workers):
                for path in paths:
                    browser.request("GET", path)
        except PageError:
            pass
    if run.failures:
        print(f"  warm-up errors: {run.failures[:3]}")


def tcp_connections(port: int) -> dict[int, int]:
    """Socket inode -> client port of the established connections to 127.0.0.1:`port` (server side)."""
    found = {}
    with open("/proc/net/tcp") as table:
        next(table)
        for line in table:
            fields = line.split()
            local, remote, state, inode = fields[1], fields[2], fields[3], int(fields[9])
            if state == "01" and int(local.split(":")[1], 16) == port and inode:
                found[inode] = int(remote.split(":")[1], 16)
    return found


def socket_inodes(pid: int) -> set[int]:
    inodes = set()
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(int(target[8:-1]))
    except OSError:
        pass
    return inodes


def kill_victim(run: Run, server: Server) -> tuple[int, int, str] | None:
    """(worker pid, client port, what) of a report submission a worker is serving right now."""
    in_flight = dict(run.reports_in_flight)
    if not in_flight:
        return None
    connections = tcp_connections(server.port)
    for pid in server.worker_pids():
        for inode in socket_inodes(pid) & connections.keys():
            what = in_flight.get(connections[inode])
            if what:
                return pid, connections[inode], what
    return None


def caught_mid_request(run: Run, server: Server) -> tuple[int, str] | None:
    """A worker frozen (SIGSTOP) while the client still waits for its answer to a report; None if none now.

    Finding the worker takes a few ms, a report about 20 ms: the worker is frozen first, then the
    client is given 50 ms to read an answer already sent. Still waiting: the kill lands mid-request.
    """
    found = kill_victim(run, server)
    if found is None:
        return None
    pid, port, what = found
    try:
        os.kill(pid, signal.SIGSTOP)
    except ProcessLookupError:
        return None
    time.sleep(0.05)
    if port in run.reports_in_flight:
        return pid, what
    os.kill(pid, signal.SIGCONT)  # answered just before: let it go on, look again
    return None


def killer(run: Run, server: Server, at: float, rng: random.Random, go: threading.Event) -> None:
    """At `at` s, SIGKILL a worker in the middle of a report submission (up to 15 s to catch one), or any worker."""
    go.wait()
    time.sleep(max(0.0, run.started + at - time.monotonic()))
    give_up = time.monotonic() + 15
    target = None
    while target is None and time.monotonic() < give_up:
        target = caught_mid_request(run, server)
        if target is None:
            time.sleep(0.002)
    before = server.worker_pids()
    if target is None:
        if not before:
            run.kills.append("no worker to kill")
            return
        target = (rng.choice(before), "no report submission caught in 15 s: a worker at random")
    victim, serving = target
    os.kill(victim, signal.SIGKILL)
    killed_at = time.monotonic()
    note = f"worker {victim} killed (SIGKILL) at {killed_at - run.started:.1f} s in the middle of {serving}"
    while time.monotonic() < killed_at + 30:
        now = server.worker_pids()
        fresh = [pid for pid in now if pid not in before]
        if fresh and victim not in now:
            note += f"; the master started worker {fresh[0]} {time.monotonic() - killed_at:.2f} s later"
            break
        time.sleep(0.05)
    else:
        note += "; NO replacement worker within 30 s"
    run.kills.append(note)


def load_run(
    *, server: Server, args, reps: list[str], managers: list[str], kill: bool, tag: str, database: str
) -> tuple[Run, dict]:
    """Every user logs in, then the measured window opens for all at once (and the CPU account with it)."""
    from django.conf import settings

    today, _start, _end = today_bounds()
    now = time.monotonic()
    run = Run(server.port, now, now + 3600, args.think, today, tag, settings.FIELDWISE_DEMO_PASSWORD, repost=kill)
    cpu = CpuAccount(server, database)
    go = threading.Event()

    def window_open() -> None:
        run.wall_started = time.time()
        run.started = time.monotonic()
        run.deadline = run.started + args.duration
        cpu.start()
        go.set()

    barrier = threading.Barrier(len(reps) + len(managers), action=window_open)
    rng = random.Random(SEED + (1 if kill else 0))
    accounts = [(name, RepRound) for name in reps] + [(name, ManagerRound) for name in managers]
    threads = [
        threading.Thread(target=user, args=(run, name, rng.randrange(2**32), kind, barrier), daemon=True)
        for name, kind in accounts
    ]
    if kill:
        threads.append(threading.Thread(target=killer, args=(run, server, args.kill_at, rng, go), daemon=True))
    for thread in threads:
        thread.start()
    if not go.wait(timeout=330):
        raise SystemExit(f"the users did not all log in: {run.failures[:5]}")
    for thread in threads:
        thread.join(timeout=max(1.0, run.deadline + 5 * REPORT_RETRY_FOR_S - time.monotonic()))
    used = cpu.stop()
    used["seconds"] = time.monotonic() - run.started
    run.wall_ended = time.time()
    stuck = sum(thread.is_alive() for thread in threads)
    if stuck:
        run.failures.append(f"{stuck} users still busy long after the end of the run")
    return run, used


# --- the report ------------------------------------------------------------------------------------------


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def page_table(run: Run, seconds: float, server: dict[str, list[float]]) -> tuple[int, float]:
    """Print the table; returns (errors, overall p95 ms). Latency over the requests that got an answer.

    The client's latency includes the wait for a free worker; "in worker" is the time a
    worker spent on the request (gunicorn's access log), which excludes it.
    """
    groups: dict[str, list[Sample]] = {}
    for sample in run.samples:
        groups.setdefault(sample.page, []).append(sample)
    print(
        f"    {'page':<18}{'requests':>9}{'req/s':>8}{'median ms':>11}{'p95 ms':>9}{'errors':>8}"
        f"   {'in worker: median':>17}{'p95 ms':>8}"
    )

    def row(name: str, samples: list[Sample], worker_ms: list[float]) -> tuple[int, float]:
        requests = sum(1 for s in samples if s.is_request)
        answered = [s.ms for s in samples if s.status is not None]
        errors = sum(1 for s in samples if s.is_error)
        retried = sum(1 for s in samples if s.kind == "retried")
        median = statistics.median(answered) if answered else float("nan")
        p95 = percentile(answered, 0.95) if answered else float("nan")
        if worker_ms:
            in_worker = f"{statistics.median(worker_ms):>17.0f}{percentile(worker_ms, 0.95):>8.0f}"
        else:
            in_worker = f"{'-':>17}{'-':>8}"
        extra = f"  (+{retried} connection failures, sent again)" if retried else ""
        print(
            f"    {name:<18}{requests:>9}{requests / seconds:>8.1f}{median:>11.0f}{p95:>9.0f}{errors:>8}"
            f"   {in_worker}{extra}"
        )
        return errors, p95

    for name in sorted(groups, key=lambda n: (n in ("static", "bench"), n)):
        row(name, groups[name], server.get(name, []))
    # The target is judged on the pages; the static files (fast, cached by WhiteNoise) would flatter p95.
    pages_ms = [ms for name, values in server.items() if name != "static" for ms in values]
    errors, p95 = row("all pages", [s for s in run.samples if s.page != "static"], pages_ms)
    row("all + static", run.samples, [ms for values in server.values() for ms in values])
    errors += sum(1 for s in run.samples if s.page == "static" and s.is_error)
    retried = sum(1 for s in run.samples if s.kind == "retried")
    return errors + retried, p95


def cpu_line(used: dict) -> str:
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"    CPU over the run (cores of {os.cpu_count()}): machine {used['machine']:.2f} = gunicorn "
        f"{used.get('gunicorn', 0):.2f} + PostgreSQL (our backends) {used.get('postgres', 0):.2f} + "
        f"clients {used.get('driver', 0):.2f} + other processes {used['others']:.2f}; load average now {load}"
    )


def report_run(run: Run, used: dict, *, server: Server, reps: list[str], title: str) -> dict:
    seconds = used["seconds"]
    requests = sum(1 for s in run.samples if s.is_request)
    print(f"\n  {title}: {requests} requests in {seconds:.1f} s")
    in_worker = server.server_times(since=run.wall_started, until=run.wall_ended)
    errors, p95 = page_table(run, seconds, in_worker)
    busy = {name: sum(values) / 1000 / (seconds * server.workers) for name, values in in_worker.items()}
    top = sorted(busy.items(), key=lambda item: -item[1])[:3]
    print(
        f"    the {server.workers} workers were busy {sum(busy.values()):.0%} of the window "
        f"(from the access log; of which {', '.join(f'{name} {share:.0%}' for name, share in top)})"
    )
    logins = [s.ms for s in run.login_samples if s.page.startswith("login") and s.status is not None]
    login_errors = sum(1 for s in run.login_samples if s.is_error)
    if logins:
        print(
            f"    before the window, untimed: {len(run.login_samples)} requests to log the users in (login pages "
            f"median {statistics.median(logins):.0f} ms, p95 {percentile(logins, 0.95):.0f} ms), {login_errors} errors"
        )
    print(cpu_line(used))
    found, problems = reports_check(run.filed)
    unclaimed = reports_unclaimed(rep_names=reps, filed=run.filed)
    print(
        f"    reports filed (success answer): {len(run.filed)}; in the database as sent: {found}; "
        f"lost or wrong: {len(problems)}"
        + (f"; completed by the bench but not counted by a client: {unclaimed}" if unclaimed else "")
    )
    if run.repost:
        print(
            f"    reports posted a second time on purpose (one per rep): {len(run.reposted)}, refused as already "
            f"filed: {run.reposts_refused} (the database check above counts one need and one follow-up each)"
        )
    resent = [report for report in run.filed if report.attempts > 1]
    if resent:
        refused = sum(1 for report in resent if report.confirmed_after_refusal)
        print(
            f"    reports sent again after a POST got no answer: {len(resent)} (filed by the retry: "
            f"{len(resent) - refused}; already filed by the lost attempt, the retry refused, the report confirmed "
            f"on the visit page: {refused})"
        )
    if run.writes_skipped:
        print(f"    loops without a write (the rep's open visits of today all done): {run.writes_skipped}")
    for problem in problems[:10]:
        print(f"      {problem}")
    return {"errors": errors + login_errors, "p95": p95, "filed": len(run.filed), "problems": problems}


def failures_print(run: Run, limit: int = 15) -> None:
    if run.failures:
        print(f"    errors ({len(run.failures)}):")
        seen: dict[str, int] = {}
        for failure in run.failures:
            seen[failure] = seen.get(failure, 0) + 1
        for failure, count in list(seen.items())[:limit]:
            print(f"      {failure}" + (f"  (x{count})" if count > 1 else ""))


def server_errors_print(server: Server, since: int) -> int:
    blocks = server.log_errors()[since:]
    if blocks:
        print(f"    the server logged {len(blocks)} errors; the first:")
        print("      " + blocks[0][:3000].replace("\n", "\n      "))
        print(f"    (full log: {server.log_path})")
    return len(blocks)


# --- main ------------------------------------------------------------------------------------------------


def main(argv=None) -> int:
    args = parse_args(argv)
    name = database_name(args.customers)
    database_url = f"{args.server_url}/{name}"
    reps_count = args.users - args.managers
    print(f"Load: {args.users} users ({reps_count} reps, {args.managers} managers), {args.duration:.0f} s per run,")
    print(f"  gunicorn {args.workers} workers, database {name} ({args.customers:,} customers); uptime: {uptime()}")
    state = database_prepare(args.server_url, name, args.customers)
    print(f"  database {name}: {state}", flush=True)
    django_setup(database_url)
    data_prepare(args.customers)
    reps, managers = bench_accounts(reps=args.users - args.managers, managers=args.managers)
    if args.redis_url and not redis_flush(args.redis_url):
        return 1

    results = []
    with tempfile.TemporaryDirectory(prefix="bench-load-static-") as static_root:
        env = server_env(database_url=database_url, redis_url=args.redis_url, static_root=static_root)
        collect_static(env)
        runs = [("load run", False)] + ([] if args.no_kill_run else [("kill run", True)])
        for title, kill in runs:
            day_prepare(reps)
            with Server(env=env, workers=args.workers) as server:
                logged = len(server.log_errors())
                warm_up(server, reps[0], managers[0])
                quiet_wait(max_busy=args.max_busy, timeout=args.quiet_timeout)
                print(f"  {title}: gunicorn on 127.0.0.1:{server.port} (log {server.log_path}) ...", flush=True)
                run, used = load_run(
                    server=server,
                    args=args,
                    reps=reps,
                    managers=managers,
                    kill=kill,
                    tag=title.split()[0],
                    database=name,
                )
                outcome = report_run(run, used, server=server, reps=reps, title=title)
                for note in run.kills:
                    print(f"    {note}")
                failures_print(run)
                outcome["server_errors"] = server_errors_print(server, logged)
                outcome["after_retries"] = sum(1 for s in run.samples if s.is_error)
                outcome["retried"] = sum(1 for s in run.samples if s.kind == "retried")
                outcome["kills"] = run.kills
                results.append((title, kill, outcome))
            if not run.failures and not outcome["server_errors"]:
                Path(server.log_path).unlink(missing_ok=True)

    print("\nTargets")
    failed = False
    for title, kill, outcome in results:
        if not kill:
            met = (
                outcome["errors"] == 0
                and outcome["p95"] < TARGET_P95_MS
                and outcome["filed"] > 0
                and not outcome["problems"]
            )
            print(
                f"  {title}: zero errors and p95 < {TARGET_P95_MS:.0f} ms: {'MET' if met else 'MISSED'} "
                f"({outcome['errors']} errors, p95 {outcome['p95']:.0f} ms over all pages, "
                f"{outcome['filed']} reports filed, {len(outcome['problems'])} lost or wrong)"
            )
        else:
            met = (
                not outcome["problems"]
                and outcome["after_retries"] == 0
                and outcome["filed"] > 0
                and outcome["kills"]
                and "NO replacement" not in outcome["kills"][0]
            )
            print(
                f"  {title}: no report lost, no error after retries: {'MET' if met else 'MISSED'} "
                f"({len(outcome['problems'])} lost or wrong of {outcome['filed']} filed, "
                f"{outcome['after_retries']} errors after retries, "
                f"{outcome['retried']} connection failures at the kill, retried)"
            )
        failed |= not met
    print(f"  uptime: {uptime()} (the machine may be shared with other work: see the CPU lines)")
    return 1 if failed else 0


def uptime() -> str:
    return "load average " + ", ".join(f"{x:.2f}" for x in os.getloadavg())


if __name__ == "__main__":
    sys.exit(main())
