"""Spec section 4 end to end: engagement x from the database, the stored fit, its selectors and entry points."""

import math
from datetime import UTC, datetime, timedelta
from io import StringIO

import numpy as np
import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from analytics.bridge.need import LOST, OPEN, WON, load_need_engagement
from analytics.models import NeedModelFit, PlanRun
from analytics.need_fits import (
    need_model_curve,
    need_model_fit_run,
    need_model_latest,
    need_probabilities_for,
    opportunity_need_probability,
)
from analytics.need_model import NOT_FITTED_REASONS
from analytics.tasks import fit_need_model, nightly
from tests.factories import CustomerFactory, OpportunityFactory, RepProfileFactory, VisitFactory, stage
from visits.models import Visit

DAY0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)  # in the past: the selectors count visits up to now
AS_OF = DAY0 + timedelta(days=30)


def day(n: float) -> datetime:
    return DAY0 + timedelta(days=n)


def completed_visit(customer, at: datetime, rep=None) -> Visit:
    return VisitFactory(
        customer=customer,
        rep=rep or customer.owner,
        planned_start=at - timedelta(hours=1),
        status=Visit.Status.COMPLETED,
        checked_in_at=at - timedelta(minutes=45),
        checked_out_at=at,
    )


def opportunity(customer, *, opened: datetime, outcome: str | None = None, closed: datetime | None = None, **kw):
    """An opportunity open in Discovery, or closed Won/Lost at `closed`."""
    code = {"won": "won", "lost": "lost", None: "discovery"}[outcome]
    return OpportunityFactory(
        customer=customer,
        owner=kw.pop("owner", None) or customer.owner,
        stage=stage(code),
        opened_at=opened,
        closed_at=closed,
        **kw,
    )


@pytest.fixture
def rep_user(db):
    return RepProfileFactory().user


# --- engagement x ---------------------------------------------------------------------------


@pytest.fixture
def small_book(rep_user):
    """Hand-known engagement: the comments give each opportunity's x and outcome as of AS_OF (day 30)."""
    c1 = CustomerFactory(owner=rep_user)
    c2 = CustomerFactory(owner=rep_user)
    for n in (1, 5, 10, 20, 31):  # completed check-outs on c1; day 31 is after AS_OF
        completed_visit(c1, day(n))
    VisitFactory(customer=c1, planned_start=day(6), status=Visit.Status.MISSED)  # never held: not counted
    VisitFactory(customer=c1, planned_start=day(7))  # planned only
    VisitFactory(  # checked in on day 8, never checked out: not completed
        customer=c1, planned_start=day(8), status=Visit.Status.CHECKED_IN, checked_in_at=day(8)
    )
    completed_visit(c2, day(4))
    return {
        # Won, opened day 0, closed day 8: check-outs on days 1 and 5 -> x = 2.
        "a": opportunity(c1, opened=day(0), outcome="won", closed=day(8)),
        # Lost, [day 5, day 10] with both ends inclusive: days 5 and 10 -> x = 2.
        "b": opportunity(c1, opened=day(5), outcome="lost", closed=day(10)),
        # Open, opened day 11: until AS_OF only day 20 (day 31 is later) -> x = 1.
        "c": opportunity(c1, opened=day(11)),
        # Won on day 40, after AS_OF: open as of day 30, days 1, 5, 10, 20 -> x = 4.
        "d": opportunity(c1, opened=day(0), outcome="won", closed=day(40)),
        # A lead without a customer, lost on day 3 -> x = 0.
        "e": opportunity(None, opened=day(0), outcome="lost", closed=day(3), owner=rep_user),
        # c2's only visit (day 4) is after this one closed (day 2) -> x = 0.
        "g": opportunity(c2, opened=day(0), outcome="lost", closed=day(2)),
        # Opened after AS_OF: left out.
        "f": opportunity(c1, opened=day(35)),
    }


def test_engagement_is_counted_per_opportunity_in_one_query(small_book, django_assert_num_queries):
    with django_assert_num_queries(1):
        loaded = load_need_engagement(as_of=AS_OF)
    rows = zip(loaded.opportunity_id.tolist(), loaded.outcome.tolist(), loaded.engagement.tolist(), strict=True)
    by_id = {pk: (outcome, x) for pk, outcome, x in rows}
    b = small_book
    assert by_id == {
        b["a"].pk: (WON, 2),
        b["b"].pk: (LOST, 2),
        b["c"].pk: (OPEN, 1),
        b["d"].pk: (OPEN, 4),
        b["e"].pk: (LOST, 0),
        b["g"].pk: (LOST, 0),
    }
    assert loaded.opportunity_id.tolist() == sorted(by_id)
    x, y = loaded.closed()  # the fit's sample: a, b, e, g in id order
    assert x.tolist() == [2.0, 2.0, 0.0, 0.0]
    assert y.tolist() == [1.0, 0.0, 0.0, 0.0]


def test_engagement_of_some_opportunities(small_book, django_assert_num_queries):
    with django_assert_num_queries(1):
        loaded = load_need_engagement(as_of=AS_OF, opportunity_ids=[small_book["d"].pk, small_book["f"].pk])
    assert loaded.opportunity_id.tolist() == [small_book["d"].pk]  # f opened after AS_OF
    assert loaded.engagement.tolist() == [4]
    empty = load_need_engagement(as_of=AS_OF, opportunity_ids=[])
    assert len(empty) == 0
    with pytest.raises(ValueError, match="timezone-aware"):
        load_need_engagement(as_of=datetime(2025, 4, 1))  # noqa: DTZ001 - the naive moment under test


# --- the fit ---------------------------------------------------------------------------------


@pytest.fixture
def binary_book(rep_user):
    """20 closed opportunities with x in {0, 1}: the fit has a closed form.

    `engaged` has one completed visit (day 5) inside each of its opportunities'
    windows [day 0, day 10] -> x = 1; `quiet` has none -> x = 0. Won first, then
    lost, in id order: quiet W W W L L L L L L L, engaged W W W W W W W L L L.
    """
    quiet = CustomerFactory(owner=rep_user, name="Quiet")
    engaged = CustomerFactory(owner=rep_user, name="Engaged")
    completed_visit(engaged, day(5))
    for customer, won in ((quiet, 3), (engaged, 7)):
        for i in range(10):
            opportunity(customer, opened=day(0), outcome="won" if i < won else "lost", closed=day(10))
    return quiet, engaged


def test_fit_stores_the_closed_form_a_b_and_log_loss(binary_book, django_assert_max_num_queries):
    # P(0) = 3/10 and P(1) = 7/10 at the optimum, so a = logit(0.3) = ln(3/7) = -0.847298,
    # b = logit(0.7) - logit(0.3) = 2 ln(7/3) = 1.694596; log-loss = -(0.3 ln 0.3 + 0.7 ln 0.7) = 0.610864.
    with django_assert_max_num_queries(4):  # savepoint, load, insert, release
        fit = need_model_fit_run(as_of=AS_OF)
    fit.refresh_from_db()
    assert (fit.status, fit.reason_code, fit.reason, fit.run) == ("fitted", "", "", None)
    assert fit.as_of == AS_OF
    assert fit.sample_size == 20
    assert fit.a == pytest.approx(math.log(3 / 7), abs=1e-9)
    assert fit.b == pytest.approx(2 * math.log(7 / 3), abs=1e-9)
    assert fit.log_loss == pytest.approx(0.610864, abs=1e-6)
    assert fit.engagement_max == 1.0


def test_calibration_deciles_by_hand(binary_book):
    fit = need_model_fit_run(as_of=AS_OF)
    # Sorted by P (stable, id order within ties): the 10 quiet (P = 0.3) then the 10 engaged (P = 0.7),
    # 2 per decile. Quiet W W | W L | L L | L L | L L -> 1, 0.5, 0, 0, 0;
    # engaged W W | W W | W W | W L | L L -> 1, 1, 1, 0.5, 0.
    assert [row["decile"] for row in fit.calibration] == list(range(1, 11))
    assert [row["count"] for row in fit.calibration] == [2] * 10
    assert sum(row["count"] for row in fit.calibration) == fit.sample_size
    assert [row["predicted"] for row in fit.calibration] == pytest.approx([0.3] * 5 + [0.7] * 5, abs=1e-9)
    assert [row["observed"] for row in fit.calibration] == [1.0, 0.5, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 0.5, 0.0]


# Thirty closed opportunities, x = completed visits 0..5, with overlap (the kernel test's sample).
X30 = [0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 5, 1, 0, 2, 4]
Y30 = [0, 0, 1, 0, 0, 1, 0, 0, 1, 0, 1, 1, 1, 0, 1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1, 0, 0, 0, 1]


def test_fit_is_the_maximum_likelihood_on_the_database_sample(rep_user):
    for x, y in zip(X30, Y30, strict=True):
        customer = CustomerFactory(owner=rep_user)
        for k in range(x):
            completed_visit(customer, day(1 + k))
        opportunity(customer, opened=day(0), outcome="won" if y else "lost", closed=day(9))
    opportunity(CustomerFactory(owner=rep_user), opened=day(0))  # open: not in the sample
    fit = need_model_fit_run(as_of=AS_OF)
    assert fit.fitted
    assert fit.sample_size == 30
    # At the maximum the score equations hold: sum(p - y) = 0 and sum((p - y) * x) = 0,
    # computed here with plain math on the hand-known x and y (not the kernel).
    p = [1 / (1 + math.exp(-(fit.a + fit.b * x))) for x in X30]
    assert sum(pi - yi for pi, yi in zip(p, Y30, strict=True)) == pytest.approx(0.0, abs=1e-7)
    assert sum((pi - yi) * xi for pi, yi, xi in zip(p, Y30, X30, strict=True)) == pytest.approx(0.0, abs=1e-6)
    loss = -sum(math.log(pi) if yi else math.log(1 - pi) for pi, yi in zip(p, Y30, strict=True)) / 30
    assert fit.log_loss == pytest.approx(loss, rel=1e-9)
    assert fit.b > 0  # more visits, more wins
    assert fit.engagement_max == 5.0
    # 30 in 10 deciles of 3; the observed rates average back to the win rate 19/30.
    counts = [row["count"] for row in fit.calibration]
    assert counts == [3] * 10
    assert sum(row["observed"] * row["count"] for row in fit.calibration) == pytest.approx(sum(Y30))
    assert sum(row["predicted"] * row["count"] for row in fit.calibration) == pytest.approx(sum(Y30), abs=1e-6)


def test_too_few_closed_opportunities_is_stored_with_its_reason(rep_user):
    customer = CustomerFactory(owner=rep_user)
    for i in range(12):
        opportunity(customer, opened=day(0), outcome="won" if i % 2 else "lost", closed=day(1))
    for _ in range(10):
        opportunity(customer, opened=day(0))  # open ones never count
    fit = need_model_fit_run(as_of=AS_OF)
    fit.refresh_from_db()
    assert (fit.status, fit.reason_code, fit.sample_size) == ("not_fitted", "too_few", 12)
    assert (fit.a, fit.b, fit.log_loss, fit.calibration) == (None, None, None, [])
    assert fit.reason == "Not fitted: only 12 closed opportunities (20 needed)."
    assert fit.reason_display() == fit.reason


def test_perfectly_separated_is_stored_with_its_reason(rep_user):
    # Every won opportunity had one visit, every lost none: a threshold at x = 0.5 separates them.
    quiet = CustomerFactory(owner=rep_user)
    engaged = CustomerFactory(owner=rep_user)
    completed_visit(engaged, day(5))
    for _ in range(10):
        opportunity(quiet, opened=day(0), outcome="lost", closed=day(10))
        opportunity(engaged, opened=day(0), outcome="won", closed=day(10))
    fit = need_model_fit_run(as_of=AS_OF)
    assert (fit.status, fit.reason_code, fit.sample_size) == ("not_fitted", "separated", 20)
    assert fit.reason.startswith("Not fitted: the number of visits separates won from lost exactly")
    assert (fit.a, fit.b) == (None, None)


def test_every_kernel_reason_is_a_stored_choice():
    assert set(NOT_FITTED_REASONS) <= set(NeedModelFit.Reason.values)


def test_a_failing_fit_is_recorded_not_raised(binary_book, monkeypatch):
    def broken(x, y):
        raise RuntimeError("kernel exploded")

    monkeypatch.setattr("analytics.need_fits.need_model_fit", broken)
    fit = need_model_fit_run(as_of=AS_OF)
    fit.refresh_from_db()
    assert (fit.status, fit.reason_code) == ("not_fitted", "error")
    assert fit.reason == "RuntimeError: kernel exploded"
    assert fit.reason_display() == "Not fitted: the fit failed (RuntimeError: kernel exploded)."


def test_naive_as_of_is_refused(db):
    with pytest.raises(ValueError, match="timezone-aware"):
        need_model_fit_run(as_of=datetime(2025, 4, 1))  # noqa: DTZ001 - the naive moment under test
    assert not NeedModelFit.objects.exists()


# --- selectors ---------------------------------------------------------------------------------


def test_latest_is_the_latest_attempt(binary_book):
    assert need_model_latest() is None
    first = need_model_fit_run(as_of=AS_OF)
    second = need_model_fit_run(as_of=AS_OF - timedelta(days=28))  # before anything closed: 0 closed
    assert need_model_latest() == second
    assert (first.status, second.status, second.sample_size) == ("fitted", "not_fitted", 0)


def test_probability_of_one_opportunity(binary_book, django_assert_max_num_queries):
    quiet, engaged = binary_book
    open_engaged = opportunity(engaged, opened=day(0))  # the day-5 visit counts: x = 1
    open_quiet = opportunity(quiet, opened=day(0))  # x = 0

    with django_assert_max_num_queries(2):
        none_yet = opportunity_need_probability(opportunity=open_engaged)
    assert none_yet == type(none_yet)(probability=None, engagement=1, reason="The model has not been fitted yet.")

    need_model_fit_run(as_of=AS_OF)
    with django_assert_max_num_queries(2):
        engaged_p = opportunity_need_probability(opportunity=open_engaged)
    # P(1) = 1 / (1 + exp(-(ln(3/7) + 2 ln(7/3)))) = 1 / (1 + 3/7) = 0.7; P(0) = 1 / (1 + 7/3) = 0.3.
    assert engaged_p.probability == pytest.approx(0.7, abs=1e-9)
    assert engaged_p.engagement == 1
    assert engaged_p.reason == (
        "1 completed visit since the opportunity opened; model fitted on 20 closed opportunities."
    )
    assert opportunity_need_probability(opportunity=open_quiet).probability == pytest.approx(0.3, abs=1e-9)


def test_probability_says_why_when_not_fitted(rep_user):
    customer = CustomerFactory(owner=rep_user)
    for i in range(12):
        opportunity(customer, opened=day(0), outcome="won" if i % 2 else "lost", closed=day(1))
    open_one = opportunity(customer, opened=day(0))
    need_model_fit_run(as_of=AS_OF)
    result = opportunity_need_probability(opportunity=open_one)
    assert result.probability is None
    assert result.engagement == 0
    assert result.reason == "Not fitted: only 12 closed opportunities (20 needed)."


def test_bulk_probabilities_in_one_query(binary_book, django_assert_num_queries):
    quiet, engaged = binary_book
    ids = [opportunity(engaged, opened=day(0)).pk, opportunity(quiet, opened=day(0)).pk]
    missing = 10**9

    with django_assert_num_queries(1):
        assert need_probabilities_for(opportunity_ids=[*ids, missing]) == dict.fromkeys(ids)
    with django_assert_num_queries(0):
        assert need_probabilities_for(opportunity_ids=[]) == {}

    need_model_fit_run(as_of=AS_OF)
    with django_assert_num_queries(1):
        probabilities = need_probabilities_for(opportunity_ids=[*ids, missing])
    assert probabilities.keys() == set(ids)
    assert probabilities[ids[0]] == pytest.approx(0.7, abs=1e-9)
    assert probabilities[ids[1]] == pytest.approx(0.3, abs=1e-9)

    # A later attempt that is not fitted withdraws the model: no P rather than a stale one.
    need_model_fit_run(as_of=day(1))
    assert need_probabilities_for(opportunity_ids=ids) == dict.fromkeys(ids)


def test_curve_of_a_fit(binary_book):
    fit = need_model_fit_run(as_of=AS_OF)
    curve = need_model_curve(fit)
    assert len(curve.x) == len(curve.p) == 50
    assert (curve.x[0], curve.x[-1]) == (0.0, 1.0)  # 0 to the sample's highest x
    assert curve.p[0] == pytest.approx(0.3, abs=1e-9)
    assert curve.p[-1] == pytest.approx(0.7, abs=1e-9)
    assert np.all(np.diff(curve.p) > 0)
    assert curve.calibration == fit.calibration
    assert (curve.a, curve.b, curve.sample_size) == (fit.a, fit.b, 20)
    assert len(need_model_curve(fit, points=5).x) == 5
    with pytest.raises(ValueError, match="points is 1: must be an integer >= 2"):
        need_model_curve(fit, points=1)
    assert need_model_curve(None) is None
    assert need_model_curve(need_model_fit_run(as_of=day(1))) is None  # not fitted: no curve


# --- entry points: nightly, task, command, admin ----------------------------------------------


def test_nightly_fits_after_the_scores(eager_celery, binary_book, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        plan_run_id = nightly.apply(kwargs={"as_of": AS_OF.isoformat()}).get()
    scores = PlanRun.objects.get(kind="scores")
    fit = NeedModelFit.objects.get()
    assert (fit.status, fit.run, fit.as_of, fit.sample_size) == ("fitted", scores, AS_OF, 20)
    assert fit.a == pytest.approx(math.log(3 / 7), abs=1e-9)
    assert PlanRun.objects.get(pk=plan_run_id).status == "succeeded"


def test_nightly_plans_even_when_the_fit_fails(
    eager_celery, binary_book, django_capture_on_commit_callbacks, monkeypatch
):
    def broken(*, as_of, opportunity_ids=None):
        raise RuntimeError("loader down")

    monkeypatch.setattr("analytics.need_fits.load_need_engagement", broken)
    with django_capture_on_commit_callbacks(execute=True):
        plan_run_id = nightly.apply(kwargs={"as_of": AS_OF.isoformat()}).get()
    plans = PlanRun.objects.get(pk=plan_run_id)
    assert (plans.status, plans.done) == ("succeeded", 1)
    fit = NeedModelFit.objects.get()
    assert (fit.status, fit.reason_code, fit.reason) == ("not_fitted", "error", "RuntimeError: loader down")
    assert fit.run == PlanRun.objects.get(kind="scores")


def test_task_fits_on_demand(eager_celery, binary_book):
    assert fit_need_model.name == "analytics.tasks.fit_need_model"
    fit_id = fit_need_model.apply(kwargs={"as_of": AS_OF.isoformat()}).get()
    fit = NeedModelFit.objects.get(pk=fit_id)
    assert (fit.status, fit.run, fit.as_of) == ("fitted", None, AS_OF)
    with pytest.raises(ValueError, match="UTC offset"):
        fit_need_model.apply(kwargs={"as_of": "2025-04-01T00:00:00"}).get()
    assert NeedModelFit.objects.count() == 1


def test_command_reports_the_fit(binary_book):
    out = StringIO()
    call_command("fit_need_model", "--as-of", AS_OF.isoformat(), stdout=out)
    fit = NeedModelFit.objects.get()
    assert f"Need model #{fit.pk} as of {AS_OF.isoformat()}: a = -0.847298, b = 1.6946 on 20" in out.getvalue()

    out = StringIO()
    call_command("fit_need_model", "--as-of", day(1).isoformat(), stdout=out)
    assert out.getvalue().strip().endswith("Not fitted: only 0 closed opportunities (20 needed).")
    with pytest.raises(CommandError, match="--as-of is not an ISO 8601 date-time: tomorrow"):
        call_command("fit_need_model", "--as-of", "tomorrow")


def test_admin_lists_fits_read_only(binary_book, admin_client_user):
    client, _ = admin_client_user
    fit = need_model_fit_run(as_of=AS_OF)
    need_model_fit_run(as_of=day(1))
    page = client.get(reverse("admin:analytics_needmodelfit_changelist"))
    assert page.status_code == 200
    assert "Not fitted: only 0 closed opportunities (20 needed)." in page.content.decode()
    assert client.get(reverse("admin:analytics_needmodelfit_change", args=[fit.pk])).status_code == 200
    assert client.get(reverse("admin:analytics_needmodelfit_add")).status_code == 403


@pytest.fixture
def admin_client_user(client, admin_user):
    client.force_login(admin_user)
    return client, admin_user
