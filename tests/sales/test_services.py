"""Pipeline workflows: moves and their history, sticky probabilities, win/lose, orders, who may create what."""

from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from sales.models import Opportunity, Order, StageChange
from sales.services import (
    opportunity_create,
    opportunity_lose,
    opportunity_move,
    opportunity_set_probability,
    opportunity_win,
    order_fulfil,
)
from tests.factories import CustomerFactory, OpportunityFactory, OrderFactory, ProductFactory, stage

pytestmark = pytest.mark.django_db


def fields_of(error: ValidationError) -> set[str]:
    return set(error.value.message_dict)


@pytest.fixture
def deal(rep):
    """An open deal of the rep, opened 10 days ago in Discovery, 8000 on one of the rep's customers."""
    return OpportunityFactory(
        customer=CustomerFactory(owner=rep, name="Acme"),
        amount=Decimal("8000.00"),
        opened_at=timezone.now() - timedelta(days=10),
    )


# --- create -------------------------------------------------------------------------------------


def test_create_opens_in_discovery_with_a_first_stage_change(rep):
    customer = CustomerFactory(owner=rep)
    product = ProductFactory(name="Widget")

    opportunity = opportunity_create(owner=rep, customer=customer, product=product, amount=Decimal("1200.5"), user=rep)

    opportunity.refresh_from_db()
    assert (opportunity.stage.code, opportunity.probability, opportunity.amount) == (
        "discovery",
        Decimal("0.100"),
        Decimal("1200.50"),
    )
    assert opportunity.probability_manual is False
    change = StageChange.objects.get(opportunity=opportunity)
    assert (change.from_stage, change.to_stage.code, change.changed_by) == (None, "discovery", rep)
    assert change.changed_at == opportunity.opened_at


def test_create_in_a_given_open_stage_takes_its_probability(rep):
    opportunity = opportunity_create(
        owner=rep, customer=None, product=None, amount=Decimal(0), stage=stage("follow-up"), user=rep
    )
    assert (opportunity.stage.code, opportunity.probability, opportunity.customer) == (
        "follow-up",
        Decimal("0.600"),
        None,
    )


def test_rep_cannot_create_for_another_rep(rep, teammate):
    customer = CustomerFactory(owner=teammate)

    with pytest.raises(ValidationError) as error:
        opportunity_create(owner=teammate, customer=customer, product=None, amount=Decimal(100), user=rep)

    assert fields_of(error) == {"owner"}
    assert not Opportunity.objects.exists()


def test_rep_cannot_put_another_reps_customer_on_own_deal(rep, teammate):
    with pytest.raises(ValidationError) as error:
        opportunity_create(
            owner=rep, customer=CustomerFactory(owner=teammate), product=None, amount=Decimal(100), user=rep
        )
    assert fields_of(error) == {"customer"}


def test_manager_creates_for_own_team_only(manager, rep, other_rep):
    made = opportunity_create(
        owner=rep, customer=CustomerFactory(owner=rep), product=None, amount=Decimal(100), user=manager
    )
    assert made.owner == rep
    assert StageChange.objects.get(opportunity=made).changed_by == manager

    with pytest.raises(ValidationError) as error:
        opportunity_create(
            owner=other_rep, customer=CustomerFactory(owner=other_rep), product=None, amount=Decimal(1), user=manager
        )
    assert fields_of(error) == {"owner"}


def test_create_refuses_a_closed_stage_a_bad_amount_and_an_inactive_product(rep):
    with pytest.raises(ValidationError) as error:
        opportunity_create(
            owner=rep,
            customer=None,
            product=ProductFactory(name="Old", active=False),
            amount=Decimal("-1"),
            stage=stage("won"),
            user=rep,
        )
    assert fields_of(error) == {"stage", "amount", "product"}
    assert not Opportunity.objects.exists()


# --- move ----------------------------------------------------------------------------------------


def test_move_records_the_change_and_takes_the_stage_default(deal, rep):
    at = timezone.now() - timedelta(hours=2)

    change = opportunity_move(opportunity=deal, to_stage=stage("communication"), user=rep, moved_at=at)

    assert (change.from_stage.code, change.to_stage.code, change.changed_by, change.changed_at) == (
        "discovery",
        "communication",
        rep,
        at,
    )
    deal.refresh_from_db()
    assert (deal.stage.code, deal.probability, deal.closed_at) == ("communication", Decimal("0.300"), None)
    assert StageChange.objects.filter(opportunity=deal).count() == 1


def test_hand_set_probability_is_sticky_across_moves(deal, rep):
    opportunity_set_probability(opportunity=deal, probability=Decimal("0.45"), user=rep)

    opportunity_move(opportunity=deal, to_stage=stage("communication"), user=rep)
    opportunity_move(opportunity=deal, to_stage=stage("follow-up"), user=rep)

    deal.refresh_from_db()
    assert (deal.stage.code, deal.probability, deal.probability_manual) == ("follow-up", Decimal("0.450"), True)


def test_move_to_the_same_stage_changes_nothing(deal, rep):
    assert opportunity_move(opportunity=deal, to_stage=stage("discovery"), user=rep) is None
    assert not StageChange.objects.filter(opportunity=deal).exists()


def test_move_into_won_wins_and_creates_the_order(deal, rep):
    at = timezone.now() - timedelta(minutes=5)

    change = opportunity_move(opportunity=deal, to_stage=stage("won"), user=rep, moved_at=at)

    assert change.to_stage.code == "won"
    order = Order.objects.get(opportunity=deal)
    assert (order.amount, order.ordered_at, order.fulfilled_at) == (Decimal("8000.00"), at, None)
    deal.refresh_from_db()
    assert (deal.stage.code, deal.closed_at, deal.probability) == ("won", at, Decimal("1.000"))


def test_move_into_lost_needs_the_reason(deal, rep):
    with pytest.raises(ValidationError) as error:
        opportunity_move(opportunity=deal, to_stage=stage("lost"), user=rep)
    assert fields_of(error) == {"reason"}
    deal.refresh_from_db()
    assert deal.stage.code == "discovery"

    opportunity_move(opportunity=deal, to_stage=stage("lost"), user=rep, reason="Went with a competitor")
    deal.refresh_from_db()
    assert (deal.stage.code, deal.lost_reason) == ("lost", "Went with a competitor")


@pytest.mark.parametrize(
    ("closing", "back_to"),
    [(closing, back_to) for closing in ("won", "lost") for back_to in ("discovery", "follow-up", "won", "lost")
     if back_to != closing],
)  # fmt: skip
def test_a_closed_opportunity_never_moves_again(deal, rep, closing, back_to):
    if closing == "won":
        opportunity_win(opportunity=deal, user=rep)
    else:
        opportunity_lose(opportunity=deal, user=rep, reason="Budget cut")

    with pytest.raises(ValidationError) as error:
        opportunity_move(opportunity=deal, to_stage=stage(back_to), user=rep)

    assert fields_of(error) == {"stage"}
    assert "closed" in error.value.message_dict["stage"][0]
    deal.refresh_from_db()
    assert deal.stage.code == closing
    assert StageChange.objects.filter(opportunity=deal).count() == 1


def test_move_moments_are_checked(deal, rep):
    opportunity_move(opportunity=deal, to_stage=stage("communication"), user=rep, moved_at=timezone.now())
    cases = [
        (timezone.now() - timedelta(days=1), "before the opportunity's last change"),  # before the move above
        (timezone.now() + timedelta(days=1), "in the future"),
        (datetime(2025, 1, 1, 12, 0), "time zone"),  # noqa: DTZ001 - a naive moment is what is refused
    ]
    for moment, words in cases:
        with pytest.raises(ValidationError) as error:
            opportunity_move(opportunity=deal, to_stage=stage("follow-up"), user=rep, moved_at=moment)
        assert fields_of(error) == {"moved_at"}
        assert words in error.value.message_dict["moved_at"][0]


def test_a_user_who_cannot_see_the_opportunity_cannot_change_it(deal, other_rep):
    with pytest.raises(PermissionDenied):
        opportunity_move(opportunity=deal, to_stage=stage("communication"), user=other_rep)
    with pytest.raises(PermissionDenied):
        opportunity_win(opportunity=deal, user=other_rep)
    with pytest.raises(PermissionDenied):
        opportunity_set_probability(opportunity=deal, probability=Decimal("0.5"), user=other_rep)
    deal.refresh_from_db()
    assert (deal.stage.code, deal.probability_manual) == ("discovery", False)


def test_the_manager_moves_a_team_reps_deal(deal, manager):
    change = opportunity_move(opportunity=deal, to_stage=stage("communication"), user=manager)
    assert change.changed_by == manager


# --- win, lose -----------------------------------------------------------------------------------


def test_win_creates_the_order_at_the_won_moment(deal, rep):
    won_at = timezone.now() - timedelta(days=1)

    order = opportunity_win(opportunity=deal, user=rep, won_at=won_at)

    assert (order.opportunity_id, order.amount, order.ordered_at) == (deal.pk, Decimal("8000.00"), won_at)
    assert (deal.stage.code, deal.closed_at) == ("won", won_at)  # the caller's instance is up to date
    change = StageChange.objects.get(opportunity=deal)
    assert (change.from_stage.code, change.to_stage.code, change.changed_at) == ("discovery", "won", won_at)
    with pytest.raises(ValidationError) as error:
        opportunity_win(opportunity=deal, user=rep)
    assert fields_of(error) == {"stage"}
    assert Order.objects.count() == 1


@pytest.mark.parametrize("reason", ["", "   ", "x" * 256])
def test_lose_requires_a_reason(deal, rep, reason):
    with pytest.raises(ValidationError) as error:
        opportunity_lose(opportunity=deal, user=rep, reason=reason)
    assert fields_of(error) == {"reason"}
    deal.refresh_from_db()
    assert (deal.stage.code, deal.closed_at, deal.lost_reason) == ("discovery", None, "")


def test_lose_records_reason_and_close(deal, rep):
    lost_at = timezone.now() - timedelta(days=2)

    opportunity_lose(opportunity=deal, user=rep, reason="  Too expensive  ", lost_at=lost_at)

    deal.refresh_from_db()
    assert (deal.stage.code, deal.closed_at, deal.lost_reason, deal.probability) == (
        "lost",
        lost_at,
        "Too expensive",
        Decimal("0.000"),
    )
    assert not Order.objects.exists()


# --- probability ---------------------------------------------------------------------------------


def test_set_probability_by_hand(deal, rep):
    opportunity_set_probability(opportunity=deal, probability=Decimal("0.3755"), user=rep)
    deal.refresh_from_db()
    assert (deal.probability, deal.probability_manual) == (Decimal("0.376"), True)


@pytest.mark.parametrize("value", [Decimal("1.01"), Decimal("-0.1"), Decimal("NaN"), "abc", None])
def test_set_probability_refuses_anything_but_a_fraction(deal, rep, value):
    with pytest.raises(ValidationError) as error:
        opportunity_set_probability(opportunity=deal, probability=value, user=rep)
    assert fields_of(error) == {"probability"}
    deal.refresh_from_db()
    assert (deal.probability, deal.probability_manual) == (Decimal("0.100"), False)


def test_a_closed_opportunity_keeps_its_probability(deal, rep):
    opportunity_lose(opportunity=deal, user=rep, reason="No budget")
    with pytest.raises(ValidationError) as error:
        opportunity_set_probability(opportunity=deal, probability=Decimal("0.5"), user=rep)
    assert fields_of(error) == {"probability"}


# --- orders --------------------------------------------------------------------------------------


def test_fulfil_once(rep):
    order = OrderFactory(
        opportunity=OpportunityFactory(customer=CustomerFactory(owner=rep), stage=stage("won")),
        ordered_at=timezone.now() - timedelta(days=3),
    )
    at = timezone.now() - timedelta(days=1)

    order_fulfil(order=order, user=rep, fulfilled_at=at)

    order.refresh_from_db()
    assert order.fulfilled_at == at
    with pytest.raises(ValidationError) as error:
        order_fulfil(order=order, user=rep)
    assert fields_of(error) == {"fulfilled_at"}
    assert "already fulfilled" in error.value.message_dict["fulfilled_at"][0]
    order.refresh_from_db()
    assert order.fulfilled_at == at


def test_fulfil_refuses_a_moment_before_the_order_and_other_reps(rep, other_rep):
    order = OrderFactory(opportunity=OpportunityFactory(customer=CustomerFactory(owner=rep), stage=stage("won")))
    with pytest.raises(ValidationError) as error:
        order_fulfil(order=order, user=rep, fulfilled_at=order.ordered_at - timedelta(hours=1))
    assert fields_of(error) == {"fulfilled_at"}
    with pytest.raises(PermissionDenied):
        order_fulfil(order=order, user=other_rep)
    order.refresh_from_db()
    assert order.fulfilled_at is None
