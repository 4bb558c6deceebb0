"""Simplified Chinese number formats: thousands grouped with a comma (1,234,567.89), as CLDR's zh
number format and business software in mainland China write amounts. Django's own zh_Hans formats leave
them ungrouped; everything else (dates, the first day of the week) still comes from those."""

THOUSAND_SEPARATOR = ","
NUMBER_GROUPING = 3
