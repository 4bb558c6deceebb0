"""Opportunities: import with the pipeline's rules (stage history, orders, reasons, hand-set probabilities),
per-row errors, all or nothing, scope; the list's export; the admin's import page."""

import csv
import io
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from sales.models import Opportunity, Order, StageChange
from tests.factories import CustomerFactory, OpportunityFactory, ProductFactory, stage

pytestmark = pytest.mark.django_db

UPLOAD = reverse("crm:import_upload", args=["opportunities"])
CONFIRM = reverse("crm:import_confirm", args=["opportunities"])
HEADER = "external_ref,customer,owner,product,stage,amount,probability,expected_close,opened_at,closed_at,lost_reason"


def csv_file(text: str, name: str = "deals.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, text.encode("utf-8"), content_type="text/csv")


def preview(client, text: str):
    return client.post(UPLOAD, {"file": csv_file(text)})


def errors_of(response) -> list[str]:
    return [str(error) for error in response.context["report"].errors]


def statuses(response) -> list[tuple[int, str]]:
    return [(row.line, row.status) for row in response.context["report"].rows]


def export_rows(client, query: str = "") -> list[dict]:
    response = client.get(reverse("sales:opportunity_export", args=["csv"]) + query)
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text)))


@pytest.fixture
def manager_client(client, manager):
    client.force_login(manager)
    return client


@pytest.fixture
def accounts(rep, teammate, other_rep):
    ProductFactory(name="GTX Pro")
    ProductFactory(name="Old Model", active=False)
    return {
        "n1": CustomerFactory(code="N-1", name="Alpha", owner=rep),
        "n2": CustomerFactory(code="N-2", name="Bravo", owner=teammate),
        "s1": CustomerFactory(code="S-1", name="Sierra", owner=other_rep),
    }


# --- new opportunities -----------------------------------------------------------------------------


def test_new_opportunities_with_their_history_and_order(manager_client, manager, rep, teammate, accounts):
    text = (
        f"{HEADER}\n"
        "R-1,N-1,rep_north,GTX Pro,Follow-up,1500.5,,2030-06-30,2025-03-01 09:30,,\n"
        "R-2,N-2,rep_north_2,gtx pro,discovery,800,0.35,,,,\n"
        "R-3,N-1,rep_north,GTX Pro,won,2000,,,2025-01-10 10:00,2025-02-01 16:00,\n"
        ",,rep_north,,,0,,,,,\n"
    )

    response = preview(manager_client, text)

    assert errors_of(response) == []
    assert statuses(response) == [(2, "new"), (3, "new"), (4, "new"), (5, "new")]
    assert response.context["report"].rows[2].notes == ["An order of 2000.00 is created for this won opportunity."]
    assert (Opportunity.objects.count(), Order.objects.count()) == (0, 0)  # the preview wrote nothing

    manager_client.post(CONFIRM)

    r1, r2, r3 = (Opportunity.objects.get(external_ref=ref) for ref in ("R-1", "R-2", "R-3"))
    lead = Opportunity.objects.get(external_ref=None)
    assert (r1.customer, r1.owner, r1.stage.code, r1.amount) == (accounts["n1"], rep, "follow-up", Decimal("1500.50"))
    assert (r1.probability, r1.probability_manual) == (stage("follow-up").default_probability, False)
    assert (r1.expected_close, r1.opened_at) == (date(2030, 6, 30), datetime(2025, 3, 1, 9, 30, tzinfo=UTC))
    assert (r2.owner, r2.probability, r2.probability_manual) == (teammate, Decimal("0.350"), True)
    assert (r3.stage.code, r3.closed_at) == ("won", datetime(2025, 2, 1, 16, 0, tzinfo=UTC))
    assert (lead.customer, lead.product, lead.stage.code) == (None, None, "discovery")
    order = Order.objects.get()
    assert (order.opportunity, order.amount, order.ordered_at) == (r3, Decimal("2000.00"), r3.closed_at)
    history = {change.opportunity.external_ref: change for change in StageChange.objects.select_related("opportunity")}
    assert (history["R-1"].from_stage, history["R-1"].to_stage.code) == (None, "follow-up")
    assert (history["R-1"].changed_at, history["R-1"].changed_by) == (r1.opened_at, manager)
    assert history["R-3"].changed_at == r3.closed_at


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        (
            "R-2,N-1,rep_north,GTX Pro,discovery,800,1.5,,,,",
            "Row 3, field probability: 1.5 is out of range: it must be between 0 and 1.",
        ),
        (
            "R-2,N-1,rep_north,GTX Pro,discovery,-800,,,,,",
            "Row 3, field amount: -800 is negative: it must be 0 or more.",
        ),
        ("R-2,N-1,rep_north,GTX Pro,discovery,8OO,,,,,", "Row 3, field amount: “8OO” is not a number."),
        (
            "R-2,N-1,rep_north,GTX Pro,Negotiation,800,,,,,",
            "Row 3, field stage: No stage “Negotiation”: use one of communication, discovery, follow-up, lost, won.",
        ),
        (
            "R-2,N-1,ghost,GTX Pro,discovery,800,,,,,",
            "Row 3, field owner: No active rep with username “ghost” in your teams.",
        ),
        (
            "R-2,N-9,rep_north,GTX Pro,discovery,800,,,,,",
            "Row 3, field customer: No customer with code “N-9” among the customers you may see.",
        ),
        (
            "R-2,N-1,rep_north,GTX Pro,discovery,800,,31/12/2025,,,",
            "Row 3, field expected_close: “31/12/2025” is not a date: write it as YYYY-MM-DD (2025-03-31).",
        ),
        (
            "R-2,N-1,rep_north,GTX Pro,discovery,800,,,yesterday,,",
            "Row 3, field opened_at: “yesterday” is not a date and time: write it as YYYY-MM-DD HH:MM (2025-03-31 14:30).",  # noqa: E501
        ),
        ("R-2,N-1,rep_north,Widget,discovery,800,,,,,", "Row 3, field product: No product named “Widget”."),
        (
            "R-2,N-1,rep_north,Old Model,discovery,800,,,,,",
            "Row 3, field product: Old Model is no longer sold: choose an active product.",
        ),
        (
            "R-2,N-2,rep_north,GTX Pro,discovery,800,,,,,",
            "Row 3, field customer: N-2 belongs to another rep: choose one of rep_north's customers.",
        ),
        ("R-2,N-1,rep_north,GTX Pro,lost,800,,,,,", "Row 3, field lost_reason: Say why the opportunity was lost."),
        (
            "R-2,N-1,rep_north,GTX Pro,discovery,800,,,,2025-01-01 10:00,",
            "Row 3, field closed_at: Only a won or lost opportunity has a close date: leave it empty for an open one.",
        ),
        (
            "R-2,N-1,rep_north,GTX Pro,won,800,,,2025-02-01 10:00,2025-01-01 10:00,",
            "Row 3, field closed_at: The close date is before the opening (2025-02-01 10:00).",
        ),
        (
            "R-2,N-1,rep_north,GTX Pro,discovery,800,,,2999-01-01 10:00,,",
            "Row 3, field opened_at: 2999-01-01 10:00 is in the future.",
        ),
        (
            "R-1,N-1,rep_north,GTX Pro,discovery,800,,,,,",
            "Row 3, field external_ref: “R-1” is also on row 2 of this file: each record can be in a file once.",
        ),
    ],
)
def test_one_bad_row_names_row_and_field_and_nothing_is_imported(manager_client, accounts, row, expected):
    text = (
        f"{HEADER}\nR-1,N-1,rep_north,GTX Pro,discovery,100,,,,,\n{row}\nR-3,N-1,rep_north,GTX Pro,discovery,1,,,,,\n"
    )

    response = preview(manager_client, text)

    assert errors_of(response) == [expected]
    assert response.context["can_confirm"] is False
    manager_client.post(CONFIRM)
    assert Opportunity.objects.count() == StageChange.objects.count() == 0


def test_xlsx_with_date_cells(manager_client, accounts, rep):
    workbook = openpyxl.Workbook()
    workbook.active.append(["External ref", "Customer", "Owner", "Stage", "Amount", "Expected close", "Opened at"])
    workbook.active.append(
        ["X-1", "N-1", "rep_north", "Communication", 1234.5, date(2030, 1, 15), datetime(2025, 5, 2, 8, 15)]
    )
    buffer = io.BytesIO()
    workbook.save(buffer)

    manager_client.post(UPLOAD, {"file": SimpleUploadedFile("deals.xlsx", buffer.getvalue())})
    manager_client.post(CONFIRM)

    deal = Opportunity.objects.get(external_ref="X-1")
    assert (deal.stage.code, deal.amount, deal.expected_close) == (
        "communication",
        Decimal("1234.50"),
        date(2030, 1, 15),
    )
    assert deal.opened_at == datetime(2025, 5, 2, 8, 15, tzinfo=UTC)  # the site's zone (UTC in tests)


# --- updates ---------------------------------------------------------------------------------------


def test_update_moves_the_stage_and_keeps_a_hand_set_probability(manager_client, manager, accounts, rep):
    deal = OpportunityFactory(
        customer=accounts["n1"],
        owner=rep,
        external_ref="R-1",
        stage=stage("discovery"),
        opened_at=timezone.now() - timedelta(days=10),
    )
    text = "external_ref,stage,probability\nR-1,communication,0.6\n"

    response = preview(manager_client, text)

    assert statuses(response) == [(2, "update")]
    assert response.context["report"].rows[0].changes == ["stage: discovery → communication", "probability: ∅ → 0.600"]
    manager_client.post(CONFIRM)
    deal.refresh_from_db()
    assert (deal.stage.code, deal.probability, deal.probability_manual) == ("communication", Decimal("0.600"), True)
    change = StageChange.objects.get(opportunity=deal)
    assert (change.from_stage.code, change.to_stage.code, change.changed_by) == ("discovery", "communication", manager)


def test_moving_into_won_by_id_creates_the_order(manager_client, accounts, rep):
    deal = OpportunityFactory(
        customer=accounts["n1"], owner=rep, amount=Decimal("700"), opened_at=timezone.now() - timedelta(days=10)
    )

    preview(manager_client, f"id,stage\n{deal.pk},Won\n")
    manager_client.post(CONFIRM)

    deal.refresh_from_db()
    assert deal.stage.code == "won"
    assert deal.closed_at is not None
    assert Order.objects.get(opportunity=deal).amount == Decimal("700.00")


def test_two_rows_for_one_opportunity_by_id_and_by_reference(manager_client, accounts, rep):
    deal = OpportunityFactory(customer=accounts["n1"], owner=rep, external_ref="R-1")

    response = preview(manager_client, f"id,external_ref,amount\n{deal.pk},R-1,10\n,R-1,20\n")

    assert errors_of(response) == ["Row 3, field external_ref: Row 2 of this file already changes this record."]


def test_a_closed_opportunity_does_not_move(manager_client, accounts, rep):
    deal = OpportunityFactory(
        customer=accounts["n1"],
        owner=rep,
        external_ref="R-1",
        stage=stage("lost"),
        lost_reason="Price",
        opened_at=timezone.now() - timedelta(days=9),
        closed_at=timezone.now() - timedelta(days=1),
    )

    response = preview(manager_client, "external_ref,stage\nR-1,discovery\n")

    assert errors_of(response) == [
        "Row 2, field stage: This opportunity is closed as Lost: a closed opportunity cannot change stage."
    ]
    deal.refresh_from_db()
    assert deal.stage.code == "lost"


# --- scope -----------------------------------------------------------------------------------------


def test_manager_cannot_import_for_another_teams_rep(manager_client, accounts):
    response = preview(manager_client, f"{HEADER}\nR-9,S-1,rep_south,GTX Pro,discovery,10,,,,,\n")

    assert errors_of(response) == [
        "Row 2, field customer: No customer with code “S-1” among the customers you may see.",
        "Row 2, field owner: No active rep with username “rep_south” in your teams.",
    ]


def test_manager_cannot_update_another_teams_opportunity(manager_client, accounts, other_rep):
    theirs = OpportunityFactory(customer=accounts["s1"], owner=other_rep, external_ref="S-REF", amount=Decimal("10"))
    missing_id = theirs.pk + 1000
    text = f"id,external_ref,amount\n{theirs.pk},,99\n{missing_id},,99\n,S-REF,99\n"

    response = preview(manager_client, text)

    # An id of another team reads like an id that does not exist.
    assert errors_of(response) == [
        f"Row 2, field id: No opportunity with id {theirs.pk} among the opportunities you may see.",
        f"Row 3, field id: No opportunity with id {missing_id} among the opportunities you may see.",
        "Row 4, field external_ref: The reference “S-REF” is already used by an opportunity you may not change.",
    ]
    theirs.refresh_from_db()
    assert theirs.amount == Decimal("10.00")


def test_rep_gets_404(client, rep):
    client.force_login(rep)

    assert client.get(UPLOAD).status_code == 404
    assert client.post(UPLOAD, {"file": csv_file(f"{HEADER}\n")}).status_code == 404
    assert client.post(CONFIRM).status_code == 404


def test_admin_imports_for_any_team(client, admin_user, accounts, other_rep):
    client.force_login(admin_user)
    preview(client, f"{HEADER}\nR-9,S-1,rep_south,GTX Pro,discovery,10,,,,,\n")

    client.post(CONFIRM)

    assert Opportunity.objects.get(external_ref="R-9").owner == other_rep


# --- export ----------------------------------------------------------------------------------------


@pytest.fixture
def pipeline(accounts, rep, teammate, other_rep):
    return {
        "a": OpportunityFactory(customer=accounts["n1"], owner=rep, external_ref="A", amount=Decimal("100")),
        "b": OpportunityFactory(
            customer=accounts["n2"], owner=teammate, external_ref="B", stage=stage("communication")
        ),
        "s": OpportunityFactory(customer=accounts["s1"], owner=other_rep, external_ref="S"),
    }


def test_export_is_scoped_and_filtered_like_the_list(manager_client, pipeline):
    assert sorted(row["external_ref"] for row in export_rows(manager_client)) == ["A", "B"]
    communication = stage("communication").pk
    assert [row["external_ref"] for row in export_rows(manager_client, f"?stage={communication}")] == ["B"]


def test_rep_export_holds_their_own(client, rep, pipeline):
    client.force_login(rep)

    rows = export_rows(client)

    assert [(row["external_ref"], row["customer"], row["owner"], row["amount"]) for row in rows] == [
        ("A", "N-1", "rep_north", "100.00")
    ]


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_export_then_import_changes_nothing(manager_client, pipeline, rep, fmt):
    OpportunityFactory(
        customer=pipeline["a"].customer,
        owner=rep,
        probability=Decimal("0.35"),
        probability_manual=True,
        expected_close=date(2030, 1, 2),
        stage=stage("lost"),
        lost_reason="=cheaper elsewhere",
        opened_at=timezone.now() - timedelta(days=3),
        closed_at=timezone.now(),
    )
    response = manager_client.get(reverse("sales:opportunity_export", args=[fmt]))
    exported = b"".join(response.streaming_content) if response.streaming else response.content

    response = manager_client.post(UPLOAD, {"file": SimpleUploadedFile(f"back.{fmt}", exported)})

    assert errors_of(response) == []
    assert statuses(response) == [(2, "skip"), (3, "skip"), (4, "skip")]


def test_export_query_count_does_not_grow_with_rows(manager_client, accounts, rep, django_assert_max_num_queries):
    for _ in range(30):
        OpportunityFactory(customer=accounts["n1"], owner=rep)

    # session, user, groups, the rows (customer, owner, product and stage joined)
    with django_assert_max_num_queries(4):
        response = manager_client.get(reverse("sales:opportunity_export", args=["xlsx"]))

    assert len(list(openpyxl.load_workbook(io.BytesIO(response.content)).active.iter_rows())) == 31


def test_list_links_to_export_and_import(manager_client, client, rep):
    listing = manager_client.get(reverse("sales:opportunity_list")).content.decode()
    assert reverse("sales:opportunity_export", args=["csv"]) in listing
    assert UPLOAD in listing

    client.force_login(rep)
    assert UPLOAD not in client.get(reverse("sales:opportunity_list")).content.decode()


# --- admin -----------------------------------------------------------------------------------------


def test_admin_import_page_answers(admin_client, accounts):
    url = reverse("admin:sales_opportunity_import")

    assert admin_client.get(url).status_code == 200
    response = admin_client.post(
        url,
        {"format": "0", "resource": "0", "import_file": csv_file(f"{HEADER}\nR-1,N-1,rep_north,GTX Pro,won,5,,,,,\n")},
    )
    assert response.status_code == 200
    assert "confirm_form" in response.context
    assert Opportunity.objects.count() == Order.objects.count() == 0
