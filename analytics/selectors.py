"""Reads of analytics results, scoped to what the asking user may see."""

import math
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from django.utils.formats import number_format
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from analytics import bridge, run_compute
from analytics.models import CustomerScore
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
