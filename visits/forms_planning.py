"""Forms of Today and the week calendar: move, cancel, and add a manual visit.

They parse and check the shape of the input; the rules of the plan (working hours,
lunch, overlaps, the past) are the services' (`visits.scheduling`), whose errors the
views attach to the field they concern.
"""

from django import forms
from django.utils.translation import gettext_lazy as _

from core.times import validate_year_in_range
from crm.selectors import customer_list_for_user
from visits.models import Visit
from visits.selectors import visit_rep_choices_for_user

DATETIME_LOCAL = "%Y-%m-%dT%H:%M"  # what <input type="datetime-local"> sends and shows
MINUTES_MIN, MINUTES_MAX = 5, 480


def _start_field(label) -> forms.DateTimeField:
    return forms.DateTimeField(
        label=label,
        input_formats=[DATETIME_LOCAL, "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local", "step": 300}, format=DATETIME_LOCAL),
        validators=[validate_year_in_range],
        error_messages={
            "required": _("Choose the day and time the visit starts."),
            "invalid": _("Enter the start as a date and a time, e.g. 2026-11-23 09:30."),
        },
    )


class VisitMoveForm(forms.Form):
    start = _start_field(_("New start"))


class VisitCancelForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason for cancelling"),
        max_length=Visit._meta.get_field("cancel_reason").max_length,
        error_messages={"required": _("Give a reason for cancelling the visit.")},
        widget=forms.TextInput(attrs={"placeholder": _("e.g. the customer asked to postpone")}),
    )


class CustomerChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj) -> str:
        return f"{obj.name} · {obj.city}" if obj.city else obj.name


class VisitCreateForm(forms.Form):
    """A manual visit: for whom (a rep sees only themself), to which customer, when, how long, why."""

    rep = forms.ModelChoiceField(
        label=_("Rep"), queryset=None, empty_label=None, error_messages={"invalid_choice": _("Pick a rep of yours.")}
    )
    customer = CustomerChoiceField(
        label=_("Customer"),
        queryset=None,
        error_messages={
            "required": _("Pick the customer to visit."),
            "invalid_choice": _("Pick one of the customers in the list."),
        },
    )
    start = _start_field(_("Start"))
    minutes = forms.IntegerField(
        label=_("Duration (minutes)"),
        min_value=MINUTES_MIN,
        max_value=MINUTES_MAX,
        initial=45,
        widget=forms.NumberInput(attrs={"step": 5}),
        error_messages={
            "required": _("Say how long the visit lasts, in minutes."),
            "min_value": _("A visit lasts at least %(limit_value)s minutes."),
            "max_value": _("A visit lasts at most %(limit_value)s minutes."),
        },
    )
    goal = forms.CharField(
        label=_("Goal"),
        required=False,
        max_length=Visit._meta.get_field("goal").max_length,
        widget=forms.TextInput(attrs={"placeholder": _("e.g. present the new range")}),
    )

    def __init__(self, *args, user, rep, can_choose_rep: bool, **kwargs):
        kwargs.setdefault("initial", {}).setdefault("rep", rep.pk)
        super().__init__(*args, **kwargs)
        self.fields["rep"].queryset = visit_rep_choices_for_user(user=user)
        self.fields["customer"].queryset = customer_list_for_user(user=user).order_by("name", "pk")
        if not can_choose_rep:
            # A rep books only for themself: no choice to show (the scope still checks the value).
            self.fields["rep"].widget = forms.HiddenInput()
