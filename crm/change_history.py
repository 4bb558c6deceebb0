"""The customer page's audit trail: who changed the customer, its visits and its opportunities, what and when.

Read from the history tables of `core.audit`: the newest changes of each of the three
in one query per table, together with the record just before each (the state a change
is compared with), then diffed in Python. Related objects (owner, rep, stage, product)
are joined in the same queries, so the page costs three queries however long the list.
"""

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from django.db.models import ForeignKey, Model, OuterRef, Q, Subquery
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from crm.models import Customer
from sales.models import Opportunity
from visits.models import Visit

HISTORY_LIMIT = 50
# Machine-set or derived columns: a diff of them tells a manager nothing.
HIDDEN_FIELDS = {
    "customer": {"latitude", "longitude"},
    "visit": {
        "plan_run",
        "priority",
        "plan_reason",
        "check_in_latitude",
        "check_in_longitude",
        "check_out_latitude",
        "check_out_longitude",
    },
    "opportunity": set(),
}
KIND_LABELS = {"+": gettext_lazy("created"), "~": gettext_lazy("changed"), "-": gettext_lazy("deleted")}


@dataclass(frozen=True)
class FieldChange:
    label: str
    old: str
    new: str


@dataclass
class ChangeEntry:
    at: datetime
    user: object  # the user who made the change; None for the system (tasks, commands)
    kind: str  # "+" created, "~" changed, "-" deleted
    subject_type: str  # "customer", "visit" or "opportunity"
    subject: str
    changes: list[FieldChange] = field(default_factory=list)
    # A change whose earlier state was never recorded: the object came from a bulk machine write.
    earlier_unknown: bool = False

    @property
    def kind_label(self) -> str:
        return str(KIND_LABELS[self.kind])


@dataclass(frozen=True)
class _Source:
    subject_type: str
    model: type[Model]
    scope_field: str  # the history column that names the customer
    related: tuple[str, ...]  # foreign keys joined to label them


SOURCES = (
    _Source("customer", Customer, "id", ("owner", "parent")),
    _Source("visit", Visit, "customer_id", ("rep", "customer")),
    _Source("opportunity", Opportunity, "customer_id", ("owner", "product", "stage", "customer")),
)


def _history_rows(source: _Source, *, customer_id: int, limit: int) -> tuple[list, dict[int, Model]]:
    """The source's newest `limit` records about the customer, and the record before each, in one query.

    Returns the newest records (newest first) and every fetched record by history id.
    """
    history = source.model.history.model
    ordering = ("-history_date", "-history_id")
    newest_ids = history.objects.filter(**{source.scope_field: customer_id}).order_by(*ordering).values("history_id")
    earlier = (
        history.objects.filter(id=OuterRef("id"))
        .filter(
            Q(history_date__lt=OuterRef("history_date"))
            | Q(history_date=OuterRef("history_date"), history_id__lt=OuterRef("history_id"))
        )
        .order_by(*ordering)
        .values("history_id")[:1]
    )
    previous_ids = history.objects.filter(history_id__in=newest_ids[:limit]).annotate(previous=Subquery(earlier))
    # A UNION ALL, not an OR of the two IN lists: each half is an index lookup (an OR would scan the table).
    select = ("history_user", *source.related)
    rows = list(
        history.objects.filter(history_id__in=newest_ids[:limit])
        .select_related(*select)
        .order_by()  # the members of a UNION carry no ORDER BY (SQLite refuses it); sorted below
        .union(
            history.objects.filter(history_id__in=previous_ids.values("previous")).select_related(*select).order_by(),
            all=True,  # a record in both halves comes twice: by_id below keeps one
        )
    )
    by_id = {row.history_id: row for row in rows}
    newest = sorted(
        (row for row in by_id.values() if getattr(row, source.scope_field) == customer_id),
        key=lambda row: (row.history_date, row.history_id),
        reverse=True,
    )[:limit]
    return newest, by_id


def _key(row) -> tuple:
    return (row.history_date, row.history_id)


def _previous_records(rows) -> dict[int, object]:
    """history id -> the record of the same object just before it, among `rows`."""
    by_object: dict[int, list] = {}
    for row in sorted(rows, key=_key):
        by_object.setdefault(row.id, []).append(row)
    previous = {}
    for chain in by_object.values():
        for older, newer in zip(chain, chain[1:], strict=False):
            previous[newer.history_id] = older
    return previous


def _display(row, model: type[Model], name: str) -> str:
    """A history record's value of field `name`, as a person reads it."""
    model_field = model._meta.get_field(name)
    if isinstance(model_field, ForeignKey):
        related = getattr(row, name)
        if related is not None:
            return str(related)
        pk = getattr(row, model_field.attname)
        return "—" if pk is None else _("#%(pk)s (deleted)") % {"pk": pk}
    value = getattr(row, name)
    if value is None or value == "":
        return "—"
    if model_field.choices:
        return str(dict(model_field.flatchoices).get(value, value))
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, datetime):
        return formats.date_format(timezone.localtime(value), "SHORT_DATETIME_FORMAT")
    if isinstance(value, date):
        return formats.date_format(value, "SHORT_DATE_FORMAT")
    if isinstance(value, (Decimal, float)):
        return formats.localize(value)
    return str(value)


def _subject(source: _Source, row) -> str:
    if source.subject_type == "customer":
        return _("Customer")
    if source.subject_type == "visit":
        when = formats.date_format(timezone.localtime(row.planned_start), "SHORT_DATETIME_FORMAT")
        return _("Visit of %(when)s") % {"when": when}
    return _("Opportunity: %(product)s") % {"product": row.product or "—"}


def _entry(source: _Source, row, previous) -> ChangeEntry:
    entry = ChangeEntry(
        at=row.history_date,
        user=row.history_user,
        kind=row.history_type,
        subject_type=source.subject_type,
        subject=_subject(source, row),
    )
    if row.history_type != "~":
        return entry
    if previous is None:
        entry.earlier_unknown = True
        return entry
    delta = row.diff_against(previous, excluded_fields=HIDDEN_FIELDS[source.subject_type])
    # In the form's order, not diff_against's alphabetical one.
    order = {f.name: i for i, f in enumerate(source.model._meta.fields)}
    for change in sorted(delta.changes, key=lambda change: order.get(change.field, len(order))):
        entry.changes.append(
            FieldChange(
                label=str(source.model._meta.get_field(change.field).verbose_name),
                old=_display(previous, source.model, change.field),
                new=_display(row, source.model, change.field),
            )
        )
    return entry


def customer_change_history(*, customer: Customer, limit: int = HISTORY_LIMIT) -> list[ChangeEntry]:
    """The changes among the latest `limit` records of the customer, its visits and its opportunities, newest first.

    Three queries. Only what went through `save()`/`delete()` is there (see `core.audit`):
    people's changes in forms, the admin and the API; not bulk machine writes.
    """
    candidates = []
    for source in SOURCES:
        newest, by_id = _history_rows(source, customer_id=customer.pk, limit=limit)
        previous = _previous_records(by_id.values())
        candidates.extend((row, source, previous.get(row.history_id)) for row in newest)
    candidates.sort(key=lambda item: (item[0].history_date, item[0].history_id), reverse=True)
    entries = [_entry(source, row, earlier) for row, source, earlier in candidates[:limit]]
    # A save that changed nothing a person reads (a form saved as it was, a hidden column) is left out.
    return [entry for entry in entries if entry.kind != "~" or entry.changes or entry.earlier_unknown]
