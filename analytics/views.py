"""Pages of analytics: the runs page (latest runs, "Recalculate now", live progress by htmx polling)."""

import logging
from datetime import UTC, datetime, timedelta

from django.contrib import messages
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from analytics.models import PlanRun
from analytics.runs import runs_expire_stale
from analytics.selectors import (
    plan_run_get_for_user,
    plan_run_list_recent,
    plan_run_live,
    plan_run_started_since,
    plan_run_summary,
    plan_runs_visible,
)
from analytics.tasks import nightly

logger = logging.getLogger(__name__)

# "Recalculate now" starts the nightly job: scores, then every rep's plan.
RECALCULATION_KINDS = (PlanRun.Kind.SCORES, PlanRun.Kind.PLANS)
# After a click, the page polls this long for a worker to start the run, then says none did.
QUEUED_WAIT = timedelta(minutes=2)
# The event a finished run's row sends so the page reloads its list (the next run may have started).
RUN_FINISHED_EVENT = "runFinished"


def _require_run_viewer(request: HttpRequest) -> None:
    # Reps and users without a role get the same answer as for a missing object.
    if not plan_runs_visible(user=request.user):
        raise Http404


def _queued_at(request: HttpRequest) -> datetime | None:
    """The moment of the click that led here (`?queued=<epoch seconds>`), if the parameter is valid."""
    try:
        return datetime.fromtimestamp(int(request.GET["queued"]), tz=UTC)
    except (KeyError, ValueError, OverflowError, OSError):
        return None


@require_GET
def runs(request: HttpRequest) -> HttpResponse:
    """The latest runs, newest first; live ones poll their progress. htmx asks for the list only."""
    _require_run_viewer(request)
    now = timezone.now()
    summaries = [plan_run_summary(run=run, now=now) for run in plan_run_list_recent(user=request.user)]
    queued_at = _queued_at(request)
    # Between the click and a worker starting the run there is no run to poll: the list polls itself.
    not_started = queued_at is not None and not plan_run_started_since(
        kinds=RECALCULATION_KINDS, moment=queued_at - timedelta(seconds=1)
    )
    waiting = not_started and now - queued_at <= QUEUED_WAIT
    context = {
        "summaries": summaries,
        "waiting": waiting,
        "not_started": not_started and not waiting,
        "queued": int(queued_at.timestamp()) if queued_at else None,
    }
    template = "analytics/_runs_board.html" if request.headers.get("HX-Request") else "analytics/runs.html"
    response = render(request, template, context)
    patch_vary_headers(response, ["HX-Request"])  # one URL, two bodies: caches must tell them apart
    return response


@require_GET
def run_progress(request: HttpRequest, pk: int) -> HttpResponse:
    """One run's row, polled every second while the run is live; a finished row stops the polling."""
    _require_run_viewer(request)
    try:
        run = plan_run_get_for_user(user=request.user, pk=pk)
    except PlanRun.DoesNotExist:
        raise Http404 from None
    summary = plan_run_summary(run=run)
    response = render(request, "analytics/_run_row.html", {"summary": summary})
    if not summary.live and request.headers.get("HX-Request"):
        response["HX-Trigger"] = RUN_FINISHED_EVENT
    return response


@require_POST
def run_recalculate(request: HttpRequest) -> HttpResponse:
    """Start the nightly job now, unless a scoring or planning run is live."""
    _require_run_viewer(request)
    for kind in RECALCULATION_KINDS:
        runs_expire_stale(kind=kind)
    live = plan_run_live(kinds=RECALCULATION_KINDS)
    if live is not None:
        messages.warning(
            request,
            _("A run is already in progress (#%(id)s, %(done)s/%(total)s).")
            % {"id": live.pk, "done": live.done, "total": live.total},
        )
        return redirect("analytics:runs")
    queued_at = int(timezone.now().timestamp())
    user_id = request.user.pk
    messages.success(request, _("Recalculation started: missed visits, then scores, then every rep's visit plan."))

    def queue() -> None:
        try:
            nightly.delay(requested_by_id=user_id)
        except Exception:
            # In-process (no REDIS_URL) the run has recorded its error on its PlanRun;
            # with Redis the broker refused the task. Either way the page says so.
            logger.exception("Recalculation requested by user #%s failed", user_id)
            messages.error(request, _("The recalculation failed or could not be queued; see the runs below."))

    transaction.on_commit(queue)
    return redirect(f"{reverse('analytics:runs')}?queued={queued_at}")
