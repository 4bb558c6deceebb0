"""Pipeline pages: the opportunities list, the board, an opportunity's page with its actions, the orders.

Views are thin: they find objects through the scoped selectors (another user's
opportunity or order answers 404, whatever the method), validate the form, call one
service, and answer with a message. The board's moves come from board.js through
htmx: the answer is the updated column headers and card, swapped out of band, or an
error message (marked by the Fieldwise-Refused header) after which the script puts the card back.
"""

from dataclasses import dataclass
from decimal import Decimal

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.formats import number_format
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from analytics.need_fits import opportunity_need_probability
from core.roles import Role, user_role
from sales.filters import DEFAULT_SORT, BoardFilter, OpportunityFilter, OrderFilter
from sales.forms import LoseForm, ProbabilityForm, StageMoveForm
from sales.models import Opportunity, Order, Stage
from sales.selectors import (
    BOARD_CLOSED_DAYS,
    BOARD_COLUMN_LIMIT,
    ColumnTotals,
    board_cards,
    board_column_totals,
    board_opportunities,
    opportunity_list_for_user,
    opportunity_list_with_probability,
    opportunity_stage_history,
    order_list_for_user,
    stage_list,
)
from sales.services import (
    opportunity_lose,
    opportunity_move,
    opportunity_set_probability,
    opportunity_win,
    order_fulfil,
)

OPPORTUNITIES_PER_PAGE = 25
ORDERS_PER_PAGE = 25
# Marks a board answer whose change was refused: the script puts the card back. (A 4xx status
# would say the same, but browsers log every 4xx as a console error, and a refusal is routine.)
REFUSED_HEADER = "Fieldwise-Refused"


def _sees_others(request: HttpRequest) -> bool:
    return user_role(request.user) in (Role.MANAGER, Role.ADMIN)


def _opportunity_or_404(request: HttpRequest, pk: int) -> Opportunity:
    try:
        return opportunity_list_with_probability(user=request.user).get(pk=pk)
    except Opportunity.DoesNotExist:
        raise Http404 from None


def _error_text(error: ValidationError) -> str:
    if hasattr(error, "error_dict"):
        return " ".join(message for field_messages in error.message_dict.values() for message in field_messages)
    return " ".join(error.messages)


def _form_error_text(form) -> str:
    return " ".join(message for field_errors in form.errors.values() for message in field_errors)


def _money(value) -> str:
    return number_format(value, decimal_pos=2, use_l10n=True, force_grouping=True)


# --- the list ---------------------------------------------------------------------------------


@require_GET
def opportunity_list(request: HttpRequest) -> HttpResponse:
    """The user's opportunities: customer search, filters, sortable columns, 25 a page."""
    show_owner = _sees_others(request)
    filterset = OpportunityFilter(
        request.GET or None,
        queryset=opportunity_list_with_probability(user=request.user),
        user=request.user,
        show_owner=show_owner,
    )
    page = Paginator(filterset.qs, OPPORTUNITIES_PER_PAGE).get_page(request.GET.get("page"))
    sort = request.GET.get("sort") or DEFAULT_SORT
    context = {
        "filter": filterset,
        "page": page,
        "show_owner": show_owner,
        "sort": sort,
        "filtered": any(request.GET.get(name) for name in ("q", "stage", "owner", "product", "status")),
    }
    return render(request, "sales/opportunity_list.html", context)


# --- the board --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    stage: Stage
    totals: ColumnTotals
    cards: list[Opportunity]

    @property
    def hidden(self) -> int:
        """Opportunities of the column that are counted but not drawn (beyond BOARD_COLUMN_LIMIT)."""
        return max(self.totals.count - len(self.cards), 0)


EMPTY_TOTALS = ColumnTotals(count=0, amount=Decimal("0.00"), weighted=Decimal("0.00"))


def _board_columns(request: HttpRequest, *, with_cards: bool) -> tuple[BoardFilter, list[Column]]:
    """The board's filter and its columns (stage, totals and, for the page, its cards)."""
    filterset = BoardFilter(
        request.GET or None,
        queryset=opportunity_list_for_user(user=request.user),
        user=request.user,
        show_owner=_sees_others(request),
    )
    queryset = board_opportunities(queryset=filterset.qs, now=timezone.now())
    totals = board_column_totals(queryset=queryset)
    cards = board_cards(queryset=queryset) if with_cards else {}
    columns = [
        Column(stage=stage, totals=totals.get(stage.pk, EMPTY_TOTALS), cards=cards.get(stage.pk, []))
        for stage in stage_list()
    ]
    return filterset, columns


@require_GET
def board(request: HttpRequest) -> HttpResponse:
    """Kanban board by stage: open stages, and Won/Lost of the last BOARD_CLOSED_DAYS days."""
    filterset, columns = _board_columns(request, with_cards=True)
    context = {
        "filter": filterset,
        "columns": columns,
        "show_owner": _sees_others(request),
        "closed_days": BOARD_CLOSED_DAYS,
        "column_limit": BOARD_COLUMN_LIMIT,
        "board_query": request.GET.urlencode(),
    }
    return render(request, "sales/board.html", context)


def _board_update(
    request: HttpRequest, *, opportunity: Opportunity, flash: str, error: str = "", lose_error: str = ""
) -> HttpResponse:
    """The board's answer to a move: every column header and the moved card, out of band, and the message."""
    _filterset, columns = _board_columns(request, with_cards=False)
    # A refused change leaves the card to the script (it puts it back, or keeps the dialog open).
    refused = bool(error or lose_error)
    card = None if refused else opportunity_list_with_probability(user=request.user).filter(pk=opportunity.pk).first()
    context = {
        "columns": columns,
        "card": card,
        "show_owner": _sees_others(request),
        "flash": error or flash,
        "flash_level": "danger" if error else "success",
        "lose_error": lose_error,
    }
    response = render(request, "sales/_board_update.html", context)
    if refused:
        response[REFUSED_HEADER] = "true"
    patch_vary_headers(response, ("HX-Request",))
    return response


def _answer(
    request: HttpRequest, opportunity: Opportunity, *, done: str = "", error: str = "", lose_error: str = ""
) -> HttpResponse:
    """htmx (the board): the board update; a page's form: a message and back to the opportunity."""
    if request.htmx:
        return _board_update(request, opportunity=opportunity, flash=done, error=error, lose_error=lose_error)
    if error or lose_error:
        messages.error(request, error or lose_error)
    else:
        messages.success(request, done)
    response = redirect("sales:opportunity_detail", pk=opportunity.pk)
    patch_vary_headers(response, ("HX-Request",))
    return response


def _won_text(opportunity: Opportunity, order: Order) -> str:
    return _("Won: %(opportunity)s. Order #%(order)s for %(amount)s created.") % {
        "opportunity": opportunity.customer.name if opportunity.customer_id else f"#{opportunity.pk}",
        "order": order.pk,
        "amount": _money(order.amount),
    }


def _post_only(request: HttpRequest) -> HttpResponse | None:
    return None if request.method == "POST" else HttpResponseNotAllowed(["POST"])


def opportunity_move_view(request: HttpRequest, pk: int) -> HttpResponse:
    """Move to a stage (the page's select, or a card dropped on the board); Won wins, Lost needs a reason."""
    opportunity = _opportunity_or_404(request, pk)
    if refused := _post_only(request):
        return refused
    form = StageMoveForm(request.POST)
    if not form.is_valid():
        return _answer(request, opportunity, error=_form_error_text(form))
    to_stage = form.cleaned_data["stage"]
    try:
        change = opportunity_move(
            opportunity=opportunity, to_stage=to_stage, user=request.user, reason=form.cleaned_data["reason"]
        )
    except ValidationError as error:
        return _answer(request, opportunity, error=_error_text(error))
    if change is None:
        return _answer(request, opportunity, done=_("Already in %(stage)s.") % {"stage": to_stage.name})
    if to_stage.is_won:
        return _answer(request, opportunity, done=_won_text(opportunity, Order.objects.get(opportunity=opportunity)))
    if to_stage.is_lost:
        return _answer(request, opportunity, done=_("Marked as lost."))
    return _answer(request, opportunity, done=_("Moved to %(stage)s.") % {"stage": to_stage.name})


def opportunity_win_view(request: HttpRequest, pk: int) -> HttpResponse:
    opportunity = _opportunity_or_404(request, pk)
    if refused := _post_only(request):
        return refused
    try:
        order = opportunity_win(opportunity=opportunity, user=request.user)
    except ValidationError as error:
        return _answer(request, opportunity, error=_error_text(error))
    return _answer(request, opportunity, done=_won_text(opportunity, order))


def opportunity_lose_view(request: HttpRequest, pk: int) -> HttpResponse:
    """Close as Lost with the reason given (the page's form, or the board's dialog after a drop on Lost)."""
    opportunity = _opportunity_or_404(request, pk)
    if refused := _post_only(request):
        return refused
    form = LoseForm(request.POST)
    if not form.is_valid():
        return _answer(request, opportunity, lose_error=_form_error_text(form))
    try:
        opportunity_lose(opportunity=opportunity, user=request.user, reason=form.cleaned_data["reason"])
    except ValidationError as error:
        if "reason" in getattr(error, "error_dict", {}):
            return _answer(request, opportunity, lose_error=_error_text(error))
        return _answer(request, opportunity, error=_error_text(error))
    return _answer(request, opportunity, done=_("Marked as lost."))


def opportunity_probability_view(request: HttpRequest, pk: int) -> HttpResponse:
    opportunity = _opportunity_or_404(request, pk)
    if refused := _post_only(request):
        return refused
    form = ProbabilityForm(request.POST)
    if form.is_valid():
        try:
            opportunity_set_probability(opportunity=opportunity, probability=form.fraction(), user=request.user)
        except ValidationError as error:
            messages.error(request, _error_text(error))
        else:
            messages.success(
                request,
                _("Probability set by hand to %(percent)s%%; stage moves keep it.")
                % {"percent": number_format(form.cleaned_data["probability"], decimal_pos=1, use_l10n=True)},
            )
    else:
        messages.error(request, _form_error_text(form))
    return redirect("sales:opportunity_detail", pk=opportunity.pk)


# --- the opportunity page ---------------------------------------------------------------------


def percent_value(fraction: Decimal) -> Decimal:
    """0.375 -> 37.5, 0.6 -> 60 (what the percent field shows)."""
    percent = (fraction * 100).quantize(Decimal("0.1"))
    return percent.quantize(Decimal(1)) if percent == percent.to_integral_value() else percent


def opportunity_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """Details, stage history, the stage probability and the fitted need probability P(x), and the actions."""
    opportunity = _opportunity_or_404(request, pk)
    # Scope first: another rep's opportunity is 404 whatever the method, like every object URL.
    if request.method not in ("GET", "HEAD"):
        return HttpResponseNotAllowed(["GET", "HEAD"])
    is_open = not opportunity.stage.is_terminal
    context = {
        "opportunity": opportunity,
        "is_open": is_open,
        "history": opportunity_stage_history(opportunity=opportunity),
        "order": Order.objects.filter(opportunity=opportunity).first() if opportunity.stage.is_won else None,
        # Spec section 4: P(x) is shown on open opportunities, next to the stage probability.
        "need_probability": opportunity_need_probability(opportunity=opportunity) if is_open else None,
        "move_form": StageMoveForm(opportunity=opportunity) if is_open else None,
        "lose_form": LoseForm() if is_open else None,
        "probability_form": ProbabilityForm(initial={"probability": percent_value(opportunity.chance)})
        if is_open
        else None,
        "show_owner": _sees_others(request),
    }
    return render(request, "sales/opportunity_detail.html", context)


# --- orders -----------------------------------------------------------------------------------


@require_GET
def order_list(request: HttpRequest) -> HttpResponse:
    """The user's orders, newest first, filtered by fulfilled or not, 25 a page."""
    filterset = OrderFilter(request.GET or None, queryset=order_list_for_user(user=request.user))
    page = Paginator(filterset.qs.order_by("-ordered_at", "-pk"), ORDERS_PER_PAGE).get_page(request.GET.get("page"))
    context = {
        "filter": filterset,
        "page": page,
        "show_owner": _sees_others(request),
        "next_url": request.get_full_path(),
    }
    return render(request, "sales/order_list.html", context)


def order_fulfil_view(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        order = order_list_for_user(user=request.user).get(pk=pk)
    except Order.DoesNotExist:
        raise Http404 from None
    if refused := _post_only(request):
        return refused
    try:
        order_fulfil(order=order, user=request.user)
    except ValidationError as error:
        messages.error(request, _error_text(error))
    else:
        messages.success(request, _("Order #%(order)s marked fulfilled.") % {"order": order.pk})
    return redirect(_safe_next(request, default=reverse("sales:order_list")))


def _safe_next(request: HttpRequest, *, default: str) -> str:
    target = request.POST.get("next", "")
    # A path only: redirect() takes any other word for a URL name to reverse (a 500 when it is none).
    if target.startswith("/") and url_has_allowed_host_and_scheme(
        target, {request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return default
