"""The dashboard's per-rep table: its figure cells written in one call per row.

A `{% for %}` over the texts costs two template nodes and a loop step per cell; with 112 reps x 12
figures that was a third of the page's rendering. The cells come out as the loop wrote them.
"""

from django import template
from django.utils.html import format_html_join

register = template.Library()


@register.simple_tag
def figure_cells(texts) -> str:
    """`<td class="text-end">text</td>` for each text, escaped as `{{ text }}` would be."""
    return format_html_join("", '<td class="text-end">{}</td>', ((text,) for text in texts))
