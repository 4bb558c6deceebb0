"""Forms of the pipeline pages: move to a stage, lose with a reason, set the probability by hand."""

from decimal import Decimal

from django import forms
from django.utils.translation import gettext_lazy as _

from sales.models import Opportunity, Stage
from sales.services import REASON_MAX


class StageMoveForm(forms.Form):
    """A move to any stage (the board drops on Won and Lost too); `reason` is needed for Lost only."""

    stage = forms.ModelChoiceField(
        queryset=Stage.objects.order_by("order"),
        label=_("Move to stage"),
        empty_label=_("Choose a stage"),
        error_messages={"invalid_choice": _("Choose one of the pipeline's stages.")},
    )
    reason = forms.CharField(label=_("Why was it lost?"), max_length=REASON_MAX, required=False)

    def __init__(self, *args, opportunity: Opportunity | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        if opportunity is not None:
            # The page's select offers the open stages it can move to; Win and Lose have their own buttons.
            self.fields["stage"].queryset = Stage.objects.filter(is_won=False, is_lost=False).exclude(
                pk=opportunity.stage_id
            )
        self.fields["stage"].widget.attrs.update({"class": "form-select", "id": "move-stage"})


class LoseForm(forms.Form):
    reason = forms.CharField(
        label=_("Why was it lost?"),
        max_length=REASON_MAX,
        error_messages={"required": _("Say why the opportunity was lost.")},
        widget=forms.Textarea(attrs={"rows": 2, "class": "form-control", "id": "lose-reason"}),
    )


class ProbabilityForm(forms.Form):
    """The probability in percent, as people say it; the service stores the fraction."""

    probability = forms.DecimalField(
        label=_("Probability (%)"),
        min_value=Decimal(0),
        max_value=Decimal(100),
        decimal_places=1,
        error_messages={
            "required": _("Give the probability in percent, from 0 to 100."),
            "invalid": _("Give the probability in percent, from 0 to 100."),
            # Django fills these in with %-formatting, hence the doubled percent sign.
            "min_value": _("The probability cannot be below 0%%."),
            "max_value": _("The probability cannot be above 100%%."),
            "max_decimal_places": _("Give the probability with at most one decimal (e.g. 37.5)."),
        },
        widget=forms.NumberInput(attrs={"class": "form-control", "id": "probability-percent", "step": "0.1"}),
    )

    def fraction(self) -> Decimal:
        return self.cleaned_data["probability"] / 100
