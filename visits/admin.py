"""Admin of visits and their follow-ups."""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from core.admin_widgets import SafeAutocompleteMixin
from core.audit_admin import AuditTrailAdmin
from visits.feeds import calendar_feed_token_new
from visits.models import CalendarFeed, FollowUp, Visit


class FollowUpInline(SafeAutocompleteMixin, admin.TabularInline):
    model = FollowUp
    fields = ("title", "assignee", "due_date", "done_at")
    autocomplete_fields = ("assignee",)
    extra = 0


@admin.register(Visit)
class VisitAdmin(AuditTrailAdmin):
    list_display = ("customer", "rep", "planned_start", "planned_minutes", "status", "origin", "actual_satisfaction")
    list_filter = ("status", "origin", ("rep", admin.RelatedOnlyFieldListFilter))
    list_select_related = ("customer", "rep")
    date_hierarchy = "planned_start"
    search_fields = ("customer__name", "customer__code")
    autocomplete_fields = ("customer", "rep")
    # Set by the planner when it proposes the visit; not something to hand-edit.
    readonly_fields = ("plan_run", "priority", "plan_reason", "created_at", "updated_at")
    inlines = (FollowUpInline,)
    fieldsets = (
        (
            _("Plan"),
            {"fields": ("customer", "rep", "planned_start", "planned_minutes", "goal", "agenda", "status", "origin")},
        ),
        (
            _("Check-in and check-out"),
            {
                "fields": (
                    ("checked_in_at", "check_in_latitude", "check_in_longitude"),
                    ("check_in_result", "check_in_distance_m"),
                    ("checked_out_at", "check_out_latitude", "check_out_longitude"),
                )
            },
        ),
        (
            _("Report"),
            {
                "fields": (
                    "outcome",
                    "report",
                    "next_step",
                    "report_filed_at",
                    ("expected_satisfaction", "actual_satisfaction"),
                    ("needs_raised", "needs_satisfied"),
                )
            },
        ),
        (_("Cancellation"), {"classes": ("collapse",), "fields": ("cancelled_at", "cancel_reason")}),
        (
            _("Planner and history"),
            {"classes": ("collapse",), "fields": ("plan_run", "priority", "plan_reason", "created_at", "updated_at")},
        ),
    )

    def get_queryset(self, request):
        # A visit's label names its customer: autocomplete and change pages need it joined.
        # (The changelist skips list_select_related once a queryset has joins, so name them all.)
        return super().get_queryset(request).select_related(*self.list_select_related)


class DoneFilter(admin.SimpleListFilter):
    title = _("done")
    parameter_name = "done"

    def lookups(self, request, model_admin):
        return [("yes", _("done")), ("no", _("open"))]

    def queryset(self, request, queryset):
        if self.value() in ("yes", "no"):
            return queryset.filter(done_at__isnull=self.value() == "no")
        return queryset


@admin.register(FollowUp)
class FollowUpAdmin(SafeAutocompleteMixin, admin.ModelAdmin):
    list_display = ("title", "visit", "assignee", "due_date", "done_at")
    list_filter = (DoneFilter, "due_date")
    list_select_related = ("visit__customer", "assignee")
    date_hierarchy = "due_date"
    search_fields = ("title", "visit__customer__name", "visit__customer__code")
    autocomplete_fields = ("visit", "assignee")


@admin.register(CalendarFeed)
class CalendarFeedAdmin(SafeAutocompleteMixin, admin.ModelAdmin):
    list_display = ("user", "created_at", "revoked_at")
    list_select_related = ("user",)
    search_fields = ("user__username", "user__first_name", "user__last_name")
    autocomplete_fields = ("user",)
    # The token is a credential: always drawn by the server, never typed in. Revoke by setting "revoked at".
    fields = ("user", "token", "created_at", "revoked_at")

    def get_readonly_fields(self, request, obj=None):
        return ("token", "created_at") if obj is None else ("user", "token", "created_at")

    def save_model(self, request, obj, form, change):
        if not change:
            obj.token = calendar_feed_token_new()
        super().save_model(request, obj, form, change)
