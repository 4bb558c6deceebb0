"""Run bookkeeping shared by every kind of PlanRun: one live run per kind, leases, progress.

A run is live while its lease has not expired. Workers renew the lease as they
make progress; a run whose worker died stops renewing, and the next request for
that kind marks it failed and may start afresh (every run's work is idempotent).
"""

import zlib
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.db.models import Case, F, Q, Value, When
from django.db.models.functions import Concat
from django.utils import timezone
from django.utils.translation import gettext as _

from analytics.models import PlanRun, ScoringPolicy


class RunInProgress(Exception):
    """Another run of the same kind is live; `run` is that run when it is known."""

    def __init__(self, run: PlanRun | None = None):
        self.run = run
        if run is None:
            message = _("Another run is in progress.")
        else:
            message = _("%(kind)s run #%(id)s is already running (started %(started)s, lease until %(lease)s).") % {
                "kind": run.get_kind_display(),
                "id": run.pk,
                "started": run.started_at.isoformat() if run.started_at else "?",
                "lease": run.lease_expires_at.isoformat() if run.lease_expires_at else "?",
            }
        super().__init__(message)


def advisory_key(name: str) -> int:
    """A stable 31-bit PostgreSQL advisory lock key for a name."""
    return zlib.crc32(name.encode()) & 0x7FFFFFFF


def runs_expire_stale(*, kind: str, now: datetime | None = None) -> int:
    """Mark running runs of `kind` whose lease expired as failed; returns how many."""
    now = now or timezone.now()
    return PlanRun.objects.filter(
        Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lte=now), kind=kind, status=PlanRun.Status.RUNNING
    ).update(
        status=PlanRun.Status.FAILED,
        error=Concat(F("error"), Value(_("Lease expired before the run finished (the worker stopped?).") + "\n")),
        finished_at=now,
    )


@transaction.atomic
def run_start(
    *,
    kind: str,
    as_of: datetime,
    lease: timedelta,
    policy: ScoringPolicy | None = None,
    total: int = 0,
    requested_by=None,
    error_class: type[RunInProgress] = RunInProgress,
) -> PlanRun:
    """Create a running PlanRun of `kind`, or raise `error_class` naming the live one."""
    if connection.vendor == "postgresql":
        # Serialise check-then-create between concurrent requests (SQLite serialises writers itself).
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [advisory_key(f"fieldwise-run-start-{kind}")])
    now = timezone.now()
    runs_expire_stale(kind=kind, now=now)
    live = PlanRun.objects.filter(kind=kind, status=PlanRun.Status.RUNNING).first()
    if live is not None:
        raise error_class(live)
    return PlanRun.objects.create(
        kind=kind,
        status=PlanRun.Status.RUNNING,
        as_of=as_of,
        policy=policy,
        total=total,
        started_at=now,
        lease_expires_at=now + lease,
        requested_by=requested_by,
    )


def run_progress(*, run_id: int, done: int, lease: timedelta, error: str = "") -> None:
    """Add `done` units of finished work (and an error line, if any) and renew the lease, atomically."""
    changes = {"done": F("done") + done, "lease_expires_at": timezone.now() + lease}
    if error:
        changes["error"] = Concat(F("error"), Value(error.rstrip("\n") + "\n"))
    PlanRun.objects.filter(pk=run_id, status=PlanRun.Status.RUNNING).update(**changes)


def run_finish(*, run_id: int) -> PlanRun:
    """Close a running run: failed when any part recorded an error, succeeded otherwise."""
    now = timezone.now()
    PlanRun.objects.filter(pk=run_id, status=PlanRun.Status.RUNNING).update(
        status=Case(When(error="", then=Value(PlanRun.Status.SUCCEEDED)), default=Value(PlanRun.Status.FAILED)),
        finished_at=now,
        lease_expires_at=None,
    )
    return PlanRun.objects.get(pk=run_id)
