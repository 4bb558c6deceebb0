from django.urls import path

from analytics import views, views_dashboard

app_name = "analytics"

urlpatterns = [
    path("dashboard/", views_dashboard.dashboard, name="dashboard"),
    path("dashboard/field-today/", views_dashboard.dashboard_field_today, name="dashboard_field_today"),
    path("dashboard/reps.csv", views_dashboard.dashboard_reps_csv, name="dashboard_reps_csv"),
    path("dashboard/need-model/fit/", views_dashboard.need_model_fit_now, name="need_model_fit_now"),
    path("runs/", views.runs, name="runs"),
    path("runs/recalculate/", views.run_recalculate, name="run_recalculate"),
    path("runs/<int:pk>/progress/", views.run_progress, name="run_progress"),
]
