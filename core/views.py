from django.shortcuts import render

from crm.selectors import customer_list_for_user
from visits.selectors import visit_list_for_user


def home(request):
    """Landing page: who you are and the size of what you can see."""
    customers = customer_list_for_user(user=request.user)
    context = {
        "customer_count": customers.count(),
        "active_customer_count": customers.filter(status="active").count(),
        "open_visit_count": visit_list_for_user(user=request.user).filter(status__in=["planned", "confirmed"]).count(),
    }
    return render(request, "core/home.html", context)
