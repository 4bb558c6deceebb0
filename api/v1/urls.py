"""/api/v1/: one router for every resource (namespace "api:v1")."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from api.v1 import analytics, customers, kpis, sales, tokens, visits

router = SimpleRouter(use_regex_path=False)
router.register("customers", customers.CustomerViewSet, basename="customer")
router.register("contacts", customers.ContactViewSet, basename="contact")
router.register("visits", visits.VisitViewSet, basename="visit")
router.register("follow-ups", visits.FollowUpViewSet, basename="followup")
router.register("stages", sales.StageViewSet, basename="stage")
router.register("products", sales.ProductViewSet, basename="product")
router.register("opportunities", sales.OpportunityViewSet, basename="opportunity")
router.register("orders", sales.OrderViewSet, basename="order")
router.register("scores", analytics.ScoreViewSet, basename="score")
router.register("plan-runs", analytics.PlanRunViewSet, basename="planrun")
router.register("tokens", tokens.ApiTokenViewSet, basename="token")

urlpatterns = [
    path("me/", tokens.MeView.as_view(), name="me"),
    path("auth/token/", tokens.TokenLoginView.as_view(), name="token-login"),
    path("kpis/", kpis.KpiView.as_view(), name="kpis"),
    *router.urls,
]
