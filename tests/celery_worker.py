"""Start a real Celery worker process against the test database and the Redis broker.

Used by the worker tests, which only run where both real services are configured
(CI always has them: .ci/run fails when any test is skipped).
"""

import os
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection

from config.celery import app

needs_real_services = pytest.mark.skipif(
    not settings.REDIS_URL or connection.vendor != "postgresql",
    reason="needs PostgreSQL (DATABASE_URL) and Redis (REDIS_URL): a real worker cannot share an in-memory SQLite",
)


def worker_database_url(**options: str) -> str:
    db = connection.settings_dict
    auth = quote(db["USER"] or "postgres")
    if db.get("PASSWORD"):
        auth += ":" + quote(db["PASSWORD"])
    url = f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    if options:
        url += "?options=" + quote(" ".join(f"-c {key}={value}" for key, value in options.items()))
    return url


@contextmanager
def celery_worker(name: str, *, db_options: dict | None = None, env: dict | None = None):
    """A worker process (solo pool: the task runs in the process we may kill) until the block ends."""
    node = f"{name}@{socket.gethostname()}"
    worker_env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": worker_database_url(**(db_options or {})),
        **(env or {}),
    }
    log = tempfile.NamedTemporaryFile(prefix=f"celery-{name}-", suffix=".log", delete=False)  # noqa: SIM115
    command = [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool", "solo", "-n", node]
    command += ["--without-mingle", "--without-gossip", "--loglevel", "INFO"]
    process = subprocess.Popen(command, cwd=settings.BASE_DIR, env=worker_env, stdout=log, stderr=subprocess.STDOUT)  # noqa: S603
    try:
        deadline = time.monotonic() + 60
        while not app.control.ping(destination=[node], timeout=0.5):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"worker {node} did not start; log: {open(log.name).read()[-3000:]}")  # noqa: SIM115
        process.log_path = log.name
        yield process
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        log.close()


def wait_for(predicate, *, timeout: float = 60, interval: float = 0.2, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")
