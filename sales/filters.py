"""Filters of the opportunities list and the board (django-filter), over the scoped selectors."""

import django_filters
from django import forms
from django.db.models import F, Q, QuerySet
from django.utils.translation import gettext_lazy as _

from sales.models import Opportunity, Order, Product, Stage
from sales.selectors import owner_choices_for_user

# The `sort` parameter: a column key, "-" in front for descending; every order ends on pk so pages never overlap.
SORT_COLUMNS = {
    "customer": (F("customer__name"),),
    "product": (F("product__name"),),
    "amount": (F("amount"),),
    "probability": (F("chance"),),
    "stage": (F("stage__order"),),
    "owner": (F("owner__first_name"), F("owner__last_name"), F("owner__username")),
    "expected_close": (F("expected_close"),),
    "opened": (F("opened_at"),),
}
DEFAULT_SORT = "-opened"
SORT_CHOICES = [(key, key) for key in SORT_COLUMNS] + [(f"-{key}", f"-{key}") for key in SORT_COLUMNS]
STATUS_CHOICES = (("open", _("Open")), ("closed", _("Closed (won or lost)")))


def sort_order(value: str) -> list:
    """ORDER BY for a sort key; empty values sort last both ways."""
    key = value.lstrip("-")
    descending = value.startswith("-")
    columns = SORT_COLUMNS.get(key) or SORT_COLUMNS[DEFAULT_SORT.lstrip("-")]
    order = [column.desc(nulls_last=True) if descending else column.asc(nulls_last=True) for column in columns]
    return [*order, "-pk" if descending else "pk"]


class OwnerProductFilter(django_filters.FilterSet):
    """Owner (among the reps the user may see; a rep has no choice to make) and product."""

    owner = django_filters.ModelChoiceFilter(
        queryset=Opportunity.objects.none(), label=_("Owner"), empty_label=_("All visible reps")
    )
    product = django_filters.ModelChoiceFilter(
        queryset=Product.objects.order_by("name"), label=_("Product"), empty_label=_("All products")
    )

    class Meta:
        model = Opportunity
        fields = ["owner", "product"]

    def __init__(self, *args, user, show_owner: bool, prefix_id: str, **kwargs):
        super().__init__(*args, **kwargs)
        if show_owner:
            self.filters["owner"].queryset = owner_choices_for_user(user=user)
        else:
            del self.filters["owner"]
        for name, field in self.form.fields.items():
            field.widget.attrs.setdefault("id", f"{prefix_id}-{name}")
            field.widget.attrs.setdefault("data-testid", f"{prefix_id}-{name}")
            if isinstance(field.widget, forms.Select):
                field.widget.attrs.setdefault("class", "form-select form-select-sm")
            else:
                field.widget.attrs.setdefault("class", "form-control form-control-sm")


class BoardFilter(OwnerProductFilter):
    def __init__(self, *args, user, show_owner: bool, **kwargs):
        super().__init__(*args, user=user, show_owner=show_owner, prefix_id="board-filter", **kwargs)


class OpportunityFilter(OwnerProductFilter):
    """The list: customer search, stage, owner, product, open/closed, and the column sort."""

    q = django_filters.CharFilter(
        method="search",
        label=_("Customer"),
        widget=forms.TextInput(attrs={"placeholder": _("Customer name"), "type": "search"}),
    )
    stage = django_filters.ModelChoiceFilter(
        queryset=Stage.objects.order_by("order"), label=_("Stage"), empty_label=_("All stages")
    )
    status = django_filters.ChoiceFilter(
        choices=STATUS_CHOICES, method="filter_status", label=_("Open or closed"), empty_label=_("Open and closed")
    )
    sort = django_filters.ChoiceFilter(choices=SORT_CHOICES, method="sort_by", widget=forms.HiddenInput)

    class Meta:
        model = Opportunity
        fields = ["q", "stage", "owner", "product", "status", "sort"]

    def __init__(self, *args, user, show_owner: bool, **kwargs):
        super().__init__(*args, user=user, show_owner=show_owner, prefix_id="opportunity-filter", **kwargs)
        self.form.fields["sort"].required = False

    @property
    def qs(self) -> QuerySet:
        queryset = super().qs
        if not (self.form.is_valid() and self.form.cleaned_data.get("sort")):
            queryset = queryset.order_by(*sort_order(DEFAULT_SORT))
        return queryset

    def search(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        term = value.strip()
        return queryset.filter(customer__name__icontains=term) if term else queryset

    def filter_status(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        closed = Q(stage__is_won=True) | Q(stage__is_lost=True)
        return queryset.filter(closed) if value == "closed" else queryset.exclude(closed)

    def sort_by(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.order_by(*sort_order(value))


FULFILLED_CHOICES = (("no", _("Not fulfilled yet")), ("yes", _("Fulfilled")))


class OrderFilter(django_filters.FilterSet):
    fulfilled = django_filters.ChoiceFilter(
        choices=FULFILLED_CHOICES, method="filter_fulfilled", label=_("Fulfilment"), empty_label=_("All orders")
    )

    class Meta:
        model = Order
        fields = ["fulfilled"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        field = self.form.fields["fulfilled"]
        field.widget.attrs.update({"id": "order-filter-fulfilled", "class": "form-select form-select-sm"})

    def filter_fulfilled(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(fulfilled_at__isnull=value == "no")
