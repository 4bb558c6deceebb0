"""Forms of the CRM app: the rep-profile form with day checkboxes and the reassignment form."""

from collections.abc import Iterable

from django import forms
from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _

from core.roles import Role
from crm.models import WEEKDAY_LABELS, RepProfile


def working_days_to_mask(days: Iterable[int | str]) -> int:
    """Weekday indexes (Monday = 0) to the `RepProfile.working_days` bit mask."""
    return sum(1 << day for day in {int(day) for day in days})


def working_days_from_mask(mask: int) -> list[int]:
    return [day for day in range(7) if mask & (1 << day)]


class WorkingDaysField(forms.TypedMultipleChoiceField):
    """Seven checkboxes, Monday..Sunday, cleaned to the bit mask the model stores."""

    widget = forms.CheckboxSelectMultiple

    def __init__(self, **kwargs):
        kwargs.setdefault("choices", list(enumerate(WEEKDAY_LABELS)))
        kwargs.setdefault("coerce", int)
        kwargs.setdefault("error_messages", {"required": _("Pick at least one working day.")})
        super().__init__(**kwargs)

    def prepare_value(self, value):
        # Unbound forms carry the model's integer; bound ones the posted list.
        if isinstance(value, int):
            return working_days_from_mask(value)
        return value

    def clean(self, value) -> int:
        return working_days_to_mask(super().clean(value))

    def has_changed(self, initial, data) -> bool:
        if self.disabled:
            return False
        return self._as_mask(initial) != self._as_mask(data)

    @staticmethod
    def _as_mask(value) -> int:
        if value in (None, ""):
            return 0
        if isinstance(value, int):
            return value
        try:
            return working_days_to_mask(value)
        except (TypeError, ValueError):
            return -1  # garbage posted: treat as a change so validation reports it


class RepProfileAdminForm(forms.ModelForm):
    working_days = WorkingDaysField(
        label=_("Working days"), help_text=_("The days the planner may schedule visits for this rep.")
    )

    class Meta:
        model = RepProfile
        fields = (
            "user",
            "team",
            "working_days",
            "day_start",
            "day_end",
            "lunch_start",
            "lunch_minutes",
            "home_latitude",
            "home_longitude",
        )


class RepChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj) -> str:
        profile = getattr(obj, "rep_profile", None)
        if profile is not None and profile.team_id:
            return f"{obj} ({obj.username}, {profile.team})"
        return f"{obj} ({obj.username})"


def active_reps():
    """The users a customer may be assigned to: active members of the Rep group."""
    user_model = get_user_model()
    return (
        user_model.objects.filter(is_active=True, groups__name=Role.REP.value)
        .select_related("rep_profile__team")
        .order_by("last_name", "first_name", "username")
    )


class CustomerReassignForm(forms.Form):
    new_owner = RepChoiceField(
        queryset=get_user_model().objects.none(),
        label=_("New owner rep"),
        help_text=_("Only active users in the Rep group are listed."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Evaluated per form, so a rep deactivated a second ago is not offered.
        self.fields["new_owner"].queryset = active_reps()
