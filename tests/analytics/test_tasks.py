"""The entry points: the Celery task and the management command call the scoring service."""

from datetime import datetime, timedelta
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from analytics.models import CustomerScore, PlanRun, ScoringPolicy
from analytics.tasks import recalc_scores
from tests.analytics.scoring_world import AS_OF, build_world


@pytest.fixture
def world(rep):
    return build_world(rep)


def block_scoring() -> PlanRun:
    now = timezone.now()
    return PlanRun.objects.create(
        kind=PlanRun.Kind.SCORES,
        status=PlanRun.Status.RUNNING,
        as_of=now,
        policy=ScoringPolicy.objects.get(active=True),
        started_at=now,
        lease_expires_at=now + timedelta(minutes=10),
    )


def test_task_runs_the_service_and_returns_the_run_id(world):
    run_id = recalc_scores.apply(kwargs={"as_of": AS_OF.isoformat(), "policy_version": 1}).get()

    run = PlanRun.objects.get(pk=run_id)
    assert run.status == PlanRun.Status.SUCCEEDED
    assert run.as_of == AS_OF
    assert run.done == 4
    assert CustomerScore.objects.filter(run=run).count() == 4


def test_task_refuses_a_naive_timestamp(world):
    with pytest.raises(ValueError, match="UTC offset"):
        recalc_scores.apply(kwargs={"as_of": "2025-03-15T12:00:00"}).get()
    assert not PlanRun.objects.exists()


def test_task_does_not_retry_when_a_run_is_in_progress(world):
    block_scoring()
    assert recalc_scores.apply(kwargs={"as_of": AS_OF.isoformat()}).get() is None
    assert PlanRun.objects.count() == 1


def test_task_is_registered_under_its_public_name():
    from config.celery import app

    assert recalc_scores.name == "analytics.tasks.recalc_scores"
    assert app.tasks["analytics.tasks.recalc_scores"].run is recalc_scores.run


def test_command_prints_the_run_count_and_phase_times(world):
    out = StringIO()

    call_command("recalc_scores", "--as-of", AS_OF.isoformat(), stdout=out)

    run = PlanRun.objects.get()
    text = out.getvalue()
    assert f"Scoring run #{run.pk}: 4 customers scored as of 2025-03-15T12:00:00+00:00 with policy v1." in text
    for phase in ("load", "compute", "save", "total"):
        assert f"{phase} " in text


def test_command_reads_a_naive_as_of_in_the_time_zone_setting(world, settings):
    settings.TIME_ZONE = "Europe/Paris"

    call_command("recalc_scores", "--as-of", "2025-03-15T13:00", stdout=StringIO())

    expected = datetime(2025, 3, 15, 13, 0, tzinfo=ZoneInfo("Europe/Paris"))
    assert PlanRun.objects.get().as_of == expected == AS_OF


def test_command_uses_the_requested_policy(world):
    ScoringPolicy.objects.create(version=3, w1=1.0, w2=0.0, w3=0.0)

    call_command("recalc_scores", "--as-of", AS_OF.isoformat(), "--policy", "3", stdout=StringIO())

    assert PlanRun.objects.get().policy.version == 3
    alpha = CustomerScore.objects.get(customer=world.alpha)
    assert alpha.p == pytest.approx(1.0 * alpha.t1 / alpha.t4)


def test_command_fails_when_a_run_is_in_progress(world):
    other = block_scoring()
    with pytest.raises(CommandError, match=f"#{other.pk} is already running"):
        call_command("recalc_scores", stdout=StringIO())


def test_command_fails_on_an_unknown_policy(world):
    with pytest.raises(CommandError, match="No scoring policy version 42"):
        call_command("recalc_scores", "--policy", "42", stdout=StringIO())


def test_command_fails_on_a_malformed_date(world):
    with pytest.raises(CommandError, match="ISO 8601"):
        call_command("recalc_scores", "--as-of", "yesterday", stdout=StringIO())
