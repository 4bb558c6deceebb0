"""Figures as the pages show them: localised like Django's `number_format`, "—" where undefined."""

import pytest
from django.utils import translation
from django.utils.formats import number_format

from analytics import definitions
from analytics.definitions import NumberFormat, figure_text

VALUES = [0, 7, -3, 0.5, 1234.5678, -98765.4321, 1_234_567, 12_345_678.9, 1e-7, 3.999_999_9]


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_number_format_looked_up_once_writes_what_number_format_writes(language, settings):
    with translation.override(language):
        number = NumberFormat.active()
        for value in VALUES:
            for places in (0, 1, 3):
                for grouping in (False, True):
                    expected = number_format(value, places, force_grouping=grouping)
                    assert number(value, places, force_grouping=grouping) == expected


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_figure_text_by_kind_and_undefined(language):
    with translation.override(language):
        number = NumberFormat.active()
        for definition in (*definitions.ALL, definitions.VISIT_EFFECT):
            assert figure_text(definition, None) == "—"
            for value in VALUES:
                assert figure_text(definition, value) == figure_text(definition, value, number)
        assert figure_text(definitions.WON_AMOUNT, 1_234_567.4) == "1,234,567"  # grouped in both languages
        assert figure_text(definitions.WIN_RATE, 0.25) == "25.0 %"
        assert figure_text(definitions.CS_NEED, 80) == "80.0 %"
