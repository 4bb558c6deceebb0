"""Admin of users (roles are groups) and the site's titles."""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.utils.translation import gettext_lazy as _

from core.models import User
from core.roles import ROLE_LABELS
from crm.admin import RepProfileInline

admin.site.site_header = _("Fieldwise administration")
admin.site.site_title = _("Fieldwise admin")
admin.site.index_title = _("Users, teams, policies and data")


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    list_display = (
        "username",
        "full_name",
        "email",
        "role",
        "team",
        "teams_managed",
        "is_active",
        "is_staff",
        "last_login",
    )
    list_filter = ("groups", "is_active", "is_staff", "is_superuser", "rep_profile__team")
    list_select_related = ("rep_profile__team",)
    inlines = (RepProfileInline,)
    add_fieldsets = (
        (None, {"classes": ("wide",), "fields": ("username", "usable_password", "password1", "password2")}),
        (_("Personal info"), {"classes": ("wide",), "fields": ("first_name", "last_name", "email")}),
        (_("Role"), {"classes": ("wide",), "fields": ("groups",)}),
    )

    def get_queryset(self, request):
        # Role and managed teams are many-to-many: two prefetch queries per page, not two per row.
        return super().get_queryset(request).prefetch_related("groups", "managed_teams")

    @admin.display(description=_("name"), ordering="last_name")
    def full_name(self, obj: User) -> str:
        return obj.get_full_name()

    @admin.display(description=_("role"))
    def role(self, obj: User) -> str:
        # Role groups show their translated label (StrEnum keys match the plain group names).
        return ", ".join(str(ROLE_LABELS.get(group.name, group.name)) for group in obj.groups.all()) or "-"

    @admin.display(description=_("team"), ordering="rep_profile__team__name")
    def team(self, obj: User) -> str:
        profile = getattr(obj, "rep_profile", None)
        return str(profile.team) if profile is not None and profile.team_id else "-"

    @admin.display(description=_("teams managed"))
    def teams_managed(self, obj: User) -> str:
        return ", ".join(team.name for team in obj.managed_teams.all()) or "-"
