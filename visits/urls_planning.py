"""URLs of Today and the week calendar (included by visits/urls.py, namespace "visits")."""

from django.urls import path

from visits import views_planning as views

urlpatterns = [
    path("today/", views.today, name="today"),
    path("calendar/", views.calendar, name="calendar"),
    path("visits/new/", views.visit_create, name="visit_create"),
    path("visits/<int:pk>/move/", views.visit_move, name="visit_move"),
    path("visits/<int:pk>/confirm/", views.visit_confirm, name="visit_confirm"),
    path("visits/<int:pk>/cancel/", views.visit_cancel, name="visit_cancel"),
]
