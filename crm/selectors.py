"""Reads of CRM data, always scoped to what the asking user may see."""

from datetime import datetime

from django.db.models import (
    BooleanField,
    Case,
    DateTimeField,
    Exists,
    ExpressionWrapper,
    F,
    Func,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)

from core.roles import scope_by_owner
from crm.models import Contact, Customer, Need, Team
from sales.models import Opportunity
from visits.models import Visit


def customer_list_for_user(*, user) -> QuerySet[Customer]:
    """Customers the user may see: a rep their own, a manager their teams', an admin all."""
    return scope_by_owner(Customer.objects.select_related("owner"), user, field="owner")


def customer_get_for_user(*, user, pk: int) -> Customer:
    """One customer within the user's scope; raises Customer.DoesNotExist otherwise (a 404)."""
    return customer_list_for_user(user=user).get(pk=pk)


def need_list_for_user(*, user) -> QuerySet[Need]:
    return scope_by_owner(Need.objects.select_related("customer"), user, field="customer__owner")


def team_list_for_user(*, user) -> QuerySet[Team]:
    """Teams a manager manages (all for an admin, the rep's own team for a rep)."""
    from core.roles import Role, user_role

    role = user_role(user)
    if role == Role.ADMIN:
        return Team.objects.all()
    if role == Role.MANAGER:
        return Team.objects.filter(managers=user)
    if role == Role.REP:
        return Team.objects.filter(members__user=user)
    return Team.objects.none()


# --- the customers list and the Customer 360 page -------------------------------------------


class _DaysBefore(Func):
    """`moment - days` whole days, in SQL: Django cannot multiply an interval by a column on SQLite."""

    arity = 2
    output_field = DateTimeField()

    def as_postgresql(self, compiler, connection, **extra_context):
        return self.as_sql(
            compiler, connection, template="(%(expressions)s)", arg_joiner=" - INTERVAL '1 day' * ", **extra_context
        )

    def as_sqlite(self, compiler, connection, **extra_context):
        # SQLite keeps datetimes as UTC text; datetime() answers in the same sortable format.
        return self.as_sql(
            compiler,
            connection,
            template="datetime(%(expressions)s || ' days')",
            arg_joiner=", '-' || ",
            **extra_context,
        )


def customer_list_with_activity(*, user, now: datetime) -> QuerySet[Customer]:
    """The user's customers with `last_visit_at`, `is_overdue` and `priority` (P) annotated in SQL.

    `last_visit_at` is the check-out of the latest completed visit (at or before `now`);
    `is_overdue` is true for an active customer with no completed visit checked out
    within its cadence, i.e. in [now - visit_cadence_days, now]; `priority` is the stored P (None
    when not scored). Ordered by priority, highest first, unscored last.
    """
    # Whole seconds, so PostgreSQL and SQLite (second precision in datetime()) draw the same line.
    moment = now.replace(microsecond=0)
    completed = Visit.objects.filter(customer=OuterRef("pk"), status=Visit.Status.COMPLETED, checked_out_at__lte=moment)
    latest_out = completed.order_by("-checked_out_at").values("checked_out_at")[:1]
    # One index probe per customer (customer, status, checked_out_at), not the latest visit twice.
    cutoff = _DaysBefore(Value(moment, output_field=DateTimeField()), OuterRef("visit_cadence_days"))
    visited_in_cadence = Exists(completed.filter(checked_out_at__gte=cutoff))
    return (
        customer_list_for_user(user=user)
        .annotate(
            last_visit_at=Subquery(latest_out, output_field=DateTimeField()),
            priority=F("score__p"),
            # Inactive customers are not due for visits (the planner leaves them out): never overdue.
            is_overdue=ExpressionWrapper(
                Q(status=Customer.Status.ACTIVE) & ~visited_in_cadence, output_field=BooleanField()
            ),
        )
        .order_by(F("priority").desc(nulls_last=True), "name", "pk")
    )


def customer_segments_for_user(*, user) -> list[str]:
    """The distinct non-empty segments of the user's customers, sorted (the segment filter's choices)."""
    return list(
        customer_list_for_user(user=user)
        .exclude(segment="")
        .order_by("segment")
        .values_list("segment", flat=True)
        .distinct()
    )


def customer_contacts(*, customer: Customer) -> QuerySet[Contact]:
    """Contacts of a customer the caller already got through the scoped selector; primary first."""
    return Contact.objects.filter(customer=customer).order_by("-is_primary", "name", "pk")


def customer_open_needs(*, customer: Customer) -> QuerySet[Need]:
    """Needs of the customer not met yet, newest first."""
    return Need.objects.filter(customer=customer, satisfied=False).order_by("-raised_at", "-pk")


def customer_visit_history(*, customer: Customer, limit: int = 20) -> list[Visit]:
    """The customer's latest `limit` visits (by planned start, whoever the rep), in one query."""
    return list(Visit.objects.filter(customer=customer).select_related("rep").order_by("-planned_start", "-pk")[:limit])


def customer_opportunities(*, customer: Customer, limit: int = 50) -> list[Opportunity]:
    """The customer's opportunities, open ones first, then newest; with stage and product in one query."""
    closed = Q(stage__is_won=True) | Q(stage__is_lost=True)
    return list(
        Opportunity.objects.filter(customer=customer)
        .select_related("stage", "product")
        .annotate(is_closed=Case(When(closed, then=Value(True)), default=Value(False), output_field=BooleanField()))
        .order_by("is_closed", "-opened_at", "-pk")[:limit]
    )
