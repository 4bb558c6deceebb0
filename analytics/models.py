from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from analytics.need_model import MIN_SAMPLES
from core.audit import AuditTrail
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
    history = AuditTrail()

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


class NeedModelFit(models.Model):
    """One fit of the need-probability model P(x) = 1 / (1 + exp(-(a + b*x))) (spec section 4).

    Every attempt is kept, fitted or not, so the UI can say why there is no P and
    the history of a and b can be read back. The latest row is the current model.
    """

    class Status(models.TextChoices):
        FITTED = "fitted", _("fitted")
        NOT_FITTED = "not_fitted", _("not fitted")

    class Reason(models.TextChoices):
        # The codes of `analytics.need_model.NOT_FITTED_REASONS`, plus a failure of the run itself.
        NONE = "", _("none")
        TOO_FEW = "too_few", _("too few closed opportunities")
        ALL_WON = "all_won", _("all won")
        ALL_LOST = "all_lost", _("all lost")
        SEPARATED = "separated", _("perfectly separated")
        CONSTANT = "constant", _("same engagement everywhere")
        NOT_CONVERGED = "not_converged", _("did not converge")
        ERROR = "error", _("the fit failed")

    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    as_of = models.DateTimeField(_("as of"))
    status = models.CharField(_("status"), max_length=10, choices=Status.choices)
    reason_code = models.CharField(_("reason code"), max_length=16, choices=Reason.choices, blank=True, default="")
    reason = models.TextField(
        _("reason"),
        blank=True,
        help_text=_("Why the model was not fitted, in the language of the run; for a failed run, the error."),
    )
    a = models.FloatField(_("a (intercept)"), null=True, blank=True)
    b = models.FloatField(_("b (per completed visit)"), null=True, blank=True)
    sample_size = models.PositiveIntegerField(_("closed opportunities"), default=0)
    log_loss = models.FloatField(_("log-loss"), null=True, blank=True)
    engagement_max = models.FloatField(
        _("highest engagement in the sample"), null=True, blank=True, help_text=_("Where the chart's x axis ends.")
    )
    calibration = models.JSONField(
        _("calibration"),
        default=list,
        blank=True,
        help_text=_("Deciles of predicted probability: mean predicted, observed win rate, count."),
    )
    run = models.ForeignKey(
        PlanRun,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="need_model_fits",
        verbose_name=_("run"),
        help_text=_("The nightly scoring run this fit followed; empty for a fit on demand."),
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        get_latest_by = ["created_at", "id"]
        verbose_name = _("need-model fit")
        verbose_name_plural = _("need-model fits")
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(status="fitted", reason_code="", a__isnull=False, b__isnull=False, log_loss__isnull=False)
                    | (
                        Q(status="not_fitted", a__isnull=True, b__isnull=True, log_loss__isnull=True)
                        & ~Q(reason_code="")
                    )
                ),
                name="needmodelfit_status_consistent",
            ),
        ]

    def __str__(self) -> str:
        if self.status == self.Status.FITTED:
            return f"{self.as_of:%Y-%m-%d %H:%M}: a={self.a:.4f}, b={self.b:.4f} (n={self.sample_size})"
        return f"{self.as_of:%Y-%m-%d %H:%M}: {self.get_status_display()} ({self.get_reason_code_display()})"

    @property
    def fitted(self) -> bool:
        return self.status == self.Status.FITTED

    def reason_display(self) -> str:
        """Why there is no P(x), in the current language ("" when fitted)."""
        n = self.sample_size
        messages = {
            self.Reason.TOO_FEW: lambda: (
                ngettext(
                    "Not fitted: only %(n)s closed opportunity (%(min)s needed).",
                    "Not fitted: only %(n)s closed opportunities (%(min)s needed).",
                    n,
                )
                % {"n": n, "min": MIN_SAMPLES}
            ),
            self.Reason.ALL_WON: lambda: gettext("Not fitted: all %(n)s closed opportunities were won.") % {"n": n},
            self.Reason.ALL_LOST: lambda: gettext("Not fitted: all %(n)s closed opportunities were lost.") % {"n": n},
            self.Reason.SEPARATED: lambda: gettext(
                "Not fitted: the number of visits separates won from lost exactly, so no finite fit exists."
            ),
            self.Reason.CONSTANT: lambda: gettext(
                "Not fitted: every closed opportunity had the same number of visits."
            ),
            self.Reason.NOT_CONVERGED: lambda: gettext("Not fitted: the maximum-likelihood fit did not converge."),
            self.Reason.ERROR: lambda: gettext("Not fitted: the fit failed (%(error)s).") % {"error": self.reason},
        }
        message = messages.get(self.reason_code)
        return message() if message is not None else ""


# --- stored day sums of the satisfaction terms (analytics.visit_days) ------------------------------------------------

VISIT_TERM_COLUMNS = (
    "need_numerator",
    "need_denominator",
    "expectation_numerator",
    "expectation_denominator",
    "plan_numerator",
    "plan_denominator",
    "policy_numerator",
    "policy_denominator",
)
# The visit effect's counts (`analytics.visit_effect`), by the visits' check-out day.
VISIT_EFFECT_COLUMNS = ("effect_visits", "effect_hits")


class _RepDay(models.Model):
    """A rep's UTC day (days since 1970, as the visits table's triggers compute it)."""

    rep_id = models.BigIntegerField(_("rep id"))
    day = models.IntegerField(_("day"), help_text=_("UTC days since 1970-01-01."))

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return f"rep {self.rep_id}, day {self.day}"


class VisitDayTerms(_RepDay):
    """One rep's sums over one closed UTC day: the spec section 2 terms of the visits planned that day, and the
    visit-effect counts of the completed visits checked out that day.

    Written only by `analytics.visit_days.visit_days_refresh`; read by the KPI and
    visit-effect reports instead of the visits themselves. Every term is a whole
    number, so sums of sums are exact.
    """

    need_numerator = models.BigIntegerField(_("need numerator"), default=0)
    need_denominator = models.BigIntegerField(_("need denominator"), default=0)
    expectation_numerator = models.BigIntegerField(_("expectation numerator"), default=0)
    expectation_denominator = models.BigIntegerField(_("expectation denominator"), default=0)
    plan_numerator = models.BigIntegerField(_("plan numerator"), default=0)
    plan_denominator = models.BigIntegerField(_("plan denominator"), default=0)
    policy_numerator = models.BigIntegerField(_("policy numerator"), default=0)
    policy_denominator = models.BigIntegerField(_("policy denominator"), default=0)
    effect_visits = models.BigIntegerField(_("visits checked out"), default=0)
    effect_hits = models.BigIntegerField(
        _("visits followed by a sales event"), default=0, help_text=_("Within 14 days of the check-out.")
    )

    class Meta:
        verbose_name = _("visit day sums")
        verbose_name_plural = _("visit day sums")
        constraints = [models.UniqueConstraint(fields=["rep_id", "day"], name="visitdayterms_rep_day_unique")]


class VisitDayMark(_RepDay):
    """A (rep, UTC day) whose sums may have changed since they were stored.

    Database triggers write these on every insert, update and delete (ORM, bulk or
    raw SQL alike): of a visit (its planned day and its check-out day), and of a stage
    change or an order (the check-out days of its customer's visits in the 14 days
    before it, whose visit effect it may decide). The refresh consumes them. Duplicates are
    allowed on purpose: a unique key would let a write that lands during a refresh
    be swallowed by the mark the refresh is about to delete.
    """

    class Meta:
        verbose_name = _("changed visit day")
        verbose_name_plural = _("changed visit days")
        indexes = [models.Index(fields=["rep_id", "day"], name="visitdaymark_rep_day_idx")]


class VisitDayState(models.Model):
    """One row: the time zone the stored sums were computed in ("" until the first build) and when."""

    zone = models.CharField(_("time zone"), max_length=64, blank=True)
    refreshed_at = models.DateTimeField(_("refreshed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("visit day sums state")
        verbose_name_plural = _("visit day sums state")

    def __str__(self) -> str:
        return self.zone or "-"
