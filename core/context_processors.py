from core.roles import ROLE_LABELS, user_role


def role(request):
    """Expose the user's role to templates (navigation by role)."""
    current = user_role(request.user) if hasattr(request, "user") else None
    return {"user_role": current, "user_role_label": ROLE_LABELS.get(current, "")}
