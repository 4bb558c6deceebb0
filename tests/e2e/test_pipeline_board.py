"""The pipeline board in a real browser: a rep drags cards between columns with the mouse.

Discovery -> Communication moves the deal (headers update in place, the move is in the
database with its StageChange). A drop on Lost asks why: cancelling puts the card back,
a reason closes the deal as lost. A drop on Won wins it and creates the order. A move the
server refuses puts the card back. No step may log a JavaScript error.
"""

from decimal import Decimal

import pytest
from playwright.sync_api import expect

from sales.models import Opportunity, Order, StageChange
from sales.services import opportunity_lose
from tests.factories import CustomerFactory, OpportunityFactory, ProductFactory, RepProfileFactory, stage

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

PASSWORD = "pw-for-tests"  # UserFactory's


@pytest.fixture
def pipeline():
    rep = RepProfileFactory(user__username="board_rep", user__first_name="Bo", user__last_name="Ard").user
    product = ProductFactory(name="Field Kit")

    def open_deal(name: str, amount: str) -> Opportunity:
        return OpportunityFactory(
            customer=CustomerFactory(owner=rep, name=name), product=product, amount=Decimal(amount)
        )

    return {
        "rep": rep,
        "mover": open_deal("Atelier Nord", "4000.00"),
        "loser": open_deal("Boulangerie Ouest", "1500.00"),
        "winner": open_deal("Café Est", "2500.00"),
        "stale": open_deal("Droguerie Sud", "500.00"),
    }


def log_in(tab, live_server, username: str) -> None:
    page = tab.page
    page.goto(live_server.url + "/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("form[action='/login/'] button[type=submit]")
    expect(page.locator(".navbar-text.who")).to_contain_text("Bo Ard")


def drag(page, card, target) -> None:
    """Press on the card (below its link), move in small steps onto the target column, release.

    SortableJS runs its pointer fallback (forceFallback), which needs real intermediate moves."""
    card.scroll_into_view_if_needed()
    box = card.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] - 6
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 8, y + 8, steps=4)
    goal = target.bounding_box()
    page.mouse.move(goal["x"] + goal["width"] / 2, goal["y"] + min(goal["height"] / 2, 60), steps=20)
    page.mouse.up()


def head(page, code: str):
    return page.locator(f"[data-testid=board-head][data-stage-code={code}]")


def test_rep_drags_cards_on_the_board(open_tab, live_server, pipeline):
    mover, loser, winner = pipeline["mover"], pipeline["loser"], pipeline["winner"]
    discovery, communication = stage("discovery"), stage("communication")
    tab = open_tab("desktop")
    page = tab.page
    log_in(tab, live_server, "board_rep")

    page.click("nav >> text=Pipeline")
    expect(page).to_have_url(live_server.url + "/pipeline/")
    discovery_list = page.locator(f"#board-list-{discovery.pk}")
    communication_list = page.locator(f"#board-list-{communication.pk}")
    expect(discovery_list.locator("[data-testid=board-card]")).to_have_count(4)
    expect(head(page, "discovery")).to_have_attribute("data-count", "4")
    expect(head(page, "discovery")).to_have_attribute("data-weighted", "850.00")  # 8500 * 10%
    expect(head(page, "communication")).to_have_attribute("data-count", "0")
    tab.check("board-01-open")

    # Discovery -> Communication.
    drag(page, page.locator(f"#opp-card-{mover.pk}"), communication_list)
    expect(page.locator("#board-flash")).to_contain_text("Moved to Communication.")
    expect(communication_list.locator(f"#opp-card-{mover.pk}")).to_be_visible()
    expect(head(page, "communication")).to_have_attribute("data-count", "1")
    expect(head(page, "communication")).to_have_attribute("data-weighted", "1200.00")  # 4000 * 30%
    expect(head(page, "discovery")).to_have_attribute("data-count", "3")
    expect(page.locator(f"#opp-card-{mover.pk} [data-testid=board-card-probability]")).to_have_text("30%")
    tab.check("board-02-moved")
    mover.refresh_from_db()
    assert (mover.stage, mover.probability) == (communication, Decimal("0.300"))
    change = StageChange.objects.get(opportunity=mover)
    assert (change.from_stage, change.to_stage, change.changed_by) == (discovery, communication, pipeline["rep"])

    # A drop on Lost asks why; Cancel puts the card back in Discovery and changes nothing.
    lost_list = page.locator(f"#board-list-{stage('lost').pk}")
    drag(page, page.locator(f"#opp-card-{loser.pk}"), lost_list)
    dialog = page.locator("#lose-modal")
    expect(dialog).to_be_visible()
    expect(page.locator("#lose-modal-subject")).to_contain_text("Boulangerie Ouest")
    tab.check("board-03-lose-dialog")
    page.click("#lose-cancel")
    expect(dialog).to_be_hidden()
    expect(discovery_list.locator(f"#opp-card-{loser.pk}")).to_be_visible()
    expect(lost_list.locator("[data-testid=board-card]")).to_have_count(0)
    loser.refresh_from_db()
    assert (loser.stage, loser.closed_at) == (discovery, None)

    # Again, with a reason: the deal is lost.
    drag(page, page.locator(f"#opp-card-{loser.pk}"), lost_list)
    expect(dialog).to_be_visible()
    page.fill("#lose-reason", "Chose a cheaper supplier")
    page.click("#lose-submit")
    expect(dialog).to_be_hidden()
    expect(page.locator("#board-flash")).to_contain_text("Marked as lost.")
    expect(lost_list.locator(f"#opp-card-{loser.pk}")).to_be_visible()
    expect(head(page, "lost")).to_have_attribute("data-count", "1")
    tab.check("board-04-lost")
    loser.refresh_from_db()
    assert (loser.stage.code, loser.lost_reason) == ("lost", "Chose a cheaper supplier")

    # A drop on Won wins the deal and creates its order.
    won_list = page.locator(f"#board-list-{stage('won').pk}")
    drag(page, page.locator(f"#opp-card-{winner.pk}"), won_list)
    expect(page.locator("#board-flash")).to_contain_text("Order #")
    expect(won_list.locator(f"#opp-card-{winner.pk}")).to_be_visible()
    expect(head(page, "won")).to_have_attribute("data-weighted", "2500.00")
    tab.check("board-05-won")
    assert Order.objects.get(opportunity=winner).amount == Decimal("2500.00")

    # A closed deal stays put: dragging it back to Discovery does nothing.
    drag(page, page.locator(f"#opp-card-{winner.pk}"), discovery_list)
    expect(won_list.locator(f"#opp-card-{winner.pk}")).to_be_visible()
    winner.refresh_from_db()
    assert winner.stage.code == "won"

    # Someone closed a deal after the page was drawn: the server refuses the move, the page says
    # why and the card goes back to its column.
    stale = pipeline["stale"]
    opportunity_lose(opportunity=stale, user=pipeline["rep"], reason="Closed on another device")
    drag(page, page.locator(f"#opp-card-{stale.pk}"), page.locator(f"#board-list-{stage('follow-up').pk}"))
    expect(page.locator("#board-flash .alert-danger")).to_contain_text("a closed opportunity cannot change stage")
    expect(discovery_list.locator(f"#opp-card-{stale.pk}")).to_be_visible()
    expect(head(page, "follow-up")).to_have_attribute("data-count", "0")
    tab.check("board-06-refused")
    assert not StageChange.objects.filter(opportunity=stale, to_stage__code="follow-up").exists()


def test_board_on_a_phone(open_tab, live_server, pipeline):
    """One column at a time, scrolled sideways; a card's page is a tap away (its actions work without dragging)."""
    tab = open_tab("phone")
    page = tab.page
    log_in(tab, live_server, "board_rep")
    page.goto(live_server.url + "/pipeline/")
    board = page.locator("#pipeline-board")
    expect(board.locator("[data-testid=board-column]")).to_have_count(5)
    assert board.evaluate("element => element.scrollWidth > element.clientWidth")
    tab.check("board-phone-01")

    page.locator(f"#opp-card-link-{pipeline['mover'].pk}").tap()
    expect(page.locator("#opportunity-stage")).to_have_attribute("data-stage-code", "discovery")
    page.select_option("#move-stage", str(stage("follow-up").pk))
    page.locator("#move-submit").tap()
    expect(page.locator(".messages")).to_contain_text("Moved to Follow-up.")
    expect(page.locator("#opportunity-stage")).to_have_attribute("data-stage-code", "follow-up")
    expect(page.locator("[data-testid=stage-change]")).to_have_count(1)
    tab.check("board-phone-02-detail")
    assert StageChange.objects.get(opportunity=pipeline["mover"]).to_stage.code == "follow-up"
