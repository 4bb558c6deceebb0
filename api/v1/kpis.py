"""KPIs of a period: the figures of `manage.py kpis` and the dashboard (spec sections 2, 3 and 5).

The query takes the dashboard's own parameters (team, rep, period, on, date_from, date_to)
through its form, and the same scope: a manager's teams, any team for an admin; a team or
rep outside it is 404. Every number comes from `analytics.kpis.kpi_report`.
"""

from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from analytics.dashboard_scope import dashboard_scope_for_user
from analytics.forms import DashboardFilterForm
from analytics.kpis import kpi_report
from analytics.periods import PeriodKind
from api.errors import form_errors_detail
from api.permissions import IsManagerOrAdmin
from visits.services import local_zone


class KpiQueryForm(DashboardFilterForm):
    """The dashboard's parameters, validated by the dashboard's own form."""


class KpiFiguresSerializer(serializers.Serializer):
    won = serializers.IntegerField(help_text=_("Opportunities won in the period."))
    lost = serializers.IntegerField(help_text=_("Opportunities lost in the period."))
    win_rate = serializers.FloatField(allow_null=True, help_text=_("won / (won + lost), a fraction."))
    won_amount = serializers.FloatField()
    weighted_pipeline = serializers.FloatField(
        help_text=_("Open opportunities at the period's end, amount × probability.")
    )
    E = serializers.FloatField(allow_null=True, help_text=_("Communication efficiency, per day."))
    R = serializers.FloatField(allow_null=True, help_text=_("Follow-up efficiency, per day."))
    O = serializers.FloatField(allow_null=True, help_text=_("Order efficiency, per day."))  # noqa: E741
    cs_need = serializers.FloatField(allow_null=True, help_text=_("Percent."))
    cs_expectation = serializers.FloatField(allow_null=True, help_text=_("Percent."))
    cs_plan = serializers.FloatField(allow_null=True, help_text=_("Percent."))
    cs_policy = serializers.FloatField(allow_null=True, help_text=_("Percent."))


class RepKpisSerializer(serializers.Serializer):
    rep_id = serializers.IntegerField()
    name = serializers.CharField()
    username = serializers.CharField()
    figures = KpiFiguresSerializer()
    previous = KpiFiguresSerializer(help_text=_("The period of the same length just before."))


class StageFunnelSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    is_terminal = serializers.BooleanField()
    open_now = serializers.IntegerField(allow_null=True)
    entered = serializers.IntegerField()
    conversion = serializers.FloatField(allow_null=True)


class MonthlySeriesSerializer(serializers.Serializer):
    months = serializers.ListField(child=serializers.CharField())
    won_amount = serializers.ListField(child=serializers.FloatField())
    cs_need = serializers.ListField(child=serializers.FloatField(allow_null=True))
    cs_expectation = serializers.ListField(child=serializers.FloatField(allow_null=True))
    months_of_data = serializers.IntegerField()
    forecast_months = serializers.ListField(child=serializers.CharField())
    forecast = serializers.ListField(child=serializers.FloatField())
    backtest_mse = serializers.FloatField(allow_null=True)
    forecast_reason = serializers.CharField(allow_null=True)


class KpiReportSerializer(serializers.Serializer):
    period_start = serializers.DateTimeField(help_text=_("Inclusive, local midnight of the first day."))
    period_end = serializers.DateTimeField(help_text=_("Exclusive, local midnight after the last day."))
    as_of = serializers.DateTimeField()
    team = serializers.IntegerField(allow_null=True, help_text=_("The team asked for; null: all of yours."))
    rep = serializers.IntegerField(allow_null=True)
    overall = KpiFiguresSerializer()
    previous = KpiFiguresSerializer(help_text=_("Overall, the period of the same length just before."))
    reps = RepKpisSerializer(many=True)
    funnel = StageFunnelSerializer(many=True)
    monthly = MonthlySeriesSerializer()


class KpiView(GenericAPIView):
    serializer_class = KpiReportSerializer
    permission_classes = [IsAuthenticated, IsManagerOrAdmin]
    extra_error_codes = {"get": ("404",)}  # a team or rep outside the user's reach

    @extend_schema(
        summary=_("KPIs of a period"),
        description=_(
            "For managers (their teams) and admins: the dashboard's figures and `manage.py kpis`'s, overall, "
            "per rep, and for the period just before. A period is a calendar month, quarter or year containing "
            "`on` (default today), or `custom` from `date_from` to `date_to` (at most 3 years), in whole days of "
            "the company's time zone. Undefined ratios are null."
        ),
        parameters=[
            OpenApiParameter("team", OpenApiTypes.INT, description=_("One of your teams; default all of them.")),
            OpenApiParameter("rep", OpenApiTypes.INT, description=_("One rep of the team(s).")),
            OpenApiParameter("period", OpenApiTypes.STR, enum=PeriodKind.values, description=_("Default: month.")),
            OpenApiParameter("on", OpenApiTypes.DATE, description=_("A day of the month, quarter or year.")),
            OpenApiParameter("date_from", OpenApiTypes.DATE, description=_("First day of a custom period.")),
            OpenApiParameter("date_to", OpenApiTypes.DATE, description=_("Last day of a custom period, included.")),
        ],
    )
    def get(self, request):
        form = KpiQueryForm(request.query_params)
        if not form.is_valid():
            raise serializers.ValidationError(form_errors_detail(form))
        data = form.cleaned_data
        scope = dashboard_scope_for_user(user=request.user, team_id=data.get("team"), rep_id=data.get("rep"))
        start, end = data["resolved"].bounds(local_zone())
        report = kpi_report(rep_ids=scope.rep_ids, period_start=start, period_end=end)
        body = {
            "period_start": report.period_start,
            "period_end": report.period_end,
            "as_of": report.as_of,
            "team": scope.team.pk if scope.team else None,
            "rep": scope.rep.pk if scope.rep else None,
            "overall": report.overall.as_dict(),
            "previous": report.previous.as_dict(),
            "reps": [
                {
                    "rep_id": rep.rep_id,
                    "name": rep.name,
                    "username": rep.username,
                    "figures": rep.figures.as_dict(),
                    "previous": rep.previous.as_dict(),
                }
                for rep in report.reps
            ],
            "funnel": report.funnel,
            "monthly": report.monthly,
        }
        return Response(KpiReportSerializer(body).data)
