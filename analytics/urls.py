from django.urls import path

from analytics import views

app_name = "analytics"

urlpatterns = [
    path("runs/", views.runs, name="runs"),
    path("runs/recalculate/", views.run_recalculate, name="run_recalculate"),
    path("runs/<int:pk>/progress/", views.run_progress, name="run_progress"),
]
