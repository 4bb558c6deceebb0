"""Analytics workflows: a scoring run (spec section 1) under a lock, recorded as a PlanRun."""

import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone

from analytics import bridge, run_compute
from analytics.models import PlanRun, ScoringPolicy
from analytics.need_fits import need_model_fit_run
from analytics.runs import RunInProgress, advisory_key, run_start
from analytics.selectors import profile360_cache_forget
from analytics.visit_days import visit_days_refresh
from visits.services import plans_run_start, visits_mark_missed

logger = logging.getLogger(__name__)

# The work lock is a transaction-level PostgreSQL advisory lock: commit, rollback or the
# death of the worker's connection releases it.
SCORES_WORK_LOCK_KEY = advisory_key("fieldwise-scores-work")
# How long a running scoring run counts as alive without finishing; a run whose lease
# has expired is taken to have died and is marked failed by the next request.
SCORES_LEASE = timedelta(minutes=15)

PhaseCallback = Callable[[str, float], None]


class ScoringRunInProgress(RunInProgress):
    """Another scoring run is live or holds the lock; `run` is that run when it is known."""


def scoring_policy_get(*, version: int | None = None) -> ScoringPolicy:
    """The active policy, or the one with `version`; raises ScoringPolicy.DoesNotExist."""
    if version is None:
        return ScoringPolicy.objects.get(active=True)
    return ScoringPolicy.objects.get(version=version)


def scores_recalculate(
    *,
    as_of: datetime | None = None,
    policy_version: int | None = None,
    requested_by=None,
    on_phase: PhaseCallback | None = None,
) -> PlanRun:
    """Score every active customer at `as_of` and replace the stored scores, one run at a time.

    The PlanRun is committed first (status running, with a lease) so the run is
    visible while it works. Load, compute and save then happen in one transaction
    holding the scoring lock: on any error it rolls back (the previous scores stay),
    the PlanRun is marked failed with the error, and the exception propagates.
    `on_phase(name, seconds)` is told the duration of "load", "compute" and "save"
    (save includes the commit). Raises ScoringRunInProgress if another run is working.
    """
    as_of = as_of or timezone.now()
    if timezone.is_naive(as_of):
        raise ValueError("as_of must be timezone-aware")
    policy = scoring_policy_get(version=policy_version)
    run = _scores_run_start(as_of=as_of, policy=policy, requested_by=requested_by)
    report = on_phase or (lambda name, seconds: None)
    try:
        with transaction.atomic():
            _scores_work_lock(run=run)
            started = time.perf_counter()
            inputs = bridge.load_scoring_inputs(as_of=as_of)
            loaded = time.perf_counter()
            report("load", loaded - started)
            scores = run_compute.scores_compute(inputs=inputs, params=bridge.policy_params(policy))
            computed = time.perf_counter()
            report("compute", computed - loaded)
            count = bridge.save_scores(
                run=run, policy=policy, computed_at=timezone.now(), customer_ids=inputs.customer_id, scores=scores
            )
            # Succeeded commits with the scores: a succeeded run always has its scores stored.
            run.status = PlanRun.Status.SUCCEEDED
            run.total = run.done = count
            run.finished_at = timezone.now()
            run.lease_expires_at = None
            run.save(update_fields=["status", "total", "done", "finished_at", "lease_expires_at"])
        report("save", time.perf_counter() - computed)
    except BaseException as exc:
        _scores_run_fail(run=run, exc=exc)
        raise
    logger.info("Scoring run #%s: %s customers scored (policy v%s)", run.pk, count, policy.version)
    return run


def _scores_run_start(*, as_of: datetime, policy: ScoringPolicy, requested_by) -> PlanRun:
    # Committed before the work starts, so the run is visible (and refuses a second one) while it works.
    return run_start(
        kind=PlanRun.Kind.SCORES,
        as_of=as_of,
        lease=SCORES_LEASE,
        policy=policy,
        requested_by=requested_by,
        error_class=ScoringRunInProgress,
    )


def _scores_work_lock(*, run: PlanRun) -> None:
    """Take the scoring lock for the current transaction (PostgreSQL), or refuse."""
    if connection.vendor != "postgresql":
        return  # SQLite: the lease check in _scores_run_start and its single writer suffice
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [SCORES_WORK_LOCK_KEY])
        (acquired,) = cursor.fetchone()
    if not acquired:
        other = (
            PlanRun.objects.filter(kind=PlanRun.Kind.SCORES, status=PlanRun.Status.RUNNING).exclude(pk=run.pk).first()
        )
        raise ScoringRunInProgress(other)


def _scores_run_fail(*, run: PlanRun, exc: BaseException) -> None:
    message = f"{type(exc).__name__}: {exc}"
    now = timezone.now()
    try:
        with transaction.atomic():
            PlanRun.objects.filter(pk=run.pk).update(
                status=PlanRun.Status.FAILED, error=message, finished_at=now, lease_expires_at=None
            )
    except Exception:
        # The database itself may be what failed; the original error is the one to raise.
        logger.exception("Could not mark scoring run #%s failed", run.pk)
        return
    run.refresh_from_db()  # drop in-memory changes of the rolled-back transaction
    logger.warning("Scoring run #%s failed: %s", run.pk, message)


def nightly_prepare(*, as_of: datetime, requested_by=None) -> tuple[PlanRun, list[list[int]]]:
    """The synchronous part of the nightly job: sweep missed visits, score everyone, fit the need model,
    open the planning run.

    Returns the planning run and its chunks of rep ids for the workers. Raises
    RunInProgress when a scoring or planning run is already live. The need-model
    fit never stops the plans: a failure is logged and stored as a not-fitted fit.
    """
    missed = visits_mark_missed(as_of=as_of)
    visit_days_refresh()  # store the day sums of yesterday and of the days changed since
    scores = scores_recalculate(as_of=as_of, requested_by=requested_by)
    need_fit = need_model_fit_run(as_of=as_of, run=scores)
    profile360_cache_forget()  # the 360 pages rescale on the new night's data
    run, chunks = plans_run_start(as_of=as_of, requested_by=requested_by)
    logger.info(
        "nightly: %s visits marked missed, %s customers scored, need model %s, planning run #%s in %s chunks",
        missed,
        scores.done,
        need_fit.status,
        run.pk,
        len(chunks),
    )
    return run, chunks


POLICY_VALUE_FIELDS = (
    "w1",
    "w2",
    "w3",
    "t5_a",
    "t5_b",
    "t5_c",
    "t6_a",
    "t6_b",
    "t6_c",
    "max_visit_minutes",
    "speed_kmh",
    "default_travel_km",
)


def scoring_policy_in_use(*, policy: ScoringPolicy) -> bool:
    """True once a run or a score refers to the policy: from then on it is never edited in place."""
    # Every score row is written by a run of the same policy, so the runs tell.
    annotated = getattr(policy, "has_runs", None)
    if annotated is not None:
        return annotated
    return PlanRun.objects.filter(policy=policy).exists()


@transaction.atomic
def scoring_policy_duplicate(*, policy: ScoringPolicy) -> ScoringPolicy:
    """Copy the policy's values into a new, inactive version numbered max + 1."""
    # Two admins duplicating at the same instant would pick the same number: the
    # unique version constraint rejects the second rather than a lock serialising them.
    next_version = (ScoringPolicy.objects.aggregate(top=Max("version"))["top"] or 0) + 1
    values = {field: getattr(policy, field) for field in POLICY_VALUE_FIELDS}
    return ScoringPolicy.objects.create(version=next_version, name=policy.name, active=False, **values)


@transaction.atomic
def scoring_policy_activate(*, policy: ScoringPolicy) -> None:
    """Make `policy` the only active one; the next scoring run uses it."""
    # Deactivate first: the partial unique constraint allows one active row at any moment.
    changed = list(ScoringPolicy.objects.filter(active=True).exclude(pk=policy.pk).values_list("pk", flat=True))
    ScoringPolicy.objects.filter(pk__in=changed).update(active=False)
    if ScoringPolicy.objects.filter(pk=policy.pk, active=False).update(active=True):
        changed.append(policy.pk)
    # UPDATEs write no audit rows by themselves: one row per policy switched, with the request's user.
    ScoringPolicy.history.bulk_history_create(ScoringPolicy.objects.filter(pk__in=changed), update=True)
    policy.active = True
