"""The nightly job: its beat schedule, and one run end to end (missed sweep, scores, plans)."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from celery.schedules import crontab
from django.conf import settings
from django.urls import reverse

from analytics.models import CustomerScore, PlanRun, VisitDayMark, VisitDayTerms
from analytics.tasks import nightly
from config.celery import app
from tests.factories import CustomerFactory, RepProfileFactory, VisitFactory
from visits.models import Visit

AS_OF = datetime(2026, 11, 23, 2, 0, tzinfo=ZoneInfo("UTC"))


def test_beat_runs_the_nightly_job_at_two_in_the_company_time_zone():
    entry = settings.CELERY_BEAT_SCHEDULE["nightly-scores-and-plans"]
    assert entry["task"] == "analytics.tasks.nightly"
    assert entry["schedule"] == crontab(hour=2, minute=0)
    assert app.conf.timezone == settings.TIME_ZONE
    assert "analytics.tasks.nightly" in app.tasks


@pytest.fixture
def book(db):
    profile = RepProfileFactory()
    customers = [CustomerFactory(owner=profile.user, annual_value=v) for v in (1000, 50000, 200000)]
    yesterday = VisitFactory(customer=customers[0], rep=profile.user, planned_start=AS_OF - timedelta(hours=20))
    return profile.user, customers, yesterday


def test_nightly_sweeps_scores_and_plans(eager_celery, book, django_capture_on_commit_callbacks):
    rep, customers, yesterday = book
    with django_capture_on_commit_callbacks(execute=True):  # the chunks are queued once the run commits
        plan_run_id = nightly.apply(kwargs={"as_of": AS_OF.isoformat()}).get()
    yesterday.refresh_from_db()
    assert yesterday.status == Visit.Status.MISSED
    # The dashboard's day sums are refreshed after the sweep: yesterday's visit is stored, its mark consumed.
    yesterday_cell = {"rep_id": yesterday.rep_id, "day": int(yesterday.planned_start.timestamp() // 86_400)}
    assert VisitDayTerms.objects.filter(**yesterday_cell).exists()
    assert not VisitDayMark.objects.filter(**yesterday_cell).exists()
    scores = PlanRun.objects.get(kind="scores")
    assert (scores.status, scores.done) == ("succeeded", 3)
    assert CustomerScore.objects.filter(run=scores).count() == 3
    plans = PlanRun.objects.get(pk=plan_run_id)
    assert (plans.kind, plans.status, plans.done, plans.total) == ("plans", "succeeded", 1, 1)
    planned = Visit.objects.filter(plan_run=plans)
    assert {v.customer_id for v in planned} == {c.pk for c in customers}  # never visited: all due
    # Highest P first on the first day: the most valuable customer is planned, with its P stored.
    best = max(customers, key=lambda c: CustomerScore.objects.get(customer=c).p)
    assert planned.get(customer=best).priority == pytest.approx(CustomerScore.objects.get(customer=best).p)


def test_nightly_refuses_to_overlap_a_live_planning_run(eager_celery, book):
    from django.utils import timezone

    PlanRun.objects.create(
        kind="plans",
        status="running",
        as_of=AS_OF,
        started_at=timezone.now(),
        lease_expires_at=timezone.now() + timedelta(minutes=5),
    )
    assert nightly.apply(kwargs={"as_of": AS_OF.isoformat()}).get() is None
    assert PlanRun.objects.filter(kind="plans").count() == 1


def test_admin_sees_the_schedule_and_can_run_the_job_now(
    eager_celery, book, admin_user, client, django_capture_on_commit_callbacks
):
    client.force_login(admin_user)
    page = client.get(reverse("admin:analytics_planrun_changelist"))
    assert "every day at 02:00, UTC" in page.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("admin:analytics_planrun_run_nightly"))
    assert response.status_code == 302
    assert PlanRun.objects.filter(kind="plans", status="succeeded", requested_by=admin_user).exists()
    assert client.get(reverse("admin:analytics_planrun_run_nightly")).status_code == 403


def test_run_nightly_command_plans_in_process(eager_celery, book, django_capture_on_commit_callbacks):
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    with django_capture_on_commit_callbacks(execute=True):  # outside a test, autocommit runs them at once
        call_command("run_nightly", "--as-of", AS_OF.isoformat(), stdout=out)
    run = PlanRun.objects.get(kind="plans")
    assert f"Planning run #{run.pk}" in out.getvalue()
    assert (run.status, run.done, run.visits.count()) == ("succeeded", 1, 3)
