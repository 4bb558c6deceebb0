"""Customers and their contacts: read through the pages' selectors; managers reassign customers."""

import django_filters
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import exceptions, mixins, serializers
from rest_framework.decorators import action
from rest_framework.response import Response

from api.permissions import IsManagerOrAdmin
from api.v1.fields import IdFilter, ScopedPrimaryKeyField
from api.v1.viewsets import ScopedViewSet
from core.roles import visible_rep_ids
from crm.filters import CustomerFilter
from crm.forms import active_reps
from crm.models import Contact, Customer
from crm.selectors import customer_list_for_user, customer_list_with_activity
from crm.services import customer_reassign


class CustomerSerializer(serializers.ModelSerializer):
    owner_name = serializers.SerializerMethodField(help_text=_("The owner rep's full name (or user name)."))
    last_visit_at = serializers.DateTimeField(
        read_only=True,
        allow_null=True,
        help_text=_("Check-out of the latest completed visit; null when never visited."),
    )
    is_overdue = serializers.BooleanField(
        read_only=True, help_text=_("Active and not visited within its visit cadence.")
    )
    priority = serializers.FloatField(
        read_only=True,
        allow_null=True,
        help_text=_("Visit priority P of the latest scoring run; null when not scored."),
    )

    class Meta:
        model = Customer
        fields = [
            "id",
            "code",
            "name",
            "tier",
            "segment",
            "status",
            "address",
            "city",
            "country",
            "latitude",
            "longitude",
            "owner",
            "owner_name",
            "parent",
            "annual_value",
            "employees",
            "visit_cadence_days",
            "last_visit_at",
            "is_overdue",
            "priority",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_owner_name(self, customer: Customer) -> str | None:
        owner = customer.owner
        return None if owner is None else owner.get_full_name() or owner.get_username()


class CustomerApiFilter(CustomerFilter):
    """The customers page's own filter (search, tier, segment, status, overdue, sort) for the API."""

    def __init__(self, data=None, queryset=None, *, request=None, prefix=None):
        super().__init__(data, queryset, request=request, prefix=prefix, user=request.user)


def _reassign_choices(user):
    """Active reps the user may hand customers to: a manager's teams', any for an admin."""
    reps = active_reps()
    rep_ids = visible_rep_ids(user)
    return reps if rep_ids is None else reps.filter(pk__in=rep_ids)


class CustomerReassignSerializer(serializers.Serializer):
    owner = ScopedPrimaryKeyField(
        choices=_reassign_choices,
        help_text=_("The new owner: an active rep (for a manager, one of their teams')."),
        error_messages={"does_not_exist": _("Pick an active rep of your teams.")},
    )


class CustomerReassignResultSerializer(serializers.Serializer):
    changed = serializers.IntegerField(help_text=_("How many customers changed owner (0 when already theirs)."))
    customer = CustomerSerializer()


@extend_schema_view(
    list=extend_schema(
        summary=_("Customers you may see"),
        description=_(
            "A rep's own customers, a manager's teams', every customer for an admin; by priority P, "
            "highest first, unless `sort` says otherwise."
        ),
    ),
    retrieve=extend_schema(summary=_("One customer")),
)
class CustomerViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedViewSet):
    serializer_class = CustomerSerializer
    filterset_class = CustomerApiFilter
    queryset = Customer.objects.none()  # the schema's model; requests use get_queryset

    def get_queryset(self):
        return customer_list_with_activity(user=self.request.user, now=timezone.now())

    @extend_schema(
        summary=_("Give the customer to another rep"),
        description=_(
            "Managers move customers between the reps of the teams they manage, admins between any reps. "
            "The customer's future planner visits nobody confirmed follow them; the rest stay."
        ),
        request=CustomerReassignSerializer,
        responses=CustomerReassignResultSerializer,
    )
    @action(detail=True, methods=["post"])
    def reassign(self, request, pk=None):
        customer = self.get_object()  # scope first: another rep's customer is 404 to everyone
        if not IsManagerOrAdmin().has_permission(request, self):
            raise exceptions.PermissionDenied(IsManagerOrAdmin.message)
        form = CustomerReassignSerializer(data=request.data, context=self.get_serializer_context())
        form.is_valid(raise_exception=True)
        try:
            changed = customer_reassign(
                customer_ids=[customer.pk], new_owner=form.validated_data["owner"], reassigned_by=request.user
            )
        except DjangoValidationError as error:
            raise serializers.ValidationError({"owner": error.messages}) from None
        customer = self.get_queryset().get(pk=customer.pk)
        result = {"changed": changed, "customer": customer}
        return Response(CustomerReassignResultSerializer(result, context=self.get_serializer_context()).data)


class ContactSerializer(serializers.ModelSerializer):
    class Meta:
        model = Contact
        fields = ["id", "customer", "name", "title", "email", "phone", "is_primary", "created_at", "updated_at"]
        read_only_fields = fields


class ContactFilter(django_filters.FilterSet):
    customer = IdFilter(field_name="customer_id", label=_("Customer id"))
    q = django_filters.CharFilter(method="search", label=_("Name, email or phone contains"))

    class Meta:
        model = Contact
        fields = ["customer", "q"]

    def search(self, queryset, name, value):
        term = value.strip()
        if not term:
            return queryset
        return queryset.filter(Q(name__icontains=term) | Q(email__icontains=term) | Q(phone__icontains=term))


@extend_schema_view(
    list=extend_schema(summary=_("Contacts of the customers you may see")),
    retrieve=extend_schema(summary=_("One contact")),
)
class ContactViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedViewSet):
    serializer_class = ContactSerializer
    filterset_class = ContactFilter
    queryset = Contact.objects.none()

    def get_queryset(self):
        # Scope is the customer's: the same selector as the customers list and page.
        visible = customer_list_for_user(user=self.request.user)
        return Contact.objects.filter(customer__in=visible).order_by("customer_id", "-is_primary", "name", "pk")
