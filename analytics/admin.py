"""Admin of scoring policies (versioned, activated by action) and the read-only run results."""

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Exists, Max, OuterRef
from django.http import HttpResponseRedirect
from django.urls import path, reverse
from django.utils.translation import gettext as _g
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from analytics.models import CustomerScore, NeedModelFit, PlanRun, ScoringPolicy
from analytics.services import (
    POLICY_VALUE_FIELDS,
    scoring_policy_activate,
    scoring_policy_duplicate,
    scoring_policy_in_use,
)
from core.audit_admin import AuditTrailAdmin


@admin.register(ScoringPolicy)
class ScoringPolicyAdmin(AuditTrailAdmin):
    list_display = ("version", "name", "active", "w1", "w2", "w3", "in_use", "created_at")
    list_display_links = ("version", "name")
    list_filter = ("active",)
    search_fields = ("name",)
    actions = ("duplicate_as_new_version", "activate")
    change_form_template = "admin/analytics/scoringpolicy/change_form.html"
    fieldsets = (
        (None, {"fields": ("version", "name", "active")}),
        (
            _("Weights"),
            {
                "fields": ("w1", "w2", "w3"),
                "description": _("P = (W1*T1 + W2*T2 + W3*T3) / T4."),
            },
        ),
        (
            _("Per-tier times"),
            {
                "fields": (("t5_a", "t5_b", "t5_c"), ("t6_a", "t6_b", "t6_c"), "max_visit_minutes"),
                "description": _("T = T5 + P * T6 minutes, by customer tier; the planner books at most the maximum."),
            },
        ),
        (
            _("Travel"),
            {
                "fields": ("speed_kmh", "default_travel_km"),
                "description": _("T4 = 0.25 h + travel km / speed; the default distance is used without coordinates."),
            },
        ),
    )

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                has_runs=Exists(PlanRun.objects.filter(policy=OuterRef("pk"))),
            )
        )

    def get_changeform_initial_data(self, request):
        initial = super().get_changeform_initial_data(request)
        top = ScoringPolicy.objects.aggregate(top=Max("version"))["top"] or 0
        initial.setdefault("version", top + 1)
        return initial

    def get_readonly_fields(self, request, obj=None):
        # "active" only changes through the Activate action, which keeps exactly one active.
        if obj is not None and scoring_policy_in_use(policy=obj):
            return ("version", "name", "active", *POLICY_VALUE_FIELDS)
        return ("active",)

    def has_delete_permission(self, request, obj=None) -> bool:
        if obj is not None and (obj.active or scoring_policy_in_use(policy=obj)):
            return False
        return super().has_delete_permission(request, obj)

    def get_actions(self, request):
        actions = super().get_actions(request)
        # Bulk delete could remove the active policy; unused drafts are deleted one by one.
        actions.pop("delete_selected", None)
        return actions

    def change_view(self, request, object_id, form_url="", extra_context=None):
        obj = self.get_object(request, object_id)
        in_use = obj is not None and scoring_policy_in_use(policy=obj)
        wants_copy = request.method == "POST" and "_saveasnewversion" in request.POST
        if in_use and wants_copy and self.has_add_permission(request):
            copy = scoring_policy_duplicate(policy=obj)
            self.log_addition(request, copy, [{"added": {}}])
            self.message_user(
                request,
                _g("Version %(new)s created from version %(old)s; edit it, then activate it.")
                % {"new": copy.version, "old": obj.version},
                messages.SUCCESS,
            )
            return HttpResponseRedirect(reverse("admin:analytics_scoringpolicy_change", args=[copy.pk]))
        extra_context = {**(extra_context or {}), "policy_in_use": in_use}
        if in_use:
            extra_context.update(show_save=False, show_save_and_continue=False, show_save_and_add_another=False)
        return super().change_view(request, object_id, form_url, extra_context)

    @admin.display(description=_("in use"), boolean=True)
    def in_use(self, obj: ScoringPolicy) -> bool:
        return scoring_policy_in_use(policy=obj)

    @admin.action(description=_("Duplicate as a new version"), permissions=["add"])
    def duplicate_as_new_version(self, request, queryset):
        created = [scoring_policy_duplicate(policy=policy) for policy in queryset.order_by("version")]
        for copy in created:
            self.log_addition(request, copy, [{"added": {}}])
        self.message_user(
            request,
            ngettext(
                "Created version %(versions)s (inactive).",
                "Created versions %(versions)s (inactive).",
                len(created),
            )
            % {"versions": ", ".join(str(copy.version) for copy in created)},
            messages.SUCCESS,
        )

    @admin.action(description=_("Activate"), permissions=["change"])
    def activate(self, request, queryset):
        policies = list(queryset[:2])
        if len(policies) != 1:
            self.message_user(request, _g("Select exactly one policy to activate."), messages.ERROR)
            return
        scoring_policy_activate(policy=policies[0])
        self.log_change(request, policies[0], [{"changed": {"fields": ["active"]}}])
        self.message_user(
            request,
            _g("Version %(version)s is now the active policy.") % {"version": policies[0].version},
            messages.SUCCESS,
        )


def nightly_schedule_text() -> str:
    """The beat schedule of the nightly job, in words, for admins."""
    return _g("Nightly job (scores, then visit plans) every day at %(time)s, %(zone)s (setting NIGHTLY_AT).") % {
        "time": settings.NIGHTLY_AT,
        "zone": settings.TIME_ZONE,
    }


class ReadOnlyAdmin(admin.ModelAdmin):
    """Results written by runs: viewable, never added, edited or deleted by hand."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(CustomerScore)
class CustomerScoreAdmin(ReadOnlyAdmin):
    list_display = ("customer", "p", "t", "t1", "t2", "t3", "t4", "t5", "t6", "policy", "run", "computed_at")
    list_filter = ("customer__tier", "policy")
    list_select_related = ("customer", "policy", "run")
    search_fields = ("customer__name", "customer__code")
    ordering = ("-p",)
    fieldsets = (
        (None, {"fields": ("customer", "p", "t", "computed_at", "policy", "run")}),
        (_("Inputs"), {"fields": ("t1", "t2", "t3", "t4", "t5", "t6")}),
    )


@admin.register(PlanRun)
class PlanRunAdmin(ReadOnlyAdmin):
    list_display = (
        "__str__",
        "kind",
        "status",
        "as_of",
        "progress",
        "started_at",
        "finished_at",
        "policy",
        "requested_by",
        "short_error",
    )
    list_filter = ("kind", "status")
    list_select_related = ("policy", "requested_by")
    date_hierarchy = "as_of"
    search_fields = ("error",)
    fieldsets = (
        (None, {"fields": ("kind", "status", "as_of", "policy", "requested_by")}),
        (_("Progress"), {"fields": ("progress", "started_at", "finished_at", "lease_expires_at")}),
        (_("Error"), {"fields": ("error",)}),
    )
    readonly_fields = ("progress",)
    change_list_template = "admin/analytics/planrun/change_list.html"

    def get_urls(self):
        run_now = self.admin_site.admin_view(self.run_nightly_now)
        return [path("run-nightly/", run_now, name="analytics_planrun_run_nightly"), *super().get_urls()]

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "nightly_schedule": nightly_schedule_text()}
        return super().changelist_view(request, extra_context=extra_context)

    def run_nightly_now(self, request):
        """Queue the nightly job (missed sweep, scores, plans) now; POST only."""
        if request.method != "POST" or not request.user.has_perm("analytics.view_planrun"):
            raise PermissionDenied
        from analytics.tasks import nightly

        transaction.on_commit(lambda: nightly.delay(requested_by_id=request.user.pk))
        self.message_user(request, _g("The nightly job was queued: scores, then every rep's plan."), messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:analytics_planrun_changelist"))

    @admin.display(description=_("progress"))
    def progress(self, obj: PlanRun) -> str:
        if not obj.total:
            return f"{obj.done}/{obj.total}"
        return f"{obj.done}/{obj.total} ({100 * obj.done / obj.total:.0f}%)"

    @admin.display(description=_("error"))
    def short_error(self, obj: PlanRun) -> str:
        first_line = obj.error.strip().splitlines()[0] if obj.error.strip() else ""
        return first_line[:80] or "-"


@admin.register(NeedModelFit)
class NeedModelFitAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "as_of", "status", "sample_size", "a", "b", "log_loss", "reason_text", "run")
    list_filter = ("status", "reason_code")
    list_select_related = ("run",)
    date_hierarchy = "as_of"
    readonly_fields = ("created_at",)
    fieldsets = (
        (None, {"fields": ("created_at", "as_of", "status", "reason_code", "reason", "run")}),
        (_("Model"), {"fields": ("a", "b", "sample_size", "log_loss", "engagement_max", "calibration")}),
    )

    @admin.display(description=_("reason"))
    def reason_text(self, obj: NeedModelFit) -> str:
        return obj.reason_display() or "-"
