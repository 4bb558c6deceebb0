"""django-import-export in the Django admin, the Fieldwise way: CSV and XLSX only, the importing
user's scope, and all or nothing at the confirm step too."""

from django.contrib import messages
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext as _
from import_export.admin import ImportExportMixin
from import_export.formats import base_formats
from import_export.forms import ExportForm

from core.transfer.files import xlsx_bytes


class SafeXLSX(base_formats.XLSX):
    """XLSX export whose text cells are typed as text, so a value starting with "=" is never a formula."""

    def export_data(self, dataset, **kwargs):
        return xlsx_bytes(list(dataset.headers or []), dataset, title=dataset.title or "export")


class ScopedImportExportMixin(ImportExportMixin):
    """Put before the ModelAdmin class (and before SimpleHistoryAdmin): `class X(ScopedImportExportMixin, ...)`."""

    formats = [base_formats.CSV, SafeXLSX]
    show_change_form_export = False
    # Every column, no per-field checkboxes: that form's "select all" is an inline handler the CSP blocks.
    export_form_class = ExportForm

    def get_import_resource_kwargs(self, request, **kwargs):
        return {**super().get_import_resource_kwargs(request, **kwargs), "user": request.user}

    def get_export_resource_kwargs(self, request, **kwargs):
        return {**super().get_export_resource_kwargs(request, **kwargs), "user": request.user}

    def get_import_data_kwargs(self, **kwargs):
        # The confirm step re-reads the file: a row that became invalid since the preview
        # rolls the whole import back instead of being skipped.
        return {**super().get_import_data_kwargs(**kwargs), "rollback_on_validation_errors": True}

    def process_result(self, result, request):
        if result.has_errors() or result.has_validation_errors():
            self.message_user(
                request,
                _(
                    "Nothing was imported: some rows are no longer valid (the data changed since the preview). "
                    "Import the file again to see which."
                ),
                messages.ERROR,
            )
            app_label, model_name = self.get_model_info()
            return HttpResponseRedirect(reverse(f"admin:{app_label}_{model_name}_changelist"))
        return super().process_result(result, request)
