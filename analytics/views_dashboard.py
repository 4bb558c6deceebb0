"""The manager dashboard: KPI cards, charts, the per-rep table (and its CSV), field today, visit effect, need model.

Thin: the form says which team, rep and period; `dashboard_scope_for_user` checks them
against the user's reach (404 outside it); every figure comes from `analytics.kpis`,
`analytics.visit_effect` and `analytics.need_fits`, which load arrays in a bounded
number of queries and compute with the kernels.
"""

import csv

from django.contrib import messages
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from analytics import definitions
from analytics.bridge.beside import beside, load_lane
from analytics.dashboard_page import (
    DashboardRequest,
    card_list,
    chart_data,
    effect_texts,
    forecast_text,
    funnel_rows,
    header_list,
    rep_options,
    rep_rows,
    sort_rep_rows,
)
from analytics.dashboard_scope import dashboard_scope_for_user, dashboard_visible
from analytics.forms import DashboardFilterForm
from analytics.kpis import KpiReport, kpi_report
from analytics.need_fits import need_model_curve, need_model_latest
from analytics.tasks import fit_need_model
from analytics.visit_effect import VisitEffectReport, visit_effect_report
from visits.selectors import field_today
from visits.services import local_zone


def _dashboard_request(request: HttpRequest) -> DashboardRequest:
    if not dashboard_visible(user=request.user):
        raise Http404
    form = DashboardFilterForm(request.GET)
    valid = form.is_valid()
    team_id = form.cleaned_data.get("team") if valid else None
    rep_id = form.cleaned_data.get("rep") if valid else None
    scope = dashboard_scope_for_user(user=request.user, team_id=team_id, rep_id=rep_id)
    return DashboardRequest(form=form, scope=scope, period=form.resolved_period, zone=local_zone())


def _figures(page: DashboardRequest) -> tuple[KpiReport, VisitEffectReport]:
    start, end = page.bounds
    # The visit effect, and the loads the KPI report starts `beside` (visit sums, orders), run in turn on a
    # second connection while this one loads the opportunities and their stage history (analytics.bridge.beside).
    with (
        load_lane(),
        beside(visit_effect_report, rep_ids=page.scope.rep_ids, period_start=start, period_end=end) as effect,
    ):
        report = kpi_report(rep_ids=page.scope.rep_ids, period_start=start, period_end=end)
        return report, effect.result()


@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    """The weekly review: a team's (or all teams') figures over a period against the period before."""
    page = _dashboard_request(request)
    report, effect = _figures(page)
    fit = need_model_latest()
    context = {
        "page": page,
        "form": page.form,
        "rep_options": rep_options(page),
        "report": report,
        "cards": card_list(report),
        "funnel_rows": funnel_rows(report),
        "forecast_text": forecast_text(report),
        "effect": effect,
        "effect_texts": effect_texts(effect),
        "headers": header_list(page),
        "rows": sort_rep_rows(rep_rows(report=report, effect=effect, page=page), *page.sort),
        "fit": fit,
        "charts": chart_data(report=report, curve=need_model_curve(fit)),
    }
    return render(request, "analytics/dashboard.html", context)


@require_GET
def dashboard_field_today(request: HttpRequest) -> HttpResponse:
    """The late and missed visits panel; htmx refreshes it every minute."""
    page = _dashboard_request(request)
    today = field_today(rep_ids=page.scope.rep_ids, now=timezone.now())
    return render(request, "analytics/_field_today.html", {"today": today})


@require_GET
def dashboard_reps_csv(request: HttpRequest) -> HttpResponse:
    """The per-rep table as CSV: raw numbers (ratios as the spec defines them), empty where undefined."""
    page = _dashboard_request(request)
    report, effect = _figures(page)
    rows = sort_rep_rows(rep_rows(report=report, effect=effect, page=page), *page.sort)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    filename = f"fieldwise-reps-{page.period.first:%Y%m%d}-{page.period.last:%Y%m%d}.csv"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    writer = csv.writer(response)
    writer.writerow(
        [
            _("Rep"),
            _("Username"),
            *[str(d.label) for d in definitions.ALL],
            str(definitions.VISIT_EFFECT.label),
            _("Visits"),
        ]
    )
    for row in rows:
        writer.writerow(
            [
                row.name,
                row.username,
                *["" if v is None else v for v in row.values],
                "" if row.effect_share is None else row.effect_share,
                row.effect_n,
            ]
        )
    return response


@require_POST
def need_model_fit_now(request: HttpRequest) -> HttpResponse:
    """Fit the need-probability model now (it is also fitted every night)."""
    if not dashboard_visible(user=request.user):
        raise Http404

    def queue() -> None:
        fit_need_model.delay()

    transaction.on_commit(queue)
    messages.success(request, _("The need-probability model is being fitted; reload the page in a moment."))
    return redirect(f"{reverse('analytics:dashboard')}?{request.GET.urlencode()}#need-model")
