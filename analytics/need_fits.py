"""The need-probability model (spec section 4): fitting it into a stored NeedModelFit, and reading P(x).

`need_model_fit_run` loads every opportunity's engagement x (bridge), fits a and b
on the closed ones (kernel `analytics.need_model`), and stores the fit with its
log-loss and calibration deciles, or a not-fitted row saying why. The nightly job
calls it after the scores; a manager or the `fit_need_model` command can run it
on demand. The selectors read the latest row: when the latest attempt is not
fitted, there is no P(x) to show, only the reason.
"""

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from analytics.bridge.need import load_engagement_with_latest_model, load_need_engagement
from analytics.models import NeedModelFit, PlanRun
from analytics.need_model import calibration_by_decile, need_model_fit, need_probability

logger = logging.getLogger(__name__)

CURVE_POINTS = 50


# --- service ---------------------------------------------------------------------------------


def need_model_fit_run(*, as_of: datetime, run: PlanRun | None = None) -> NeedModelFit:
    """Fit the need model on the opportunities closed by `as_of` and store the result; returns the new row.

    Never raises for the fit itself: a failure (a database error while loading, a
    bug) is logged and stored as a not-fitted row with reason "error", so the
    nightly plans go on and the UI says why there is no P. `run` is the nightly
    run the fit belongs to, if any. The load and the write are one transaction
    (a savepoint inside a caller's); the failure row is written after its rollback.
    """
    if not isinstance(as_of, datetime) or as_of.tzinfo is None:
        raise ValueError("as_of must be a timezone-aware datetime")
    try:
        with transaction.atomic():  # a savepoint: a failed load leaves the outer transaction usable
            return _fit_and_store(as_of=as_of, run=run)
    except Exception as exc:
        logger.exception("Need-model fit as of %s failed", as_of.isoformat())
        return NeedModelFit.objects.create(
            as_of=as_of,
            status=NeedModelFit.Status.NOT_FITTED,
            reason_code=NeedModelFit.Reason.ERROR,
            reason=f"{type(exc).__name__}: {exc}",
            run=run,
        )


def _fit_and_store(*, as_of: datetime, run: PlanRun | None) -> NeedModelFit:
    x, y = load_need_engagement(as_of=as_of).closed()
    result = need_model_fit(x, y)
    engagement_max = float(x.max()) if x.size else None
    if not result.fitted:
        fit = NeedModelFit(
            as_of=as_of,
            status=NeedModelFit.Status.NOT_FITTED,
            reason_code=result.reason_code,
            sample_size=result.n,
            engagement_max=engagement_max,
            run=run,
        )
        fit.reason = fit.reason_display()
        fit.save()
        logger.info("Need model as of %s not fitted: %s", as_of.isoformat(), result.reason)
        return fit
    calibration = calibration_by_decile(x, y, result.a, result.b)
    fit = NeedModelFit.objects.create(
        as_of=as_of,
        status=NeedModelFit.Status.FITTED,
        a=result.a,
        b=result.b,
        sample_size=result.n,
        log_loss=result.log_loss,
        engagement_max=engagement_max,
        calibration=[
            {"decile": i + 1, "predicted": predicted, "observed": observed, "count": count}
            for i, (predicted, observed, count) in enumerate(
                zip(
                    calibration.predicted.tolist(),
                    calibration.observed.tolist(),
                    calibration.count.tolist(),
                    strict=True,
                )
            )
        ],
        run=run,
    )
    logger.info(
        "Need model as of %s: a=%.6g, b=%.6g on %s closed opportunities, log-loss %.4f",
        as_of.isoformat(),
        fit.a,
        fit.b,
        fit.sample_size,
        fit.log_loss,
    )
    return fit


# --- selectors -------------------------------------------------------------------------------


def need_model_latest() -> NeedModelFit | None:
    """The latest attempt to fit the model, fitted or not; None before the first one."""
    return NeedModelFit.objects.order_by("-created_at", "-id").first()


@dataclass(frozen=True)
class NeedProbability:
    """P(x) of one opportunity with its x; `probability` None when there is no fitted model, `reason` says why."""

    probability: float | None
    engagement: int
    reason: str


def opportunity_need_probability(*, opportunity) -> NeedProbability:
    """P(x) of `opportunity` from the latest fit, x counted now (or up to its close), in two queries.

    The caller has already checked that the user may see the opportunity.
    """
    fit = need_model_latest()
    loaded = load_need_engagement(as_of=timezone.now(), opportunity_ids=[opportunity.pk])
    engagement = int(loaded.engagement[0]) if len(loaded) else 0
    if fit is None:
        return NeedProbability(probability=None, engagement=engagement, reason=_("The model has not been fitted yet."))
    if not fit.fitted:
        return NeedProbability(probability=None, engagement=engagement, reason=fit.reason_display())
    probability = float(need_probability([engagement], fit.a, fit.b)[0])
    visits = ngettext(
        "%(x)s completed visit since the opportunity opened",
        "%(x)s completed visits since the opportunity opened",
        engagement,
    ) % {"x": engagement}
    reason = ngettext(
        "%(visits)s; model fitted on %(n)s closed opportunity.",
        "%(visits)s; model fitted on %(n)s closed opportunities.",
        fit.sample_size,
    ) % {"visits": visits, "n": fit.sample_size}
    return NeedProbability(probability=probability, engagement=engagement, reason=reason)


def need_probabilities_for(*, opportunity_ids: Iterable[int]) -> dict[int, float | None]:
    """P(x) of each of these opportunities from the latest fit (None without a fitted model), in one query.

    Ids that do not exist (or opened in the future) are left out of the answer.
    The caller passes only ids the user may see.
    """
    ids = [int(pk) for pk in opportunity_ids]
    if not ids:
        return {}
    loaded = load_engagement_with_latest_model(as_of=timezone.now(), opportunity_ids=ids)
    keys = loaded.opportunity_id.tolist()
    if np.isnan(loaded.a) or np.isnan(loaded.b):
        return dict.fromkeys(keys)
    return dict(zip(keys, need_probability(loaded.engagement, loaded.a, loaded.b).tolist(), strict=True))


@dataclass(frozen=True)
class NeedModelCurve:
    """The chart of a fitted model: P(x) on an x grid, and the stored calibration deciles. JSON-ready."""

    x: list[float]
    p: list[float]
    calibration: list[dict]
    a: float
    b: float
    sample_size: int
    log_loss: float


def need_model_curve(fit: NeedModelFit | None, points: int = CURVE_POINTS) -> NeedModelCurve | None:
    """P(x) at `points` evenly spaced x from 0 to the highest engagement of the sample (at least 1).

    None for a fit that is not fitted (or no fit): there is no curve to draw.
    """
    if isinstance(points, bool) or not isinstance(points, int) or points < 2:
        raise ValueError(f"points is {points!r}: must be an integer >= 2")
    if fit is None or not fit.fitted:
        return None
    grid = np.linspace(0.0, max(fit.engagement_max or 0.0, 1.0), points)
    return NeedModelCurve(
        x=grid.tolist(),
        p=need_probability(grid, fit.a, fit.b).tolist(),
        calibration=list(fit.calibration),
        a=fit.a,
        b=fit.b,
        sample_size=fit.sample_size,
        log_loss=fit.log_loss,
    )
