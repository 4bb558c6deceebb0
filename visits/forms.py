"""Forms of visit execution: the position sent with a check-in/check-out, and the visit report.

Every field says what is wrong next to it; the report's needs and follow-up tasks are
formsets (a few empty rows, more added by static/visits/report.js) validated row by row.
"""

from datetime import date

from crispy_forms.bootstrap import InlineRadios
from crispy_forms.helper import FormHelper
from crispy_forms.layout import Field, Layout
from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from visits.models import FollowUp, Visit

SATISFACTION_CHOICES = [(value, str(value)) for value in range(1, 6)]
REPORT_ROWS = 3  # empty need and follow-up rows shown; the page can add more
MAX_ROWS = 20


class PositionForm(forms.Form):
    """The browser's position, filled by static/visits/checkin.js; both empty means "no position"."""

    latitude = forms.FloatField(
        required=False,
        min_value=-90,
        max_value=90,
        widget=forms.HiddenInput(attrs={"data-geo": "latitude"}),
        error_messages={"invalid": _("The latitude the browser sent is not a number.")},
    )
    longitude = forms.FloatField(
        required=False,
        min_value=-180,
        max_value=180,
        widget=forms.HiddenInput(attrs={"data-geo": "longitude"}),
        error_messages={"invalid": _("The longitude the browser sent is not a number.")},
    )

    def clean(self):
        cleaned = super().clean()
        latitude, longitude = cleaned.get("latitude"), cleaned.get("longitude")
        if (latitude is None) != (longitude is None) and not self.errors:
            self.add_error(None, _("The browser sent half a position; try again."))
        return cleaned


class NeedRowForm(forms.Form):
    description = forms.CharField(
        label=_("Need"),
        required=False,
        max_length=500,
        widget=forms.TextInput(attrs={"placeholder": _("What the customer needs")}),
    )
    satisfied = forms.BooleanField(label=_("satisfied during the visit"), required=False)

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("satisfied") and not cleaned.get("description"):
            # A satisfied need must be one of the raised needs: satisfied <= raised.
            self.add_error("description", _("Describe the need you marked as satisfied."))
        return cleaned


class FollowUpRowForm(forms.Form):
    title = forms.CharField(
        label=_("Follow-up task"),
        required=False,
        max_length=FollowUp._meta.get_field("title").max_length,
        widget=forms.TextInput(attrs={"placeholder": _("e.g. send the quote")}),
    )
    due_date = forms.DateField(
        label=_("Due"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        error_messages={"invalid": _("Enter a date like 2026-03-31.")},
    )

    def __init__(self, *args, today: date, **kwargs):
        super().__init__(*args, **kwargs)
        self.today = today
        self.fields["due_date"].widget.attrs["min"] = today.isoformat()

    def clean(self):
        cleaned = super().clean()
        title, due_date = cleaned.get("title"), cleaned.get("due_date")
        if due_date and not title:
            self.add_error("title", _("Give this follow-up a title."))
        if title and not due_date and "due_date" not in self.errors:
            self.add_error("due_date", _("Pick a due date for this follow-up."))
        if due_date and due_date < self.today:
            self.add_error("due_date", _("The due date cannot be in the past."))
        return cleaned


NeedFormSet = forms.formset_factory(NeedRowForm, extra=REPORT_ROWS, max_num=MAX_ROWS, validate_max=True)
FollowUpFormSet = forms.formset_factory(FollowUpRowForm, extra=REPORT_ROWS, max_num=MAX_ROWS, validate_max=True)


class VisitReportForm(PositionForm):
    """The report, with its need and follow-up formsets (`needs`, `follow_ups`) validated together.

    The position fields carry the check-out position when "check out now" is ticked.
    """

    outcome = forms.ChoiceField(
        label=_("Outcome"),
        choices=[("", _("Choose…")), *Visit.Outcome.choices],
        error_messages={"required": _("Choose the outcome of the visit.")},
    )
    notes = forms.CharField(
        label=_("Notes"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("What was discussed; optional only when the customer was absent."),
    )
    actual_satisfaction = forms.TypedChoiceField(
        label=_("Customer satisfaction (1 = very unhappy, 5 = very happy)"),
        choices=SATISFACTION_CHOICES,
        coerce=int,
        empty_value=None,
        required=False,
        widget=forms.RadioSelect,
        error_messages={"invalid_choice": _("Choose a satisfaction from 1 to 5.")},
    )
    expected_satisfaction = forms.TypedChoiceField(
        label=_("Satisfaction you expected before the visit (1 to 5)"),
        choices=SATISFACTION_CHOICES,
        coerce=int,
        empty_value=None,
        required=False,
        widget=forms.RadioSelect,
        error_messages={"invalid_choice": _("Choose a satisfaction from 1 to 5.")},
    )
    next_step = forms.CharField(
        label=_("Next step"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    check_out = forms.BooleanField(label=_("Check out now"), required=False, initial=True)

    def __init__(self, *args, visit: Visit, today: date | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.visit = visit
        today = today or timezone.localdate()
        data = args[0] if args else kwargs.get("data")
        self.needs = NeedFormSet(data, prefix="needs")
        self.follow_ups = FollowUpFormSet(data, prefix="followups", form_kwargs={"today": today})
        if visit.status != Visit.Status.CHECKED_IN:
            # Already checked out (the report comes later): nothing to check out.
            del self.fields["check_out"]
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.disable_csrf = True
        self._layout()

    def _layout(self) -> None:
        def radios(name: str, testid: str) -> InlineRadios:
            # crispy-bootstrap5 puts the radios' error after their wrapper, which Bootstrap shows only
            # when that wrapper is marked invalid too (`.is-invalid ~ .invalid-feedback`).
            extra = {"css_class": "is-invalid"} if name in (self._errors or {}) else {}
            return InlineRadios(name, data_testid=testid, **extra)

        self.helper.layout = Layout(
            Field("outcome", data_testid="report-outcome"),
            Field("notes", data_testid="report-notes"),
            radios("actual_satisfaction", "report-actual-satisfaction"),
            radios("expected_satisfaction", "report-expected-satisfaction"),
            Field("next_step", data_testid="report-next-step"),
            "latitude",
            "longitude",
        )

    def is_valid(self) -> bool:
        # Every part is validated (no short-circuit) so all the errors show at once.
        valid = [super().is_valid(), self.needs.is_valid(), self.follow_ups.is_valid()]
        if valid[0] and valid[2] and self.cleaned_data["outcome"] == Visit.Outcome.FOLLOW_UP:
            has_task = any(row.get("title") for row in self.follow_ups.cleaned_data)
            if not self.cleaned_data.get("next_step") and not has_task:
                self.add_error(
                    "next_step", _("A follow-up is needed: say what the next step is or add a follow-up task.")
                )
                valid[0] = False
        self._layout()
        return all(valid)

    def clean(self):
        cleaned = super().clean()
        outcome = cleaned.get("outcome")
        absent = outcome == Visit.Outcome.CUSTOMER_ABSENT
        if outcome and not absent:
            if not (cleaned.get("notes") or "").strip():
                self.add_error("notes", _("Write a few words about the visit."))
            for name in ("actual_satisfaction", "expected_satisfaction"):
                if cleaned.get(name) is None and name not in self.errors:
                    self.add_error(name, _("Give a satisfaction from 1 to 5."))
        return cleaned

    def report_data(self) -> dict:
        """The mapping `visits.execution.visit_report_file` takes (call after is_valid())."""
        cleaned = self.cleaned_data
        return {
            "outcome": cleaned["outcome"],
            "notes": cleaned.get("notes", ""),
            "actual_satisfaction": cleaned.get("actual_satisfaction"),
            "expected_satisfaction": cleaned.get("expected_satisfaction"),
            "next_step": cleaned.get("next_step", ""),
            "needs": [
                (row["description"], row.get("satisfied", False))
                for row in self.needs.cleaned_data
                if row.get("description")
            ],
            "follow_ups": [(row["title"], row["due_date"]) for row in self.follow_ups.cleaned_data if row.get("title")],
        }

    @property
    def wants_check_out(self) -> bool:
        return bool(self.cleaned_data.get("check_out"))
