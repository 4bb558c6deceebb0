from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from core.models import TimeStampedModel


class ScoringPolicy(TimeStampedModel):
    """Weights and per-tier times of P(i) and T(i) (spec section 1). One is active at a time.

    Scores keep a reference to the policy that produced them, so a policy that has
    been used is never edited in place: admins save a new version instead.
    """

    version = models.PositiveIntegerField(_("version"), unique=True)
    name = models.CharField(_("name"), max_length=120, blank=True)
    active = models.BooleanField(_("active"), default=False)
    w1 = models.FloatField(_("W1 (value weight)"), default=0.5)
    w2 = models.FloatField(_("W2 (urgency weight)"), default=0.3)
    w3 = models.FloatField(_("W3 (pipeline weight)"), default=0.2)
    t5_a = models.FloatField(_("T5 tier A (base minutes)"), default=60)
    t5_b = models.FloatField(_("T5 tier B (base minutes)"), default=45)
    t5_c = models.FloatField(_("T5 tier C (base minutes)"), default=30)
    t6_a = models.FloatField(_("T6 tier A (minutes per point)"), default=20)
    t6_b = models.FloatField(_("T6 tier B (minutes per point)"), default=15)
    t6_c = models.FloatField(_("T6 tier C (minutes per point)"), default=10)
    speed_kmh = models.FloatField(_("travel speed (km/h)"), default=40)
    default_travel_km = models.FloatField(_("default travel (km)"), default=20)
    max_visit_minutes = models.PositiveSmallIntegerField(_("max visit minutes"), default=120)

    class Meta:
        ordering = ["-version"]
        verbose_name = _("scoring policy")
        verbose_name_plural = _("scoring policies")
        constraints = [
            models.UniqueConstraint(fields=["active"], condition=Q(active=True), name="scoringpolicy_one_active"),
            models.CheckConstraint(condition=Q(w1__gte=0, w2__gte=0, w3__gte=0), name="scoringpolicy_weights_nonneg"),
            models.CheckConstraint(
                condition=Q(t5_a__gte=0, t5_b__gte=0, t5_c__gte=0, t6_a__gte=0, t6_b__gte=0, t6_c__gte=0),
                name="scoringpolicy_times_nonneg",
            ),
            models.CheckConstraint(condition=Q(speed_kmh__gt=0), name="scoringpolicy_speed_positive"),
            models.CheckConstraint(condition=Q(default_travel_km__gte=0), name="scoringpolicy_travel_nonneg"),
            models.CheckConstraint(condition=Q(max_visit_minutes__gte=15), name="scoringpolicy_max_minutes_ge_15"),
        ]

    def __str__(self) -> str:
        label = f"v{self.version}"
        if self.name:
            label += f" {self.name}"
        return f"{label} ({_('active')})" if self.active else label


class PlanRun(models.Model):
    """One analytics or planning run: its state makes runs idempotent and resumable."""

    class Kind(models.TextChoices):
        SCORES = "scores", _("scores")
        PLANS = "plans", _("visit plans")
        NEED_MODEL = "need_model", _("need-probability fit")
        NIGHTLY = "nightly", _("nightly (all)")

    class Status(models.TextChoices):
        PENDING = "pending", _("pending")
        RUNNING = "running", _("running")
        SUCCEEDED = "succeeded", _("succeeded")
        FAILED = "failed", _("failed")

    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PENDING)
    as_of = models.DateTimeField(_("as of"))
    policy = models.ForeignKey(
        ScoringPolicy, on_delete=models.PROTECT, null=True, blank=True, related_name="runs", verbose_name=_("policy")
    )
    total = models.PositiveIntegerField(_("total"), default=0)
    done = models.PositiveIntegerField(_("done"), default=0)
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    lease_expires_at = models.DateTimeField(_("lease expires"), null=True, blank=True)
    error = models.TextField(_("error"), blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("requested by"),
    )

    class Meta:
        ordering = ["-id"]
        verbose_name = _("plan run")
        verbose_name_plural = _("plan runs")
        constraints = [
            models.CheckConstraint(condition=Q(done__lte=F("total")), name="planrun_done_le_total"),
            models.CheckConstraint(
                condition=Q(finished_at__isnull=True) | Q(started_at__isnull=False, finished_at__gte=F("started_at")),
                name="planrun_finished_after_started",
            ),
        ]
        indexes = [models.Index(fields=["kind", "status"], name="planrun_kind_status_idx")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk} ({self.get_status_display()})"


class CustomerScore(models.Model):
    """The current P(i) and T(i) of a customer with its inputs; each run overwrites it."""

    customer = models.OneToOneField(
        "crm.Customer",
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="score",
        verbose_name=_("customer"),
    )
    # Not indexed, and not foreign keys in the database: every run rewrites every row, and
    # an index would be rewritten with it (measured: ~2 s of a 1M-customer run) while a
    # database foreign key costs a trigger check per row at commit (measured: ~2.8 s of
    # 16 s). Runs and policies are never deleted (PROTECT still guards it in the ORM,
    # and admin offers no delete), so the check would only ever pass.
    run = models.ForeignKey(
        PlanRun,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
        db_constraint=False,
        verbose_name=_("run"),
    )
    policy = models.ForeignKey(
        ScoringPolicy,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
        db_constraint=False,
        verbose_name=_("policy"),
    )
    t1 = models.FloatField(_("T1 value"))
    t2 = models.FloatField(_("T2 urgency"))
    t3 = models.FloatField(_("T3 open pipeline"))
    t4 = models.FloatField(_("T4 effort (h)"))
    t5 = models.FloatField(_("T5 base minutes"))
    t6 = models.FloatField(_("T6 minutes per point"))
    p = models.FloatField(_("priority P"))
    t = models.FloatField(_("scheduled minutes T"))
    computed_at = models.DateTimeField(_("computed at"))

    class Meta:
        ordering = ["-p"]
        verbose_name = _("customer score")
        verbose_name_plural = _("customer scores")
        indexes = [models.Index(fields=["-p"], name="customerscore_p_idx")]
        constraints = [
            models.CheckConstraint(
                condition=Q(t1__gte=0, t2__gte=0, t3__gte=0, t4__gte=0.25, p__gte=0), name="customerscore_inputs_valid"
            )
        ]

    def __str__(self) -> str:
        return f"{self.customer_id}: P={self.p:.3f}"
