"""Admin of products, pipeline stages, opportunities (with their stage history) and orders."""

from django.contrib import admin
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.admin_widgets import SafeAutocompleteMixin
from core.audit_admin import AuditTrailAdmin
from core.transfer.admin import ScopedImportExportMixin
from sales.models import Opportunity, Order, Product, Stage, StageChange
from sales.resources import OpportunityResource

# Stages the code refers to by code (created by the data migration): never renamed away or deleted.
SYSTEM_STAGE_CODES = frozenset({"discovery", "communication", "follow-up", "won", "lost"})


def percent(fraction) -> str:
    return f"{fraction * 100:.0f}%" if fraction is not None else "-"


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ("name", "series", "list_price", "active")
    list_filter = ("active", "series")
    search_fields = ("name", "series")


@admin.register(Stage)
class StageAdmin(admin.ModelAdmin):
    list_display = ("name", "code", "order", "default_probability", "is_won", "is_lost")
    list_display_links = ("name",)
    list_editable = ("order", "default_probability")
    ordering = ("order",)
    search_fields = ("name", "code")
    prepopulated_fields = {"code": ("name",)}

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and obj.code in SYSTEM_STAGE_CODES:
            return ("code", "is_won", "is_lost")
        return ()

    def get_prepopulated_fields(self, request, obj=None):
        return {} if obj is not None and obj.code in SYSTEM_STAGE_CODES else self.prepopulated_fields

    def has_delete_permission(self, request, obj=None) -> bool:
        if obj is not None and obj.code in SYSTEM_STAGE_CODES:
            return False
        return super().has_delete_permission(request, obj)


class StageChangeInline(admin.TabularInline):
    """The opportunity's stage history, oldest first; it is a record, so it is not edited here."""

    model = StageChange
    fk_name = "opportunity"
    fields = ("changed_at", "from_stage", "to_stage", "changed_by")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("from_stage", "to_stage", "changed_by")
            .order_by("changed_at", "id")
        )

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Opportunity)
class OpportunityAdmin(ScopedImportExportMixin, AuditTrailAdmin):
    resource_classes = [OpportunityResource]
    list_display = (
        "customer",
        "owner",
        "product",
        "amount",
        "stage",
        "effective_probability",
        "opened_at",
        "closed_at",
    )
    list_display_links = ("customer", "product")
    list_filter = ("stage", ("owner", admin.RelatedOnlyFieldListFilter), "probability_manual")
    list_select_related = ("customer", "owner", "product", "stage")
    date_hierarchy = "opened_at"
    search_fields = ("customer__name", "customer__code", "external_ref", "product__name")
    autocomplete_fields = ("customer", "owner", "product")
    readonly_fields = ("created_at", "updated_at")
    inlines = (StageChangeInline,)
    fieldsets = (
        (None, {"fields": ("customer", "owner", "product", "external_ref", "amount")}),
        (
            _("Stage"),
            {"fields": ("stage", ("probability", "probability_manual"), "expected_close", "lost_reason")},
        ),
        (_("Dates"), {"fields": ("opened_at", "closed_at", "created_at", "updated_at")}),
    )

    def get_queryset(self, request):
        # The label names customer, product and stage: joined for autocomplete and change pages.
        # (The changelist skips list_select_related once a queryset has joins, so name them all.)
        return super().get_queryset(request).select_related(*self.list_select_related)

    @admin.display(description=_("effective probability"))
    def effective_probability(self, obj: Opportunity) -> str:
        # Spec T3: the hand-set probability where there is one, else the stage's default.
        return percent(obj.probability if obj.probability_manual else obj.stage.default_probability)

    def save_model(self, request, obj, form, change):
        # Keep the stage history complete when an admin moves a deal by hand,
        # so funnel ratios still see the move.
        previous_stage_id = form.initial.get("stage") if change else None
        super().save_model(request, obj, form, change)
        if not change or "stage" in form.changed_data:
            StageChange.objects.create(
                opportunity=obj,
                from_stage_id=previous_stage_id,
                to_stage=obj.stage,
                changed_at=timezone.now(),
                changed_by=request.user,
            )


@admin.register(StageChange)
class StageChangeAdmin(SafeAutocompleteMixin, admin.ModelAdmin):
    list_display = ("opportunity", "from_stage", "to_stage", "changed_at", "changed_by")
    list_filter = ("to_stage", "from_stage")
    list_select_related = (
        "opportunity__customer",
        "opportunity__product",
        "opportunity__stage",
        "from_stage",
        "to_stage",
        "changed_by",
    )
    date_hierarchy = "changed_at"
    search_fields = ("opportunity__customer__name", "opportunity__customer__code", "opportunity__external_ref")
    autocomplete_fields = ("opportunity", "changed_by")


class FulfilledFilter(admin.SimpleListFilter):
    title = _("fulfilled")
    parameter_name = "fulfilled"

    def lookups(self, request, model_admin):
        return [("yes", _("fulfilled")), ("no", _("not fulfilled"))]

    def queryset(self, request, queryset):
        if self.value() in ("yes", "no"):
            return queryset.filter(fulfilled_at__isnull=self.value() == "no")
        return queryset


@admin.register(Order)
class OrderAdmin(SafeAutocompleteMixin, admin.ModelAdmin):
    list_display = ("__str__", "opportunity", "amount", "ordered_at", "fulfilled_at")
    list_filter = (FulfilledFilter,)
    list_select_related = ("opportunity__customer", "opportunity__product", "opportunity__stage")
    date_hierarchy = "ordered_at"
    search_fields = ("opportunity__customer__name", "opportunity__customer__code", "opportunity__external_ref")
    autocomplete_fields = ("opportunity",)
