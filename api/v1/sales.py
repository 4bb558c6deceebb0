"""The pipeline: stages and products (reference data), opportunities (open, move, win, lose, probability)
and orders (fulfil).

Reads go through `sales.selectors` and the pages' filters, writes through `sales.services`,
the same functions the pipeline pages and the board call.
"""

import django_filters
from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from api.errors import django_validation_error_detail
from api.v1.fields import MomentField, ScopedPrimaryKeyField
from api.v1.viewsets import ScopedViewSet
from crm.selectors import customer_list_for_user
from sales.filters import OpportunityFilter, OrderFilter
from sales.models import Opportunity, Order, Product, Stage
from sales.selectors import (
    FRACTION,
    MONEY,
    opportunity_list_with_probability,
    order_list_for_user,
    owner_choices_for_user,
)
from sales.services import (
    REASON_MAX,
    opportunity_create,
    opportunity_lose,
    opportunity_move,
    opportunity_set_probability,
    opportunity_win,
    order_fulfil,
)


def _person(user) -> str:
    return user.get_full_name() or user.get_username()


def _refused(error: DjangoValidationError) -> serializers.ValidationError:
    return serializers.ValidationError(django_validation_error_detail(error))


class StageSerializer(serializers.ModelSerializer):
    class Meta:
        model = Stage
        fields = ["code", "name", "order", "default_probability", "is_won", "is_lost"]
        read_only_fields = fields


class ProductSerializer(serializers.ModelSerializer):
    class Meta:
        model = Product
        fields = ["id", "name", "series", "list_price", "active"]
        read_only_fields = fields


@extend_schema_view(list=extend_schema(summary=_("Pipeline stages, in order")))
class StageViewSet(mixins.ListModelMixin, ScopedViewSet):
    """Everyone sees the stages: `code` is what the move action takes."""

    serializer_class = StageSerializer
    queryset = Stage.objects.order_by("order")
    pagination_class = None
    filter_backends = []


@extend_schema_view(
    list=extend_schema(summary=_("Products"), description=_("The catalogue; new opportunities take active ones.")),
    retrieve=extend_schema(summary=_("One product")),
)
class ProductViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedViewSet):
    serializer_class = ProductSerializer
    queryset = Product.objects.order_by("name", "pk")
    filter_backends = []


class OpportunitySerializer(serializers.ModelSerializer):
    customer_name = serializers.CharField(source="customer.name", read_only=True, allow_null=True, default=None)
    owner_name = serializers.SerializerMethodField()
    product_name = serializers.CharField(source="product.name", read_only=True, allow_null=True, default=None)
    stage = serializers.CharField(source="stage.code", read_only=True, help_text=_("The stage's code."))
    stage_name = serializers.CharField(source="stage.name", read_only=True)
    chance = serializers.DecimalField(
        max_digits=FRACTION.max_digits,
        decimal_places=FRACTION.decimal_places,
        read_only=True,
        help_text=_("The probability in effect: set by hand where it was, else the stage's default (a fraction)."),
    )
    weighted = serializers.DecimalField(
        max_digits=MONEY.max_digits, decimal_places=MONEY.decimal_places, read_only=True, help_text=_("amount × chance")
    )
    order = serializers.SerializerMethodField(help_text=_("The order's id once won."))

    class Meta:
        model = Opportunity
        fields = [
            "id",
            "customer",
            "customer_name",
            "owner",
            "owner_name",
            "product",
            "product_name",
            "amount",
            "stage",
            "stage_name",
            "probability",
            "probability_manual",
            "chance",
            "weighted",
            "expected_close",
            "opened_at",
            "closed_at",
            "lost_reason",
            "order",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_owner_name(self, opportunity: Opportunity) -> str:
        return _person(opportunity.owner)

    def get_order(self, opportunity: Opportunity) -> int | None:
        order = getattr(opportunity, "order", None)  # a reverse one-to-one: missing raises, getattr says None
        return None if order is None else order.pk


class OpportunityCreateSerializer(serializers.Serializer):
    owner = ScopedPrimaryKeyField(
        choices=lambda user: owner_choices_for_user(user=user),
        required=False,
        help_text=_("Yourself (the default) or, for a manager, a rep of their teams."),
        error_messages={"does_not_exist": _("You may only open opportunities for yourself or the reps of your teams.")},
    )
    customer = ScopedPrimaryKeyField(
        choices=lambda user: customer_list_for_user(user=user),
        allow_null=True,
        required=False,
        help_text=_("One of the owner's customers; null for a lead whose account is not known yet."),
        error_messages={"does_not_exist": _("Pick one of your customers.")},
    )
    product = serializers.PrimaryKeyRelatedField(queryset=Product.objects.all(), allow_null=True, required=False)
    amount = serializers.DecimalField(max_digits=14, decimal_places=2, min_value=0)
    stage = serializers.SlugRelatedField(
        slug_field="code", queryset=Stage.objects.all(), required=False, help_text=_("Default: discovery.")
    )
    expected_close = serializers.DateField(required=False, allow_null=True)


class OpportunityMoveSerializer(serializers.Serializer):
    stage = serializers.SlugRelatedField(
        slug_field="code",
        queryset=Stage.objects.all(),
        help_text=_("Any stage's code; into won it is won (an order is created), into lost `reason` is needed."),
        error_messages={"does_not_exist": _("Choose one of the pipeline's stages.")},
    )
    reason = serializers.CharField(max_length=REASON_MAX, allow_blank=True, default="")
    moved_at = MomentField(required=False, help_text=_("When it happened (default now); not in the future."))


class OpportunityWinSerializer(serializers.Serializer):
    won_at = MomentField(required=False, help_text=_("Default now; not in the future."))


class OpportunityLoseSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=REASON_MAX)
    lost_at = MomentField(required=False, help_text=_("Default now; not in the future."))


class OpportunityProbabilitySerializer(serializers.Serializer):
    probability = serializers.DecimalField(
        max_digits=4,
        decimal_places=3,
        min_value=0,
        max_value=1,
        help_text=_("A fraction (0.25 is 25%); stage moves keep it from now on."),
    )


class OpportunityApiFilter(OpportunityFilter):
    """The opportunities page's own filter (customer search, stage, owner, product, status, sort).

    `stage` takes the stage's code, the key the API shows and the move action takes, not its id.
    """

    stage = django_filters.ModelChoiceFilter(
        queryset=Stage.objects.order_by("order"), to_field_name="code", label=_("Stage code")
    )

    def __init__(self, data=None, queryset=None, *, request=None, prefix=None):
        super().__init__(data, queryset, request=request, prefix=prefix, user=request.user, show_owner=True)


def _opportunity_schema(summary, description, request):
    return extend_schema(summary=summary, description=description, request=request, responses=OpportunitySerializer)


@extend_schema_view(
    list=extend_schema(
        summary=_("Opportunities you may see"),
        description=_("A rep's own, a manager's teams', all for an admin; newest first unless `sort` says otherwise."),
    ),
    retrieve=extend_schema(summary=_("One opportunity")),
    create=extend_schema(
        summary=_("Open an opportunity"),
        description=_(
            "For yourself or (a manager) a rep of your teams, on one of the owner's customers; it starts in "
            "an open stage and its first stage change is recorded."
        ),
        request=OpportunityCreateSerializer,
        responses={201: OpportunitySerializer},
    ),
)
class OpportunityViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, ScopedViewSet):
    serializer_class = OpportunitySerializer
    filterset_class = OpportunityApiFilter
    queryset = Opportunity.objects.none()

    def get_queryset(self):
        return (
            opportunity_list_with_probability(user=self.request.user)
            .select_related("order")
            .order_by("-opened_at", "-pk")
        )

    def _parse(self, serializer_class):
        parsed = serializer_class(data=self.request.data, context=self.get_serializer_context())
        parsed.is_valid(raise_exception=True)
        return parsed.validated_data

    def _answer(self, opportunity: Opportunity, status_code=status.HTTP_200_OK) -> Response:
        fresh = self.get_queryset().get(pk=opportunity.pk)
        return Response(OpportunitySerializer(fresh, context=self.get_serializer_context()).data, status=status_code)

    def create(self, request, *args, **kwargs):
        data = self._parse(OpportunityCreateSerializer)
        try:
            opportunity = opportunity_create(
                owner=data.get("owner") or request.user,
                customer=data.get("customer"),
                product=data.get("product"),
                amount=data["amount"],
                stage=data.get("stage"),
                expected_close=data.get("expected_close"),
                user=request.user,
            )
        except DjangoValidationError as error:
            raise _refused(error) from None
        return self._answer(opportunity, status.HTTP_201_CREATED)

    @_opportunity_schema(
        _("Move to a stage"),
        _(
            "As on the board: the probability becomes the stage's default unless it was set by hand; into won "
            "it is won and its order created, into lost it is lost with `reason`; a closed one never moves. "
            "A move to its current stage changes nothing."
        ),
        OpportunityMoveSerializer,
    )
    @action(detail=True, methods=["post"])
    def move(self, request, pk=None):
        opportunity = self.get_object()
        data = self._parse(OpportunityMoveSerializer)
        try:
            opportunity_move(
                opportunity=opportunity,
                to_stage=data["stage"],
                user=request.user,
                moved_at=data.get("moved_at"),
                reason=data["reason"],
            )
        except DjangoValidationError as error:
            raise _refused(error) from None
        return self._answer(opportunity)

    @_opportunity_schema(_("Win"), _("Closed as won; its order is created for its amount."), OpportunityWinSerializer)
    @action(detail=True, methods=["post"])
    def win(self, request, pk=None):
        opportunity = self.get_object()
        data = self._parse(OpportunityWinSerializer)
        try:
            opportunity_win(opportunity=opportunity, user=request.user, won_at=data.get("won_at"))
        except DjangoValidationError as error:
            raise _refused(error) from None
        return self._answer(opportunity)

    @_opportunity_schema(_("Lose"), _("Closed as lost, saying why."), OpportunityLoseSerializer)
    @action(detail=True, methods=["post"])
    def lose(self, request, pk=None):
        opportunity = self.get_object()
        data = self._parse(OpportunityLoseSerializer)
        try:
            opportunity_lose(
                opportunity=opportunity, user=request.user, reason=data["reason"], lost_at=data.get("lost_at")
            )
        except DjangoValidationError as error:
            raise _refused(error) from None
        return self._answer(opportunity)

    @_opportunity_schema(
        _("Set the probability by hand"), _("Stage moves keep it from now on."), OpportunityProbabilitySerializer
    )
    @action(detail=True, methods=["post"])
    def probability(self, request, pk=None):
        opportunity = self.get_object()
        data = self._parse(OpportunityProbabilitySerializer)
        try:
            opportunity_set_probability(opportunity=opportunity, probability=data["probability"], user=request.user)
        except DjangoValidationError as error:
            raise _refused(error) from None
        return self._answer(opportunity)


class OrderSerializer(serializers.ModelSerializer):
    customer = serializers.IntegerField(source="opportunity.customer_id", read_only=True, allow_null=True)
    customer_name = serializers.CharField(
        source="opportunity.customer.name", read_only=True, allow_null=True, default=None
    )
    owner = serializers.IntegerField(source="opportunity.owner_id", read_only=True)
    product_name = serializers.CharField(
        source="opportunity.product.name", read_only=True, allow_null=True, default=None
    )
    is_fulfilled = serializers.SerializerMethodField()

    class Meta:
        model = Order
        fields = [
            "id",
            "opportunity",
            "customer",
            "customer_name",
            "owner",
            "product_name",
            "amount",
            "ordered_at",
            "fulfilled_at",
            "is_fulfilled",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_is_fulfilled(self, order: Order) -> bool:
        return order.fulfilled_at is not None


class OrderFulfilSerializer(serializers.Serializer):
    fulfilled_at = MomentField(required=False, help_text=_("Default now; not in the future, not before the order."))


@extend_schema_view(
    list=extend_schema(summary=_("Orders you may see"), description=_("Newest first.")),
    retrieve=extend_schema(summary=_("One order")),
)
class OrderViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedViewSet):
    serializer_class = OrderSerializer
    filterset_class = OrderFilter
    queryset = Order.objects.none()

    def get_queryset(self):
        return order_list_for_user(user=self.request.user).order_by("-ordered_at", "-pk")

    @extend_schema(
        summary=_("Fulfil"),
        description=_("An order is fulfilled once."),
        request=OrderFulfilSerializer,
        responses=OrderSerializer,
    )
    @action(detail=True, methods=["post"])
    def fulfil(self, request, pk=None):
        order = self.get_object()
        parsed = OrderFulfilSerializer(data=request.data)
        parsed.is_valid(raise_exception=True)
        try:
            order_fulfil(order=order, user=request.user, fulfilled_at=parsed.validated_data.get("fulfilled_at"))
        except DjangoValidationError as error:
            raise _refused(error) from None
        fresh = self.get_queryset().get(pk=order.pk)
        return Response(OrderSerializer(fresh, context=self.get_serializer_context()).data)
