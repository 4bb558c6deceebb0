from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from core.audit import AuditTrail
from core.models import TimeStampedModel


def _score_1_to_5(field: str) -> Q:
    return Q(**{f"{field}__isnull": True}) | Q(**{f"{field}__gte": 1, f"{field}__lte": 5})


class Visit(TimeStampedModel):
    class Status(models.TextChoices):
        PLANNED = "planned", _("planned")
        CONFIRMED = "confirmed", _("confirmed")
        CHECKED_IN = "checked_in", _("checked in")
        COMPLETED = "completed", _("completed")
        CANCELLED = "cancelled", _("cancelled")
        MISSED = "missed", _("missed")

    class Origin(models.TextChoices):
        PLANNER = "planner", _("planner run")
        MANUAL = "manual", _("manual")

    class CheckInResult(models.TextChoices):
        VERIFIED = "verified", _("verified")
        OUTSIDE = "outside", _("outside the radius")
        UNVERIFIED = "unverified", _("unverified")

    class Outcome(models.TextChoices):
        SUCCESSFUL = "successful", _("successful")
        FOLLOW_UP = "follow_up", _("follow-up needed")
        NO_DECISION = "no_decision", _("no decision")
        CUSTOMER_ABSENT = "absent", _("customer absent")

    customer = models.ForeignKey(
        "crm.Customer", on_delete=models.PROTECT, related_name="visits", verbose_name=_("customer")
    )
    rep = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="visits", verbose_name=_("rep")
    )
    planned_start = models.DateTimeField(_("planned start"))
    planned_minutes = models.PositiveSmallIntegerField(_("planned minutes"), default=45)
    goal = models.CharField(_("goal"), max_length=200, blank=True)
    agenda = models.TextField(_("agenda"), blank=True)
    status = models.CharField(_("status"), max_length=12, choices=Status.choices, default=Status.PLANNED)
    origin = models.CharField(_("origin"), max_length=8, choices=Origin.choices, default=Origin.MANUAL)
    plan_run = models.ForeignKey(
        "analytics.PlanRun",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="visits",
        verbose_name=_("planner run"),
    )
    priority = models.FloatField(_("priority P when planned"), null=True, blank=True)
    plan_reason = models.JSONField(
        _("why it was planned"),
        null=True,
        blank=True,
        help_text=_("The planner's P, booked minutes and the terms that contributed most."),
    )
    checked_in_at = models.DateTimeField(_("checked in at"), null=True, blank=True)
    check_in_latitude = models.FloatField(_("check-in latitude"), null=True, blank=True)
    check_in_longitude = models.FloatField(_("check-in longitude"), null=True, blank=True)
    # Blank: no check-in recorded (not yet, or history from before the check-in was verified).
    # db_default keeps the raw-SQL demo writers, which list only the columns they know, valid.
    check_in_result = models.CharField(
        _("check-in result"), max_length=10, choices=CheckInResult.choices, blank=True, default="", db_default=""
    )
    check_in_distance_m = models.FloatField(_("check-in distance to the customer (m)"), null=True, blank=True)
    checked_out_at = models.DateTimeField(_("checked out at"), null=True, blank=True)
    check_out_latitude = models.FloatField(_("check-out latitude"), null=True, blank=True)
    check_out_longitude = models.FloatField(_("check-out longitude"), null=True, blank=True)
    report = models.TextField(_("report"), blank=True)
    outcome = models.CharField(
        _("outcome"), max_length=12, choices=Outcome.choices, blank=True, default="", db_default=""
    )
    next_step = models.TextField(_("next step"), blank=True, default="", db_default="")
    report_filed_at = models.DateTimeField(_("report filed at"), null=True, blank=True)
    actual_satisfaction = models.PositiveSmallIntegerField(_("actual satisfaction (1-5)"), null=True, blank=True)
    expected_satisfaction = models.PositiveSmallIntegerField(_("expected satisfaction (1-5)"), null=True, blank=True)
    needs_raised = models.PositiveSmallIntegerField(_("needs raised"), default=0)
    needs_satisfied = models.PositiveSmallIntegerField(_("needs satisfied"), default=0)
    cancelled_at = models.DateTimeField(_("cancelled at"), null=True, blank=True)
    cancel_reason = models.CharField(_("cancellation reason"), max_length=255, blank=True)
    history = AuditTrail()

    class Meta:
        ordering = ["-planned_start"]
        verbose_name = _("visit")
        verbose_name_plural = _("visits")
        constraints = [
            models.CheckConstraint(condition=Q(planned_minutes__gt=0), name="visit_planned_minutes_positive"),
            models.CheckConstraint(
                condition=Q(status__in=["planned", "confirmed", "checked_in", "completed", "cancelled", "missed"]),
                name="visit_status_valid",
            ),
            models.CheckConstraint(condition=Q(origin__in=["planner", "manual"]), name="visit_origin_valid"),
            models.CheckConstraint(condition=_score_1_to_5("actual_satisfaction"), name="visit_actual_sat_1_5"),
            models.CheckConstraint(condition=_score_1_to_5("expected_satisfaction"), name="visit_expected_sat_1_5"),
            models.CheckConstraint(
                condition=Q(needs_satisfied__lte=F("needs_raised")), name="visit_needs_satisfied_le_raised"
            ),
            models.CheckConstraint(
                condition=Q(checked_out_at__isnull=True)
                | Q(checked_in_at__isnull=False, checked_out_at__gte=F("checked_in_at")),
                name="visit_check_out_after_check_in",
            ),
            models.CheckConstraint(
                condition=~Q(status="completed") | Q(checked_out_at__isnull=False),
                name="visit_completed_has_check_out",
            ),
            models.CheckConstraint(
                condition=Q(check_in_result__in=["", "verified", "outside", "unverified"]),
                name="visit_check_in_result_valid",
            ),
            # A check-in result is only ever recorded together with the check-in time.
            models.CheckConstraint(
                condition=Q(check_in_result="") | Q(checked_in_at__isnull=False),
                name="visit_check_in_result_has_time",
            ),
            # A distance exists exactly when the position could be compared (verified or outside).
            models.CheckConstraint(
                condition=Q(check_in_distance_m__isnull=True, check_in_result__in=["", "unverified"])
                | Q(
                    check_in_distance_m__isnull=False,
                    check_in_distance_m__gte=0,
                    check_in_result__in=["verified", "outside"],
                ),
                name="visit_check_in_distance_consistent",
            ),
            models.CheckConstraint(
                condition=Q(outcome__in=["", "successful", "follow_up", "no_decision", "absent"]),
                name="visit_outcome_valid",
            ),
        ]
        indexes = [
            # A rep's calendar and the planner's horizon. INCLUDE: every column of the dashboard's
            # visit load (analytics/bridge/visits.py: a team's visits over two years, 177,000 at
            # 100,000 customers) is in the index, which PostgreSQL then reads alone (an index-only
            # scan) instead of fetching every visit's row from the table.
            models.Index(
                fields=["rep", "planned_start"],
                include=[
                    "id",
                    "customer",
                    "status",
                    "needs_raised",
                    "needs_satisfied",
                    "actual_satisfaction",
                    "expected_satisfaction",
                    "cancelled_at",
                    "checked_in_at",
                    "checked_out_at",
                    "report_filed_at",
                ],
                name="visit_rep_start_idx",
            ),
            # The visit-effect figure (analytics/bridge/visit_effect.py): the reps' completed visits
            # checked out in the period, with their customer, by an index-only scan.
            models.Index(
                fields=["rep", "checked_out_at"],
                include=["customer"],
                condition=Q(status="completed"),
                name="visit_rep_completed_out_idx",
            ),
            # Latest completed visit per customer (urgency T2) and customer history.
            models.Index(fields=["customer", "status", "checked_out_at"], name="visit_customer_status_out_idx"),
            # Period ratios (CS_plan, CS_policy) and the missed-visit sweep.
            models.Index(fields=["status", "planned_start"], name="visit_status_start_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.customer} @ {self.planned_start:%Y-%m-%d %H:%M}"


class FollowUp(TimeStampedModel):
    visit = models.ForeignKey(Visit, on_delete=models.CASCADE, related_name="follow_ups", verbose_name=_("visit"))
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="follow_ups", verbose_name=_("assignee")
    )
    title = models.CharField(_("title"), max_length=200)
    due_date = models.DateField(_("due date"))
    done_at = models.DateTimeField(_("done at"), null=True, blank=True)

    class Meta:
        ordering = ["due_date", "id"]
        verbose_name = _("follow-up")
        verbose_name_plural = _("follow-ups")
        indexes = [models.Index(fields=["assignee", "done_at", "due_date"], name="followup_assignee_open_idx")]

    def __str__(self) -> str:
        return self.title


class CalendarFeed(models.Model):
    """A user's private ICS feed of their visits, reached by an unguessable token (no login).

    One row per user: rotating replaces the token (the old URL stops working at once),
    revoking keeps the row but turns the feed off until a new token is issued.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="calendar_feed", verbose_name=_("user")
    )
    token = models.CharField(_("token"), max_length=64, unique=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)

    class Meta:
        verbose_name = _("calendar feed")
        verbose_name_plural = _("calendar feeds")

    def __str__(self) -> str:
        return str(self.user)

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None
