"""The runs page: who may see it, what it shows, "Recalculate now" and the polled progress row."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone

from analytics.models import CustomerScore, PlanRun
from analytics.selectors import duration_text
from tests.factories import CustomerFactory, RepProfileFactory, UserFactory
from visits.models import Visit

RUNS = reverse("analytics:runs")
RECALCULATE = reverse("analytics:run_recalculate")
AS_OF = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


def progress_url(run: PlanRun) -> str:
    return reverse("analytics:run_progress", args=[run.pk])


def make_run(**fields) -> PlanRun:
    values = {"kind": PlanRun.Kind.SCORES, "status": PlanRun.Status.SUCCEEDED, "as_of": AS_OF}
    values.update(fields)
    return PlanRun.objects.create(**values)


def live_run(*, kind=PlanRun.Kind.PLANS, done=2, total=5, running_for=timedelta(seconds=30)) -> PlanRun:
    now = timezone.now()
    return make_run(
        kind=kind,
        status=PlanRun.Status.RUNNING,
        done=done,
        total=total,
        started_at=now - running_for,
        lease_expires_at=now + timedelta(minutes=5),
    )


def messages_of(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


@pytest.fixture
def no_role_user(db):
    return UserFactory(username="nobody")


@pytest.fixture
def users(rep, no_role_user, manager, admin_user):
    return {"rep": rep, "no_role": no_role_user, "manager": manager, "admin": admin_user}


@pytest.fixture
def finished_run(db):
    return make_run(done=3, total=3, started_at=AS_OF, finished_at=AS_OF + timedelta(seconds=75))


# -- permissions ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("who", "status"), [("rep", 404), ("no_role", 404), ("manager", 200), ("admin", 200)])
def test_runs_page_is_for_managers_and_admins(client, users, finished_run, who, status):
    client.force_login(users[who])
    assert client.get(RUNS).status_code == status


@pytest.mark.parametrize(("who", "status"), [("rep", 404), ("no_role", 404), ("manager", 200), ("admin", 200)])
def test_progress_row_is_for_managers_and_admins(client, users, finished_run, who, status):
    client.force_login(users[who])
    assert client.get(progress_url(finished_run)).status_code == status


@pytest.mark.parametrize(("who", "status"), [("rep", 404), ("no_role", 404), ("manager", 302), ("admin", 302)])
def test_recalculate_is_for_managers_and_admins(client, users, who, status):
    # The queued task is never run here: the test transaction does not commit.
    client.force_login(users[who])
    response = client.post(RECALCULATE)
    assert response.status_code == status
    if status == 302:
        assert response["Location"].startswith(RUNS + "?queued=")


@pytest.mark.django_db
@pytest.mark.parametrize("method", ["get", "post"])
@pytest.mark.parametrize("url", ["runs", "recalculate", "progress"])
def test_anonymous_users_are_sent_to_login(client, finished_run, url, method):
    target = {"runs": RUNS, "recalculate": RECALCULATE, "progress": progress_url(finished_run)}[url]
    response = getattr(client, method)(target)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
    assert PlanRun.objects.count() == 1


def test_unknown_run_is_404(client, manager):
    client.force_login(manager)
    assert client.get(reverse("analytics:run_progress", args=[999_999])).status_code == 404


def test_recalculate_refuses_get(client, manager):
    client.force_login(manager)
    assert client.get(RECALCULATE).status_code == 405
    assert PlanRun.objects.count() == 0


def test_runs_link_in_the_navigation_for_managers_only(client, rep, manager):
    client.force_login(manager)
    assert f'href="{RUNS}"' in client.get(reverse("home")).content.decode()
    client.force_login(rep)
    assert f'href="{RUNS}"' not in client.get(reverse("home")).content.decode()


# -- the list --------------------------------------------------------------------------------------


def test_list_shows_runs_newest_first_with_counts_duration_and_errors(client, manager, finished_run):
    failed = make_run(
        kind=PlanRun.Kind.PLANS,
        status=PlanRun.Status.FAILED,
        done=1,
        total=4,
        started_at=AS_OF,
        finished_at=AS_OF + timedelta(seconds=2.5),
        error="reps [7, 9]: ValueError: no working day\nLease expired before the run finished.\n",
        requested_by=manager,
    )
    running = live_run(done=2, total=5, running_for=timedelta(seconds=30))
    client.force_login(manager)
    html = client.get(RUNS).content.decode()
    rows = re.findall(r'<tr id="run-(\d+)"', html)
    assert rows == [str(running.pk), str(failed.pk), str(finished_run.pk)]
    row = {pk: html[html.index(f'<tr id="run-{pk}"') :].split("</tr>")[0] for pk in rows}
    finished_row, failed_row, running_row = row[str(finished_run.pk)], row[str(failed.pk)], row[str(running.pk)]
    assert "3/3 · 100%" in finished_row
    assert "1 min 15 s" in finished_row
    assert "text-bg-success" in finished_row
    assert "1/4 · 25%" in failed_row
    assert "2.5 s" in failed_row
    assert "text-bg-danger" in failed_row
    assert "<summary" in failed_row
    assert "reps [7, 9]: ValueError: no working day</summary>" in failed_row
    assert "Lease expired before the run finished." in failed_row  # the full text, in the <details>
    assert str(manager) in failed_row
    assert "2/5 · 40%" in running_row
    assert re.search(r"running for 3[01] s", running_row)
    assert 'value="40"' in running_row


def test_list_shows_the_latest_20(client, manager):
    runs = [make_run() for _ in range(22)]
    client.force_login(manager)
    html = client.get(RUNS).content.decode()
    shown = [int(pk) for pk in re.findall(r'<tr id="run-(\d+)"', html)]
    assert shown == [run.pk for run in reversed(runs)][:20]


def test_list_runs_in_a_bounded_number_of_queries(client, manager, django_assert_max_num_queries):
    for i in range(20):
        requester = UserFactory(username=f"requester{i}", role="Manager")
        make_run(kind=PlanRun.Kind.PLANS if i % 2 else PlanRun.Kind.SCORES, requested_by=requester, done=i, total=20)
    client.force_login(manager)
    # session, user, groups (role), the runs with their requesters
    with django_assert_max_num_queries(4):
        response = client.get(RUNS)
    assert response.content.decode().count('<tr id="run-') == 20


def test_as_of_is_shown_in_the_current_time_zone(client, manager, finished_run, settings):
    settings.TIME_ZONE = "Europe/Paris"
    client.force_login(manager)
    html = client.get(RUNS).content.decode()
    assert 'datetime="2026-11-23T03:00:00+01:00"' in html  # 02:00 UTC is 03:00 in Paris


def test_htmx_asks_for_the_list_only(client, manager, finished_run):
    client.force_login(manager)
    response = client.get(RUNS, headers={"HX-Request": "true"})
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="runs-board"')
    assert "<html" not in html
    assert "HX-Request" in response["Vary"]


def test_after_a_click_the_list_polls_until_a_run_starts(client, manager):
    client.force_login(manager)
    clicked = int(timezone.now().timestamp())
    html = client.get(f"{RUNS}?queued={clicked}").content.decode()
    assert "waiting for a worker" in html
    assert 'hx-trigger="every 1s"' in html
    live_run(kind=PlanRun.Kind.SCORES, done=0, total=0, running_for=timedelta(0))
    html = client.get(f"{RUNS}?queued={clicked}").content.decode()
    assert "waiting for a worker" not in html
    assert 'hx-trigger="runFinished from:body delay:300ms"' in html  # the board waits for the run to finish


def test_a_click_no_worker_picked_up_is_reported(client, manager):
    client.force_login(manager)
    long_ago = int((timezone.now() - timedelta(minutes=5)).timestamp())
    html = client.get(f"{RUNS}?queued={long_ago}").content.decode()
    assert "Is a Celery worker running?" in html
    assert "every 1s" not in html


# -- recalculate now -----------------------------------------------------------------------------


@pytest.fixture
def book(db):
    """One rep with three never-visited customers: a run scores 3 customers and plans 1 rep."""
    profile = RepProfileFactory()
    customers = [CustomerFactory(owner=profile.user, annual_value=value) for value in (1000, 50000, 200000)]
    return profile.user, customers


def test_recalculate_runs_scores_then_plans(client, manager, book, eager_celery, django_capture_on_commit_callbacks):
    rep, customers = book
    client.force_login(manager)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = client.post(RECALCULATE)
    assert len(callbacks) >= 1
    assert response.status_code == 302
    assert messages_of(response) == ["Recalculation started: missed visits, then scores, then every rep's visit plan."]
    scores = PlanRun.objects.get(kind=PlanRun.Kind.SCORES)
    plans = PlanRun.objects.get(kind=PlanRun.Kind.PLANS)
    assert (scores.status, scores.done, scores.total, scores.requested_by) == ("succeeded", 3, 3, manager)
    assert (plans.status, plans.done, plans.total, plans.requested_by) == ("succeeded", 1, 1, manager)
    assert CustomerScore.objects.filter(run=scores).count() == 3
    assert set(Visit.objects.filter(plan_run=plans).values_list("customer_id", flat=True)) == {c.pk for c in customers}
    # The page it redirects to shows both runs finished, and nothing polls.
    html = client.get(response["Location"]).content.decode()
    assert "waiting for a worker" not in html
    assert "every 1s" not in html
    assert html.count("3/3 · 100%") == 1
    assert html.count("1/1 · 100%") == 1


@pytest.mark.parametrize("kind", [PlanRun.Kind.SCORES, PlanRun.Kind.PLANS])
def test_recalculate_with_a_live_run_reports_it_and_starts_nothing(
    client, admin_user, kind, eager_celery, django_capture_on_commit_callbacks
):
    running = live_run(kind=kind, done=2, total=5)
    client.force_login(admin_user)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = client.post(RECALCULATE)
    assert response.status_code == 302
    assert response["Location"] == RUNS
    assert callbacks == []
    assert messages_of(response) == [f"A run is already in progress (#{running.pk}, 2/5)."]
    assert list(PlanRun.objects.values_list("pk", flat=True)) == [running.pk]


def test_recalculate_ignores_runs_of_other_kinds(
    client, manager, book, eager_celery, django_capture_on_commit_callbacks
):
    need_model = live_run(kind=PlanRun.Kind.NEED_MODEL)
    client.force_login(manager)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(RECALCULATE)
    assert PlanRun.objects.filter(kind=PlanRun.Kind.PLANS, status="succeeded").count() == 1
    need_model.refresh_from_db()
    assert need_model.status == PlanRun.Status.RUNNING


def test_recalculate_replaces_a_run_whose_worker_died(
    client, manager, book, eager_celery, django_capture_on_commit_callbacks
):
    dead = live_run(kind=PlanRun.Kind.PLANS)
    PlanRun.objects.filter(pk=dead.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    client.force_login(manager)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(RECALCULATE)
    dead.refresh_from_db()
    assert dead.status == PlanRun.Status.FAILED
    assert "Lease expired" in dead.error
    assert PlanRun.objects.filter(kind=PlanRun.Kind.PLANS, status="succeeded").count() == 1


def test_a_failing_run_is_logged_not_a_server_error(
    client, manager, book, eager_celery, django_capture_on_commit_callbacks, caplog
):
    from analytics.models import ScoringPolicy

    ScoringPolicy.objects.update(active=False)  # no active policy: the scoring run cannot start
    client.force_login(manager)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(RECALCULATE)
    assert response.status_code == 302
    assert PlanRun.objects.count() == 0
    assert f"Recalculation requested by user #{manager.pk} failed" in caplog.text
    assert "ScoringPolicy matching query does not exist" in caplog.text


# -- the polled progress row -----------------------------------------------------------------------


def test_progress_row_polls_while_running_and_stops_once_finished(client, manager):
    run = live_run(done=2, total=5)
    client.force_login(manager)
    response = client.get(progress_url(run), headers={"HX-Request": "true"})
    html = response.content.decode()
    assert html.lstrip().startswith(f'<tr id="run-{run.pk}"')
    assert 'hx-trigger="every 1s"' in html
    assert f'hx-get="{progress_url(run)}"' in html
    assert "2/5 · 40%" in html
    assert "HX-Trigger" not in response.headers

    PlanRun.objects.filter(pk=run.pk).update(
        status=PlanRun.Status.SUCCEEDED, done=5, finished_at=run.started_at + timedelta(seconds=42)
    )
    response = client.get(progress_url(run), headers={"HX-Request": "true"})
    html = response.content.decode()
    assert "hx-trigger" not in html
    assert "hx-get" not in html
    assert "5/5 · 100%" in html
    assert "42 s" in html
    assert response["HX-Trigger"] == "runFinished"  # the list reloads: the next run may have started


def test_a_scoring_run_counts_at_the_end_so_its_bar_is_indeterminate(client, manager):
    run = live_run(kind=PlanRun.Kind.SCORES, done=0, total=0)
    client.force_login(manager)
    html = client.get(progress_url(run)).content.decode()
    assert "working…" in html
    assert re.search(r"<progress [^>]*>", html)
    assert "value=" not in re.search(r"<progress [^>]*>", html).group(0)


def test_a_run_whose_lease_expired_is_shown_stalled_and_not_polled(client, manager):
    run = live_run()
    PlanRun.objects.filter(pk=run.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    client.force_login(manager)
    html = client.get(progress_url(run)).content.decode()
    assert "stalled" in html
    assert "hx-trigger" not in html


def test_progress_row_in_bounded_queries(client, manager, django_assert_max_num_queries):
    run = live_run()
    client.force_login(manager)
    with django_assert_max_num_queries(4):  # session, user, groups, the run with its requester
        assert client.get(progress_url(run)).status_code == 200


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0.44, "0.4 s"),
        (9.96, "10 s"),
        (12.4, "12 s"),
        (185, "3 min 5 s"),
        (7800, "2 h 10 min"),
        (0.04, "< 0.1 s"),
        (-1, "< 0.1 s"),
    ],
)
def test_duration_text(seconds, text):
    assert duration_text(seconds) == text
