"""Pipeline pages: scope per role, the board's column numbers, moves from the board and the page, orders,
and bounded query counts."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from sales.models import Opportunity, Order, StageChange
from sales.services import opportunity_set_probability
from tests.factories import CustomerFactory, OpportunityFactory, OrderFactory, ProductFactory, stage

pytestmark = pytest.mark.django_db

BOARD = reverse("sales:board")
LIST = reverse("sales:opportunity_list")
ORDERS = reverse("sales:order_list")
HTMX = {"HTTP_HX_REQUEST": "true"}


def url(name: str, obj) -> str:
    return reverse(f"sales:{name}", args=[obj.pk])


def deal(owner, code: str, amount: str, *, days_closed: int | None = None, product=None, **fields) -> Opportunity:
    now = timezone.now()
    if days_closed is not None:
        fields["closed_at"] = now - timedelta(days=days_closed)
    return OpportunityFactory(
        customer=CustomerFactory(owner=owner, name=fields.pop("customer_name", f"Customer {amount}")),
        amount=Decimal(amount),
        stage=stage(code),
        opened_at=now - timedelta(days=60),
        product=product or ProductFactory(name="Standard"),
        **fields,
    )


@pytest.fixture
def world(rep, teammate, other_rep):
    """Known deals. The rep: Discovery 1000 (10%) and 2000 (set by hand to 50%), Communication 4000 (30%),
    Won 5000 five days ago and 9000 forty days ago (off the board), Lost 3000 yesterday.
    The teammate: Discovery 10000. The other team's rep: Discovery 7000."""
    premium = ProductFactory(name="Premium")
    d = {
        "a": deal(rep, "discovery", "1000.00", customer_name="Alpha"),
        "b": deal(rep, "discovery", "2000.00", customer_name="Bravo", product=premium),
        "c": deal(rep, "communication", "4000.00", customer_name="Charlie"),
        "won": deal(rep, "won", "5000.00", days_closed=5, customer_name="Delta"),
        "old_won": deal(rep, "won", "9000.00", days_closed=40, customer_name="Echo"),
        "lost": deal(rep, "lost", "3000.00", days_closed=1, customer_name="Foxtrot", lost_reason="Price"),
        "team": deal(teammate, "discovery", "10000.00", customer_name="Golf"),
        "other": deal(other_rep, "discovery", "7000.00", customer_name="Hotel"),
    }
    opportunity_set_probability(opportunity=d["b"], probability=Decimal("0.5"), user=rep)
    return d


def heads(response) -> dict[str, tuple[int, Decimal, Decimal]]:
    """Per stage code: (count, weighted, amount) of the board's columns."""
    return {
        column.stage.code: (column.totals.count, column.totals.weighted, column.totals.amount)
        for column in response.context["columns"]
    }


def card_ids(response) -> dict[str, set[int]]:
    return {column.stage.code: {card.pk for card in column.cards} for column in response.context["columns"]}


def listed(response) -> set[int]:
    return {opportunity.pk for opportunity in response.context["page"].object_list}


# --- the board's numbers -------------------------------------------------------------------------


def test_board_columns_count_and_weigh_the_reps_deals(client, rep, world):
    client.force_login(rep)
    response = client.get(BOARD)

    assert response.status_code == 200
    assert heads(response) == {
        "discovery": (2, Decimal("1100.00"), Decimal("3000.00")),  # 1000*0.10 + 2000*0.50 (by hand)
        "communication": (1, Decimal("1200.00"), Decimal("4000.00")),  # 4000*0.30
        "follow-up": (0, Decimal(0), Decimal(0)),
        "won": (1, Decimal("5000.00"), Decimal("5000.00")),  # the 40-day-old win is off the board
        "lost": (1, Decimal("0.00"), Decimal("3000.00")),
    }
    assert card_ids(response) == {
        "discovery": {world["a"].pk, world["b"].pk},
        "communication": {world["c"].pk},
        "follow-up": set(),
        "won": {world["won"].pk},
        "lost": {world["lost"].pk},
    }
    html = response.content.decode()
    assert 'data-stage-code="discovery"\n        data-count="2" data-weighted="1100.00" data-amount="3000.00"' in html
    assert "closed in the last 30 days" in html


def test_board_weighs_with_the_stages_current_default(client, rep, world):
    # An admin changes Discovery's default: deals not set by hand follow it (spec T3), the hand-set one does not.
    discovery = stage("discovery")
    discovery.default_probability = Decimal("0.200")
    discovery.save()
    client.force_login(rep)

    assert heads(client.get(BOARD))["discovery"] == (2, Decimal("1200.00"), Decimal("3000.00"))  # 200 + 1000


def test_manager_board_has_the_team_and_filters_by_owner_and_product(client, manager, rep, teammate, world):
    client.force_login(manager)

    assert heads(client.get(BOARD))["discovery"] == (3, Decimal("2100.00"), Decimal("13000.00"))
    assert heads(client.get(BOARD, {"owner": teammate.pk}))["discovery"] == (1, Decimal("1000.00"), Decimal("10000.00"))
    premium = world["b"].product
    assert heads(client.get(BOARD, {"product": premium.pk}))["discovery"] == (1, Decimal("1000.00"), Decimal("2000.00"))


def test_a_manager_cannot_filter_the_board_to_another_teams_rep(client, manager, other_rep, world):
    client.force_login(manager)
    response = client.get(BOARD, {"owner": other_rep.pk})

    assert response.status_code == 200
    assert world["other"].pk not in card_ids(response)["discovery"]
    assert response.context["filter"].form.errors  # not among the choices


def test_admin_board_has_everyone(client, admin_user, world):
    client.force_login(admin_user)
    assert heads(client.get(BOARD))["discovery"] == (4, Decimal("2800.00"), Decimal("20000.00"))


def test_a_rep_has_no_owner_filter(client, rep, world):
    client.force_login(rep)
    response = client.get(BOARD)
    assert "owner" not in response.context["filter"].form.fields
    assert b'id="board-filter-product"' in response.content


def test_column_cards_are_capped_but_counted(client, rep, monkeypatch):
    monkeypatch.setattr("sales.selectors.BOARD_COLUMN_LIMIT", 2)
    for amount in ("100.00", "200.00", "300.00"):
        deal(rep, "discovery", amount)
    client.force_login(rep)

    response = client.get(BOARD)

    column = response.context["columns"][0]
    assert (column.totals.count, len(column.cards), column.hidden) == (3, 2, 1)
    assert [card.amount for card in column.cards] == [Decimal("300.00"), Decimal("200.00")]  # no close date: by amount
    assert b"and 1 more not drawn here" in response.content


# --- scope --------------------------------------------------------------------------------------


def test_list_scope_per_role(client, rep, manager, admin_user, world):
    mine = {world[key].pk for key in ("a", "b", "c", "won", "old_won", "lost")}
    client.force_login(rep)
    assert listed(client.get(LIST)) == mine
    client.force_login(manager)
    assert listed(client.get(LIST)) == mine | {world["team"].pk}
    client.force_login(admin_user)
    assert listed(client.get(LIST)) == mine | {world["team"].pk, world["other"].pk}


@pytest.mark.parametrize("name", ["opportunity_detail", "opportunity_move", "opportunity_win", "opportunity_lose"])
@pytest.mark.parametrize("method", ["get", "post"])
def test_another_reps_opportunity_is_404_everywhere(client, rep, world, name, method):
    client.force_login(rep)
    target = world["team"]
    data = {"stage": stage("won").pk, "reason": "x"}

    response = getattr(client, method)(url(name, target), data)

    assert response.status_code == 404
    target.refresh_from_db()
    assert (target.stage.code, target.closed_at) == ("discovery", None)
    assert not Order.objects.filter(opportunity=target).exists()


def test_another_teams_opportunity_is_404_for_the_manager_too(client, manager, world):
    client.force_login(manager)
    assert client.get(url("opportunity_detail", world["other"])).status_code == 404
    assert client.post(url("opportunity_probability", world["other"]), {"probability": "50"}).status_code == 404
    assert client.post(url("opportunity_move", world["team"]), {"stage": stage("follow-up").pk}).status_code == 302


def test_probability_post_on_another_reps_deal_is_404(client, rep, world):
    client.force_login(rep)
    response = client.post(url("opportunity_probability", world["team"]), {"probability": "90"})
    assert response.status_code == 404
    world["team"].refresh_from_db()
    assert world["team"].probability_manual is False


def test_post_only_actions_refuse_get_on_own_deals(client, rep, world):
    client.force_login(rep)
    assert client.get(url("opportunity_move", world["a"])).status_code == 405
    assert client.post(url("opportunity_detail", world["a"])).status_code == 405


# --- the list -----------------------------------------------------------------------------------


def test_list_filters(client, rep, world):
    client.force_login(rep)
    assert listed(client.get(LIST, {"stage": stage("discovery").pk})) == {world["a"].pk, world["b"].pk}
    assert listed(client.get(LIST, {"status": "closed"})) == {world[k].pk for k in ("won", "old_won", "lost")}
    assert listed(client.get(LIST, {"status": "open"})) == {world[k].pk for k in ("a", "b", "c")}
    assert listed(client.get(LIST, {"q": "brav"})) == {world["b"].pk}
    assert listed(client.get(LIST, {"product": world["b"].product.pk})) == {world["b"].pk}


def test_list_sorts_by_column(client, rep, world):
    client.force_login(rep)
    amounts = [o.amount for o in client.get(LIST, {"sort": "amount"}).context["page"].object_list]
    assert amounts == sorted(amounts)
    response = client.get(LIST, {"sort": "-probability", "status": "open"})
    assert [o.pk for o in response.context["page"].object_list] == [world["b"].pk, world["c"].pk, world["a"].pk]
    assert b'aria-sort="descending"' in response.content
    # An unknown sort is ignored (the default order), not an error.
    assert client.get(LIST, {"sort": "password"}).status_code == 200


def test_list_pages(client, rep):
    for index in range(27):
        deal(rep, "discovery", f"{100 + index}.00")
    client.force_login(rep)
    assert len(client.get(LIST).context["page"].object_list) == 25
    assert len(client.get(LIST, {"page": 2}).context["page"].object_list) == 2


# --- moves from the board (htmx) and from the page ------------------------------------------------


def test_board_move_answers_with_the_updated_headers(client, rep, world):
    client.force_login(rep)

    response = client.post(url("opportunity_move", world["a"]), {"stage": stage("communication").pk}, **HTMX)

    assert response.status_code == 200
    assert "Fieldwise-Refused" not in response
    html = response.content.decode()
    discovery, communication = stage("discovery"), stage("communication")
    assert f'id="board-head-{discovery.pk}"' in html
    assert 'data-count="1" data-weighted="1000.00"' in html  # Discovery: only the hand-set 2000*0.5 is left
    assert 'data-count="2" data-weighted="1500.00"' in html  # Communication: 4000*0.3 + 1000*0.3
    assert html.count('hx-swap-oob="true"') == 5 + 1 + 2  # five headers, the card, message and reason slot
    assert f'id="opp-card-{world["a"].pk}"' in html
    assert "Moved to Communication." in html
    change = StageChange.objects.get(opportunity=world["a"])
    assert (change.from_stage, change.to_stage, change.changed_by) == (discovery, communication, rep)
    assert "HX-Request" in response["Vary"]


def test_board_move_keeps_the_boards_filter(client, manager, teammate, world):
    client.force_login(manager)
    path = url("opportunity_move", world["team"]) + f"?owner={teammate.pk}"

    response = client.post(path, {"stage": stage("follow-up").pk}, **HTMX)

    html = response.content.decode()
    assert 'data-count="1" data-weighted="6000.00"' in html  # Follow-up: the teammate's 10000 * 0.6 only
    assert 'data-count="0" data-weighted="0.00"' in html  # the teammate's Discovery is empty now


def test_board_drop_on_won_creates_the_order(client, rep, world):
    client.force_login(rep)

    response = client.post(url("opportunity_move", world["c"]), {"stage": stage("won").pk}, **HTMX)

    assert response.status_code == 200
    order = Order.objects.get(opportunity=world["c"])
    assert order.amount == Decimal("4000.00")
    assert f"Order #{order.pk} for 4,000.00 created" in response.content.decode()


def refused(response) -> bool:
    return response.status_code == 200 and response.get("Fieldwise-Refused") == "true"


def test_board_refused_move_is_marked_with_the_reason(client, rep, world):
    client.force_login(rep)

    response = client.post(url("opportunity_move", world["won"]), {"stage": stage("discovery").pk}, **HTMX)

    assert refused(response)
    html = response.content.decode()
    assert "a closed opportunity cannot change stage" in html
    assert 'class="alert alert-danger' in html
    assert f'id="opp-card-{world["won"].pk}"' not in html  # the script puts the card back itself
    world["won"].refresh_from_db()
    assert world["won"].stage.code == "won"


def test_board_garbage_stage_is_refused_not_500(client, rep, world):
    client.force_login(rep)
    for value in ("", "abc", "999999"):
        response = client.post(url("opportunity_move", world["a"]), {"stage": value}, **HTMX)
        assert refused(response)
        assert b"alert-danger" in response.content


def test_board_lose_without_reason_keeps_the_dialog_open(client, rep, world):
    client.force_login(rep)

    response = client.post(url("opportunity_lose", world["a"]), {"reason": "  "}, **HTMX)

    assert refused(response)
    html = response.content.decode()
    assert 'data-testid="lose-reason-error">Say why the opportunity was lost.</div>' in html
    assert f'id="opp-card-{world["a"].pk}"' not in html  # the dragged card stays the script's to put back
    world["a"].refresh_from_db()
    assert world["a"].stage.code == "discovery"

    response = client.post(url("opportunity_lose", world["a"]), {"reason": "Chose a rival"}, **HTMX)
    assert response.status_code == 200
    assert "Fieldwise-Refused" not in response
    world["a"].refresh_from_db()
    assert (world["a"].stage.code, world["a"].lost_reason) == ("lost", "Chose a rival")


def test_page_move_win_lose_redirect_with_messages(client, rep, world):
    client.force_login(rep)
    detail = url("opportunity_detail", world["a"])

    response = client.post(url("opportunity_move", world["a"]), {"stage": stage("follow-up").pk}, follow=True)
    assert response.redirect_chain == [(detail, 302)]
    assert "Moved to Follow-up." in [str(m) for m in response.context["messages"]]

    response = client.post(url("opportunity_win", world["a"]), follow=True)
    order = Order.objects.get(opportunity=world["a"])
    assert f"Order #{order.pk} for 1,000.00 created." in response.content.decode()

    response = client.post(url("opportunity_lose", world["a"]), {"reason": "late"}, follow=True)
    assert "a closed opportunity cannot change stage" in response.content.decode()


def test_page_lose_without_reason_says_so(client, rep, world):
    client.force_login(rep)
    response = client.post(url("opportunity_lose", world["b"]), {"reason": ""}, follow=True)
    assert "Say why the opportunity was lost." in response.content.decode()
    world["b"].refresh_from_db()
    assert world["b"].stage.code == "discovery"


def test_probability_form(client, rep, world):
    client.force_login(rep)
    client.post(url("opportunity_probability", world["a"]), {"probability": "37.5"})
    world["a"].refresh_from_db()
    assert (world["a"].probability, world["a"].probability_manual) == (Decimal("0.375"), True)

    for bad in ("150", "-1", "abc", "12.25", "NaN"):
        response = client.post(url("opportunity_probability", world["a"]), {"probability": bad}, follow=True)
        assert response.status_code == 200
        assert any(m.level_tag == "error" for m in response.context["messages"])
    world["a"].refresh_from_db()
    assert world["a"].probability == Decimal("0.375")


# --- the opportunity page -----------------------------------------------------------------------


def test_detail_shows_history_probabilities_and_actions(client, rep, world):
    client.force_login(rep)
    client.post(url("opportunity_move", world["b"]), {"stage": stage("communication").pk})

    response = client.get(url("opportunity_detail", world["b"]))

    html = response.content.decode()
    assert response.status_code == 200
    assert [(c.from_stage.code, c.to_stage.code) for c in response.context["history"]] == [
        ("discovery", "communication")
    ]
    assert 'data-testid="stage-probability">50%' in html
    assert 'data-testid="probability-manual"' in html  # set by hand: sticky
    assert 'id="need-probability"' in html
    need = response.context["need_probability"]
    assert need.probability is None
    assert f'data-testid="need-probability-reason">{need.reason}' in html
    assert 'id="move-form"' in html
    assert 'id="win-form"' in html
    assert 'name="probability" value="50"' in html  # the form shows percent: 0.500 -> 50


def test_detail_probability_field_shows_percent_with_one_decimal(client, rep, world):
    client.force_login(rep)
    client.post(url("opportunity_probability", world["a"]), {"probability": "37.5"})
    html = client.get(url("opportunity_detail", world["a"])).content.decode()
    assert 'name="probability" value="37.5"' in html
    assert 'data-testid="stage-probability">37.5%' in html


def test_detail_of_a_closed_deal_has_no_actions(client, rep, world):
    client.force_login(rep)
    response = client.get(url("opportunity_detail", world["lost"]))
    html = response.content.decode()
    assert 'data-testid="opportunity-lost-reason">Price' in html
    assert 'id="move-form"' not in html
    assert 'id="need-probability"' not in html  # P(x) is for open deals
    assert response.context["need_probability"] is None


# --- orders -------------------------------------------------------------------------------------


@pytest.fixture
def orders(rep, teammate, other_rep):
    def order(owner, *, fulfilled: bool):
        at = timezone.now() - timedelta(days=3)
        opportunity = deal(owner, "won", "500.00", days_closed=3)
        return OrderFactory(
            opportunity=opportunity, ordered_at=at, fulfilled_at=at + timedelta(days=1) if fulfilled else None
        )

    return {
        "open": order(rep, fulfilled=False),
        "done": order(rep, fulfilled=True),
        "team": order(teammate, fulfilled=False),
        "other": order(other_rep, fulfilled=False),
    }


def test_order_list_scope_and_filter(client, rep, manager, orders):
    client.force_login(rep)
    assert listed(client.get(ORDERS)) == {orders["open"].pk, orders["done"].pk}
    assert listed(client.get(ORDERS, {"fulfilled": "no"})) == {orders["open"].pk}
    assert listed(client.get(ORDERS, {"fulfilled": "yes"})) == {orders["done"].pk}
    client.force_login(manager)
    assert listed(client.get(ORDERS)) == {orders["open"].pk, orders["done"].pk, orders["team"].pk}


def test_mark_fulfilled_once(client, rep, orders):
    client.force_login(rep)
    response = client.post(url("order_fulfil", orders["open"]), {"next": ORDERS + "?fulfilled=no"})
    assert response.status_code == 302
    assert response["Location"] == ORDERS + "?fulfilled=no"
    orders["open"].refresh_from_db()
    assert orders["open"].fulfilled_at is not None

    response = client.post(url("order_fulfil", orders["open"]), {"next": "https://evil.example/"}, follow=True)
    assert response.redirect_chain[0] == (ORDERS, 302)
    assert any("already fulfilled" in str(m) for m in response.context["messages"])


def test_another_reps_order_is_404(client, rep, orders):
    client.force_login(rep)
    assert client.post(url("order_fulfil", orders["team"])).status_code == 404
    assert client.get(url("order_fulfil", orders["team"])).status_code == 404
    orders["team"].refresh_from_db()
    assert orders["team"].fulfilled_at is None


# --- navigation ---------------------------------------------------------------------------------


def test_nav_has_pipeline_and_orders(client, rep):
    client.force_login(rep)
    response = client.get(BOARD)
    links = {link["label"]: link for link in response.context["nav_links"]}
    assert links["Pipeline"]["url"] == BOARD
    assert links["Pipeline"]["active"] is True
    assert links["Orders"]["url"] == ORDERS


# --- query counts -------------------------------------------------------------------------------


@pytest.fixture(params=[5, 50])
def many(request, manager, rep, teammate):
    """n deals spread over the team and the stages, each with a product, and an order for the won ones."""
    codes = ["discovery", "communication", "follow-up", "won", "lost"]
    made = []
    for index in range(request.param):
        code = codes[index % 5]
        opportunity = deal(
            rep if index % 2 else teammate,
            code,
            f"{1000 + index}.00",
            days_closed=1 if code in ("won", "lost") else None,
            product=ProductFactory(name=f"P{index % 7}"),
        )
        if code == "won":
            OrderFactory(opportunity=opportunity, ordered_at=opportunity.closed_at)
        made.append(opportunity)
    return made


@pytest.mark.parametrize(
    ("path", "params", "limit"),
    [
        (BOARD, {}, 8),
        (BOARD, {"product": "1"}, 9),
        (LIST, {}, 8),
        (LIST, {"sort": "-probability", "status": "open", "q": "Customer"}, 8),
        (ORDERS, {}, 5),
        (ORDERS, {"fulfilled": "no"}, 5),
    ],
)
def test_pages_query_count_does_not_grow(client, manager, many, path, params, limit, django_assert_max_num_queries):
    client.force_login(manager)
    client.get(path, params)  # warm the session and the content types
    with django_assert_max_num_queries(limit):
        response = client.get(path, params)
    assert response.status_code == 200


def test_detail_and_move_query_counts(client, manager, many, django_assert_max_num_queries):
    client.force_login(manager)
    target = next(o for o in many if o.stage.code == "discovery")
    # Session, user, role; the opportunity; history; P(x) (two, analytics.need_fits); the stage choices...
    with django_assert_max_num_queries(10):
        assert client.get(url("opportunity_detail", target)).status_code == 200
    won = stage("won")
    # Session, user, role; the opportunity; the form's stage; the locked move, its audit row and the
    # order (8); the order for the message; the board's stages, totals and the moved card.
    with django_assert_max_num_queries(18):
        response = client.post(url("opportunity_move", target), {"stage": won.pk}, **HTMX)
    assert response.status_code == 200
