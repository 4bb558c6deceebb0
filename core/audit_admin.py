"""The admin side of the audit trail: a record's history, listed and viewed, never written back."""

from django.core.exceptions import PermissionDenied
from simple_history.admin import SimpleHistoryAdmin

from core.admin_widgets import SafeAutocompleteMixin


class AuditTrailAdmin(SafeAutocompleteMixin, SimpleHistoryAdmin):
    """`SimpleHistoryAdmin` with a read-only history (SIMPLE_HISTORY_REVERT_DISABLED) and safe autocompletes.

    The setting only hides the Revert button: the old-version page still saves what is
    posted to it, with no change-permission check and around the admin's own rules (a
    scoring policy in use would be reverted in place). So a POST there is refused.
    """

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        if request.method not in ("GET", "HEAD"):
            raise PermissionDenied
        return super().history_form_view(request, object_id, version_id, extra_context)
