"""API tokens: a user lists, creates and revokes their own; and `auth/token/` trades a password for one."""

import django_filters
from django.contrib.auth import authenticate
from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import exceptions, mixins, serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from api.errors import django_validation_error_detail
from api.models import ApiToken
from api.throttling import TokenLoginThrottle
from api.tokens import NAME_MAX, IssuedToken, api_token_create, api_token_list_for_user, api_token_revoke
from api.v1.viewsets import ScopedViewSet
from core.roles import user_role


class ApiTokenSerializer(serializers.ModelSerializer):
    is_active = serializers.BooleanField(read_only=True)

    class Meta:
        model = ApiToken
        fields = ["id", "name", "prefix", "created_at", "last_used_at", "revoked_at", "is_active"]
        read_only_fields = fields


class IssuedTokenSerializer(ApiTokenSerializer):
    token = serializers.CharField(read_only=True, help_text=_("The token itself: shown this once, store it now."))

    class Meta(ApiTokenSerializer.Meta):
        fields = [*ApiTokenSerializer.Meta.fields, "token"]
        read_only_fields = fields

    @classmethod
    def of(cls, issued: IssuedToken) -> dict:
        return {**cls(issued.token).data, "token": issued.secret}


class TokenCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=NAME_MAX, help_text=_("What will use it, e.g. `ERP sync`."))


class TokenLoginSerializer(TokenCreateSerializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=4096, trim_whitespace=False, style={"input_type": "password"})


def _issue(*, user, name: str) -> Response:
    try:
        issued = api_token_create(user=user, name=name)
    except DjangoValidationError as error:
        raise serializers.ValidationError(django_validation_error_detail(error)) from None
    return Response(IssuedTokenSerializer.of(issued), status=status.HTTP_201_CREATED)


class TokenFilter(django_filters.FilterSet):
    active = django_filters.BooleanFilter(field_name="revoked_at", lookup_expr="isnull", label=_("Not revoked"))

    class Meta:
        model = ApiToken
        fields = ["active"]


@extend_schema_view(
    list=extend_schema(
        summary=_("Your API tokens"), description=_("Your own only; the secrets are never shown again.")
    ),
    retrieve=extend_schema(summary=_("One of your tokens")),
    create=extend_schema(
        summary=_("Create a token"),
        description=_(
            "For the signed-in user (a browser session, e.g. these docs). A token cannot create tokens: "
            "a leaked one must not be able to outlive its revocation. From a script use POST /api/v1/auth/token/."
        ),
        request=TokenCreateSerializer,
        responses={201: IssuedTokenSerializer},
    ),
    destroy=extend_schema(summary=_("Revoke a token"), description=_("It stops working at once; it stays listed.")),
)
class ApiTokenViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.DestroyModelMixin,
    ScopedViewSet,
):
    serializer_class = ApiTokenSerializer
    filterset_class = TokenFilter
    queryset = ApiToken.objects.none()

    def get_queryset(self):
        return api_token_list_for_user(user=self.request.user)

    def create(self, request, *args, **kwargs):
        if isinstance(request.auth, ApiToken):
            raise exceptions.PermissionDenied(
                _("Create tokens with your password (POST /api/v1/auth/token/) or signed in.")
            )
        parsed = TokenCreateSerializer(data=request.data)
        parsed.is_valid(raise_exception=True)
        return _issue(user=request.user, name=parsed.validated_data["name"])

    def perform_destroy(self, instance):
        api_token_revoke(token=instance, by=self.request.user)


class TokenLoginView(GenericAPIView):
    """Trade a user name and password for a new named token (the way scripts and integrations start)."""

    serializer_class = TokenLoginSerializer
    authentication_classes = []  # the password is the credential; no session, so no CSRF either
    permission_classes = [AllowAny]
    throttle_classes = [TokenLoginThrottle]

    @extend_schema(
        summary=_("Create a token with your password"),
        description=_(
            "Returns a new named token for the user, shown once. Attempts are limited per address "
            "(API_RATE_TOKEN_LOGIN)."
        ),
        request=TokenLoginSerializer,
        responses={201: IssuedTokenSerializer},
        auth=[],
    )
    def post(self, request):
        parsed = TokenLoginSerializer(data=request.data)
        parsed.is_valid(raise_exception=True)
        data = parsed.validated_data
        user = authenticate(request._request, username=data["username"], password=data["password"])
        if user is None:
            raise serializers.ValidationError(
                {"password": [_("The user name or password is wrong (or the account is inactive).")]},
                code="invalid_credentials",
            )
        return _issue(user=user, name=data["name"])


class MeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    name = serializers.CharField()
    email = serializers.EmailField(allow_blank=True)
    role = serializers.ChoiceField(choices=["Rep", "Manager", "Admin"], allow_null=True)


class MeView(GenericAPIView):
    serializer_class = MeSerializer

    @extend_schema(summary=_("Who you are"), description=_("The authenticated user and their role."))
    def get(self, request):
        user = request.user
        role = user_role(user)
        body = {
            "id": user.pk,
            "username": user.get_username(),
            "name": user.get_full_name() or user.get_username(),
            "email": user.email,
            "role": role.value if role else None,
        }
        return Response(MeSerializer(body).data)
