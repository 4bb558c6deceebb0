"""URLs of visit execution, follow-ups and calendar feeds (included by visits/urls.py, namespace "visits")."""

from django.urls import path, re_path

from visits import views_execution as views

urlpatterns = [
    path("visits/<int:pk>/", views.visit_detail, name="visit_detail"),
    path("visits/<int:pk>/check-in/", views.visit_check_in_view, name="visit_check_in"),
    path("visits/<int:pk>/report/", views.visit_report, name="visit_report"),
    path("visits/<int:pk>/check-out/", views.visit_check_out_view, name="visit_check_out"),
    path("visits/<int:pk>/visit.ics", views.visit_ics, name="visit_ics"),
    path("followups/", views.follow_ups, name="followups"),
    path("followups/<int:pk>/done/", views.follow_up_done, name="followup_done"),
    path("followups/<int:pk>/reopen/", views.follow_up_reopen_view, name="followup_reopen"),
    path("calendar/feed/rotate/", views.calendar_feed_rotate_view, name="feed_rotate"),
    path("calendar/feed/revoke/", views.calendar_feed_revoke_view, name="feed_revoke"),
    # token_urlsafe alphabet only: anything else is not a token and never reaches the database.
    re_path(r"^calendar/feed/(?P<token>[A-Za-z0-9_-]{20,64})\.ics$", views.calendar_feed, name="feed"),
]
