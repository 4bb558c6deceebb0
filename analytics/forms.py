"""The dashboard's filter: team, rep and period (a calendar month/quarter/year or custom dates)."""

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from analytics.periods import Period, PeriodKind, custom_period, period_containing
from core.times import validate_year_in_range


class DashboardFilterForm(forms.Form):
    """GET parameters of the dashboard. Team and rep ids are checked against the user's scope by the view."""

    team = forms.IntegerField(label=_("Team"), required=False, min_value=1)
    rep = forms.IntegerField(label=_("Rep"), required=False, min_value=1)
    period = forms.ChoiceField(label=_("Period"), choices=PeriodKind.choices, required=False)
    on = forms.DateField(
        label=_("Containing"),
        required=False,
        help_text=_("Any day of the month, quarter or year to show (today by default)."),
        widget=forms.DateInput(attrs={"type": "date"}),
        validators=[validate_year_in_range],
    )
    date_from = forms.DateField(
        label=_("From"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        validators=[validate_year_in_range],
    )
    date_to = forms.DateField(
        label=_("To"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        validators=[validate_year_in_range],
    )

    def clean(self):
        data = super().clean()
        kind = data.get("period") or PeriodKind.MONTH
        data["period"] = kind
        if kind == PeriodKind.CUSTOM:
            first, last = data.get("date_from"), data.get("date_to")
            if first is None:
                self.add_error("date_from", _("Give the first day of a custom period."))
            if last is None:
                self.add_error("date_to", _("Give the last day of a custom period."))
            if first and last:
                try:
                    data["resolved"] = custom_period(first, last)
                except ValueError:
                    self.add_error(
                        "date_to", _("The last day must not be before the first, and a period is at most 3 years.")
                    )
        else:
            data["resolved"] = period_containing(kind, data.get("on") or timezone.localdate())
        return data

    @property
    def resolved_period(self) -> Period:
        """The period asked for; this month when the form is invalid."""
        if self.is_valid():
            return self.cleaned_data["resolved"]
        return period_containing(PeriodKind.MONTH, timezone.localdate())
