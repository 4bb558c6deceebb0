"""Celery tasks of analytics: thin wrappers taking ISO strings, calling one service."""

import logging

from celery import shared_task
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from analytics.need_fits import need_model_fit_run
from analytics.runs import RunInProgress
from analytics.services import ScoringRunInProgress, nightly_prepare, scores_recalculate
from analytics.visit_days import visit_days_refresh
from core.times import parse_aware_iso
from visits.tasks import plans_dispatch

logger = logging.getLogger(__name__)


@shared_task(name="analytics.tasks.recalc_scores")
def recalc_scores(as_of: str | None = None, policy_version: int | None = None) -> int | None:
    """Score every active customer; returns the PlanRun id, or None when another run is working.

    `as_of` is an ISO 8601 string with a UTC offset (default: now). A run refused
    because another is in progress is not retried: that run is doing the work.
    """
    when = parse_aware_iso(as_of) if as_of else None
    try:
        run = scores_recalculate(as_of=when, policy_version=policy_version)
    except ScoringRunInProgress as exc:
        logger.warning("recalc_scores skipped: %s", exc)
        return None
    return run.pk


@shared_task(name="analytics.tasks.nightly")
def nightly(as_of: str | None = None, requested_by_id: int | None = None) -> int | None:
    """The nightly job: missed sweep and scores now, then every rep's plan fanned out in chunks.

    Returns the planning PlanRun id, or None when a scoring or planning run is already live.
    """
    when = parse_aware_iso(as_of) if as_of else timezone.now()
    requested_by = get_user_model().objects.filter(pk=requested_by_id).first() if requested_by_id else None
    try:
        run, chunks = nightly_prepare(as_of=when, requested_by=requested_by)
    except RunInProgress as exc:
        logger.warning("nightly skipped: %s", exc)
        return None
    transaction.on_commit(lambda: plans_dispatch(run_id=run.pk, chunks=chunks, as_of=when))
    return run.pk


@shared_task(name="analytics.tasks.fit_need_model")
def fit_need_model(as_of: str | None = None) -> int:
    """Fit the need-probability model now (or as of `as_of`, ISO 8601 with a UTC offset); returns the fit's id.

    A fit that cannot be made is stored as not fitted with its reason, so this task
    does not fail for it and is not retried.
    """
    when = parse_aware_iso(as_of) if as_of else timezone.now()
    return need_model_fit_run(as_of=when).pk


@shared_task(name="analytics.tasks.refresh_visit_days")
def refresh_visit_days() -> int:
    """Store the day sums of the closed days whose visits changed (beat runs it every few minutes)."""
    return visit_days_refresh()
