"""Customers and contacts: import (preview, confirm, all or nothing, scope), export (scoped like the list),
the file reader's refusals, and the admin's import page."""

import csv
import io
import zipfile
from datetime import timedelta
from decimal import Decimal

import openpyxl
import pytest
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from core.transfer.files import MAX_ROWS, TableError, read_table
from core.transfer.service import table_import
from crm.models import Contact, Customer
from crm.resources import CustomerResource
from tests.factories import ContactFactory, CustomerFactory, VisitFactory

pytestmark = pytest.mark.django_db

CUSTOMER_HEADER = "code,name,tier,segment,city,country,latitude,longitude,owner,annual_value,visit_cadence_days,status"


def upload_url(kind: str) -> str:
    return reverse("crm:import_upload", args=[kind])


def confirm_url(kind: str) -> str:
    return reverse("crm:import_confirm", args=[kind])


def csv_file(text: str, name: str = "customers.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, text.encode("utf-8"), content_type="text/csv")


def xlsx_file(rows: list[list], name: str = "customers.xlsx") -> SimpleUploadedFile:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return SimpleUploadedFile(name, buffer.getvalue())


def preview(client, kind: str, upload):
    return client.post(upload_url(kind), {"file": upload})


def errors_of(response) -> list[str]:
    return [str(error) for error in response.context["report"].errors]


def statuses(response) -> list[tuple[int, str]]:
    return [(row.line, row.status) for row in response.context["report"].rows]


def streamed(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def csv_rows(response) -> list[dict]:
    return list(csv.DictReader(io.StringIO(streamed(response).decode("utf-8-sig"))))


def snapshot() -> list[tuple]:
    return list(Customer.objects.order_by("code").values_list("code", "name", "owner_id", "city", "annual_value"))


@pytest.fixture
def manager_client(client, manager):
    client.force_login(manager)
    return client


# --- preview and confirm -----------------------------------------------------------------------


def test_preview_lists_the_rows_and_writes_nothing(manager_client, rep, teammate):
    text = (
        f"{CUSTOMER_HEADER}\n"
        "N-1,Boulangerie Martin,A,retail,Lyon,France,45.76,4.84,rep_north,12500.50,14,active\n"
        "N-2,Garage Petit,,garage,Lille,France,,,rep_north_2,,,\n"
    )

    response = preview(manager_client, "customers", csv_file(text))

    assert response.status_code == 200
    assert statuses(response) == [(2, "new"), (3, "new")]
    assert response.context["report"].counts == {"new": 2, "update": 0, "skip": 0, "error": 0}
    assert response.context["can_confirm"] is True
    assert Customer.objects.count() == 0  # a preview is rolled back


def test_confirm_imports_every_row_with_its_values(manager_client, rep, teammate):
    text = (
        f"{CUSTOMER_HEADER}\n"
        "N-1,Boulangerie Martin,A,retail,Lyon,France,45.76,4.84,rep_north,12500.50,14,active\n"
        "N-2,Garage Petit,,garage,Lille,France,,,rep_north_2,,,\n"
    )
    preview(manager_client, "customers", csv_file(text))

    response = manager_client.post(confirm_url("customers"), follow=True)

    assert response.redirect_chain[-1][0] == reverse("crm:customer_list")
    assert "customers.csv imported: 2 new, 0 updated, 0 unchanged." in response.content.decode()
    first, second = Customer.objects.order_by("code")
    assert (first.code, first.name, first.tier, first.owner, first.city) == (
        "N-1",
        "Boulangerie Martin",
        "A",
        rep,
        "Lyon",
    )
    assert (first.latitude, first.longitude, first.annual_value, first.visit_cadence_days) == (
        45.76,
        4.84,
        Decimal("12500.50"),
        14,
    )
    # Empty cells of columns with a default: the model's defaults.
    assert (second.tier, second.annual_value, second.visit_cadence_days, second.status) == ("B", 0, 30, "active")
    assert (second.owner, second.latitude) == (teammate, None)


def test_a_confirmed_file_is_imported_once(manager_client, rep):
    preview(manager_client, "customers", csv_file(f"{CUSTOMER_HEADER}\nN-1,Martin,A,,,,,,rep_north,,,\n"))
    manager_client.post(confirm_url("customers"))

    again = manager_client.post(confirm_url("customers"), follow=True)

    assert "There is no previewed file waiting to be imported" in again.content.decode()
    assert Customer.objects.count() == 1


def test_confirm_after_the_data_changed_imports_nothing_and_says_why(manager_client, rep, teammate):
    preview(manager_client, "customers", csv_file("code,name,owner\nN-1,Martin,rep_north\nN-2,Petit,rep_north_2\n"))
    teammate.is_active = False  # between the preview and the confirmation
    teammate.save()

    response = manager_client.post(confirm_url("customers"))

    assert response.status_code == 200
    assert errors_of(response) == ["Row 3, field owner: No active rep with username “rep_north_2” in your teams."]
    assert "1 error: nothing was imported." in response.content.decode()
    assert Customer.objects.count() == 0


def test_xlsx_with_native_numbers(manager_client, rep):
    rows = [
        ["Code", "Name", "Tier", "Latitude", "Longitude", "Owner", "Annual value", "Visit cadence days"],
        [1042, "Cave Dupont", "a", 48.85, 2.35, "rep_north", 8000, 21],
        [None, None, None, None, None, None, None, None],  # a blank row is skipped, the numbering is kept
        ["X-7", "Atelier Roux", "C (key account)", None, None, "rep_north", 99.999, 7.0],
    ]

    response = preview(manager_client, "customers", xlsx_file(rows))

    # Header names are normalised; tier "C (key account)" is not a label of C, so it is refused by name.
    assert errors_of(response) == ["Row 4, field tier: “C (key account)” is not one of: A, B, C."]
    rows[3][2] = "C"
    preview(manager_client, "customers", xlsx_file(rows))
    manager_client.post(confirm_url("customers"))
    cave, atelier = Customer.objects.get(code="1042"), Customer.objects.get(code="X-7")
    assert (cave.tier, cave.latitude, cave.annual_value, cave.visit_cadence_days) == ("A", 48.85, Decimal("8000"), 21)
    assert (atelier.annual_value, atelier.visit_cadence_days) == (Decimal("100.00"), 7)  # rounded half up to cents


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        ("N-2,Petit,B,,,,,,rep_north,12 500,30,active", None),  # spaces inside a number are fine
        (
            'N-2,Petit,B,,,,,,rep_north,"12,5",30,active',
            "Row 3, field annual_value: “12,5” is not a number: write it with a dot for decimals and no thousands separator (1234.50).",  # noqa: E501
        ),
        ("N-2,Petit,B,,,,,,rep_north,lots,30,active", "Row 3, field annual_value: “lots” is not a number."),
        ("N-2,Petit,B,,,,,,rep_north,-5,30,active", "Row 3, field annual_value: -5 is negative: it must be 0 or more."),
        (
            "N-2,Petit,B,,,,,,nobody,100,30,active",
            "Row 3, field owner: No active rep with username “nobody” in your teams.",
        ),
        (
            "N-2,Petit,B,,,,91,,rep_north,100,30,active",
            "Row 3, field latitude: 91 is out of range: it must be between -90 and 90.",
        ),
        (
            "N-2,Petit,B,,,,,,rep_north,100,0,active",
            "Row 3, field visit_cadence_days: 0 is out of range: it must be between 1 and 32767.",
        ),
        ("N-2,Petit,B,,,,,,rep_north,100,2.5,active", "Row 3, field visit_cadence_days: 2.5 is not a whole number."),
        ("N-2,Petit,B,,,,,,rep_north,100,30,closed", "Row 3, field status: “closed” is not one of: active, inactive."),
        (
            "N-1,Petit,B,,,,,,rep_north,100,30,active",
            "Row 3, field code: “N-1” is also on row 2 of this file: each record can be in a file once.",
        ),
        (
            ",Petit,B,,,,,,rep_north,100,30,active",
            "Row 3, field code: A value is required: the code says which customer the row is.",
        ),
        ("N-2,,B,,,,,,rep_north,100,30,active", "Row 3, field name: A value is required."),
    ],
)
def test_one_bad_row_is_named_by_row_and_field_and_nothing_is_imported(manager_client, rep, row, expected):
    text = (
        f"{CUSTOMER_HEADER}\nN-1,Martin,A,,,,,,rep_north,100,30,active\n{row}\nN-3,Roux,C,,,,,,rep_north,1,30,active\n"
    )

    response = preview(manager_client, "customers", csv_file(text))

    if expected is None:
        assert errors_of(response) == []
        return
    assert errors_of(response) == [expected]
    assert response.context["can_confirm"] is False
    assert "import-confirm" not in response.content.decode()
    # No file waits for a confirmation, and a confirm now imports nothing.
    manager_client.post(confirm_url("customers"))
    assert Customer.objects.count() == 0


def test_a_real_run_with_a_bad_row_rolls_back_the_good_rows(manager, rep):
    # The confirm step's run, called directly: row 2 is valid and saved first, row 3 fails.
    text = f"{CUSTOMER_HEADER}\nN-1,Martin,A,,,,,,rep_north,100,30,active\nN-2,Petit,B,,,,,,rep_north,1.5.0,30,active\n"
    table = read_table(text.encode(), name="customers.csv")

    report = table_import(resource_class=CustomerResource, table=table, user=manager, dry_run=False)

    assert [str(error) for error in report.errors] == ["Row 3, field annual_value: “1.5.0” is not a number."]
    assert report.committed is False
    assert Customer.objects.count() == 0


def test_update_and_unchanged_rows(manager_client, rep):
    CustomerFactory(
        code="N-1",
        name="Martin",
        tier="A",
        segment="",
        city="Paris",
        country="",
        owner=rep,
        latitude=None,
        longitude=None,
        annual_value=Decimal("100"),
        visit_cadence_days=30,
    )
    CustomerFactory(
        code="N-2",
        name="Petit",
        tier="B",
        segment="",
        city="Lille",
        country="",
        owner=rep,
        latitude=None,
        longitude=None,
        annual_value=Decimal("5"),
        visit_cadence_days=30,
    )
    text = "code,name,city,annual_value\nN-1,Martin,Lyon,100\nN-2,Petit,Lille,5.00\n"

    response = preview(manager_client, "customers", csv_file(text))

    assert statuses(response) == [(2, "update"), (3, "skip")]
    assert response.context["report"].rows[0].changes == ["city: Paris → Lyon"]
    manager_client.post(confirm_url("customers"))
    assert Customer.objects.get(code="N-1").city == "Lyon"


def test_a_new_owner_takes_the_planned_visits_like_a_reassignment(manager_client, rep, teammate):
    customer = CustomerFactory(code="N-1", owner=rep)
    planned = VisitFactory(
        customer=customer, rep=rep, origin="planner", planned_start=timezone.now() + timedelta(days=2)
    )
    preview(manager_client, "customers", csv_file("code,owner\nN-1,rep_north_2\n"))

    manager_client.post(confirm_url("customers"))

    customer.refresh_from_db()
    planned.refresh_from_db()
    assert (customer.owner, planned.rep) == (teammate, teammate)


# --- scope -----------------------------------------------------------------------------------------


def test_manager_cannot_import_for_a_rep_of_another_team(manager_client, rep, other_rep):
    text = "code,name,owner\nN-1,Martin,rep_north\nS-9,Sud,rep_south\n"

    response = preview(manager_client, "customers", csv_file(text))

    assert errors_of(response) == ["Row 3, field owner: No active rep with username “rep_south” in your teams."]
    manager_client.post(confirm_url("customers"))
    assert Customer.objects.count() == 0


def test_manager_cannot_update_another_teams_customer(manager_client, rep, other_rep):
    CustomerFactory(code="S-1", name="Sud", city="Marseille", owner=other_rep)
    before = snapshot()
    text = "code,name,city,owner\nS-1,Mine now,Lyon,rep_north\n"

    response = preview(manager_client, "customers", csv_file(text))

    assert errors_of(response) == [
        "Row 2, field code: The code “S-1” is already used by a customer you may not change."
    ]
    manager_client.post(confirm_url("customers"))
    assert snapshot() == before


def test_manager_must_give_an_owner_of_their_teams(manager_client, rep):
    response = preview(manager_client, "customers", csv_file("code,name\nN-1,Martin\n"))

    assert errors_of(response) == [
        "Row 2, field owner: Give the username of one of the reps of your teams: the customer must be theirs."
    ]


def test_admin_imports_for_anyone_and_unowned(client, admin_user, other_rep):
    client.force_login(admin_user)
    preview(client, "customers", csv_file("code,name,owner\nS-1,Sud,rep_south\nU-1,Nobody's,\n"))

    client.post(confirm_url("customers"))

    assert dict(Customer.objects.values_list("code", "owner__username")) == {"S-1": "rep_south", "U-1": None}


@pytest.mark.parametrize("name", ["crm:import_upload", "crm:import_template"])
def test_rep_gets_404_on_the_import_pages(client, rep, name):
    client.force_login(rep)

    assert client.get(reverse(name, args=["customers"])).status_code == 404
    assert client.post(upload_url("customers"), {"file": csv_file("code\nN-1\n")}).status_code == 404
    assert client.post(confirm_url("customers")).status_code == 404


def test_unknown_kind_is_404(manager_client):
    assert manager_client.get(upload_url("visits")).status_code == 404


def test_template_lists_the_importable_columns(manager_client):
    response = manager_client.get(reverse("crm:import_template", args=["customers"]))

    header = streamed(response).decode("utf-8-sig").strip()
    assert header == (
        "code,name,tier,segment,address,city,country,latitude,longitude,owner,parent,annual_value,employees,"
        "visit_cadence_days,status"
    )


def test_upload_page_answers_and_links_from_the_list(manager_client):
    page = manager_client.get(upload_url("customers"))
    listing = manager_client.get(reverse("crm:customer_list")).content.decode()

    assert page.status_code == 200
    assert upload_url("customers") in listing
    assert upload_url("contacts") in listing


def test_export_links_carry_the_list_filters_but_not_the_page(manager_client):
    listing = manager_client.get(reverse("crm:customer_list") + "?tier=A&page=2").content.decode()

    assert f'href="{reverse("crm:customer_export", args=["xlsx"])}?tier=A"' in listing
    assert f'href="{reverse("crm:contact_export", args=["csv"])}?tier=A"' in listing


def test_rep_list_has_exports_but_no_import(client, rep):
    client.force_login(rep)
    listing = client.get(reverse("crm:customer_list")).content.decode()

    assert reverse("crm:customer_export", args=["csv"]) in listing
    assert upload_url("customers") not in listing


# --- the file itself ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        (
            "c.csv",
            "code,name\nN-1,Caf\xe9\n".encode("latin-1"),
            "The file is not UTF-8 text (first unreadable character on row 2).",
        ),
        ("c.csv", b"", "The submitted file is empty."),
        ("c.csv", b"\n\ncode\nN-1\n", "Row 1 is blank: the first row must name the columns."),
        ("c.csv", b"code,name\n", "The file has a header but no rows to import."),
        ("c.csv", b"code,name,code\nN-1,a,b\n", "The column “code” appears twice (columns 1 and 3)."),
        ("c.csv", b"code,name\nN-1,a,extra\n", "Row 2 has values beyond the last named column"),
        ("c.xlsx", b"not a zip", "This .xlsx file is not an Excel workbook, or it is damaged."),
        ("c.txt", b"code\nN-1\n", "Upload a .csv or an .xlsx file (this one is “c.txt”)."),
    ],
)
def test_unreadable_files_are_refused_with_the_reason(manager_client, name, data, message):
    response = manager_client.post(upload_url("customers"), {"file": SimpleUploadedFile(name, data)})

    assert response.context["report"] is None
    assert message in " ".join(response.context["form"].errors["file"])


def test_a_workbook_with_a_damaged_sheet_is_refused():
    good = xlsx_file([["code"], ["N-1"]]).read()
    damaged = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(good)) as source, zipfile.ZipFile(damaged, "w") as target:
        for item in source.infolist():
            data = source.read(item.filename)
            target.writestr(item, b"<worksheet><sheetData><row" if item.filename.endswith("sheet1.xml") else data)

    with pytest.raises(TableError, match="not an Excel workbook, or it is damaged"):
        read_table(damaged.getvalue(), name="c.xlsx")


def test_missing_key_column_is_a_file_error(manager_client):
    response = preview(manager_client, "customers", csv_file("name,city\nMartin,Lyon\n"))

    assert errors_of(response) == ["The column “code” is missing: row 1 must name it."]


def test_semicolon_separated_and_unknown_columns(manager_client, rep):
    response = preview(manager_client, "customers", csv_file("code;name;owner;colour\nN-1;Martin;rep_north;blue\n"))

    assert errors_of(response) == []
    assert response.context["report"].ignored_columns == ["colour"]


def test_row_and_size_limits():
    header = "code\n"
    with pytest.raises(TableError, match=f"more than {MAX_ROWS} rows"):
        read_table((header + "N\n" * (MAX_ROWS + 1)).encode(), name="c.csv")
    with pytest.raises(TableError, match="the limit is 5 MB"):
        read_table(b"x" * (5 * 1024 * 1024 + 1), name="c.csv")


# --- contacts ------------------------------------------------------------------------------------


def test_contacts_by_customer_code_primary_replaces_the_previous_one(manager_client, rep):
    customer = CustomerFactory(code="N-1", owner=rep)
    old = ContactFactory(customer=customer, name="Anne Old", is_primary=True)
    text = "customer,name,title,email,phone,is_primary\nN-1,Bea New,Buyer,bea@example.com,+33 1 23 45 67 89,yes\n"

    response = preview(manager_client, "contacts", csv_file(text, "contacts.csv"))

    assert statuses(response) == [(2, "new")]
    assert response.context["report"].rows[0].notes == ["Anne Old is no longer the primary contact of N-1."]
    manager_client.post(confirm_url("contacts"))
    old.refresh_from_db()
    new = Contact.objects.get(name="Bea New")
    assert (new.customer, new.title, new.phone, new.is_primary, old.is_primary) == (
        customer,
        "Buyer",
        "+33 1 23 45 67 89",
        True,
        False,
    )


def test_contacts_of_another_teams_customer_read_as_not_found(manager_client, rep, other_rep):
    CustomerFactory(code="S-1", owner=other_rep)
    text = "customer,name\nS-1,Spy\nZZZ,Ghost\n"

    response = preview(manager_client, "contacts", csv_file(text, "contacts.csv"))

    assert errors_of(response) == [
        "Row 2, field customer: No customer with code “S-1” among the customers you may see.",
        "Row 3, field customer: No customer with code “ZZZ” among the customers you may see.",
    ]


def test_contact_update_by_id_and_by_name(manager_client, rep, other_rep):
    customer = CustomerFactory(code="N-1", owner=rep)
    by_id = ContactFactory(customer=customer, name="Anne", phone="1")
    ContactFactory(customer=customer, name="Bea", phone="2")
    theirs = ContactFactory(customer=CustomerFactory(code="S-1", owner=other_rep), name="Spy")
    text = f"id,customer,name,phone\n{by_id.pk},N-1,Anne,11\n,N-1,bea,22\n{theirs.pk},S-1,Spy,0\n"

    response = preview(manager_client, "contacts", csv_file(text, "contacts.csv"))

    assert errors_of(response) == [f"Row 4, field id: No contact with id {theirs.pk} among the contacts you may see."]
    response = preview(manager_client, "contacts", csv_file(text.rsplit("\n", 2)[0] + "\n", "contacts.csv"))
    assert statuses(response) == [(2, "update"), (3, "update")]
    manager_client.post(confirm_url("contacts"))
    assert sorted(Contact.objects.filter(customer=customer).values_list("name", "phone")) == [
        ("Anne", "11"),
        ("bea", "22"),
    ]


def test_two_primary_contacts_for_one_customer_in_a_file(manager_client, rep):
    CustomerFactory(code="N-1", owner=rep)
    text = "customer,name,is_primary\nN-1,Anne,1\nN-1,Bea,1\nN-1,Carl,maybe\n"

    response = preview(manager_client, "contacts", csv_file(text, "contacts.csv"))

    assert errors_of(response) == [
        "Row 3, field is_primary: Row 2 of this file already makes another contact of N-1 primary.",
        "Row 4, field is_primary: “maybe” is not yes or no: write 1 or 0.",
    ]


# --- exports -------------------------------------------------------------------------------------


@pytest.fixture
def book(rep, teammate, other_rep):
    return {
        "a": CustomerFactory(code="N-1", name="Alpha", tier="A", owner=rep),
        "b": CustomerFactory(code="N-2", name="Bravo", tier="B", owner=teammate),
        "s": CustomerFactory(code="S-1", name="Sierra", tier="A", owner=other_rep),
    }


def test_manager_export_holds_their_teams_customers_only(manager_client, book):
    response = manager_client.get(reverse("crm:customer_export", args=["csv"]))

    rows = csv_rows(response)
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert 'attachment; filename="customers-' in response["Content-Disposition"]
    assert sorted(row["code"] for row in rows) == ["N-1", "N-2"]
    assert {row["team"] for row in rows} == {"North"}


def test_export_follows_the_list_filters(manager_client, book):
    response = manager_client.get(reverse("crm:customer_export", args=["csv"]) + "?tier=A&page=3")

    assert [row["code"] for row in csv_rows(response)] == ["N-1"]


def test_rep_export_holds_their_own(client, rep, book):
    client.force_login(rep)

    assert [row["code"] for row in csv_rows(client.get(reverse("crm:customer_export", args=["csv"])))] == ["N-1"]


def test_xlsx_export(manager_client, book):
    response = manager_client.get(reverse("crm:customer_export", args=["xlsx"]))

    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:3] == ("code", "name", "tier")
    assert sorted(row[0] for row in rows[1:]) == ["N-1", "N-2"]
    assert rows[1][12] == 10000  # annual_value is a number cell


def test_contact_export_is_scoped_like_the_customers(manager_client, book):
    ContactFactory(customer=book["a"], name="Anne")
    ContactFactory(customer=book["s"], name="Spy")

    rows = csv_rows(manager_client.get(reverse("crm:contact_export", args=["csv"])))

    assert [(row["customer"], row["name"]) for row in rows] == [("N-1", "Anne")]


def test_unknown_export_format_is_404(manager_client):
    assert manager_client.get(reverse("crm:customer_export", args=["pdf"])).status_code == 404


def test_export_query_count_does_not_grow_with_rows(manager_client, rep, django_assert_max_num_queries):
    for n in range(30):
        ContactFactory(customer=CustomerFactory(code=f"N-{n}", owner=rep))

    # session, user, groups, the filter's segments, the rows (owner, team, parent joined)
    with django_assert_max_num_queries(5):
        customers = streamed(manager_client.get(reverse("crm:customer_export", args=["csv"])))
    with django_assert_max_num_queries(5):
        contacts = streamed(manager_client.get(reverse("crm:contact_export", args=["xlsx"])))

    assert customers.count(b"\n") == 31
    assert len(list(openpyxl.load_workbook(io.BytesIO(contacts)).active.iter_rows())) == 31


def test_export_then_import_changes_nothing_and_formulas_stay_text(manager_client, rep):
    CustomerFactory(code="N-1", name='=HYPERLINK("http://evil")', owner=rep, latitude=-12.5, parent=None)
    CustomerFactory(code="N-2", name="Plain", owner=rep, parent=Customer.objects.get(code="N-1"))
    exported = streamed(manager_client.get(reverse("crm:customer_export", args=["csv"])))
    assert "'=HYPERLINK" in exported.decode("utf-8-sig")  # a spreadsheet shows it as text
    xlsx = manager_client.get(reverse("crm:customer_export", args=["xlsx"])).content
    cell = openpyxl.load_workbook(io.BytesIO(xlsx)).active["B2"]
    assert (cell.value, cell.data_type) == ('=HYPERLINK("http://evil")', "s")

    for upload in (SimpleUploadedFile("back.csv", exported), SimpleUploadedFile("back.xlsx", xlsx)):
        response = preview(manager_client, "customers", upload)
        assert errors_of(response) == []
        assert statuses(response) == [(2, "skip"), (3, "skip")]
        assert response.context["report"].export_only_columns == ["team"]


# --- the Django admin ------------------------------------------------------------------------------


def test_admin_import_page_answers_and_previews_in_scope(admin_client, other_rep):
    url = reverse("admin:crm_customer_import")

    assert admin_client.get(url).status_code == 200
    response = admin_client.post(
        url, {"format": "0", "resource": "0", "import_file": csv_file("Code,Name,Owner\nS-1,Sud,rep_south\n")}
    )
    assert response.status_code == 200
    assert "confirm_form" in response.context
    assert Customer.objects.count() == 0


def admin_preview(admin_client, text: str):
    response = admin_client.post(
        reverse("admin:crm_customer_import"), {"format": "0", "resource": "0", "import_file": csv_file(text)}
    )
    return response.context["confirm_form"].initial


def test_admin_confirm_imports_the_file(admin_client, rep):
    confirm = admin_preview(admin_client, "code,name,owner\nN-1,Martin,rep_north\nN-2,Petit,rep_north\n")

    admin_client.post(reverse("admin:crm_customer_process_import"), confirm)

    assert sorted(Customer.objects.values_list("code", "owner__username")) == [
        ("N-1", "rep_north"),
        ("N-2", "rep_north"),
    ]


def test_admin_confirm_after_the_data_changed_imports_nothing(admin_client, rep, teammate):
    confirm = admin_preview(admin_client, "code,name,owner\nN-1,Martin,rep_north\nN-2,Petit,rep_north_2\n")
    teammate.is_active = False  # between the preview and the confirmation
    teammate.save()

    response = admin_client.post(reverse("admin:crm_customer_process_import"), confirm, follow=True)

    assert "Nothing was imported: some rows are no longer valid" in response.content.decode()
    assert Customer.objects.count() == 0


def test_admin_import_as_a_staff_manager_is_scoped(client, manager, other_rep):
    manager.is_staff = True
    manager.save()
    manager.user_permissions.add(
        *Permission.objects.filter(codename__in=["add_customer", "view_customer", "change_customer"])
    )
    client.force_login(manager)

    response = client.post(
        reverse("admin:crm_customer_import"),
        {"format": "0", "resource": "0", "import_file": csv_file("code,name,owner\nS-1,Sud,rep_south\n")},
    )

    assert "confirm_form" not in response.context
    assert "No active rep with username “rep_south” in your teams." in response.content.decode()


def test_admin_export_downloads_xlsx_in_bounded_queries(admin_client, book, django_assert_max_num_queries):
    url = reverse("admin:crm_customer_export")
    assert admin_client.get(url).status_code == 200
    for n in range(20):
        CustomerFactory(code=f"X-{n:02d}", owner=book["a"].owner, parent=book["b"])

    with django_assert_max_num_queries(8):
        response = admin_client.post(url, {"format": "1", "resource": "0"})

    rows = list(openpyxl.load_workbook(io.BytesIO(response.content)).active.iter_rows(values_only=True))
    assert len(rows) == 1 + 23
    assert {row[10] for row in rows[1:] if row[0].startswith("X-")} == {"North"}  # the owner's team
