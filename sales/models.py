from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext, gettext_noop
from django.utils.translation import gettext_lazy as _

from core.audit import AuditTrail
from core.models import TimeStampedModel


def _fraction(field: str) -> Q:
    return Q(**{f"{field}__gte": 0, f"{field}__lte": 1})


class Product(TimeStampedModel):
    name = models.CharField(_("name"), max_length=120, unique=True)
    series = models.CharField(_("series"), max_length=60, blank=True, db_index=True)
    list_price = models.DecimalField(_("list price"), max_digits=12, decimal_places=2, default=0)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("product")
        verbose_name_plural = _("products")
        constraints = [models.CheckConstraint(condition=Q(list_price__gte=0), name="product_price_non_negative")]

    def __str__(self) -> str:
        return self.name


# The default stages' names (migration 0002), marked so the catalogue translates them; a name an
# admin gives a stage is shown as it was typed.
DEFAULT_STAGE_NAMES = (
    gettext_noop("Discovery"),
    gettext_noop("Communication"),
    gettext_noop("Follow-up"),
    gettext_noop("Won"),
    gettext_noop("Lost"),
)


class Stage(models.Model):
    """A pipeline stage. `code` is the stable key code refers to; names are for people."""

    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=80, unique=True)
    order = models.PositiveSmallIntegerField(_("order"), unique=True)
    default_probability = models.DecimalField(
        _("default probability"), max_digits=4, decimal_places=3, help_text=_("A fraction: 0.10 means 10%.")
    )
    is_won = models.BooleanField(_("won (terminal)"), default=False)
    is_lost = models.BooleanField(_("lost (terminal)"), default=False)

    class Meta:
        ordering = ["order"]
        verbose_name = _("stage")
        verbose_name_plural = _("stages")
        constraints = [
            models.CheckConstraint(condition=_fraction("default_probability"), name="stage_probability_fraction"),
            models.CheckConstraint(condition=~Q(is_won=True, is_lost=True), name="stage_not_won_and_lost"),
        ]

    def __str__(self) -> str:
        return self.label

    @property
    def label(self) -> str:
        """The name in the current language."""
        return gettext(self.name)

    @property
    def is_terminal(self) -> bool:
        return self.is_won or self.is_lost


class Opportunity(TimeStampedModel):
    customer = models.ForeignKey(
        "crm.Customer",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        db_index=False,  # opportunity_customer_idx below, which also holds the ids
        related_name="opportunities",
        verbose_name=_("customer"),
        help_text=_("Empty for a lead whose account is not known yet."),
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="opportunities", verbose_name=_("owner")
    )
    product = models.ForeignKey(
        Product,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="opportunities",
        verbose_name=_("product"),
    )
    external_ref = models.CharField(
        _("external reference"),
        max_length=40,
        unique=True,
        null=True,
        blank=True,
        help_text=_("Id in the source system."),
    )
    amount = models.DecimalField(_("amount"), max_digits=14, decimal_places=2, default=0)
    stage = models.ForeignKey(Stage, on_delete=models.PROTECT, related_name="opportunities", verbose_name=_("stage"))
    probability = models.DecimalField(
        _("probability"), max_digits=4, decimal_places=3, default=Decimal("0.100"), help_text=_("A fraction.")
    )
    probability_manual = models.BooleanField(
        _("probability set by hand"),
        default=False,
        help_text=_("When set, stage moves keep this probability instead of the stage's default."),
    )
    expected_close = models.DateField(_("expected close"), null=True, blank=True)
    opened_at = models.DateTimeField(_("opened at"), default=timezone.now, db_index=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True, db_index=True)
    lost_reason = models.CharField(_("lost reason"), max_length=255, blank=True)
    history = AuditTrail()

    class Meta:
        ordering = ["-opened_at"]
        verbose_name = _("opportunity")
        verbose_name_plural = _("opportunities")
        constraints = [
            models.CheckConstraint(condition=Q(amount__gte=0), name="opportunity_amount_non_negative"),
            models.CheckConstraint(condition=_fraction("probability"), name="opportunity_probability_fraction"),
            models.CheckConstraint(
                condition=Q(closed_at__isnull=True) | Q(closed_at__gte=F("opened_at")),
                name="opportunity_closed_after_opened",
            ),
        ]
        indexes = [
            models.Index(fields=["owner", "stage"], name="opportunity_owner_stage_idx"),
            models.Index(fields=["customer", "stage"], name="opportunity_customer_stage_idx"),
            # In place of the foreign key's own index: the visit-effect events (analytics/bridge/visit_effect.py)
            # find a team's opportunities from its customers without reading the table.
            models.Index(fields=["customer"], include=["id"], name="opportunity_customer_idx"),
        ]

    def __str__(self) -> str:
        subject = self.customer.name if self.customer_id else _("no account")
        return f"{subject}: {self.product or '-'} ({self.stage})"


class StageChange(models.Model):
    opportunity = models.ForeignKey(
        Opportunity, on_delete=models.CASCADE, related_name="stage_changes", verbose_name=_("opportunity")
    )
    from_stage = models.ForeignKey(
        Stage, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("from stage")
    )
    to_stage = models.ForeignKey(Stage, on_delete=models.PROTECT, related_name="+", verbose_name=_("to stage"))
    changed_at = models.DateTimeField(_("changed at"), default=timezone.now)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("changed by"),
    )

    class Meta:
        ordering = ["opportunity", "changed_at", "id"]
        verbose_name = _("stage change")
        verbose_name_plural = _("stage changes")
        indexes = [
            # An opportunity's history in order, read from the index alone (the pipeline's load,
            # analytics/bridge/pipeline.py: rows come in ORDER BY order, no sort).
            models.Index(
                fields=["opportunity", "changed_at", "id"], include=["to_stage"], name="stagechange_history_idx"
            ),
            # Funnel ratios: who left/entered a stage in a period.
            models.Index(fields=["to_stage", "changed_at"], name="stagechange_to_at_idx"),
            models.Index(fields=["from_stage", "changed_at"], name="stagechange_from_at_idx"),
            # The visit-effect events (analytics/bridge/visit_effect.py): a period's moves, read from the index alone.
            models.Index(
                fields=["changed_at"], include=["opportunity", "from_stage", "to_stage"], name="stagechange_at_idx"
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(from_stage__isnull=True) | ~Q(from_stage=F("to_stage")), name="stagechange_moves"
            )
        ]

    def __str__(self) -> str:
        return f"{self.from_stage or '-'} -> {self.to_stage} @ {self.changed_at:%Y-%m-%d}"


class Order(TimeStampedModel):
    opportunity = models.OneToOneField(
        Opportunity, on_delete=models.PROTECT, related_name="order", verbose_name=_("opportunity")
    )
    amount = models.DecimalField(_("amount"), max_digits=14, decimal_places=2)
    ordered_at = models.DateTimeField(_("ordered at"), default=timezone.now, db_index=True)
    fulfilled_at = models.DateTimeField(_("fulfilled at"), null=True, blank=True, db_index=True)

    class Meta:
        ordering = ["-ordered_at"]
        verbose_name = _("order")
        verbose_name_plural = _("orders")
        constraints = [
            models.CheckConstraint(condition=Q(amount__gte=0), name="order_amount_non_negative"),
            models.CheckConstraint(
                condition=Q(fulfilled_at__isnull=True) | Q(fulfilled_at__gte=F("ordered_at")),
                name="order_fulfilled_after_created",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.amount}"
