"""Reads of analytics results, scoped to what the asking user may see."""

import dataclasses
import math
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from django.core.cache import cache
from django.db import connection
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from analytics import bridge, definitions, run_compute
from analytics.models import CustomerScore, PlanRun
from analytics.numbers import nan_to_none
from analytics.profile360 import DIMENSIONS, Profile360, profile360
from analytics.satisfaction import satisfaction_ratios
from core.roles import Role, user_role
from crm.models import Customer
from crm.selectors import customer_get_for_user

TERM_KEYS = ("value", "urgency", "pipeline")


@dataclass(frozen=True)
class ScoreInputLine:
    """One input of P in words: `text` for people, `number` for charts and tests.

    `term` is the input's weighted share of P (W*Tk/T4; the three shares sum to P);
    None for the effort line, which divides P rather than adding to it.
    """

    key: str  # "urgency", "value", "pipeline" or "effort"
    label: str
    text: str
    number: float | None
    term: float | None


@dataclass(frozen=True)
class ScoreExplanation:
    customer: Customer
    p: float
    t: float
    booked_minutes: int
    policy_version: int
    run_id: int
    as_of: datetime
    computed_at: datetime
    lines: list[ScoreInputLine]
    top_term: str | None  # key of the line contributing most to P; None when P is 0
    top_term_text: str


def _amount(value: float) -> str:
    return number_format(round(value), decimal_pos=0, force_grouping=True)


def _one_decimal(value: float) -> str:
    # number_format truncates extra decimals; round first so 0.75 h reads 0.8.
    return number_format(round(value, 1), decimal_pos=1, force_grouping=True)


def customer_score_explained(*, user, customer_id: int) -> ScoreExplanation | None:
    """The customer's current score with its inputs in words, as of the run that computed it.

    Raises Customer.DoesNotExist outside the user's scope; None when the customer has
    no score yet. Visit and pipeline figures are read with the same aggregate as the
    run, at the run's as_of (the pipeline as it stands now: opportunities keep no history).
    """
    customer = customer_get_for_user(user=user, pk=customer_id)
    score = CustomerScore.objects.select_related("run", "policy").filter(customer=customer).first()
    if score is None:
        return None
    as_of = score.run.as_of
    params = bridge.policy_params(score.policy)
    inputs = bridge.load_scoring_inputs(as_of=as_of, customer_ids=[customer.pk])
    shares = run_compute.priority_terms(t1=score.t1, t2=score.t2, t3=score.t3, t4=score.t4, weights=params.weights)
    lines = [
        _urgency_line(inputs, shares[1], customer.visit_cadence_days),
        ScoreInputLine(
            key="value",
            label=_("Value"),
            text=_("annual value %(amount)s") % {"amount": _amount(float(customer.annual_value))},
            number=float(customer.annual_value),
            term=float(shares[0]),
        ),
        _pipeline_line(inputs, shares[2]),
        _effort_line(inputs, params, score.t4),
    ]
    booked = int(run_compute.booked_minutes(t=np.array([score.t]), params=params)[0])
    top = None if score.p <= 0 else TERM_KEYS[int(shares.argmax())]
    return ScoreExplanation(
        customer=customer,
        p=score.p,
        t=score.t,
        booked_minutes=booked,
        policy_version=score.policy.version,
        run_id=score.run_id,
        as_of=as_of,
        computed_at=score.computed_at,
        lines=lines,
        top_term=top,
        top_term_text=_top_term_text(top),
    )


def _urgency_line(inputs, share: float, cadence: int) -> ScoreInputLine:
    days = float(inputs.days_since_last_visit[0]) if len(inputs) else math.inf
    if math.isinf(days):
        text = _("never visited")
        number = None
    else:
        overdue = days - cadence
        n = round(abs(overdue))
        if n == 0:
            text = _("due today")
        elif overdue > 0:
            text = ngettext("overdue by %(n)s day", "overdue by %(n)s days", n) % {"n": n}
        else:
            text = ngettext("due in %(n)s day", "due in %(n)s days", n) % {"n": n}
        number = days
        ago = round(days)
        text = _("%(state)s (%(last)s, %(cadence)s)") % {
            "state": text,
            "last": ngettext("last visit %(n)s day ago", "last visit %(n)s days ago", ago) % {"n": ago},
            "cadence": ngettext("every %(n)s day", "every %(n)s days", cadence) % {"n": cadence},
        }
    return ScoreInputLine(key="urgency", label=_("Urgency"), text=text, number=number, term=float(share))


def _pipeline_line(inputs, share: float) -> ScoreInputLine:
    pipeline = float(inputs.weighted_open_pipeline[0]) if len(inputs) else 0.0
    if pipeline > 0:
        text = _("open pipeline %(amount)s weighted") % {"amount": _amount(pipeline)}
    else:
        text = _("no open pipeline")
    return ScoreInputLine(key="pipeline", label=_("Open pipeline"), text=text, number=pipeline, term=float(share))


def _effort_line(inputs, params: run_compute.PolicyParams, hours: float) -> ScoreInputLine:
    located = len(inputs) and not any(
        math.isnan(float(a[0]))
        for a in (inputs.latitude, inputs.longitude, inputs.base_latitude, inputs.base_longitude)
    )
    effort = _("%(hours)s h travel and visit effort") % {"hours": _one_decimal(hours)}
    if located:
        km = float(run_compute.travel_km(inputs=inputs, params=params)[0])
        text = _("%(effort)s (%(km)s km from the rep's base)") % {"effort": effort, "km": _amount(km)}
    else:
        text = _("%(effort)s; no coordinates: default %(km)s km assumed") % {
            "effort": effort,
            "km": _amount(params.default_travel_km),
        }
    return ScoreInputLine(key="effort", label=_("Effort"), text=text, number=hours, term=None)


def _top_term_text(key: str | None) -> str:
    if key == "value":
        return _("Value contributes most to the priority.")
    if key == "urgency":
        return _("Urgency contributes most to the priority.")
    if key == "pipeline":
        return _("Open pipeline contributes most to the priority.")
    return _("No term contributes: the priority is 0.")


# Runs are company-wide (one scoring run, one planning run over every rep): managers
# and admins follow and start them; anyone else sees none (the views answer 404).
RUN_VIEWER_ROLES = frozenset({Role.MANAGER, Role.ADMIN})
LIVE_STATUSES = (PlanRun.Status.PENDING, PlanRun.Status.RUNNING)


def plan_runs_visible(*, user) -> bool:
    """True when the user may see runs and start a recalculation."""
    return user_role(user) in RUN_VIEWER_ROLES


def plan_run_list_for_user(*, user) -> QuerySet[PlanRun]:
    """Every run for a manager or an admin, none for anyone else; newest first."""
    if not plan_runs_visible(user=user):
        return PlanRun.objects.none()
    return PlanRun.objects.select_related("requested_by").order_by("-id")


def plan_run_list_recent(*, user, limit: int = 20) -> list[PlanRun]:
    """The user's latest `limit` runs, newest first, in one query."""
    return list(plan_run_list_for_user(user=user)[:limit])


def plan_run_get_for_user(*, user, pk: int) -> PlanRun:
    """One run the user may see; raises PlanRun.DoesNotExist otherwise (a 404)."""
    return plan_run_list_for_user(user=user).get(pk=pk)


def plan_run_live(*, kinds: tuple[str, ...]) -> PlanRun | None:
    """The newest pending or running run of one of `kinds`, or None."""
    return PlanRun.objects.filter(kind__in=kinds, status__in=LIVE_STATUSES).order_by("-id").first()


def plan_run_started_since(*, kinds: tuple[str, ...], moment: datetime) -> bool:
    """True when a run of one of `kinds` has started at or after `moment`."""
    return PlanRun.objects.filter(kind__in=kinds, started_at__gte=moment).exists()


@dataclass(frozen=True)
class RunSummary:
    """A run as the runs page shows it."""

    run: PlanRun
    live: bool  # pending, or running with an unexpired lease: the page keeps polling it
    stalled: bool  # running, but its lease expired: its worker is presumed dead
    percent: int | None  # None while the total is unknown (a scoring run counts its customers at the end)
    duration: str  # finished - started, "running for ..." while running, "" before it starts
    error_first_line: str


def duration_text(seconds: float) -> str:
    """A duration for people: < 0.1 s, 0.4 s, 12 s, 3 min 5 s, 2 h 10 min."""
    tenths = round(max(seconds, 0.0), 1)
    if tenths < 0.1:
        return _("< 0.1 s")
    if tenths < 10:
        return _("%(seconds)s s") % {"seconds": number_format(tenths, decimal_pos=1)}
    whole = round(tenths)
    if whole < 60:
        return _("%(seconds)s s") % {"seconds": whole}
    if whole < 3600:
        return _("%(minutes)s min %(seconds)s s") % {"minutes": whole // 60, "seconds": whole % 60}
    return _("%(hours)s h %(minutes)s min") % {"hours": whole // 3600, "minutes": whole % 3600 // 60}


def plan_run_summary(*, run: PlanRun, now: datetime | None = None) -> RunSummary:
    """Progress, duration and state of a run at `now` (no query)."""
    now = now or timezone.now()
    running = run.status == PlanRun.Status.RUNNING
    # Same rule as runs_expire_stale: no lease, or an expired one, means the worker is gone.
    stalled = running and (run.lease_expires_at is None or run.lease_expires_at <= now)
    live = run.status == PlanRun.Status.PENDING or (running and not stalled)
    if run.total:
        percent = min(100, 100 * run.done // run.total)
    elif run.status == PlanRun.Status.SUCCEEDED:
        percent = 100  # nothing to do is all done
    elif running:
        percent = None
    else:
        percent = 0
    if run.started_at is None:
        duration = ""
    elif run.finished_at is not None:
        duration = duration_text((run.finished_at - run.started_at).total_seconds())
    else:
        duration = _("running for %(duration)s") % {"duration": duration_text((now - run.started_at).total_seconds())}
    error = run.error.strip()
    return RunSummary(
        run=run,
        live=live,
        stalled=stalled,
        percent=percent,
        duration=duration,
        error_first_line=error.splitlines()[0] if error else "",
    )


# --- the Customer 360 page: satisfaction ratios (spec section 2), 360 profile (spec section 6) -----


@dataclass(frozen=True)
class RatioLine:
    """One satisfaction ratio of a set of visits, in percent; `value` None when undefined ("—")."""

    key: str  # "need", "expectation", "plan" or "policy"
    label: str
    value: float | None
    definition: str


# The RatioLine keys (the kernel's SatisfactionRatios fields) and the definitions pages show.
_RATIO_DEFINITIONS = {
    "need": definitions.CS_NEED,
    "expectation": definitions.CS_EXPECTATION,
    "plan": definitions.CS_PLAN,
    "policy": definitions.CS_POLICY,
}


def customer_satisfaction_ratios(*, user, customer_id: int, as_of: datetime | None = None) -> list[RatioLine]:
    """CS_need, CS_expectation, CS_plan and CS_policy over all the customer's visits (spec section 2).

    CS_plan counts the visits planned to start before `as_of` (default now): a visit
    still ahead is not yet due. Raises Customer.DoesNotExist outside the user's scope.
    """
    customer = customer_get_for_user(user=user, pk=customer_id)
    as_of = as_of or timezone.now()
    inputs = bridge.load_visit_ratio_inputs(customer_ids=[customer.pk])
    ratios = satisfaction_ratios(**inputs.kernel_arguments(), period_end=as_of.timestamp())
    return [
        RatioLine(key=key, label=d.label, value=nan_to_none(getattr(ratios, key)), definition=d.text)
        for key, d in _RATIO_DEFINITIONS.items()
    ]


@dataclass(frozen=True)
class ProfileDimension:
    """One dimension of the 360 profile on 0..100; `value` None when undefined ("—")."""

    key: str  # one of profile360.DIMENSIONS
    label: str
    value: float | None
    definition: str


@dataclass(frozen=True)
class CustomerProfileView:
    """A customer's 360 profile as the page shows it: the five dimensions and the chart data."""

    as_of: datetime
    dimensions: list[ProfileDimension]
    customers_compared: int

    def chart_data(self) -> dict:
        """Labels and values (null where undefined) for the radar chart, through json_script."""
        return {
            "labels": [d.label for d in self.dimensions],
            "values": [None if d.value is None else round(d.value, 1) for d in self.dimensions],
        }


def _dimension_definitions() -> dict[str, tuple[str, str]]:
    return {
        "demand": (
            _("Demand"),
            _("Needs raised per completed visit in the last 365 days; the highest active customer is 100."),
        ),
        "behaviour": (
            _("Behaviour"),
            _("Completed visits plus orders per month in the last 365 days; the highest active customer is 100."),
        ),
        "value": (_("Value"), _("100 × T1, the customer's value term in the latest scoring run.")),
        "relationship": (
            _("Relationship"),
            _("Share of the visits planned in the last 365 days that were completed."),
        ),
        "satisfaction": (
            _("Satisfaction"),
            _("25 × (mean actual satisfaction − 1) over the completed visits of the last 365 days (scores 1 to 5)."),
        ),
    }


# The customer page scales against every active customer's aggregates: reading them takes
# about a second at 100,000 customers (measured, see the report), so they are kept this long
# and only the page's own customer is read afresh.
PROFILE360_CACHE_SECONDS = 15 * 60


def _profile360_compute(inputs: bridge.Profile360Inputs) -> Profile360:
    profile = profile360(**inputs.kernel_arguments())
    return dataclasses.replace(profile, value=np.where(inputs.scored, profile.value, np.nan))


def customer_profiles360(*, as_of: datetime) -> tuple[np.ndarray, Profile360]:
    """Every active customer's 360 profile at `as_of` in one vectorised pass (spec section 6), read now.

    Returns the customer ids (ascending) and the profile arrays aligned with them; the
    value dimension is NaN for a customer not scored yet.
    """
    inputs = bridge.load_profile360_inputs(as_of=as_of)
    return inputs.customer_id, _profile360_compute(inputs)


def _profile360_cache_key() -> str:
    # One entry per database, so test workers or sites sharing a Redis never read each other's rows.
    return f"analytics:profile360-inputs:v1:{connection.settings_dict['NAME']}"


def profile360_cache_forget() -> None:
    """Drop the cached aggregates (a test's fresh start; after a bulk import, to rescale at once)."""
    cache.delete(_profile360_cache_key())


def _profile360_inputs_recent(*, as_of: datetime) -> bridge.Profile360Inputs:
    """All active customers' aggregates, from the cache when read within PROFILE360_CACHE_SECONDS of `as_of`."""
    key = _profile360_cache_key()
    inputs = cache.get(key)
    if inputs is None or abs((inputs.as_of - as_of).total_seconds()) > PROFILE360_CACHE_SECONDS:
        inputs = bridge.load_profile360_inputs(as_of=as_of)
        cache.set(key, inputs, PROFILE360_CACHE_SECONDS)
    return inputs


def customer_profile360(*, user, customer_id: int, as_of: datetime | None = None) -> CustomerProfileView | None:
    """The customer's five dimensions, scaled against all active customers; None for an inactive customer.

    The customer's own aggregates are read at `as_of` (default now); the other
    customers', which only set the demand and behaviour maxima, may be up to
    PROFILE360_CACHE_SECONDS old. Raises Customer.DoesNotExist outside the user's scope.
    """
    customer = customer_get_for_user(user=user, pk=customer_id)
    if customer.status != Customer.Status.ACTIVE:
        return None
    as_of = as_of or timezone.now()
    own = bridge.load_profile360_inputs(as_of=as_of, customer_ids=[customer.pk])
    inputs = _profile360_inputs_recent(as_of=as_of).replacing(own)
    profile = _profile360_compute(inputs)
    ids = inputs.customer_id
    at = int(np.searchsorted(ids, customer.pk))
    if len(own) == 0 or at == len(ids) or ids[at] != customer.pk:
        return None  # deactivated between the two reads
    definitions = _dimension_definitions()
    dimensions = [
        ProfileDimension(
            key=key,
            label=definitions[key][0],
            value=nan_to_none(getattr(profile, key)[at]),
            definition=definitions[key][1],
        )
        for key in DIMENSIONS
    ]
    return CustomerProfileView(as_of=as_of, dimensions=dimensions, customers_compared=len(ids))
