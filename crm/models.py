from datetime import time

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from core.audit import AuditTrail
from core.models import TimeStampedModel

WEEKDAY_LABELS = (
    _("Monday"),
    _("Tuesday"),
    _("Wednesday"),
    _("Thursday"),
    _("Friday"),
    _("Saturday"),
    _("Sunday"),
)
MONDAY_TO_FRIDAY = 0b0011111  # bit d set = works on weekday d (Monday = 0)


def _latitude_ok(field: str) -> Q:
    return Q(**{f"{field}__isnull": True}) | Q(**{f"{field}__gte": -90, f"{field}__lte": 90})


def _longitude_ok(field: str) -> Q:
    return Q(**{f"{field}__isnull": True}) | Q(**{f"{field}__gte": -180, f"{field}__lte": 180})


class Team(TimeStampedModel):
    """A sales team (a regional office): managers see everything of its member reps."""

    name = models.CharField(_("name"), max_length=120, unique=True)
    managers = models.ManyToManyField(
        settings.AUTH_USER_MODEL, related_name="managed_teams", blank=True, verbose_name=_("managers")
    )

    class Meta:
        ordering = ["name"]
        verbose_name = _("team")
        verbose_name_plural = _("teams")

    def __str__(self) -> str:
        return self.name


class RepProfile(TimeStampedModel):
    """A sales rep's working pattern and home base, which the planner plans within."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="rep_profile", verbose_name=_("user")
    )
    team = models.ForeignKey(
        Team, on_delete=models.SET_NULL, null=True, blank=True, related_name="members", verbose_name=_("team")
    )
    home_latitude = models.FloatField(_("home-base latitude"), null=True, blank=True)
    home_longitude = models.FloatField(_("home-base longitude"), null=True, blank=True)
    working_days = models.PositiveSmallIntegerField(
        _("working days"), default=MONDAY_TO_FRIDAY, help_text=_("Bit mask, Monday = 1, Tuesday = 2, ... Sunday = 64.")
    )
    day_start = models.TimeField(_("day starts"), default=time(8, 30))
    day_end = models.TimeField(_("day ends"), default=time(17, 30))
    lunch_start = models.TimeField(_("lunch starts"), default=time(12, 0))
    lunch_minutes = models.PositiveSmallIntegerField(_("lunch minutes"), default=60)

    class Meta:
        ordering = ["user__last_name", "user__first_name"]
        verbose_name = _("rep profile")
        verbose_name_plural = _("rep profiles")
        constraints = [
            models.CheckConstraint(
                condition=Q(working_days__gte=1, working_days__lte=127), name="rep_working_days_valid"
            ),
            models.CheckConstraint(condition=Q(day_start__lt=F("day_end")), name="rep_day_start_before_end"),
            models.CheckConstraint(
                condition=Q(lunch_start__gte=F("day_start"), lunch_start__lt=F("day_end")),
                name="rep_lunch_within_day",
            ),
            models.CheckConstraint(condition=Q(lunch_minutes__lte=240), name="rep_lunch_at_most_4h"),
            models.CheckConstraint(condition=_latitude_ok("home_latitude"), name="rep_home_latitude_range"),
            models.CheckConstraint(condition=_longitude_ok("home_longitude"), name="rep_home_longitude_range"),
        ]

    def __str__(self) -> str:
        return str(self.user)

    @property
    def working_weekdays(self) -> list[int]:
        return [day for day in range(7) if self.working_days & (1 << day)]


class Customer(TimeStampedModel):
    class Tier(models.TextChoices):
        A = "A", _("A (key account)")
        B = "B", _("B")
        C = "C", _("C")

    class Status(models.TextChoices):
        ACTIVE = "active", _("active")
        INACTIVE = "inactive", _("inactive")

    code = models.CharField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=200, db_index=True)
    tier = models.CharField(_("tier"), max_length=1, choices=Tier.choices, default=Tier.B)
    segment = models.CharField(_("segment / industry"), max_length=80, blank=True, db_index=True)
    address = models.CharField(_("address"), max_length=255, blank=True)
    city = models.CharField(_("city"), max_length=120, blank=True, db_index=True)
    country = models.CharField(_("country"), max_length=120, blank=True)
    latitude = models.FloatField(_("latitude"), null=True, blank=True)
    longitude = models.FloatField(_("longitude"), null=True, blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="customers",
        verbose_name=_("owner rep"),
    )
    parent = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="subsidiaries",
        verbose_name=_("parent company"),
    )
    annual_value = models.DecimalField(_("annual value"), max_digits=14, decimal_places=2, default=0)
    employees = models.PositiveIntegerField(_("employees"), null=True, blank=True)
    visit_cadence_days = models.PositiveSmallIntegerField(_("visit cadence (days)"), default=30)
    status = models.CharField(_("status"), max_length=8, choices=Status.choices, default=Status.ACTIVE)
    history = AuditTrail()

    class Meta:
        ordering = ["name"]
        verbose_name = _("customer")
        verbose_name_plural = _("customers")
        constraints = [
            models.CheckConstraint(condition=Q(annual_value__gte=0), name="customer_annual_value_non_negative"),
            models.CheckConstraint(condition=Q(visit_cadence_days__gt=0), name="customer_cadence_positive"),
            models.CheckConstraint(condition=Q(tier__in=["A", "B", "C"]), name="customer_tier_valid"),
            models.CheckConstraint(condition=Q(status__in=["active", "inactive"]), name="customer_status_valid"),
            models.CheckConstraint(condition=_latitude_ok("latitude"), name="customer_latitude_range"),
            models.CheckConstraint(condition=_longitude_ok("longitude"), name="customer_longitude_range"),
        ]
        indexes = [
            # Scoped lists ("my active customers") and the scoring load (all active).
            models.Index(fields=["owner", "status"], name="customer_owner_status_idx"),
            models.Index(fields=["status", "tier"], name="customer_status_tier_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"


class Contact(TimeStampedModel):
    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="contacts", verbose_name=_("customer")
    )
    name = models.CharField(_("name"), max_length=160)
    title = models.CharField(_("job title"), max_length=120, blank=True)
    email = models.EmailField(_("email"), blank=True)
    phone = models.CharField(_("phone"), max_length=40, blank=True)
    is_primary = models.BooleanField(_("primary contact"), default=False)

    class Meta:
        ordering = ["-is_primary", "name"]
        verbose_name = _("contact")
        verbose_name_plural = _("contacts")
        constraints = [
            models.UniqueConstraint(
                fields=["customer"], condition=Q(is_primary=True), name="contact_one_primary_per_customer"
            )
        ]

    def __str__(self) -> str:
        return self.name


class Need(TimeStampedModel):
    """A need a customer voiced, usually during a visit; satisfied when we met it."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="needs", verbose_name=_("customer"))
    visit = models.ForeignKey(
        "visits.Visit",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="needs",
        verbose_name=_("raised on visit"),
    )
    description = models.TextField(_("description"))
    satisfied = models.BooleanField(_("satisfied"), default=False)
    raised_at = models.DateTimeField(_("raised at"))
    satisfied_at = models.DateTimeField(_("satisfied at"), null=True, blank=True)

    class Meta:
        ordering = ["-raised_at"]
        verbose_name = _("need")
        verbose_name_plural = _("needs")
        indexes = [models.Index(fields=["customer", "satisfied"], name="need_customer_satisfied_idx")]
        constraints = [
            models.CheckConstraint(
                condition=Q(satisfied=False, satisfied_at__isnull=True)
                | Q(satisfied=True, satisfied_at__isnull=False, satisfied_at__gte=F("raised_at")),
                name="need_satisfied_at_consistent",
            )
        ]

    def __str__(self) -> str:
        return self.description[:60]
