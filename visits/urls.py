from django.urls import include, path

app_name = "visits"
urlpatterns = [
    path("", include("visits.urls_planning")),
    path("", include("visits.urls_execution")),
]
