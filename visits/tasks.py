"""Celery tasks of the planner: thin wrappers taking ids and ISO strings.

A planning run fans out as a chord: one `plan_chunk` per group of reps (so several
workers share the work), then `plans_finish` closes the PlanRun. A chunk that
raises is retried with exponential backoff; after the last retry its error is
recorded on the PlanRun and the chord still completes with the other chunks.
"""

import logging
from datetime import datetime

from celery import chord, shared_task
from django.conf import settings

from analytics.runs import run_finish, run_progress
from core.times import parse_aware_iso
from visits.services import plan_lease, plans_chunk_build

logger = logging.getLogger(__name__)


@shared_task(bind=True, name="visits.tasks.plan_chunk", max_retries=3, acks_late=True)
def plan_chunk(self, run_id: int, rep_ids: list[int], as_of: str) -> dict:
    try:
        planned = plans_chunk_build(run_id=run_id, rep_ids=rep_ids, as_of=parse_aware_iso(as_of))
    except Exception as exc:
        if self.request.retries < self.max_retries:
            countdown = settings.FIELDWISE_TASK_RETRY_SECONDS * 2**self.request.retries
            logger.warning("plan_chunk run #%s reps %s failed (%s); retry in %ss", run_id, rep_ids, exc, countdown)
            raise self.retry(exc=exc, countdown=countdown) from exc
        message = f"reps {rep_ids}: {type(exc).__name__}: {exc}"
        logger.error("plan_chunk run #%s gave up after %s retries: %s", run_id, self.max_retries, message)
        run_progress(run_id=run_id, done=0, lease=plan_lease(), error=message)
        return {"reps": len(rep_ids), "failed": True}
    return {"reps": len(rep_ids), "planned": planned, "failed": False}


@shared_task(name="visits.tasks.plans_finish")
def plans_finish(results: list[dict], run_id: int) -> str:
    return run_finish(run_id=run_id).status


def plans_dispatch(*, run_id: int, chunks: list[list[int]], as_of: datetime):
    """Enqueue the chunks of a planning run and the task that closes it."""
    header = [plan_chunk.s(run_id, chunk, as_of.isoformat()) for chunk in chunks]
    if not header:
        return plans_finish.delay([], run_id)
    return chord(header)(plans_finish.s(run_id))
