from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from core.roles import ROLE_LABELS, user_role

# The workspace pages every role uses, in menu order: (URL name, label, the URL names it covers).
WORKSPACE_LINKS = (
    ("visits:today", _("Today"), ("visits:today",)),
    ("visits:calendar", _("Week"), ("visits:calendar", "visits:visit_create")),
    ("crm:customer_list", _("Customers"), ("crm:customer_list", "crm:customer_detail")),
    ("visits:followups", _("Follow-ups"), ("visits:followups",)),
    ("sales:board", _("Pipeline"), ("sales:board", "sales:opportunity_list", "sales:opportunity_detail")),
    ("sales:order_list", _("Orders"), ("sales:order_list",)),
)


def role(request):
    """Expose the user's role and the menu it gets to templates (navigation by role)."""
    current = user_role(request.user) if hasattr(request, "user") else None
    view_name = getattr(getattr(request, "resolver_match", None), "view_name", "")
    links = [
        {"url": reverse(name), "label": label, "active": view_name in covers}
        for name, label, covers in (WORKSPACE_LINKS if current else ())
    ]
    return {"user_role": current, "user_role_label": ROLE_LABELS.get(current, ""), "nav_links": links}
