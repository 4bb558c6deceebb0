"""Factories shared by the suite: one per model, building valid rows with few queries."""

from datetime import timedelta
from decimal import Decimal

import factory
from django.contrib.auth.models import Group
from django.utils import timezone

from core.models import User
from crm.models import Contact, Customer, Need, RepProfile, Team
from sales.models import Opportunity, Order, Product, Stage, StageChange
from visits.models import FollowUp, Visit


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.django.Password("pw-for-tests")

    @factory.post_generation
    def role(self, create, extracted, **kwargs):
        if create and extracted:
            self.groups.add(Group.objects.get(name=extracted))


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Team
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"Team {n}")


class RepProfileFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RepProfile

    user = factory.SubFactory(UserFactory, role="Rep")
    team = factory.SubFactory(TeamFactory)
    home_latitude = 48.8566
    home_longitude = 2.3522


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer

    code = factory.Sequence(lambda n: f"C{n:06d}")
    name = factory.Faker("company")
    tier = "B"
    segment = "retail"
    city = "Paris"
    country = "France"
    latitude = 48.86
    longitude = 2.35
    owner = factory.SubFactory(UserFactory, role="Rep")
    annual_value = Decimal("10000.00")
    visit_cadence_days = 30


class ContactFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Contact

    customer = factory.SubFactory(CustomerFactory)
    name = factory.Faker("name")
    email = factory.Faker("email")


class VisitFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Visit

    customer = factory.SubFactory(CustomerFactory)
    rep = factory.SelfAttribute("customer.owner")
    planned_start = factory.LazyFunction(lambda: timezone.now() + timedelta(days=1))
    planned_minutes = 45


def checked_out_visit(customer, rep, checked_out_at):
    """A completed visit of `customer` by `rep`, checked out at `checked_out_at` (planned an hour before)."""
    return VisitFactory(
        customer=customer,
        rep=rep,
        planned_start=checked_out_at - timedelta(hours=1),
        status=Visit.Status.COMPLETED,
        checked_in_at=checked_out_at - timedelta(minutes=40),
        checked_out_at=checked_out_at,
    )


class NeedFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Need

    customer = factory.SubFactory(CustomerFactory)
    description = factory.Faker("sentence")
    raised_at = factory.LazyFunction(timezone.now)


class FollowUpFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = FollowUp

    visit = factory.SubFactory(VisitFactory)
    assignee = factory.SelfAttribute("visit.rep")
    title = factory.Faker("sentence", nb_words=4)
    due_date = factory.LazyFunction(lambda: timezone.localdate() + timedelta(days=3))


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"Product {n}")
    list_price = Decimal("1000.00")


def stage(code: str) -> Stage:
    """A stage created by the data migration, by its stable code."""
    return Stage.objects.get(code=code)


class OpportunityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Opportunity

    customer = factory.SubFactory(CustomerFactory)
    owner = factory.SelfAttribute("customer.owner")
    product = factory.SubFactory(ProductFactory)
    amount = Decimal("5000.00")
    stage = factory.LazyFunction(lambda: stage("discovery"))
    probability = factory.SelfAttribute("stage.default_probability")


class StageChangeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = StageChange

    opportunity = factory.SubFactory(OpportunityFactory)
    to_stage = factory.LazyFunction(lambda: stage("communication"))


class OrderFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Order

    opportunity = factory.SubFactory(OpportunityFactory)
    amount = Decimal("5000.00")
