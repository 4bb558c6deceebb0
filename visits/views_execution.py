"""Pages of visit execution: the visit page (check-in, report, check-out), follow-ups, calendar feeds.

Every object is reached through the scoped selectors, so another rep's visit or
follow-up answers 404 to GET and POST alike. The feed is the one page without a login:
its token is the credential.
"""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_cache_control, patch_vary_headers
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST, require_safe

from core.roles import Role, user_role
from visits.execution import (
    CHECK_IN_STATUSES,
    REPORT_STATUSES,
    follow_up_mark_done,
    follow_up_reopen,
    visit_check_in,
    visit_check_out,
    visit_report_file,
    visit_report_file_and_check_out,
)
from visits.feeds import calendar_feed_revoke, calendar_feed_rotate, visits_ics_calendar
from visits.forms import PositionForm, VisitReportForm
from visits.models import FollowUp, Visit
from visits.selectors import (
    calendar_feed_by_token,
    calendar_feed_for_user,
    follow_up_list_for_user,
    follow_up_list_for_visit,
    follow_up_open_list_for_user,
    visit_feed_list,
    visit_list_for_user,
)

FOLLOW_UPS_PER_PAGE = 50
ICS_CONTENT_TYPE = "text/calendar; charset=utf-8"
FEED_CACHE_SECONDS = 300


def _visit_or_404(request: HttpRequest, pk: int) -> Visit:
    return get_object_or_404(visit_list_for_user(user=request.user), pk=pk)


def _distance_text(metres: float) -> str:
    if metres < 1000:
        return _("%(m)d m") % {"m": round(metres)}
    return _("%(km).1f km") % {"km": metres / 1000}


def check_in_summary(visit: Visit) -> str:
    """The check-in result in a sentence ("Verified: 120 m from the customer."), empty before a check-in."""
    result = visit.check_in_result
    if result == Visit.CheckInResult.VERIFIED:
        return _("Verified: %(distance)s from the customer.") % {"distance": _distance_text(visit.check_in_distance_m)}
    if result == Visit.CheckInResult.OUTSIDE:
        return _("Outside the check-in radius: %(distance)s away from the customer.") % {
            "distance": _distance_text(visit.check_in_distance_m)
        }
    if result == Visit.CheckInResult.UNVERIFIED:
        if visit.check_in_latitude is None:
            return _("Unverified: no position (the browser did not share it).")
        return _("Unverified: the customer has no coordinates to compare with.")
    if visit.checked_in_at:
        return _("Checked in; the position was not checked.")
    return ""


def check_in_detail(visit: Visit) -> str:
    """What follows the result badge on the visit page ("120 m from the customer")."""
    result = visit.check_in_result
    if result == Visit.CheckInResult.VERIFIED:
        return _("%(distance)s from the customer") % {"distance": _distance_text(visit.check_in_distance_m)}
    if result == Visit.CheckInResult.OUTSIDE:
        return _("%(distance)s away from the customer (the radius is %(radius)d m)") % {
            "distance": _distance_text(visit.check_in_distance_m),
            "radius": round(settings.FIELDWISE_CHECKIN_RADIUS_M),
        }
    if result == Visit.CheckInResult.UNVERIFIED:
        if visit.check_in_latitude is None:
            return _("no position: the browser did not share it")
        return _("the customer has no coordinates to compare with")
    return ""


def _validation_messages(error: ValidationError) -> str:
    return " ".join(message for messages_ in error.message_dict.values() for message in messages_)


def _position(request: HttpRequest) -> tuple[float | None, float | None] | None:
    """(lat, lon) from the posted hidden inputs, (None, None) without a position, None if garbled."""
    form = PositionForm(request.POST)
    if not form.is_valid():
        return None
    return form.cleaned_data["latitude"], form.cleaned_data["longitude"]


@require_GET
def visit_detail(request: HttpRequest, pk: int) -> HttpResponse:
    visit = _visit_or_404(request, pk)
    today = timezone.localdate()
    planned_day = timezone.localdate(visit.planned_start)
    context = {
        "visit": visit,
        "customer": visit.customer,
        "check_in_detail": check_in_detail(visit),
        "can_check_in": visit.status in CHECK_IN_STATUSES and planned_day == today,
        "check_in_later": visit.status in CHECK_IN_STATUSES and planned_day > today,
        "can_check_out": visit.status == Visit.Status.CHECKED_IN,
        "can_report": visit.status in REPORT_STATUSES and visit.report_filed_at is None,
        "needs": visit.needs.order_by("id"),
        "follow_ups": follow_up_list_for_visit(user=request.user, visit=visit),
        "today": today,
        "radius_m": round(settings.FIELDWISE_CHECKIN_RADIUS_M),
        "show_assignee": False,
        "next_url": request.get_full_path(),
    }
    return render(request, "visits/visit_detail.html", context)


@require_POST
def visit_check_in_view(request: HttpRequest, pk: int) -> HttpResponse:
    visit = _visit_or_404(request, pk)
    position = _position(request)
    if position is None:
        messages.error(request, _("The position the browser sent could not be read; check in again."))
        return redirect("visits:visit_detail", pk=visit.pk)
    try:
        visit = visit_check_in(visit=visit, by=request.user, latitude=position[0], longitude=position[1])
    except ValidationError as error:
        messages.error(request, _validation_messages(error))
    else:
        messages.success(
            request,
            _("Checked in at %(time)s. %(result)s")
            % {
                "time": timezone.localtime(visit.checked_in_at).strftime("%H:%M"),
                "result": check_in_summary(visit),
            },
        )
    return redirect("visits:visit_detail", pk=visit.pk)


@require_POST
def visit_check_out_view(request: HttpRequest, pk: int) -> HttpResponse:
    visit = _visit_or_404(request, pk)
    position = _position(request) or (None, None)
    try:
        visit = visit_check_out(visit=visit, by=request.user, latitude=position[0], longitude=position[1])
    except ValidationError as error:
        messages.error(request, _validation_messages(error))
    else:
        if visit.report_filed_at is None:
            messages.success(request, _("Checked out. The visit is completed; file its report when you can."))
        else:
            messages.success(request, _("Checked out. The visit is completed."))
    return redirect("visits:visit_detail", pk=visit.pk)


@require_http_methods(["GET", "POST"])
def visit_report(request: HttpRequest, pk: int) -> HttpResponse:
    """The report form; on any error it comes back with everything the rep typed."""
    visit = _visit_or_404(request, pk)
    if request.method == "GET" and (visit.status not in REPORT_STATUSES or visit.report_filed_at is not None):
        if visit.report_filed_at is not None:
            messages.info(request, _("The report of this visit has already been filed."))
        else:
            messages.info(request, _("Check in before you file the report."))
        return redirect("visits:visit_detail", pk=visit.pk)
    if request.method == "GET":
        form = VisitReportForm(visit=visit)
    else:
        form = VisitReportForm(request.POST, visit=visit)
        if form.is_valid():
            try:
                if form.wants_check_out:
                    visit = visit_report_file_and_check_out(
                        visit=visit,
                        by=request.user,
                        data=form.report_data(),
                        latitude=form.cleaned_data.get("latitude"),
                        longitude=form.cleaned_data.get("longitude"),
                    )
                else:
                    visit = visit_report_file(visit=visit, by=request.user, data=form.report_data())
            except ValidationError as error:
                # Refused by the service (e.g. filed meanwhile from another tab): keep the form filled.
                for field, field_messages in error.message_dict.items():
                    for message in field_messages:
                        form.add_error(field if field in form.fields else None, message)
            else:
                count = len(form.report_data()["follow_ups"])
                if visit.status == Visit.Status.COMPLETED and form.wants_check_out:
                    text = ngettext(
                        "Report filed and checked out; %(count)d follow-up task created.",
                        "Report filed and checked out; %(count)d follow-up tasks created.",
                        count,
                    )
                else:
                    text = ngettext(
                        "Report filed; %(count)d follow-up task created.",
                        "Report filed; %(count)d follow-up tasks created.",
                        count,
                    )
                messages.success(request, text % {"count": count})
                return redirect("visits:visit_detail", pk=visit.pk)
    context = {
        "visit": visit,
        "customer": visit.customer,
        "form": form,
        "needs": form.needs,
        "follow_ups": form.follow_ups,
    }
    return render(request, "visits/report_form.html", context)


@require_safe
def visit_ics(request: HttpRequest, pk: int) -> HttpResponse:
    """One visit as an .ics file, to add it to any calendar app."""
    visit = _visit_or_404(request, pk)
    body = visits_ics_calendar(
        visits=[visit], name=str(visit.customer.name), url_for=lambda v: _absolute_visit_url(request, v)
    )
    response = HttpResponse(body, content_type=ICS_CONTENT_TYPE)
    response["Content-Disposition"] = f'attachment; filename="visit-{visit.pk}.ics"'
    return response


def _absolute_visit_url(request: HttpRequest, visit: Visit) -> str:
    return request.build_absolute_uri(reverse("visits:visit_detail", args=[visit.pk]))


@login_not_required
@require_safe
def calendar_feed(request: HttpRequest, token: str) -> HttpResponse:
    """A rep's visits for calendar apps; the token is the only credential, a revoked one is 404."""
    feed = calendar_feed_by_token(token=token)
    if feed is None:
        raise Http404
    visits = visit_feed_list(rep=feed.user, now=timezone.now())
    name = _("Fieldwise visits: %(user)s") % {"user": feed.user}
    body = visits_ics_calendar(visits=visits, name=name, url_for=lambda v: _absolute_visit_url(request, v))
    response = HttpResponse(body, content_type=ICS_CONTENT_TYPE)
    response["Content-Disposition"] = 'inline; filename="fieldwise-visits.ics"'
    response["X-Robots-Tag"] = "noindex, nofollow"
    patch_cache_control(response, private=True, max_age=FEED_CACHE_SECONDS)
    return response


def _feed_context(request: HttpRequest) -> dict:
    feed = calendar_feed_for_user(user=request.user)
    url = None
    if feed is not None and feed.is_active:
        url = request.build_absolute_uri(reverse("visits:feed", kwargs={"token": feed.token}))
    return {
        "feed": feed,
        "feed_url": url,
        "feed_webcal_url": url and "webcal://" + url.split("://", 1)[1],
    }


@require_GET
def follow_ups(request: HttpRequest) -> HttpResponse:
    """My open follow-ups (a manager: their team's too), overdue first, then by due date."""
    today = timezone.localdate()
    page = Paginator(follow_up_open_list_for_user(user=request.user, today=today), FOLLOW_UPS_PER_PAGE).get_page(
        request.GET.get("page")
    )
    context = {
        "page": page,
        "today": today,
        "show_assignee": user_role(request.user) != Role.REP,
        "next_url": request.get_full_path(),
        **_feed_context(request),
    }
    return render(request, "visits/followups.html", context)


def _follow_up_changed(request: HttpRequest, follow_up: FollowUp, text: str) -> HttpResponse:
    """htmx: the updated row (and the message, swapped out of band); otherwise a message and a redirect."""
    if request.htmx:
        context = {
            "follow_up": follow_up,
            "today": timezone.localdate(),
            "show_assignee": user_role(request.user) != Role.REP,
            "next_url": request.POST.get("next", ""),
            "flash": text,
        }
        response = render(request, "visits/partials/followup_row.html", context)
    else:
        messages.success(request, text)
        target = request.POST.get("next", "")
        # A path only: redirect() takes any other word for a URL name to reverse (a 500 when it is none).
        if not target.startswith("/") or not url_has_allowed_host_and_scheme(
            target, {request.get_host()}, require_https=request.is_secure()
        ):
            target = reverse("visits:followups")
        response = redirect(target)
    patch_vary_headers(response, ("HX-Request",))
    return response


@require_POST
def follow_up_done(request: HttpRequest, pk: int) -> HttpResponse:
    follow_up = get_object_or_404(follow_up_list_for_user(user=request.user), pk=pk)
    follow_up = follow_up_mark_done(follow_up=follow_up, by=request.user)
    return _follow_up_changed(request, follow_up, _("Done: %(title)s") % {"title": follow_up.title})


@require_POST
def follow_up_reopen_view(request: HttpRequest, pk: int) -> HttpResponse:
    follow_up = get_object_or_404(follow_up_list_for_user(user=request.user), pk=pk)
    follow_up = follow_up_reopen(follow_up=follow_up, by=request.user)
    return _follow_up_changed(request, follow_up, _("Reopened: %(title)s") % {"title": follow_up.title})


@require_POST
def calendar_feed_rotate_view(request: HttpRequest) -> HttpResponse:
    had_feed = calendar_feed_for_user(user=request.user) is not None
    calendar_feed_rotate(user=request.user)
    if had_feed:
        messages.success(request, _("New calendar link created; the old one no longer works."))
    else:
        messages.success(request, _("Calendar link created: subscribe to it in your calendar app."))
    return redirect(reverse("visits:followups") + "#calendar-feed")


@require_POST
def calendar_feed_revoke_view(request: HttpRequest) -> HttpResponse:
    calendar_feed_revoke(user=request.user)
    messages.success(request, _("Calendar link turned off; calendars subscribed to it stop updating."))
    return redirect(reverse("visits:followups") + "#calendar-feed")
