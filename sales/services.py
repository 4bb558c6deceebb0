"""Pipeline workflows: create an opportunity, move it between stages, win or lose it, fulfil its order.

Rules every caller (pages, the REST API, scripts) gets from here:

- Every stage change is recorded as a StageChange (from, to, who, when): the funnel
  ratios of spec section 3 are computed from them.
- A move sets the probability to the new stage's default, unless a person set it by
  hand (`probability_manual`): a hand-set probability is sticky across moves.
- Won and Lost are terminal. Moving into one of them is winning (an Order is created)
  or losing (a reason is required); a closed opportunity never moves again.
- A move to the stage the opportunity is already in changes nothing and returns None,
  so a double-submitted form or a card dropped back where it was is harmless.
- The acting user must be able to see the opportunity (else PermissionDenied); every
  other refusal is a ValidationError keyed by the field at fault.
"""

from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _

from core.roles import scope_by_owner, visible_rep_ids
from sales.models import Opportunity, Order, Stage, StageChange

WON_CODE = "won"
LOST_CODE = "lost"
FIRST_STAGE_CODE = "discovery"
# A moment a little ahead of the server's clock is a client's clock skew, not a date in the future.
CLOCK_SKEW = timedelta(minutes=5)
PROBABILITY_STEP = Decimal("0.001")  # the model keeps three decimals
REASON_MAX = Opportunity._meta.get_field("lost_reason").max_length
AMOUNT_MAX = Decimal("999999999999.99")  # max_digits=14, decimal_places=2


def _moment(value: datetime | None, *, field: str, not_before: datetime | None = None) -> datetime:
    """`value` (default: now), refused when naive, in the future or before `not_before`."""
    now = timezone.now()
    if value is None:
        value = now
    if not isinstance(value, datetime) or timezone.is_naive(value):
        raise ValidationError({field: _("Give a date and time with its time zone.")})
    if value > now + CLOCK_SKEW:
        raise ValidationError({field: _("This moment is in the future.")})
    if not_before is not None and value < not_before:
        raise ValidationError(
            {
                field: _("This moment is before the opportunity's last change (%(when)s).")
                % {"when": timezone.localtime(not_before).strftime("%Y-%m-%d %H:%M")}
            }
        )
    return value


def _locked_opportunity(*, opportunity: Opportunity, user) -> Opportunity:
    """The opportunity's row, locked for this transaction, if `user` may see it (else PermissionDenied).

    Pages already find opportunities through the scoped selector; this guards other callers
    and makes two concurrent moves of the same card queue instead of both passing.
    """
    locked = (
        scope_by_owner(Opportunity.objects.select_related("stage"), user, field="owner")
        .select_for_update(of=("self",))
        .filter(pk=opportunity.pk)
        .first()
    )
    if locked is None:
        raise PermissionDenied(_("You may not change this opportunity."))
    return locked


def _refuse_if_closed(opportunity: Opportunity) -> None:
    if opportunity.stage.is_terminal:
        raise ValidationError(
            {
                "stage": _("This opportunity is closed as %(stage)s: a closed opportunity cannot change stage.")
                % {"stage": opportunity.stage.label}
            }
        )


def _last_change_at(opportunity: Opportunity) -> datetime:
    """When the opportunity last changed stage (its opening if never): no move may be dated before it."""
    last = StageChange.objects.filter(opportunity=opportunity).aggregate(last=Max("changed_at"))["last"]
    return max(last, opportunity.opened_at) if last else opportunity.opened_at


def _record_move(*, opportunity: Opportunity, to_stage: Stage, user, at: datetime) -> StageChange:
    """Set the stage (and the stage's default probability unless it was set by hand) and record the change."""
    change = StageChange.objects.create(
        opportunity=opportunity, from_stage=opportunity.stage, to_stage=to_stage, changed_at=at, changed_by=user
    )
    opportunity.stage = to_stage
    if not opportunity.probability_manual:
        opportunity.probability = to_stage.default_probability
    return change


def _win(*, opportunity: Opportunity, to_stage: Stage, user, at: datetime) -> tuple[StageChange, Order]:
    if Order.objects.filter(opportunity=opportunity).exists():
        raise ValidationError({"stage": _("This opportunity already has an order.")})
    change = _record_move(opportunity=opportunity, to_stage=to_stage, user=user, at=at)
    opportunity.closed_at = at
    opportunity.save(update_fields=["stage", "probability", "closed_at", "updated_at"])
    order = Order.objects.create(opportunity=opportunity, amount=opportunity.amount, ordered_at=at)
    return change, order


def _clean_reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": _("Say why the opportunity was lost.")})
    if len(reason) > REASON_MAX:
        raise ValidationError(
            {
                "reason": _("The reason has at most %(max)d characters (this one has %(n)d).")
                % {"max": REASON_MAX, "n": len(reason)}
            }
        )
    return reason


def _lose(*, opportunity: Opportunity, to_stage: Stage, user, reason: str, at: datetime) -> StageChange:
    reason = _clean_reason(reason)
    change = _record_move(opportunity=opportunity, to_stage=to_stage, user=user, at=at)
    opportunity.closed_at = at
    opportunity.lost_reason = reason
    opportunity.save(update_fields=["stage", "probability", "closed_at", "lost_reason", "updated_at"])
    return change


@transaction.atomic
def opportunity_move(
    *, opportunity: Opportunity, to_stage: Stage, user, moved_at: datetime | None = None, reason: str = ""
) -> StageChange | None:
    """Move the opportunity to `to_stage`; the recorded StageChange, or None when it is already there.

    Into Won: the opportunity is won (see `opportunity_win`). Into Lost: it is lost and
    `reason` is required (see `opportunity_lose`). Out of Won or Lost: refused.
    """
    locked = _locked_opportunity(opportunity=opportunity, user=user)
    if to_stage.pk == locked.stage_id:
        return None
    _refuse_if_closed(locked)
    at = _moment(moved_at, field="moved_at", not_before=_last_change_at(locked))
    if to_stage.is_won:
        change, _order = _win(opportunity=locked, to_stage=to_stage, user=user, at=at)
    elif to_stage.is_lost:
        change = _lose(opportunity=locked, to_stage=to_stage, user=user, reason=reason, at=at)
    else:
        change = _record_move(opportunity=locked, to_stage=to_stage, user=user, at=at)
        locked.save(update_fields=["stage", "probability", "updated_at"])
    _copy_state(locked, into=opportunity)
    return change


@transaction.atomic
def opportunity_win(*, opportunity: Opportunity, user, won_at: datetime | None = None) -> Order:
    """Close the opportunity as Won at `won_at` (default now) and create its Order for the opportunity's amount."""
    locked = _locked_opportunity(opportunity=opportunity, user=user)
    _refuse_if_closed(locked)
    at = _moment(won_at, field="won_at", not_before=_last_change_at(locked))
    _change, order = _win(opportunity=locked, to_stage=Stage.objects.get(code=WON_CODE), user=user, at=at)
    _copy_state(locked, into=opportunity)
    return order


@transaction.atomic
def opportunity_lose(*, opportunity: Opportunity, user, reason: str, lost_at: datetime | None = None) -> StageChange:
    """Close the opportunity as Lost at `lost_at` (default now); `reason` is required."""
    locked = _locked_opportunity(opportunity=opportunity, user=user)
    _refuse_if_closed(locked)
    _clean_reason(reason)  # the reason first: it is what the person can fix
    at = _moment(lost_at, field="lost_at", not_before=_last_change_at(locked))
    change = _lose(opportunity=locked, to_stage=Stage.objects.get(code=LOST_CODE), user=user, reason=reason, at=at)
    _copy_state(locked, into=opportunity)
    return change


def _clean_probability(value) -> Decimal:
    try:
        probability = value if isinstance(value, Decimal) else Decimal(str(value))
    except (InvalidOperation, ValueError, TypeError):
        raise ValidationError({"probability": _("The probability must be a number between 0 and 1.")}) from None
    if not probability.is_finite() or not Decimal(0) <= probability <= Decimal(1):
        raise ValidationError({"probability": _("The probability is a fraction between 0 and 1 (0.25 means 25%).")})
    return probability.quantize(PROBABILITY_STEP, rounding=ROUND_HALF_UP)


@transaction.atomic
def opportunity_set_probability(*, opportunity: Opportunity, probability: Decimal, user) -> Opportunity:
    """Set the probability by hand (a fraction 0..1, kept to 3 decimals); stage moves keep it from now on."""
    value = _clean_probability(probability)
    locked = _locked_opportunity(opportunity=opportunity, user=user)
    if locked.stage.is_terminal:
        raise ValidationError({"probability": _("A closed opportunity keeps its probability.")})
    locked.probability = value
    locked.probability_manual = True
    locked.save(update_fields=["probability", "probability_manual", "updated_at"])
    _copy_state(locked, into=opportunity)
    return locked


@transaction.atomic
def order_fulfil(*, order: Order, user, fulfilled_at: datetime | None = None) -> Order:
    """Mark the order fulfilled at `fulfilled_at` (default now); an order is fulfilled once."""
    locked = (
        scope_by_owner(Order.objects.all(), user, field="opportunity__owner")
        .select_for_update(of=("self",))
        .filter(pk=order.pk)
        .first()
    )
    if locked is None:
        raise PermissionDenied(_("You may not change this order."))
    if locked.fulfilled_at is not None:
        raise ValidationError(
            {
                "fulfilled_at": _("This order was already fulfilled on %(day)s.")
                % {"day": timezone.localtime(locked.fulfilled_at).strftime("%Y-%m-%d")}
            }
        )
    locked.fulfilled_at = _moment(fulfilled_at, field="fulfilled_at", not_before=locked.ordered_at)
    locked.save(update_fields=["fulfilled_at", "updated_at"])
    order.fulfilled_at = locked.fulfilled_at
    return locked


def _clean_amount(value) -> Decimal:
    try:
        amount = value if isinstance(value, Decimal) else Decimal(str(value))
    except (InvalidOperation, ValueError, TypeError):
        raise ValidationError({"amount": _("The amount must be a number.")}) from None
    if not amount.is_finite() or amount < 0 or amount > AMOUNT_MAX:
        raise ValidationError({"amount": _("The amount must be between 0 and %(max)s.") % {"max": AMOUNT_MAX}})
    return amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


@transaction.atomic
def opportunity_create(
    *,
    owner,
    customer,
    product,
    amount: Decimal,
    stage: Stage | None = None,
    expected_close: date | None = None,
    user,
) -> Opportunity:
    """Open an opportunity for `owner` (a rep `user` may see) on one of the owner's customers.

    The stage defaults to Discovery and must be open (a deal is won or lost through the
    workflow, so it gets its order or its reason); its first StageChange has no from-stage.
    `customer` may be None for a lead whose account is not known yet.
    """
    errors: dict[str, str] = {}
    rep_ids = visible_rep_ids(user)
    if owner is None or not owner.is_active:
        errors["owner"] = _("Choose an active owner.")
    elif rep_ids is not None and not rep_ids.filter(pk=owner.pk).exists():
        errors["owner"] = _("You may only open opportunities for yourself or the reps of your teams.")
    if customer is not None and owner is not None and customer.owner_id != owner.pk:
        errors["customer"] = _("This customer belongs to another rep: choose one of %(owner)s's customers.") % {
            "owner": owner
        }
    stage = stage or Stage.objects.get(code=FIRST_STAGE_CODE)
    if stage.is_terminal:
        errors["stage"] = _("A new opportunity starts in an open stage.")
    if product is not None and not product.active:
        errors["product"] = _("%(product)s is no longer sold: choose an active product.") % {"product": product}
    if expected_close is not None and (isinstance(expected_close, datetime) or not isinstance(expected_close, date)):
        errors["expected_close"] = _("Give the expected close as a date.")
    try:
        amount = _clean_amount(amount)
    except ValidationError as error:
        errors.update({field: messages[0] for field, messages in error.message_dict.items()})
    if errors:
        raise ValidationError(errors)
    now = timezone.now()
    opportunity = Opportunity.objects.create(
        owner=owner,
        customer=customer,
        product=product,
        amount=amount,
        stage=stage,
        probability=stage.default_probability,
        expected_close=expected_close,
        opened_at=now,
    )
    StageChange.objects.create(
        opportunity=opportunity, from_stage=None, to_stage=stage, changed_at=now, changed_by=user
    )
    return opportunity


def _copy_state(locked: Opportunity, *, into: Opportunity) -> None:
    """Give the caller's instance the saved state, so it is not left stale after a service call."""
    if into is locked:
        return
    for field in ("stage", "probability", "probability_manual", "closed_at", "lost_reason", "updated_at"):
        setattr(into, field, getattr(locked, field))
