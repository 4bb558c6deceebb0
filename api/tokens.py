"""API tokens: issue, list, revoke, and find the token a request presents.

A token reads `fw_` + 8 hex characters (the prefix that finds its row) + 43 URL-safe
characters of secret: 256 random bits, so one SHA-256 round is enough to store it
(a slow password hash protects guessable secrets, not random ones).
"""

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from api.models import ApiToken

TOKEN_START = "fw_"  # noqa: S105 (the public marker every token starts with)
PREFIX_LENGTH = len(TOKEN_START) + 8
TOKEN_LENGTH = PREFIX_LENGTH + 43
NAME_MAX = ApiToken._meta.get_field("name").max_length
# Active tokens a user may hold at once: enough for every integration, not a way to fill the table.
MAX_ACTIVE_TOKENS = 50
# `last_used_at` is written at most this often per token, not on every request.
LAST_USED_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True)
class IssuedToken:
    """A new token: the row, and the secret the user sees this once."""

    token: ApiToken
    secret: str


def token_digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def api_token_list_for_user(*, user) -> QuerySet[ApiToken]:
    """The user's own tokens, newest first: nobody sees another person's tokens, admins included."""
    return ApiToken.objects.filter(user=user).order_by("-created_at", "-id")


@transaction.atomic
def api_token_create(*, user, name: str) -> IssuedToken:
    """Issue a named token for `user`; ValidationError naming `name` when it is empty or taken."""
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": _("Give the token a name, e.g. the integration that will use it.")})
    if len(name) > NAME_MAX:
        raise ValidationError({"name": _("A token name has at most %(max)d characters.") % {"max": NAME_MAX}})
    active = api_token_list_for_user(user=user).filter(revoked_at__isnull=True)
    if active.filter(name=name).exists():
        raise ValidationError({"name": _("You already have an active token with this name.")}, code="unique")
    if active.count() >= MAX_ACTIVE_TOKENS:
        raise ValidationError(
            _("You have %(max)d active tokens: revoke one you no longer use first.") % {"max": MAX_ACTIVE_TOKENS},
            code="too_many_tokens",
        )
    raw = TOKEN_START + secrets.token_hex(4) + secrets.token_urlsafe(32)
    try:
        with transaction.atomic():
            token = ApiToken.objects.create(user=user, name=name, prefix=raw[:PREFIX_LENGTH], digest=token_digest(raw))
    except IntegrityError:
        # The same name created meanwhile in another request (or, once in 4 billion, a prefix collision).
        raise ValidationError({"name": _("You already have an active token with this name.")}, code="unique") from None
    return IssuedToken(token=token, secret=raw)


@transaction.atomic
def api_token_revoke(*, token: ApiToken, by) -> ApiToken:
    """Revoke one of `by`'s own tokens; revoking a revoked token changes nothing."""
    locked = api_token_list_for_user(user=by).select_for_update().get(pk=token.pk)
    if locked.revoked_at is None:
        locked.revoked_at = timezone.now()
        locked.save(update_fields=["revoked_at"])
    return locked


def api_token_authenticate(*, raw: str) -> ApiToken | None:
    """The live token `raw` is (not revoked, its user active), or None; notes when it was used."""
    if len(raw) != TOKEN_LENGTH or not raw.startswith(TOKEN_START):
        return None
    token = (
        ApiToken.objects.select_related("user")
        .filter(prefix=raw[:PREFIX_LENGTH], revoked_at__isnull=True, user__is_active=True)
        .first()
    )
    if token is None or not hmac.compare_digest(token.digest, token_digest(raw)):
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token
