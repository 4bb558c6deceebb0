"""Stored day sums of the satisfaction terms: triggers mark every change, the report's figures never change.

The KPI report reads closed days' per-rep term sums (`VisitDayTerms`) where no mark
says they are stale, and the visits elsewhere. Every test here compares the stored
path with the visits themselves (the sums with the state row removed), after writes
through every path: ORM, bulk, queryset update, raw SQL, delete.
"""

import random
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from django.db import connection, transaction

from analytics import visit_days as visit_days_module
from analytics.bridge.visit_days import SECONDS_PER_DAY, TermWindow, load_visit_term_sums
from analytics.kpis import kpi_report
from analytics.models import VisitDayMark, VisitDayState, VisitDayTerms
from analytics.visit_days import visit_days_refresh
from tests.analytics.kpi_world import completed_visit
from tests.factories import CustomerFactory, RepProfileFactory, VisitFactory
from visits.models import Visit

NOW = datetime(2025, 4, 20, 15, 30, tzinfo=UTC)
FIRST = datetime(2025, 3, 1, tzinfo=UTC)


def utc_day(moment: datetime) -> int:
    return int(moment.timestamp() // SECONDS_PER_DAY)


def marks() -> set[tuple[int, int]]:
    return set(VisitDayMark.objects.values_list("rep_id", "day"))


def make_reps():
    return [RepProfileFactory(user__username=f"rep{n}").user for n in range(3)]


@pytest.fixture
def reps(db):
    return make_reps()


def random_visits(reps, seed: int = 7, count: int = 120) -> None:
    """Visits of every kind over March and April 2025 (some after NOW), at any minute of the day."""
    rng = random.Random(seed)
    customers = [CustomerFactory(owner=rep) for rep in reps]
    for _ in range(count):
        n = rng.randrange(len(reps))
        start = FIRST + timedelta(minutes=rng.randrange(55 * 24 * 60))
        kind = rng.choice(["completed", "completed", "planned", "missed", "cancelled"])
        if kind == "completed":
            raised = rng.randrange(4)
            completed_visit(
                customers[n],
                reps[n],
                start,
                check_in=rng.choice([0, 10, 45]),
                report=rng.choice([1, 30]),
                needs=(raised, rng.randrange(raised + 1)),
                scores=(rng.choice([None, 1, 3, 5]), rng.choice([None, 2, 4])),
            )
        elif kind == "cancelled":
            cancelled = start + timedelta(hours=rng.choice([-50, -2, 1]))
            VisitFactory(customer=customers[n], rep=reps[n], planned_start=start, status=kind, cancelled_at=cancelled)
        else:
            VisitFactory(customer=customers[n], rep=reps[n], planned_start=start, status=kind)


def windows(zone=UTC) -> list[TermWindow]:
    """Whole months, a period ending in the future, and windows whose edges cut days (local midnights, noon)."""
    local = [datetime(2025, 3, 1, tzinfo=zone), datetime(2025, 4, 1, tzinfo=zone), datetime(2025, 5, 1, tzinfo=zone)]
    spans = [(local[0], local[1]), (local[1], local[2]), (local[0] + timedelta(hours=12), NOW - timedelta(days=3))]
    spans.append((NOW - timedelta(days=2, hours=5), NOW + timedelta(days=5)))
    return [TermWindow(a.timestamp(), b.timestamp(), min(b, NOW).timestamp()) for a, b in spans]


def sums(rep_ids, zone=UTC) -> tuple[np.ndarray, bool]:
    loaded = load_visit_term_sums(rep_ids=rep_ids, windows=windows(zone), now=NOW.timestamp())
    return loaded.sums, loaded.from_stored_days


def sums_from_visits(rep_ids, zone=UTC) -> np.ndarray:
    """The same sums computed from the visits alone: the stored path disabled for one read."""
    with transaction.atomic():
        VisitDayState.objects.all().delete()
        out, stored = sums(rep_ids, zone)
        transaction.set_rollback(True)
    assert not stored
    return out


def assert_same_as_visits(rep_ids, zone=UTC) -> None:
    got, stored = sums(rep_ids, zone)
    assert stored
    np.testing.assert_array_equal(got, sums_from_visits(rep_ids, zone))


def test_every_write_path_marks_the_old_and_the_new_rep_and_day(reps):
    customer = CustomerFactory(owner=reps[0])
    start = datetime(2025, 3, 10, 23, 59, 59, 999_999, tzinfo=UTC)  # the last microsecond of a UTC day
    visit = VisitFactory(customer=customer, rep=reps[0], planned_start=start)
    assert marks() == {(reps[0].pk, utc_day(start))}

    VisitDayMark.objects.all().delete()
    visit.planned_start = start + timedelta(microseconds=1)  # the next day
    visit.rep = reps[1]
    visit.save()
    assert marks() == {(reps[0].pk, utc_day(start)), (reps[1].pk, utc_day(start) + 1)}

    VisitDayMark.objects.all().delete()
    Visit.objects.filter(pk=visit.pk).update(status="missed")
    assert marks() == {(reps[1].pk, utc_day(start) + 1)}

    VisitDayMark.objects.all().delete()
    with connection.cursor() as cursor:
        cursor.execute("UPDATE visits_visit SET needs_raised = 2 WHERE id = %s", [visit.pk])
    assert marks() == {(reps[1].pk, utc_day(start) + 1)}

    VisitDayMark.objects.all().delete()
    Visit.objects.bulk_create(
        [Visit(customer=customer, rep=reps[2], planned_start=FIRST + timedelta(days=k)) for k in range(3)]
    )
    assert marks() == {(reps[2].pk, utc_day(FIRST) + k) for k in range(3)}

    VisitDayMark.objects.all().delete()
    visit.delete()
    assert marks() == {(reps[1].pk, utc_day(start) + 1)}


def test_the_refresh_stores_closed_days_only_and_consumes_their_marks(reps):
    random_visits(reps)

    written = visit_days_refresh(now=NOW)

    stored_days = set(VisitDayTerms.objects.values_list("day", flat=True))
    assert written == VisitDayTerms.objects.count() > 0
    assert max(stored_days) < utc_day(NOW)
    assert marks()
    assert min(day for _, day in marks()) >= utc_day(NOW)  # today's and later days' marks wait
    assert VisitDayState.objects.get().zone == "UTC"
    assert_same_as_visits([rep.pk for rep in reps])
    assert_same_as_visits(None)


def test_a_refresh_with_very_many_marked_days_rebuilds_every_day(reps, monkeypatch):
    random_visits(reps)
    visit_days_refresh(now=NOW)
    monkeypatch.setattr(visit_days_module, "REBUILD_ABOVE_CELLS", 4)  # two visits mark 4 days at most
    few = Visit.objects.filter(planned_start__lt=NOW - timedelta(days=2)).order_by("pk")[:2]
    Visit.objects.filter(pk__in=[visit.pk for visit in few]).update(needs_raised=3)
    marked = {(rep, day) for rep, day in marks() if day < utc_day(NOW)}
    assert 1 <= len(marked) <= 4
    assert visit_days_refresh(now=NOW) <= 4  # the marked days only

    Visit.objects.filter(planned_start__lt=NOW - timedelta(days=2)).update(needs_raised=5)  # most days
    assert len({(rep, day) for rep, day in marks() if day < utc_day(NOW)}) > 4

    written = visit_days_refresh(now=NOW)

    assert written == VisitDayTerms.objects.count() > 4  # every day stored again
    assert all(day >= utc_day(NOW) for _, day in marks())
    assert_same_as_visits([rep.pk for rep in reps])
    assert_same_as_visits(None)


def test_figures_stay_exact_after_writes_before_and_after_the_next_refresh(reps):
    random_visits(reps)
    visit_days_refresh(now=NOW)
    rep_ids = [rep.pk for rep in reps]
    visits = list(Visit.objects.filter(planned_start__lt=NOW - timedelta(days=2)).order_by("pk"))

    completed_visit(CustomerFactory(owner=reps[0]), reps[0], FIRST + timedelta(days=3, hours=9), check_in=0, report=1)
    Visit.objects.filter(pk=visits[0].pk).update(
        needs_raised=3,
        needs_satisfied=3,
        status="completed",
        checked_in_at=visits[0].planned_start,
        checked_out_at=visits[0].planned_start + timedelta(hours=1),
    )
    moved = visits[1]
    moved.planned_start -= timedelta(days=6)
    moved.rep = reps[2]
    moved.save()
    Visit.objects.filter(pk=visits[2].pk).delete()
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE visits_visit SET status = 'cancelled', cancelled_at = planned_start WHERE id = %s", [visits[3].pk]
        )

    assert marks()
    assert_same_as_visits(rep_ids)  # the marked days are read from the visits
    assert_same_as_visits(None)
    assert visit_days_refresh(now=NOW) > 0
    assert all(day >= utc_day(NOW) for _, day in marks())
    assert_same_as_visits(rep_ids)  # and now from the refreshed sums
    assert_same_as_visits(None)


def test_windows_cut_at_local_midnights_in_another_time_zone(reps, settings):
    settings.TIME_ZONE = "Europe/Paris"
    random_visits(reps, seed=11)
    assert not sums(None, ZoneInfo("Europe/Paris"))[1]  # never built

    visit_days_refresh(now=NOW)

    assert_same_as_visits([rep.pk for rep in reps], ZoneInfo("Europe/Paris"))


def test_sums_built_in_another_time_zone_are_not_used_until_rebuilt(reps, settings):
    random_visits(reps)
    visit_days_refresh(now=NOW)
    settings.TIME_ZONE = "Asia/Shanghai"

    assert not sums(None)[1]
    visit_days_refresh(now=NOW)  # marks or not, another zone means a rebuild
    assert VisitDayState.objects.get().zone == "Asia/Shanghai"
    assert_same_as_visits(None)


def test_a_refresh_that_fails_leaves_everything_as_it_was(reps, monkeypatch):
    random_visits(reps)
    visit_days_refresh(now=NOW)
    Visit.objects.filter(planned_start__lt=NOW - timedelta(days=2)).update(needs_raised=5, needs_satisfied=1)
    before_marks, before_terms = marks(), list(VisitDayTerms.objects.order_by("pk").values())

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(visit_days_module, "_insert_terms", broken)
    with pytest.raises(RuntimeError):
        visit_days_refresh(now=NOW)

    assert marks() == before_marks
    assert list(VisitDayTerms.objects.order_by("pk").values()) == before_terms
    assert_same_as_visits(None)


def test_the_kpi_report_reads_the_stored_sums(reps):
    random_visits(reps)
    period = {"period_start": datetime(2025, 4, 1, tzinfo=UTC), "period_end": datetime(2025, 5, 1, tzinfo=UTC)}
    from_visits = kpi_report(rep_ids=[rep.pk for rep in reps], as_of=NOW, **period)

    visit_days_refresh(now=NOW)
    assert sums([rep.pk for rep in reps])[1]  # the stored path is the one taken now
    stored = kpi_report(rep_ids=[rep.pk for rep in reps], as_of=NOW, **period)

    assert stored.overall == from_visits.overall
    assert stored.previous == from_visits.previous
    assert [rep.figures for rep in stored.reps] == [rep.figures for rep in from_visits.reps]
    assert stored.monthly == from_visits.monthly
    assert stored.overall.cs_plan is not None


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_write_committed_while_a_refresh_runs_stays_marked(monkeypatch):
    """A write that commits after the refresh took its marks is not in what it read: its own mark must survive."""
    if connection.vendor != "postgresql":
        pytest.skip("concurrent writers need PostgreSQL")
    import psycopg

    random_visits(make_reps())
    visit_days_refresh(now=NOW)
    target = Visit.objects.filter(planned_start__lt=NOW - timedelta(days=2)).order_by("pk").first()
    Visit.objects.filter(pk=target.pk).update(needs_raised=1, needs_satisfied=0)
    db = connection.settings_dict
    dsn = f"host={db['HOST']} port={db['PORT'] or 5432} user={db['USER']} dbname={db['NAME']}"
    real = visit_days_module.load_rep_visit_inputs

    def write_then_read(*args, **kwargs):
        with psycopg.connect(dsn, autocommit=True) as other:  # another session, committed at once
            other.execute("UPDATE visits_visit SET needs_raised = 9, needs_satisfied = 9 WHERE id = %s", [target.pk])
        return real(*args, **kwargs)

    monkeypatch.setattr(visit_days_module, "load_rep_visit_inputs", write_then_read)
    visit_days_refresh(now=NOW)

    assert (target.rep_id, utc_day(target.planned_start)) in marks()
    assert_same_as_visits(None)


def test_beat_refreshes_the_sums_every_ten_minutes_and_the_nightly_job_too(reps, settings):
    from celery import current_app

    from analytics.tasks import refresh_visit_days

    entry = settings.CELERY_BEAT_SCHEDULE["visit-day-sums"]
    assert entry["task"] == refresh_visit_days.name == "analytics.tasks.refresh_visit_days"
    assert entry["schedule"].minute == set(range(0, 60, 10))
    assert refresh_visit_days.name in current_app.tasks

    random_visits(reps)
    written = refresh_visit_days.apply().get()  # real now: every visit of March and April 2025 is on a closed day

    assert written == VisitDayTerms.objects.count() > 0
    assert not VisitDayMark.objects.exists()
    assert refresh_visit_days.apply().get() == 0  # nothing marked since


def test_visits_written_before_the_triggers_existed_are_covered_once_their_day_closes(reps):
    """A database migrated with data: no marks at all. The first build stores the closed days and marks the rest."""
    random_visits(reps)  # March and April 2025; NOW is April 20
    VisitDayMark.objects.all().delete()
    later = NOW + timedelta(days=20)  # every visit's day has closed by then

    visit_days_refresh(now=NOW)
    assert {day for _, day in marks()} == {
        utc_day(start)
        for start in Visit.objects.filter(planned_start__gte=datetime(2025, 4, 20, tzinfo=UTC)).values_list(
            "planned_start", flat=True
        )
    }
    loaded = load_visit_term_sums(rep_ids=None, windows=windows(), now=later.timestamp())
    with transaction.atomic():
        VisitDayState.objects.all().delete()
        from_visits = load_visit_term_sums(rep_ids=None, windows=windows(), now=later.timestamp())
        transaction.set_rollback(True)
    assert loaded.from_stored_days
    np.testing.assert_array_equal(loaded.sums, from_visits.sums)
