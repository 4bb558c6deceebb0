from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.urls import include, path
from django.views.i18n import set_language

from core import views as core_views

urlpatterns = [
    path("", core_views.home, name="home"),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    # The language switcher is on the login page too, so choosing a language needs no account.
    path("i18n/setlang/", login_not_required(set_language), name="set_language"),
    path("", include("analytics.urls")),
    path("", include("crm.urls")),
    path("", include("visits.urls")),
    path("pipeline/", include("sales.urls")),
    path("api/", include("api.urls")),
    path("admin/", admin.site.urls),
]
