"""URLs of the pipeline, mounted at /pipeline/ (namespace "sales")."""

from django.urls import path

from sales import views, views_export

app_name = "sales"

urlpatterns = [
    path("", views.board, name="board"),
    path("opportunities/", views.opportunity_list, name="opportunity_list"),
    path("opportunities/export.<slug:fmt>", views_export.opportunity_export, name="opportunity_export"),
    path("opportunities/<int:pk>/", views.opportunity_detail, name="opportunity_detail"),
    path("opportunities/<int:pk>/move/", views.opportunity_move_view, name="opportunity_move"),
    path("opportunities/<int:pk>/win/", views.opportunity_win_view, name="opportunity_win"),
    path("opportunities/<int:pk>/lose/", views.opportunity_lose_view, name="opportunity_lose"),
    path("opportunities/<int:pk>/probability/", views.opportunity_probability_view, name="opportunity_probability"),
    path("orders/", views.order_list, name="order_list"),
    path("orders/<int:pk>/fulfil/", views.order_fulfil_view, name="order_fulfil"),
]
