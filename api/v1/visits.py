"""Visits (check-in, report, check-out, move, confirm, cancel, manual booking) and follow-ups.

Reads go through `visits.selectors`, writes through the services the pages call
(`visits.execution`, `visits.scheduling`), so the API refuses exactly what the pages refuse,
with the same messages; serializers only parse the JSON.
"""

import django_filters
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import F
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from api.errors import django_validation_error_detail
from api.v1.fields import IdFilter, MomentField, MomentFilter, ScopedPrimaryKeyField
from api.v1.viewsets import ScopedViewSet
from crm.selectors import customer_list_for_user
from visits import scheduling
from visits.execution import (
    follow_up_mark_done,
    follow_up_reopen,
    visit_check_in,
    visit_check_out,
    visit_report_file,
    visit_report_file_and_check_out,
)
from visits.forms import MAX_ROWS, NeedRowForm
from visits.forms_planning import MINUTES_MAX, MINUTES_MIN
from visits.models import FollowUp, Visit
from visits.selectors import follow_up_list_for_user, visit_list_for_user, visit_rep_choices_for_user
from visits.views_planning import FIELD_OF_CODE

NEED_MAX = NeedRowForm.base_fields["description"].max_length
TITLE_MAX = FollowUp._meta.get_field("title").max_length


def _person(user) -> str:
    return user.get_full_name() or user.get_username()


class VisitSerializer(serializers.ModelSerializer):
    customer_name = serializers.CharField(source="customer.name", read_only=True)
    rep_name = serializers.SerializerMethodField()
    # Blank until there is a check-in / a report: read-only model fields would lose their blank choice.
    check_in_result = serializers.ChoiceField(choices=Visit.CheckInResult.choices, allow_blank=True, read_only=True)
    outcome = serializers.ChoiceField(choices=Visit.Outcome.choices, allow_blank=True, read_only=True)

    class Meta:
        model = Visit
        fields = [
            "id",
            "customer",
            "customer_name",
            "rep",
            "rep_name",
            "planned_start",
            "planned_minutes",
            "status",
            "origin",
            "goal",
            "agenda",
            "priority",
            "plan_reason",
            "checked_in_at",
            "check_in_latitude",
            "check_in_longitude",
            "check_in_result",
            "check_in_distance_m",
            "checked_out_at",
            "check_out_latitude",
            "check_out_longitude",
            "outcome",
            "report",
            "next_step",
            "report_filed_at",
            "actual_satisfaction",
            "expected_satisfaction",
            "needs_raised",
            "needs_satisfied",
            "cancelled_at",
            "cancel_reason",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_rep_name(self, visit: Visit) -> str:
        return _person(visit.rep)


class VisitCreateSerializer(serializers.Serializer):
    """A manual visit, as the calendar's "Add a visit" form takes it."""

    rep = ScopedPrimaryKeyField(
        choices=lambda user: visit_rep_choices_for_user(user=user),
        required=False,
        help_text=_("The visiting rep: yourself (the default) or, for a manager, a rep of their teams."),
        error_messages={"does_not_exist": _("Pick a rep of yours.")},
    )
    customer = ScopedPrimaryKeyField(
        choices=lambda user: customer_list_for_user(user=user),
        help_text=_("A customer you may see, and one of the visiting rep's."),
        error_messages={"does_not_exist": _("Pick one of your customers.")},
    )
    start = MomentField(help_text=_("ISO 8601; without an offset it is in the company's time zone."))
    minutes = serializers.IntegerField(min_value=MINUTES_MIN, max_value=MINUTES_MAX, default=45)
    goal = serializers.CharField(max_length=scheduling.GOAL_MAX, allow_blank=True, default="", trim_whitespace=True)


class PositionSerializer(serializers.Serializer):
    """Where the rep is, when the device knows: both coordinates, or neither."""

    latitude = serializers.FloatField(required=False, allow_null=True, min_value=-90, max_value=90, default=None)
    longitude = serializers.FloatField(required=False, allow_null=True, min_value=-180, max_value=180, default=None)

    def validate(self, attrs):
        if (attrs.get("latitude") is None) != (attrs.get("longitude") is None):
            raise serializers.ValidationError(_("Send both latitude and longitude, or neither."), code="half_position")
        return attrs


class NeedInputSerializer(serializers.Serializer):
    description = serializers.CharField(max_length=NEED_MAX)
    satisfied = serializers.BooleanField(default=False, help_text=_("Met during the visit."))


class FollowUpInputSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=TITLE_MAX)
    due_date = serializers.DateField()


class VisitReportSerializer(PositionSerializer):
    """The visit report; the position is the check-out's when `check_out` is true."""

    outcome = serializers.ChoiceField(choices=Visit.Outcome.choices)
    notes = serializers.CharField(allow_blank=True, default="", help_text=_("Required unless the customer was absent."))
    actual_satisfaction = serializers.IntegerField(
        min_value=1, max_value=5, allow_null=True, default=None, help_text=_("1 to 5; required unless absent.")
    )
    expected_satisfaction = serializers.IntegerField(
        min_value=1, max_value=5, allow_null=True, default=None, help_text=_("1 to 5; required unless absent.")
    )
    next_step = serializers.CharField(allow_blank=True, default="")
    needs = NeedInputSerializer(many=True, default=list, max_length=MAX_ROWS)
    follow_ups = FollowUpInputSerializer(many=True, default=list, max_length=MAX_ROWS)
    check_out = serializers.BooleanField(
        default=True, help_text=_("Also check out now (when the visit is checked in), in the same transaction.")
    )

    def report_data(self) -> dict:
        """The mapping `visits.execution.visit_report_file` takes."""
        data = self.validated_data
        return {
            "outcome": data["outcome"],
            "notes": data["notes"],
            "actual_satisfaction": data["actual_satisfaction"],
            "expected_satisfaction": data["expected_satisfaction"],
            "next_step": data["next_step"],
            "needs": [(row["description"], row["satisfied"]) for row in data["needs"]],
            "follow_ups": [(row["title"], row["due_date"]) for row in data["follow_ups"]],
        }


class VisitMoveSerializer(serializers.Serializer):
    start = MomentField(help_text=_("The new start; the visit keeps its length and becomes confirmed."))


class VisitCancelSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=scheduling.REASON_MAX)


class VisitFilter(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=Visit.Status.choices, label=_("Status (repeat for several)"))
    origin = django_filters.ChoiceFilter(choices=Visit.Origin.choices)
    rep = IdFilter(field_name="rep_id", label=_("Visiting rep id"))
    customer = IdFilter(field_name="customer_id", label=_("Customer id"))
    planned_after = MomentFilter(field_name="planned_start", lookup_expr="gte", label=_("Planned start at or after"))
    planned_before = MomentFilter(field_name="planned_start", lookup_expr="lt", label=_("Planned start before"))

    class Meta:
        model = Visit
        fields = ["status", "origin", "rep", "customer", "planned_after", "planned_before"]


def _refused(error: DjangoValidationError) -> serializers.ValidationError:
    """A service's refusal, on the field it concerns (by the same code-to-field map as the pages)."""
    return serializers.ValidationError(django_validation_error_detail(error, field_of_code=FIELD_OF_CODE))


def _action_schema(summary, description, request=None, responses=VisitSerializer):
    return extend_schema(summary=summary, description=description, request=request, responses=responses)


@extend_schema_view(
    list=extend_schema(
        summary=_("Visits you may see"),
        description=_("A rep's own visits, a manager's teams', all for an admin; latest planned start first."),
    ),
    retrieve=extend_schema(summary=_("One visit")),
    create=extend_schema(
        summary=_("Book a manual visit"),
        description=_(
            "Checked like the calendar's form: not in the past, on a working day, within working hours, "
            "clear of lunch and of the rep's other visits. The visit is confirmed: the planner keeps it."
        ),
        request=VisitCreateSerializer,
        responses={201: VisitSerializer},
    ),
)
class VisitViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, ScopedViewSet):
    serializer_class = VisitSerializer
    filterset_class = VisitFilter
    queryset = Visit.objects.none()

    def get_queryset(self):
        return visit_list_for_user(user=self.request.user).order_by("-planned_start", "-pk")

    def _parse(self, serializer_class, data=None):
        parsed = serializer_class(
            data=self.request.data if data is None else data, context=self.get_serializer_context()
        )
        parsed.is_valid(raise_exception=True)
        return parsed

    def _visit_response(self, visit: Visit, status_code=status.HTTP_200_OK) -> Response:
        fresh = self.get_queryset().get(pk=visit.pk)  # with its customer and rep, in one query
        return Response(VisitSerializer(fresh, context=self.get_serializer_context()).data, status=status_code)

    def create(self, request, *args, **kwargs):
        data = self._parse(VisitCreateSerializer).validated_data
        try:
            visit = scheduling.visit_create_manual(
                rep=data.get("rep") or request.user,
                customer=data["customer"],
                start=data["start"],
                minutes=data["minutes"],
                goal=data["goal"],
                by=request.user,
            )
        except DjangoValidationError as error:
            raise _refused(error) from None
        return self._visit_response(visit, status.HTTP_201_CREATED)

    @_action_schema(
        _("Check in"),
        _(
            "Arrival, on the day the visit is planned for. With a position it is verified against the "
            "customer's coordinates (within CHECKIN_RADIUS_M metres), otherwise recorded as unverified."
        ),
        request=PositionSerializer,
    )
    @action(detail=True, methods=["post"], url_path="check-in")
    def check_in(self, request, pk=None):
        visit = self.get_object()
        position = self._parse(PositionSerializer).validated_data
        try:
            visit = visit_check_in(visit=visit, by=request.user, **position)
        except DjangoValidationError as error:
            raise _refused(error) from None
        return self._visit_response(visit)

    @_action_schema(
        _("Check out"),
        _("Departure of a checked-in visit: it becomes completed; its report may follow later, once."),
        request=PositionSerializer,
    )
    @action(detail=True, methods=["post"], url_path="check-out")
    def check_out(self, request, pk=None):
        visit = self.get_object()
        position = self._parse(PositionSerializer).validated_data
        try:
            visit = visit_check_out(visit=visit, by=request.user, **position)
        except DjangoValidationError as error:
            raise _refused(error) from None
        return self._visit_response(visit)

    @_action_schema(
        _("File the visit report"),
        _(
            "Once per visit, after the check-in: outcome, notes, satisfaction, the needs raised and the "
            "follow-up tasks (created for the visit's rep). With `check_out` (the default) a checked-in "
            "visit is checked out in the same transaction."
        ),
        request=VisitReportSerializer,
    )
    @action(detail=True, methods=["post"])
    def report(self, request, pk=None):
        visit = self.get_object()
        report = self._parse(VisitReportSerializer)
        data = report.validated_data
        try:
            if data["check_out"]:
                visit = visit_report_file_and_check_out(
                    visit=visit,
                    by=request.user,
                    data=report.report_data(),
                    latitude=data["latitude"],
                    longitude=data["longitude"],
                )
            else:
                visit = visit_report_file(visit=visit, by=request.user, data=report.report_data())
        except DjangoValidationError as error:
            raise _refused(error) from None
        return self._visit_response(visit)

    @_action_schema(
        _("Move a visit"),
        _("A planned or confirmed visit to a new start, checked like a manual booking; it becomes confirmed."),
        request=VisitMoveSerializer,
    )
    @action(detail=True, methods=["post"])
    def move(self, request, pk=None):
        visit = self.get_object()
        start = self._parse(VisitMoveSerializer).validated_data["start"]
        try:
            visit = scheduling.visit_move(visit=visit, start=start, by=request.user)
        except DjangoValidationError as error:
            raise _refused(error) from None
        return self._visit_response(visit)

    @_action_schema(_("Confirm a planned visit"), _("The planner keeps a confirmed visit where it is."))
    @action(detail=True, methods=["post"])
    def confirm(self, request, pk=None):
        visit = self.get_object()
        try:
            visit = scheduling.visit_confirm(visit=visit, by=request.user)
        except DjangoValidationError as error:
            raise _refused(error) from None
        return self._visit_response(visit)

    @_action_schema(
        _("Cancel a visit"),
        _("A planned or confirmed visit, with a reason; its slot becomes free."),
        request=VisitCancelSerializer,
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        visit = self.get_object()
        reason = self._parse(VisitCancelSerializer).validated_data["reason"]
        try:
            visit = scheduling.visit_cancel(visit=visit, reason=reason, by=request.user)
        except DjangoValidationError as error:
            raise _refused(error) from None
        return self._visit_response(visit)


class FollowUpSerializer(serializers.ModelSerializer):
    customer = serializers.IntegerField(source="visit.customer_id", read_only=True)
    customer_name = serializers.CharField(source="visit.customer.name", read_only=True)
    assignee_name = serializers.SerializerMethodField()
    is_done = serializers.SerializerMethodField()

    class Meta:
        model = FollowUp
        fields = [
            "id",
            "visit",
            "customer",
            "customer_name",
            "assignee",
            "assignee_name",
            "title",
            "due_date",
            "done_at",
            "is_done",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_assignee_name(self, follow_up: FollowUp) -> str:
        return _person(follow_up.assignee)

    def get_is_done(self, follow_up: FollowUp) -> bool:
        return follow_up.done_at is not None


class FollowUpFilter(django_filters.FilterSet):
    state = django_filters.ChoiceFilter(
        choices=(("open", _("open")), ("done", _("done"))), method="filter_state", label=_("Open or done")
    )
    assignee = IdFilter(field_name="assignee_id", label=_("Assignee id"))
    visit = IdFilter(field_name="visit_id", label=_("Visit id"))
    customer = IdFilter(field_name="visit__customer_id", label=_("Customer id"))
    due_after = django_filters.DateFilter(field_name="due_date", lookup_expr="gte", label=_("Due on or after"))
    due_before = django_filters.DateFilter(field_name="due_date", lookup_expr="lte", label=_("Due on or before"))

    class Meta:
        model = FollowUp
        fields = ["state", "assignee", "visit", "customer", "due_after", "due_before"]

    def filter_state(self, queryset, name, value):
        return queryset.filter(done_at__isnull=(value == "open"))


@extend_schema_view(
    list=extend_schema(
        summary=_("Follow-up tasks you may see"),
        description=_("Open ones first, then by due date."),
    ),
    retrieve=extend_schema(summary=_("One follow-up task")),
)
class FollowUpViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedViewSet):
    serializer_class = FollowUpSerializer
    filterset_class = FollowUpFilter
    queryset = FollowUp.objects.none()

    def get_queryset(self):
        return follow_up_list_for_user(user=self.request.user).order_by(
            F("done_at").asc(nulls_first=True), "due_date", "id"
        )

    def _changed(self, follow_up: FollowUp) -> Response:
        fresh = self.get_queryset().get(pk=follow_up.pk)
        return Response(FollowUpSerializer(fresh, context=self.get_serializer_context()).data)

    @extend_schema(summary=_("Mark done"), description=_("Done twice is done once."), request=None)
    @action(detail=True, methods=["post"])
    def done(self, request, pk=None):
        return self._changed(follow_up_mark_done(follow_up=self.get_object(), by=request.user))

    @extend_schema(summary=_("Reopen"), description=_("Undo a done."), request=None)
    @action(detail=True, methods=["post"])
    def reopen(self, request, pk=None):
        return self._changed(follow_up_reopen(follow_up=self.get_object(), by=request.user))
