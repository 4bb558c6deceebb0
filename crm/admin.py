"""Admin of teams, rep profiles, customers (with the reassign action), contacts and needs."""

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import ValidationError
from django.db.models import Count
from django.template.response import TemplateResponse
from django.utils.dates import WEEKDAYS_ABBR
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from core.admin_widgets import SafeAutocompleteMixin
from core.audit_admin import AuditTrailAdmin
from core.roles import Role
from core.transfer.admin import ScopedImportExportMixin
from crm.forms import CustomerReassignForm, RepProfileAdminForm
from crm.models import Contact, Customer, Need, RepProfile, Team
from crm.resources import ContactResource, CustomerResource
from crm.services import customer_reassign

REPROFILE_PATTERN_FIELDS = ("working_days", "day_start", "day_end", "lunch_start", "lunch_minutes")


def working_days_label(mask: int) -> str:
    return ", ".join(str(WEEKDAYS_ABBR[day]) for day in range(7) if mask & (1 << day)) or "-"


class RepProfileInline(SafeAutocompleteMixin, admin.StackedInline):
    """The rep profile edited on its user's page."""

    model = RepProfile
    form = RepProfileAdminForm
    fk_name = "user"
    can_delete = True
    max_num = 1
    extra = 0
    autocomplete_fields = ("team",)
    verbose_name = _("rep profile")
    fieldsets = (
        (None, {"fields": ("team",)}),
        (_("Working pattern"), {"fields": REPROFILE_PATTERN_FIELDS}),
        (_("Home base"), {"fields": ("home_latitude", "home_longitude")}),
    )


class TeamMemberInline(admin.TabularInline):
    """Members are shown here, edited on the rep profile (a rep joins a team from there)."""

    model = RepProfile
    fk_name = "team"
    fields = ("user", "working_days_display", "day_start", "day_end")
    readonly_fields = fields
    extra = 0
    max_num = 0
    can_delete = False
    show_change_link = True
    verbose_name = _("member rep")
    verbose_name_plural = _("member reps")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("user")

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description=_("working days"))
    def working_days_display(self, obj: RepProfile) -> str:
        return working_days_label(obj.working_days)


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ("name", "member_count", "manager_names", "created_at")
    search_fields = ("name",)
    filter_horizontal = ("managers",)
    inlines = (TeamMemberInline,)

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(member_count=Count("members")).prefetch_related("managers")

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if db_field.name == "managers":
            # A team's managers get the manager scope only if they are in the Manager group.
            kwargs["queryset"] = db_field.remote_field.model.objects.filter(groups__name=Role.MANAGER.value)
            kwargs["help_text"] = _("Only users in the Manager group are listed.")
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    @admin.display(description=_("members"), ordering="member_count")
    def member_count(self, obj: Team) -> int:
        return obj.member_count

    @admin.display(description=_("managers"))
    def manager_names(self, obj: Team) -> str:
        return ", ".join(str(user) for user in obj.managers.all()) or "-"


@admin.register(RepProfile)
class RepProfileAdmin(SafeAutocompleteMixin, admin.ModelAdmin):
    form = RepProfileAdminForm
    list_display = ("user", "team", "working_days_display", "day_start", "day_end", "lunch_start", "lunch_minutes")
    list_filter = ("team",)
    list_select_related = ("user", "team")
    search_fields = ("user__username", "user__first_name", "user__last_name", "team__name")
    autocomplete_fields = ("user", "team")
    fieldsets = (
        (None, {"fields": ("user", "team")}),
        (_("Working pattern"), {"fields": REPROFILE_PATTERN_FIELDS}),
        (_("Home base"), {"fields": ("home_latitude", "home_longitude")}),
    )

    def get_queryset(self, request):
        # The label is the user's name (autocomplete, change page). The changelist skips
        # list_select_related once a queryset has joins, so this names them all.
        return super().get_queryset(request).select_related(*self.list_select_related)

    @admin.display(description=_("working days"), ordering="working_days")
    def working_days_display(self, obj: RepProfile) -> str:
        return working_days_label(obj.working_days)


class ContactInline(admin.TabularInline):
    model = Contact
    fields = ("name", "title", "email", "phone", "is_primary")
    extra = 0


class OwnerTeamFilter(admin.SimpleListFilter):
    title = _("owner's team")
    parameter_name = "owner_team"

    def lookups(self, request, model_admin):
        return [*Team.objects.values_list("pk", "name"), ("none", _("no team"))]

    def queryset(self, request, queryset):
        value = self.value()
        if value == "none":
            return queryset.filter(owner__rep_profile__team__isnull=True)
        if value:
            return queryset.filter(owner__rep_profile__team_id=value)
        return queryset


@admin.register(Customer)
class CustomerAdmin(ScopedImportExportMixin, AuditTrailAdmin):
    resource_classes = [CustomerResource]
    list_display = (
        "code",
        "name",
        "tier",
        "segment",
        "city",
        "owner",
        "status",
        "annual_value",
        "visit_cadence_days",
    )
    list_filter = ("tier", "status", "segment", OwnerTeamFilter)
    list_select_related = ("owner",)
    search_fields = ("code", "name", "city")
    autocomplete_fields = ("owner", "parent")
    inlines = (ContactInline,)
    actions = ("reassign_customers",)
    readonly_fields = ("created_at", "updated_at")
    fieldsets = (
        (None, {"fields": ("code", "name", "tier", "segment", "status", "parent")}),
        (_("Ownership and cadence"), {"fields": ("owner", "visit_cadence_days", "annual_value", "employees")}),
        (_("Location"), {"fields": ("address", "city", "country", "latitude", "longitude")}),
        (_("History"), {"classes": ("collapse",), "fields": ("created_at", "updated_at")}),
    )

    def get_deleted_objects(self, objs, request):
        # A customer's score is derived data that goes with it; its admin is read-only
        # (no delete permission), which must not block deleting the customer itself.
        from analytics.models import CustomerScore

        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        perms_needed.discard(CustomerScore._meta.verbose_name)
        return deleted, counts, perms_needed, protected

    @admin.action(description=_("Reassign selected customers to another rep"), permissions=["change"])
    def reassign_customers(self, request, queryset):
        if "_reassign" in request.POST:
            form = CustomerReassignForm(request.POST)
            if form.is_valid():
                new_owner = form.cleaned_data["new_owner"]
                try:
                    count = customer_reassign(
                        customer_ids=list(queryset.values_list("pk", flat=True)),
                        new_owner=new_owner,
                        reassigned_by=request.user,
                    )
                except ValidationError as exc:
                    form.add_error("new_owner", exc)
                else:
                    message = ngettext(
                        "%(count)d customer reassigned to %(rep)s.",
                        "%(count)d customers reassigned to %(rep)s.",
                        count,
                    ) % {"count": count, "rep": new_owner}
                    self.message_user(request, message, messages.SUCCESS)
                    return None  # back to the changelist
        else:
            form = CustomerReassignForm()

        shown = 50
        selected_ids = list(queryset.values_list("pk", flat=True))
        context = {
            **self.admin_site.each_context(request),
            "title": _("Reassign customers"),
            "opts": self.model._meta,
            "form": form,
            "media": self.media + form.media,
            "selected_ids": selected_ids,
            "customers": queryset.select_related("owner")[:shown],
            "more": max(len(selected_ids) - shown, 0),
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            # The action was posted to the changelist URL, filters included: cancel goes back there.
            "changelist_url": request.get_full_path(),
        }
        return TemplateResponse(request, "admin/crm/customer/reassign.html", context)


@admin.register(Contact)
class ContactAdmin(SafeAutocompleteMixin, ScopedImportExportMixin, admin.ModelAdmin):
    resource_classes = [ContactResource]
    list_display = ("name", "customer", "title", "email", "phone", "is_primary")
    list_filter = ("is_primary",)
    list_select_related = ("customer",)
    search_fields = ("name", "email", "customer__name", "customer__code")
    autocomplete_fields = ("customer",)


@admin.register(Need)
class NeedAdmin(SafeAutocompleteMixin, admin.ModelAdmin):
    list_display = ("short_description", "customer", "raised_at", "satisfied", "satisfied_at")
    list_filter = ("satisfied",)
    list_select_related = ("customer",)
    date_hierarchy = "raised_at"
    search_fields = ("description", "customer__name", "customer__code")
    autocomplete_fields = ("customer", "visit")

    @admin.display(description=_("description"))
    def short_description(self, obj: Need) -> str:
        return str(obj)
