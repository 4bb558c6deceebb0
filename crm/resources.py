"""Customers and contacts as table rows: what the import pages, the list exports and the admin read and write.

Customers are keyed by their code; contacts by their id (from an export) or else by
their customer's code and their name. Owners are given by username, customers by
code; a manager may only name the reps of their teams and their teams' customers,
and may only change records those reps own. A reference outside the importing
user's scope reads exactly like one that does not exist ("not found or not yours").
"""

from decimal import Decimal

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils.translation import gettext as _
from import_export.fields import Field

from core.roles import Role
from core.transfer.resources import ScopedResource, chunked
from core.transfer.scope import ImportScope
from core.transfer.widgets import (
    BooleanWidget,
    ChoiceWidget,
    DecimalWidget,
    FloatWidget,
    IntegerWidget,
    LookupWidget,
    TextWidget,
)
from crm.models import Contact, Customer
from crm.services import customer_reassign

MONEY_MAX = Decimal("999999999999.99")  # DecimalField(max_digits=14, decimal_places=2)
CADENCE_MAX = 32767  # PositiveSmallIntegerField
EMPLOYEES_MAX = 2147483647  # PositiveIntegerField


class CustomerFinder:
    """Customers by code within a scope, cached; found only when the scope may see them."""

    def __init__(self, scope: ImportScope):
        self.scope = scope
        self.by_code: dict[str, Customer] = {}

    def preload(self, codes) -> None:
        wanted = sorted({code for code in codes if code} - set(self.by_code))
        for chunk in chunked(wanted):
            for customer in Customer.objects.filter(code__in=chunk).select_related("owner", "parent"):
                self.by_code[customer.code] = customer

    def find(self, code: str) -> Customer:
        customer = self.by_code.get(code)
        if customer is None:
            # Not preloaded: maybe created by an earlier row of this file.
            customer = Customer.objects.filter(code=code).select_related("owner").first()
            if customer is not None:
                self.by_code[code] = customer
        if customer is None or not self.scope.owns(customer.owner_id):
            raise ValueError(_("No customer with code “%(code)s” among the customers you may see.") % {"code": code})
        return customer


class RepFinder:
    """Active users by username within a scope (those in `groups`), cached."""

    def __init__(self, scope: ImportScope, *, groups: tuple[str, ...]):
        self.scope = scope
        self.groups = groups
        self.by_username: dict[str, object] = {}

    def find(self, username: str):
        user = self.by_username.get(username)
        if user is None:
            user = (
                get_user_model().objects.filter(username=username, is_active=True, groups__name__in=self.groups).first()
            )
        if user is None or not self.scope.owns(user.pk):
            if self.scope.limited:
                message = _("No active rep with username “%(name)s” in your teams.")
            else:
                message = _("No active rep with username “%(name)s”.")
            raise ValueError(message % {"name": username})
        self.by_username[username] = user
        return user


def text_cells(dataset, column: str) -> list[str]:
    if column not in (dataset.headers or []):
        return []
    widget = TextWidget()
    return [widget.clean(value) for value in dataset[column]]


class CustomerLookups(ScopedResource):
    """What every CRM/sales resource looks up: customers by code, reps by username."""

    owner_groups: tuple[str, ...] = (Role.REP.value,)

    def preload(self, dataset) -> None:
        self.customers = CustomerFinder(self.scope)
        self.reps = RepFinder(self.scope, groups=self.owner_groups)

    def find_customer(self, code: str) -> Customer:
        return self.customers.find(code)

    def find_owner(self, username: str):
        return self.reps.find(username)


class CustomerResource(CustomerLookups):
    code = Field(attribute="code", column_name="code", widget=TextWidget())
    name = Field(attribute="name", column_name="name", widget=TextWidget())
    tier = Field(
        attribute="tier", column_name="tier", widget=ChoiceWidget(Customer.Tier.choices), saves_null_values=False
    )
    segment = Field(attribute="segment", column_name="segment", widget=TextWidget())
    address = Field(attribute="address", column_name="address", widget=TextWidget())
    city = Field(attribute="city", column_name="city", widget=TextWidget())
    country = Field(attribute="country", column_name="country", widget=TextWidget())
    latitude = Field(attribute="latitude", column_name="latitude", widget=FloatWidget(min_value=-90, max_value=90))
    longitude = Field(attribute="longitude", column_name="longitude", widget=FloatWidget(min_value=-180, max_value=180))
    owner = Field(
        attribute="owner", column_name="owner", widget=LookupWidget(get_user_model(), "username", "find_owner")
    )
    team = Field(attribute="owner__rep_profile__team__name", column_name="team", widget=TextWidget(), readonly=True)
    parent = Field(attribute="parent", column_name="parent", widget=LookupWidget(Customer, "code", "find_customer"))
    annual_value = Field(
        attribute="annual_value",
        column_name="annual_value",
        widget=DecimalWidget(places=2, min_value=0, max_value=MONEY_MAX),
        saves_null_values=False,
    )
    employees = Field(
        attribute="employees", column_name="employees", widget=IntegerWidget(min_value=0, max_value=EMPLOYEES_MAX)
    )
    visit_cadence_days = Field(
        attribute="visit_cadence_days",
        column_name="visit_cadence_days",
        widget=IntegerWidget(min_value=1, max_value=CADENCE_MAX),
        saves_null_values=False,
    )
    status = Field(
        attribute="status",
        column_name="status",
        widget=ChoiceWidget(Customer.Status.choices),
        saves_null_values=False,
    )

    scope_perm = "crm.add_customer"
    required_columns = ("code",)
    export_related = ("owner__rep_profile__team", "parent")

    class Meta:
        model = Customer
        fields = (
            "code",
            "name",
            "tier",
            "segment",
            "address",
            "city",
            "country",
            "latitude",
            "longitude",
            "owner",
            "team",
            "parent",
            "annual_value",
            "employees",
            "visit_cadence_days",
            "status",
        )
        import_id_fields = ("code",)
        skip_unchanged = True
        report_skipped = True
        use_transactions = True
        clean_model_instances = True

    #: Columns explained on the import page: (name, what it holds).
    @staticmethod
    def column_help() -> list[tuple[str, str]]:
        return [
            ("code", _("Required. The customer's unique code: a row with a known code updates that customer.")),
            ("name", _("Required for a new customer.")),
            ("tier", _("A, B or C (empty: B for a new customer, unchanged otherwise).")),
            ("segment, address, city, country", _("Text.")),
            ("latitude, longitude", _("Decimal degrees, -90 to 90 and -180 to 180, with a dot (48.8566).")),
            ("owner", _("The username of the owner rep; a manager can name the reps of their teams.")),
            ("team", _("Export only: the owner's team, which follows from the owner.")),
            ("parent", _("The code of the parent company (an existing customer, or one earlier in the file).")),
            ("annual_value", _("A number of 0 or more, with a dot for decimals and no thousands separator.")),
            ("employees", _("A whole number of 0 or more.")),
            ("visit_cadence_days", _("Days between visits, 1 or more (empty: 30 for a new customer).")),
            ("status", _("active or inactive (empty: active for a new customer).")),
        ]

    def preload(self, dataset) -> None:
        super().preload(dataset)
        self.customers.preload(text_cells(dataset, "code") + text_cells(dataset, "parent"))

    def get_instance(self, instance_loader, row):
        code = self.fields["code"].clean(row) if "code" in row else ""
        if not code:
            raise ValidationError({"code": _("A value is required: the code says which customer the row is.")})
        self.claim_key("code", code)
        customer = self.customers.by_code.get(code)
        if customer is None:
            return None
        if not self.scope.owns(customer.owner_id):
            raise ValidationError(
                {"code": _("The code “%(code)s” is already used by a customer you may not change.") % {"code": code}}
            )
        return customer

    def after_init_instance(self, instance, new, row, **kwargs):
        self._owner_before = None if new else instance.owner_id

    def check_instance(self, instance, *, failed: set[str]) -> dict[str, str]:
        errors = {}
        if "owner" not in failed and not self.scope.owns(instance.owner_id):
            errors["owner"] = _("Give the username of one of the reps of your teams: the customer must be theirs.")
        if "parent" not in failed and instance.parent is not None and instance.parent.code == instance.code:
            errors["parent"] = _("A customer cannot be its own parent.")
        return errors

    def before_save_instance(self, instance, row, **kwargs):
        # A new owner takes the customer with its planned visits, as the reassign action does.
        if self._owner_before is not None and instance.owner_id not in (None, self._owner_before):
            try:
                customer_reassign(customer_ids=[instance.pk], new_owner=instance.owner, reassigned_by=self.user)
            except (PermissionDenied, ValidationError) as error:
                raise ValidationError({"owner": " ".join(getattr(error, "messages", [str(error)]))}) from None

    def describe_row(self, row) -> str:
        return " · ".join(str(value) for value in (self.cell(row, "code"), self.cell(row, "name")) if value)


class ContactResource(CustomerLookups):
    id = Field(attribute="id", column_name="id", widget=IntegerWidget(min_value=1), readonly=True)
    customer = Field(
        attribute="customer", column_name="customer", widget=LookupWidget(Customer, "code", "find_customer")
    )
    customer_name = Field(attribute="customer__name", column_name="customer_name", widget=TextWidget(), readonly=True)
    name = Field(attribute="name", column_name="name", widget=TextWidget())
    title = Field(attribute="title", column_name="title", widget=TextWidget())
    email = Field(attribute="email", column_name="email", widget=TextWidget())
    phone = Field(attribute="phone", column_name="phone", widget=TextWidget())
    is_primary = Field(
        attribute="is_primary", column_name="is_primary", widget=BooleanWidget(), saves_null_values=False
    )

    scope_perm = "crm.add_contact"
    key_only_columns = ("id",)
    export_related = ("customer",)

    class Meta:
        model = Contact
        fields = ("id", "customer", "customer_name", "name", "title", "email", "phone", "is_primary")
        import_id_fields = ["id"]  # the default: no "id" column required (get_instance decides)
        skip_unchanged = True
        report_skipped = True
        use_transactions = True
        clean_model_instances = True

    @staticmethod
    def column_help() -> list[tuple[str, str]]:
        return [
            ("id", _("From an export: says which contact to update. Empty for a new contact.")),
            (
                "customer",
                _(
                    "The customer's code. Without an id, the customer's contact of the same name is updated, "
                    "else a contact is added."
                ),
            ),
            ("customer_name", _("Export only.")),
            ("name", _("Required for a new contact.")),
            ("title", _("Job title.")),
            ("email, phone", _("Text; an email must be a valid address.")),
            ("is_primary", _("1 or 0. A primary contact replaces the customer's previous one.")),
        ]

    def required_for(self, headers) -> tuple[str, ...]:
        return () if "id" in headers else ("customer", "name")

    def preload(self, dataset) -> None:
        super().preload(dataset)
        codes = text_cells(dataset, "customer")
        self.customers.preload(codes)
        self.by_id: dict[int, Contact] = {}
        ids = []
        if "id" in (dataset.headers or []):
            for value in dataset["id"]:
                try:
                    ids.append(self.fields["id"].widget.clean(value))
                except ValueError:
                    continue  # the row itself reports it
        for chunk in chunked(sorted({pk for pk in ids if pk})):
            for contact in Contact.objects.filter(pk__in=chunk).select_related("customer"):
                self.by_id[contact.pk] = contact
        self.by_name: dict[tuple[int, str], list[Contact]] = {}
        listed = set(codes)
        seen_customers = [
            customer.pk
            for code, customer in self.customers.by_code.items()
            if code in listed and self.scope.owns(customer.owner_id)
        ]
        for chunk in chunked(seen_customers):
            for contact in Contact.objects.filter(customer_id__in=chunk).select_related("customer"):
                self.by_name.setdefault((contact.customer_id, contact.name.lower()), []).append(contact)
        self.primary_rows: dict[int, int] = {}

    def get_instance(self, instance_loader, row):
        if (pk_cell := self.cell(row, "id")) is not None:
            try:
                pk = self.fields["id"].widget.clean(pk_cell)
            except ValueError as error:
                raise ValidationError({"id": str(error)}) from None
            self.claim_key("id", pk)
            contact = self.by_id.get(pk)
            if contact is None or not self.scope.owns(contact.customer.owner_id):
                raise ValidationError(
                    {"id": _("No contact with id %(id)s among the contacts you may see.") % {"id": pk}}
                )
            self.claim_record("id", contact)
            return contact
        code, name = self.cell(row, "customer"), self.fields["name"].clean(row) if "name" in row else ""
        if code is None or not name:
            return None  # a new contact; validation names what is missing
        try:
            customer = self.fields["customer"].widget.clean(code)
        except ValueError as error:
            raise ValidationError({"customer": str(error)}) from None
        self.claim_key("name", (customer.pk, name.lower()), shown=f"{customer.code} · {name}")
        matches = self.by_name.get((customer.pk, name.lower()), [])
        if len(matches) > 1:
            raise ValidationError(
                {
                    "name": _(
                        "%(customer)s has %(n)d contacts named “%(name)s”: add the id column (from an export) "
                        "to say which one this row is."
                    )
                    % {"customer": customer.code, "n": len(matches), "name": name}
                }
            )
        if not matches:
            return None
        self.claim_record("name", matches[0])
        return matches[0]

    def check_instance(self, instance, *, failed: set[str]) -> dict[str, str]:
        if instance.is_primary and instance.customer_id and "customer" not in failed:
            first = self.primary_rows.setdefault(instance.customer_id, self.row_number)
            if first != self.row_number:
                return {
                    "is_primary": _("Row %(row)d of this file already makes another contact of %(customer)s primary.")
                    % {"row": self.line(first), "customer": instance.customer.code}
                }
        return {}

    def before_save_instance(self, instance, row, **kwargs):
        if not instance.is_primary:
            return
        previous = Contact.objects.filter(customer_id=instance.customer_id, is_primary=True).exclude(pk=instance.pk)
        for name in previous.values_list("name", flat=True):
            self.note(
                _("%(name)s is no longer the primary contact of %(customer)s.")
                % {"name": name, "customer": instance.customer.code}
            )
        previous.update(is_primary=False)

    def describe_row(self, row) -> str:
        parts = [self.cell(row, "customer"), self.cell(row, "name")]
        if (pk := self.cell(row, "id")) is not None:
            parts.insert(0, f"#{pk}")
        return " · ".join(str(part) for part in parts if part)
