"""Pages of the plan: Today (the day's route on a map) and the week calendar with its actions.

Every visit is reached through the scoped selector, so another rep's visit answers
404 to GET and POST alike; a manager may open a rep of their team with `?rep=<id>`.
The actions (move, confirm, cancel, add) call `visits.scheduling` and end with a
message; their GET shows the visit's scheduling page (the no-drag, phone-friendly way).
"""

from datetime import date, timedelta
from functools import partial
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import pgettext
from django.views.decorators.http import require_GET, require_http_methods

from core.roles import Role, user_role
from visits import scheduling
from visits.forms_planning import VisitCancelForm, VisitCreateForm, VisitMoveForm
from visits.models import Visit
from visits.selectors import (
    CHANGEABLE_STATUSES,
    directions_url,
    plan_reason_words,
    rep_profile_or_default,
    visit_day_plan_for_user,
    visit_list_for_user,
    visit_rep_choices_for_user,
    visit_rep_for_user,
    visit_week_for_user,
)
from visits.services import at_minutes, local_zone

# Which form field a service refusal concerns, by its code (the rest go on top of the form).
FIELD_OF_CODE = {
    "past": "start",
    "non_working_day": "start",
    "outside_hours": "start",
    "lunch": "start",
    "overlap": "start",
    "customer_scope": "customer",
    "minutes": "minutes",
    "goal": "goal",
}


def _local_today() -> date:
    return timezone.localdate(timezone=local_zone())


def _date_param(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def _can_choose_rep(user) -> bool:
    return user_role(user) in (Role.MANAGER, Role.ADMIN)


def _rep_or_404(request: HttpRequest):
    """The person whose plan the page shows: `?rep=<id>` within the user's scope, else the user."""
    raw = request.GET.get("rep") or ""
    if raw and not raw.isdigit():
        raise Http404
    try:
        return visit_rep_for_user(user=request.user, rep_id=int(raw) if raw else None)
    except get_user_model().DoesNotExist:
        raise Http404 from None


def _page_url(name: str, *, user, rep_id: int, **params) -> str:
    """A planning page's URL, carrying `rep` when it is not the user's own plan."""
    query = {key: value for key, value in params.items() if value is not None}
    if rep_id != user.pk:
        query["rep"] = rep_id
    url = reverse(name)
    return f"{url}?{urlencode(query)}" if query else url


def _week_of(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _visit_or_404(request: HttpRequest, pk: int) -> Visit:
    return get_object_or_404(visit_list_for_user(user=request.user), pk=pk)


def _calendar_url_for(request: HttpRequest, visit: Visit) -> str:
    day = timezone.localtime(visit.planned_start, local_zone()).date()
    return _page_url("visits:calendar", user=request.user, rep_id=visit.rep_id, week=_week_of(day).isoformat())


def _back(request: HttpRequest, visit: Visit) -> str:
    """Where an action returns: the page it came from (`next`, same site only), else the visit's week."""
    target = request.POST.get("next") or ""
    # A path only: redirect() takes any other word for a URL name to reverse (a 500 when it is none).
    if target.startswith("/") and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return _calendar_url_for(request, visit)


def _refusal(exc: ValidationError) -> str:
    return " ".join(exc.messages)


def _rep_name(rep) -> str:
    return rep.get_full_name() or rep.get_username()


@require_GET
def today(request: HttpRequest) -> HttpResponse:
    """The day's visits in route order, the day's start and end, driving, and the route on a map."""
    rep = _rep_or_404(request)
    now_day = _local_today()
    day = _date_param(request.GET.get("date")) or now_day
    plan = visit_day_plan_for_user(user=request.user, rep=rep, day=day)
    map_data = {
        "tiles": {"url": settings.FIELDWISE_TILE_URL, "attribution": settings.FIELDWISE_TILE_ATTRIBUTION},
        "base": {"lat": plan.base[0], "lon": plan.base[1], "label": _("Base")} if plan.base else None,
        "stops": [
            {
                "n": row.number,
                "lat": row.visit.customer.latitude,
                "lon": row.visit.customer.longitude,
                "name": row.visit.customer.name,
                "time": date_format(timezone.localtime(row.visit.planned_start, local_zone()), "H:i"),
                "status": row.visit.status,
                "url": reverse("visits:visit_detail", args=[row.visit.pk]),
            }
            for row in plan.stops
            if row.visit.customer.latitude is not None and row.visit.customer.longitude is not None
        ],
    }
    page = partial(_page_url, "visits:today", user=request.user, rep_id=rep.pk)
    context = {
        "plan": plan,
        "rep": rep,
        "own": rep.pk == request.user.pk,
        "rep_name": _rep_name(rep),
        "is_today": day == now_day,
        "map_data": map_data,
        "unlocated": sum(1 for row in plan.stops if row.visit.customer.latitude is None),
        "prev_url": page(date=(day - timedelta(days=1)).isoformat()),
        "next_url": page(date=(day + timedelta(days=1)).isoformat()),
        "today_url": page(),
        "calendar_url": _page_url("visits:calendar", user=request.user, rep_id=rep.pk, week=_week_of(day).isoformat()),
        "rep_choices": visit_rep_choices_for_user(user=request.user) if _can_choose_rep(request.user) else None,
    }
    return render(request, "visits/today.html", context)


@require_GET
def calendar(request: HttpRequest) -> HttpResponse:
    """Monday to Sunday of the rep's plan: drag a visit to move it, open one to confirm, cancel or move it."""
    rep = _rep_or_404(request)
    now_day = _local_today()
    monday = _week_of(_date_param(request.GET.get("week")) or now_day)
    grid = visit_week_for_user(user=request.user, rep=rep, monday=monday, today=now_day)
    panels = [
        {
            "row": row,
            "move_form": VisitMoveForm(initial={"start": row.visit.planned_start}, auto_id=f"id_move{row.visit.pk}_%s"),
            "cancel_form": VisitCancelForm(auto_id=f"id_cancel{row.visit.pk}_%s"),
            "directions": directions_url(row.visit.customer),
        }
        for day in grid.days
        for row in day.visits
    ]
    page = partial(_page_url, "visits:calendar", user=request.user, rep_id=rep.pk)
    can_choose = _can_choose_rep(request.user)
    context = {
        "grid": grid,
        "panels": panels,
        "rep": rep,
        "own": rep.pk == request.user.pk,
        "rep_name": _rep_name(rep),
        "sunday": monday + timedelta(days=6),
        "create_form": VisitCreateForm(user=request.user, rep=rep, can_choose_rep=can_choose, auto_id="id_new_%s"),
        "statuses": Visit.Status.choices,
        "prev_url": page(week=(monday - timedelta(days=7)).isoformat()),
        "next_url": page(week=(monday + timedelta(days=7)).isoformat()),
        "this_week_url": page(),
        "today_url": _page_url("visits:today", user=request.user, rep_id=rep.pk),
        "rep_choices": visit_rep_choices_for_user(user=request.user) if can_choose else None,
    }
    return render(request, "visits/calendar.html", context)


def _schedule_page(request: HttpRequest, visit: Visit) -> HttpResponse:
    """One visit's move / confirm / cancel forms on a page of their own (no drag, no modal needed)."""
    return render(
        request,
        "visits/visit_schedule.html",
        {
            "visit": visit,
            "reason": plan_reason_words(visit.plan_reason),
            "end": visit.planned_start + timedelta(minutes=visit.planned_minutes),
            "changeable": visit.status in CHANGEABLE_STATUSES,
            "move_form": VisitMoveForm(initial={"start": visit.planned_start}),
            "cancel_form": VisitCancelForm(),
            "calendar_url": _calendar_url_for(request, visit),
            "directions": directions_url(visit.customer),
        },
    )


@require_http_methods(["GET", "POST"])
def visit_move(request: HttpRequest, pk: int) -> HttpResponse:
    """Move a visit to a new start (from a drag or the form); it becomes confirmed."""
    visit = _visit_or_404(request, pk)
    if request.method == "GET":
        return _schedule_page(request, visit)
    form = VisitMoveForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("The visit was not moved: %(why)s") % {"why": " ".join(form.errors["start"])})
        return redirect(_back(request, visit))
    try:
        moved = scheduling.visit_move(visit=visit, start=form.cleaned_data["start"], by=request.user)
    except ValidationError as exc:
        messages.error(request, _("The visit was not moved: %(why)s") % {"why": _refusal(exc)})
        return redirect(_back(request, visit))
    messages.success(
        request,
        _("The visit to %(customer)s now starts %(when)s and is confirmed.")
        % {
            "customer": moved.customer.name,
            "when": date_format(
                timezone.localtime(moved.planned_start, local_zone()), pgettext("date format", "l j F, H:i")
            ),
        },
    )
    # Back to the week the visit is in now (a move may cross weeks).
    return redirect(_calendar_url_for(request, moved))


@require_http_methods(["GET", "POST"])
def visit_confirm(request: HttpRequest, pk: int) -> HttpResponse:
    visit = _visit_or_404(request, pk)
    if request.method == "GET":
        return _schedule_page(request, visit)
    try:
        confirmed = scheduling.visit_confirm(visit=visit, by=request.user)
    except ValidationError as exc:
        messages.error(request, _("The visit was not confirmed: %(why)s") % {"why": _refusal(exc)})
        return redirect(_back(request, visit))
    messages.success(
        request,
        _("The visit to %(customer)s is confirmed: the planner keeps it.") % {"customer": confirmed.customer.name},
    )
    return redirect(_back(request, confirmed))


@require_http_methods(["GET", "POST"])
def visit_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    visit = _visit_or_404(request, pk)
    if request.method == "GET":
        return _schedule_page(request, visit)
    form = VisitCancelForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("The visit was not cancelled: %(why)s") % {"why": " ".join(form.errors["reason"])})
        return redirect(_back(request, visit))
    try:
        cancelled = scheduling.visit_cancel(visit=visit, reason=form.cleaned_data["reason"], by=request.user)
    except ValidationError as exc:
        messages.error(request, _("The visit was not cancelled: %(why)s") % {"why": _refusal(exc)})
        return redirect(_back(request, visit))
    messages.success(request, _("The visit to %(customer)s is cancelled.") % {"customer": cancelled.customer.name})
    return redirect(_back(request, cancelled))


@require_http_methods(["GET", "POST"])
def visit_create(request: HttpRequest) -> HttpResponse:
    """Add a manual visit; on a refusal the form comes back filled with the reason next to the field."""
    can_choose = _can_choose_rep(request.user)
    if request.method == "GET":
        rep = _rep_or_404(request)
        initial = {}
        day = _date_param(request.GET.get("date"))
        if day is not None:
            profile = rep_profile_or_default(rep=rep)
            initial["start"] = at_minutes(day, profile.day_start.hour * 60 + profile.day_start.minute)
        form = VisitCreateForm(user=request.user, rep=rep, can_choose_rep=can_choose, initial=initial)
        return render(request, "visits/visit_new.html", {"form": form})
    form = VisitCreateForm(request.POST, user=request.user, rep=request.user, can_choose_rep=can_choose)
    if form.is_valid():
        data = form.cleaned_data
        try:
            visit = scheduling.visit_create_manual(
                rep=data["rep"],
                customer=data["customer"],
                start=data["start"],
                minutes=data["minutes"],
                goal=data["goal"],
                by=request.user,
            )
        except ValidationError as exc:
            for error in exc.error_list:
                form.add_error(FIELD_OF_CODE.get(error.code), error)
        else:
            messages.success(
                request,
                _("Visit to %(customer)s added on %(when)s.")
                % {
                    "customer": visit.customer.name,
                    "when": date_format(
                        timezone.localtime(visit.planned_start, local_zone()), pgettext("date format", "l j F, H:i")
                    ),
                },
            )
            return redirect(_calendar_url_for(request, visit))
    messages.error(request, _("The visit was not added: see the notes next to the fields."))
    return render(request, "visits/visit_new.html", {"form": form})
