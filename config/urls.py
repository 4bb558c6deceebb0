from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from core import views as core_views

urlpatterns = [
    path("", core_views.home, name="home"),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("", include("analytics.urls")),
    path("", include("crm.urls")),
    path("", include("visits.urls")),
    path("pipeline/", include("sales.urls")),
    path("admin/", admin.site.urls),
]
