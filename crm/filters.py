"""The customers list's search, filters and sort (django-filter), over `customer_list_with_activity`."""

import django_filters
from crispy_forms.bootstrap import StrictButton
from crispy_forms.helper import FormHelper
from crispy_forms.layout import HTML, Column, Layout, Row
from django import forms
from django.db.models import F, Q, QuerySet
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from crm.models import Customer
from crm.selectors import customer_segments_for_user

# Sort keys (the `sort` parameter) and their ORDER BY; each ends on name and pk so pages never overlap.
SORTS = {
    "priority": (F("priority").desc(nulls_last=True), "name", "pk"),
    # Longest since the last visit first; never visited comes before all.
    "last_visit": (F("last_visit_at").asc(nulls_first=True), "name", "pk"),
    "-last_visit": (F("last_visit_at").desc(nulls_last=True), "name", "pk"),
    "value": ("-annual_value", "name", "pk"),
    "name": ("name", "pk"),
}
SORT_CHOICES = (
    ("priority", _("Priority P")),
    ("last_visit", _("Last visit, oldest")),
    ("-last_visit", _("Last visit, newest")),
    ("value", _("Annual value")),
    ("name", _("Name")),
)
YES_NO = (("yes", _("Overdue only")), ("no", _("Not overdue")))


class CustomerFilter(django_filters.FilterSet):
    """One search box (name, code, city), tier, segment, status, overdue and the sort order."""

    q = django_filters.CharFilter(
        method="search",
        label=_("Search"),
        widget=forms.TextInput(attrs={"placeholder": _("Name, code or city"), "type": "search"}),
    )
    tier = django_filters.ChoiceFilter(choices=Customer.Tier.choices, label=_("Tier"), empty_label=_("All tiers"))
    segment = django_filters.ChoiceFilter(label=_("Segment"), empty_label=_("All segments"))
    status = django_filters.ChoiceFilter(
        choices=Customer.Status.choices, label=_("Status"), empty_label=_("Any status")
    )
    overdue = django_filters.ChoiceFilter(
        choices=YES_NO, method="filter_overdue", label=_("Overdue"), empty_label=_("Any")
    )
    sort = django_filters.ChoiceFilter(
        choices=SORT_CHOICES, method="sort_by", label=_("Sort by"), empty_label=None, null_label=None
    )

    class Meta:
        model = Customer
        fields = ["q", "tier", "segment", "status", "overdue", "sort"]

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.filters["segment"].extra["choices"] = [(s, s) for s in customer_segments_for_user(user=user)]
        for name, field in self.form.fields.items():
            field.widget.attrs.setdefault("id", f"customer-filter-{name}")
            field.widget.attrs.setdefault("data-testid", f"customer-filter-{name}")
        self.form.fields["sort"].required = False
        self.form.helper = filter_form_helper()

    def search(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        term = value.strip()
        if not term:
            return queryset
        return queryset.filter(Q(name__icontains=term) | Q(code__icontains=term) | Q(city__icontains=term))

    def filter_overdue(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(is_overdue=(value == "yes"))

    def sort_by(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.order_by(*SORTS[value])


def filter_form_helper() -> FormHelper:
    """A GET form on one row at 1280 px, two fields a row on a phone; no CSRF token in the URL."""
    helper = FormHelper()
    helper.form_method = "get"
    helper.form_id = "customer-filter"
    helper.form_class = "customer-filter"
    helper.disable_csrf = True
    helper.attrs = {"data-testid": "customer-filter", "role": "search"}
    helper.layout = Layout(
        Row(
            Column("q", css_class="col-12 col-lg-3"),
            Column("tier", css_class="col-6 col-md-4 col-lg-2"),
            Column("segment", css_class="col-6 col-md-4 col-lg-2"),
            Column("status", css_class="col-6 col-md-4 col-lg-1"),
            Column("overdue", css_class="col-6 col-md-4 col-lg-2"),
            Column("sort", css_class="col-12 col-md-4 col-lg-2"),
            css_class="g-2",
        ),
        Row(
            Column(
                StrictButton(_("Apply"), type="submit", css_class="btn-primary", css_id="customer-filter-apply"),
                HTML(
                    format_html(
                        '<a class="btn btn-outline-secondary ms-2" id="customer-filter-reset" href="{}">{}</a>',
                        reverse("crm:customer_list"),
                        gettext("Reset"),
                    )
                ),
                css_class="col-12",
            ),
            css_class="g-2",
        ),
    )
    return helper
