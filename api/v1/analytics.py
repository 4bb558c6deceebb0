"""Scores (read-only, with the customer page's explanation) and plan runs (read; managers start one)."""

import logging

import django_filters
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import exceptions, mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from analytics.models import CustomerScore, PlanRun
from analytics.runs import runs_expire_stale
from analytics.selectors import (
    customer_score_explained,
    plan_run_list_for_user,
    plan_run_live,
    plan_run_summary,
)
from analytics.tasks import nightly
from analytics.views import RECALCULATION_KINDS
from api.permissions import IsManagerOrAdmin
from api.v1.fields import IdFilter
from api.v1.viewsets import ScopedViewSet
from crm.models import Customer
from crm.selectors import customer_list_for_user

logger = logging.getLogger(__name__)


class ScoreSerializer(serializers.ModelSerializer):
    customer_name = serializers.CharField(source="customer.name", read_only=True)
    policy_version = serializers.IntegerField(source="policy.version", read_only=True)

    class Meta:
        model = CustomerScore
        fields = [
            "customer",
            "customer_name",
            "p",
            "t",
            "t1",
            "t2",
            "t3",
            "t4",
            "t5",
            "t6",
            "run",
            "policy_version",
            "computed_at",
        ]
        read_only_fields = fields


class ScoreLineSerializer(serializers.Serializer):
    key = serializers.ChoiceField(choices=["urgency", "value", "pipeline", "effort"])
    label = serializers.CharField()
    text = serializers.CharField()
    number = serializers.FloatField(allow_null=True)
    term = serializers.FloatField(
        allow_null=True, help_text=_("The input's weighted share of P (the three shares sum to P); null for effort.")
    )


class ScoreExplainedSerializer(ScoreSerializer):
    """A score with its inputs in words, as the Customer 360 page explains it."""

    booked_minutes = serializers.IntegerField(read_only=True, help_text=_("Minutes the planner books for T."))
    as_of = serializers.DateTimeField(read_only=True, help_text=_("The moment the scoring run scored at."))
    lines = ScoreLineSerializer(many=True, read_only=True)
    top_term = serializers.ChoiceField(choices=["value", "urgency", "pipeline"], allow_null=True, read_only=True)
    top_term_text = serializers.CharField(read_only=True)

    class Meta(ScoreSerializer.Meta):
        fields = [*ScoreSerializer.Meta.fields, "booked_minutes", "as_of", "lines", "top_term", "top_term_text"]
        read_only_fields = fields

    def to_representation(self, score: CustomerScore):
        data = super().to_representation(score)
        explained = customer_score_explained(user=self.context["request"].user, customer_id=score.customer_id)
        if explained is not None:
            data.update(
                booked_minutes=explained.booked_minutes,
                as_of=serializers.DateTimeField().to_representation(explained.as_of),
                lines=ScoreLineSerializer(explained.lines, many=True).data,
                top_term=explained.top_term,
                top_term_text=explained.top_term_text,
            )
        return data


class ScoreFilter(django_filters.FilterSet):
    customer = IdFilter(field_name="customer_id", label=_("Customer id"))
    owner = IdFilter(field_name="customer__owner_id", label=_("Owner rep id"))
    min_p = django_filters.NumberFilter(field_name="p", lookup_expr="gte", label=_("P at least"))

    class Meta:
        model = CustomerScore
        fields = ["customer", "owner", "min_p"]


@extend_schema_view(
    list=extend_schema(
        summary=_("Scores of the customers you may see"),
        description=_("Visit priority P and scheduled minutes T with their inputs T1..T6 (spec section 1), P first."),
    ),
    retrieve=extend_schema(
        summary=_("One customer's score, explained"),
        description=_("By customer id; with the inputs in words as the Customer 360 page shows them."),
        responses=ScoreExplainedSerializer,
    ),
)
class ScoreViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedViewSet):
    serializer_class = ScoreSerializer
    filterset_class = ScoreFilter
    queryset = CustomerScore.objects.none()
    lookup_field = "customer"

    def get_queryset(self):
        visible = customer_list_for_user(user=self.request.user)
        return (
            CustomerScore.objects.filter(customer__in=visible)
            .select_related("customer", "policy")
            .order_by("-p", "customer_id")
        )

    def get_serializer_class(self):
        return ScoreExplainedSerializer if self.action == "retrieve" else ScoreSerializer

    def retrieve(self, request, *args, **kwargs):
        try:
            return super().retrieve(request, *args, **kwargs)
        except Customer.DoesNotExist:
            # Deactivated or moved out of scope between the two reads.
            raise exceptions.NotFound() from None


class PlanRunSerializer(serializers.ModelSerializer):
    live = serializers.SerializerMethodField(help_text=_("Pending, or running with an unexpired lease."))
    stalled = serializers.SerializerMethodField(help_text=_("Running, but its lease expired: its worker is gone."))
    percent = serializers.SerializerMethodField(help_text=_("Progress; null while the total is unknown."))
    policy_version = serializers.IntegerField(source="policy.version", read_only=True, allow_null=True)

    class Meta:
        model = PlanRun
        fields = [
            "id",
            "kind",
            "status",
            "as_of",
            "policy_version",
            "total",
            "done",
            "percent",
            "live",
            "stalled",
            "started_at",
            "finished_at",
            "lease_expires_at",
            "error",
            "requested_by",
        ]
        read_only_fields = fields

    def _summary(self, run: PlanRun):
        return plan_run_summary(run=run, now=self.context["now"])

    def get_live(self, run: PlanRun) -> bool:
        return self._summary(run).live

    def get_stalled(self, run: PlanRun) -> bool:
        return self._summary(run).stalled

    def get_percent(self, run: PlanRun) -> int | None:
        return self._summary(run).percent


class PlanRunFilter(django_filters.FilterSet):
    kind = django_filters.ChoiceFilter(choices=PlanRun.Kind.choices)
    status = django_filters.ChoiceFilter(choices=PlanRun.Status.choices)

    class Meta:
        model = PlanRun
        fields = ["kind", "status"]


class RecalculationSerializer(serializers.Serializer):
    queued_at = serializers.DateTimeField()
    detail = serializers.CharField()


@extend_schema_view(
    list=extend_schema(
        summary=_("Scoring and planning runs"),
        description=_("Company-wide runs, newest first: every run for managers and admins, none for reps."),
    ),
    retrieve=extend_schema(summary=_("One run")),
)
class PlanRunViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedViewSet):
    serializer_class = PlanRunSerializer
    filterset_class = PlanRunFilter
    queryset = PlanRun.objects.none()
    extra_error_codes = {"post": ("409",)}

    def get_queryset(self):
        return plan_run_list_for_user(user=self.request.user).select_related("policy")

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "now": timezone.now()}

    @extend_schema(
        summary=_("Recalculate now"),
        description=_(
            "What the Runs page's button does: the nightly job now (missed visits, scores, then every rep's "
            "plan), for managers and admins. 202 once queued (without REDIS_URL it has run by the time the "
            "answer comes); 409 while a scoring or planning run is live. Follow it in the list."
        ),
        request=None,
        responses={202: RecalculationSerializer},
    )
    @action(detail=False, methods=["post"], permission_classes=[IsAuthenticated, IsManagerOrAdmin])
    def start(self, request):
        # The same steps as analytics.views.run_recalculate.
        for kind in RECALCULATION_KINDS:
            runs_expire_stale(kind=kind)
        live = plan_run_live(kinds=RECALCULATION_KINDS)
        if live is not None:
            raise Conflict(
                _("A run is already in progress (#%(id)s, %(done)s/%(total)s).")
                % {"id": live.pk, "done": live.done, "total": live.total}
            )
        queued_at = timezone.now()
        user_id = request.user.pk

        def queue() -> None:
            try:
                nightly.delay(requested_by_id=user_id)
            except Exception:
                # In-process the run has recorded its error on its PlanRun; with Redis the broker refused.
                logger.exception("Recalculation requested by user #%s through the API failed", user_id)

        transaction.on_commit(queue)
        body = {"queued_at": queued_at, "detail": _("Recalculation started: follow it in the runs list.")}
        return Response(RecalculationSerializer(body).data, status=status.HTTP_202_ACCEPTED)


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = _("This conflicts with the current state.")
    default_code = "conflict"
