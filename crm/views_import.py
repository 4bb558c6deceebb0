"""Managers' imports: customers, contacts or opportunities from a CSV or XLSX file, previewed, then confirmed.

1. Upload (`import/<kind>/`): the file is read and imported as a dry run, in a transaction
   that is rolled back; the page lists every row (new, update, unchanged, error) and every
   error as "row N, field F: message". The file waits in the cache under a random token
   that only the uploader's session holds.
2. Confirm (`import/<kind>/confirm/`): the same file is imported for real in one
   transaction: every row, or none if any row fails now. A double submit imports once.

Managers import within their teams, admins anything; anyone else gets a 404.
"""

from dataclasses import dataclass

from django.contrib import messages
from django.core.cache import cache
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from import_export.tmp_storages import CacheStorage

from core.roles import Role, user_role
from core.transfer.files import TableError, csv_lines, read_table
from core.transfer.service import NEW, SKIP, UPDATE, ImportReport, table_import
from crm.forms_import import ImportUploadForm
from crm.resources import ContactResource, CustomerResource
from sales.resources import OpportunityResource

PREVIEW_ROWS = 200  # rows drawn in the preview table; the counts and the errors cover them all
SESSION_KEY = "fieldwise_pending_imports"


class PendingUploadStorage(CacheStorage):
    """An uploaded file between its preview and its confirmation: an hour, then it is gone."""

    CACHE_LIFETIME = 3600
    CACHE_PREFIX = "fieldwise-import-"


@dataclass(frozen=True)
class ImportKind:
    resource: type
    title: Promise
    list_url: str


IMPORT_KINDS = {
    "customers": ImportKind(CustomerResource, gettext_lazy("Import customers"), "crm:customer_list"),
    "contacts": ImportKind(ContactResource, gettext_lazy("Import contacts"), "crm:customer_list"),
    "opportunities": ImportKind(OpportunityResource, gettext_lazy("Import opportunities"), "sales:opportunity_list"),
}


def _kind_or_404(request: HttpRequest, kind: str) -> ImportKind:
    if user_role(request.user) not in (Role.MANAGER, Role.ADMIN) or kind not in IMPORT_KINDS:
        raise Http404
    return IMPORT_KINDS[kind]


def _render(request, kind: str, spec: ImportKind, *, form, report: ImportReport | None = None, file_name: str = ""):
    context = {
        "kind": kind,
        "spec": spec,
        "form": form,
        "report": report,
        "file_name": file_name,
        "columns": spec.resource.column_help(),
        "preview_rows": report.rows[:PREVIEW_ROWS] if report else [],
        "hidden_rows": max(len(report.rows) - PREVIEW_ROWS, 0) if report else 0,
        "can_confirm": bool(report and report.dry_run and not report.has_errors and report.writes),
    }
    return render(request, "crm/import.html", context)


@require_http_methods(["GET", "POST"])
def import_upload(request: HttpRequest, kind: str) -> HttpResponse:
    """Step 1: the upload form; posted, the dry-run preview of the file."""
    spec = _kind_or_404(request, kind)
    if request.method == "GET":
        return _render(request, kind, spec, form=ImportUploadForm())
    form = ImportUploadForm(request.POST, request.FILES)
    if not form.is_valid():
        return _render(request, kind, spec, form=form)
    upload = form.cleaned_data["file"]
    data = upload.read()
    try:
        table = read_table(data, name=upload.name)
    except TableError as error:
        form.add_error("file", str(error))
        return _render(request, kind, spec, form=form)
    report = table_import(resource_class=spec.resource, table=table, user=request.user, dry_run=True)

    pending = request.session.get(SESSION_KEY, {})
    if previous := pending.pop(kind, None):
        PendingUploadStorage(name=previous["token"]).remove()
    if not report.has_errors and report.writes:
        storage = PendingUploadStorage()
        storage.save(data)
        pending[kind] = {"token": storage.name, "name": upload.name}
    request.session[SESSION_KEY] = pending
    return _render(request, kind, spec, form=ImportUploadForm(), report=report, file_name=upload.name)


@require_POST
def import_confirm(request: HttpRequest, kind: str) -> HttpResponse:
    """Step 2: import the previewed file for real, all rows or none."""
    spec = _kind_or_404(request, kind)
    pending = request.session.get(SESSION_KEY, {})
    upload = pending.pop(kind, None)
    request.session[SESSION_KEY] = pending
    if upload is None:
        messages.error(request, _("There is no previewed file waiting to be imported: upload it again."))
        return redirect("crm:import_upload", kind=kind)
    storage = PendingUploadStorage(name=upload["token"])
    # One confirmation per upload: a second click (or tab) must not import the file twice.
    if not cache.add(f"{PendingUploadStorage.CACHE_PREFIX}claimed-{upload['token']}", True, 3600):
        messages.warning(request, _("This file is already being imported."))
        return redirect(spec.list_url)
    data = storage.read()
    storage.remove()
    if data is None:
        messages.error(request, _("The previewed file has expired (after an hour): upload it again."))
        return redirect("crm:import_upload", kind=kind)
    try:
        table = read_table(data, name=upload["name"])
    except TableError as error:  # it was read for the preview; only a change of limits gets here
        messages.error(request, str(error))
        return redirect("crm:import_upload", kind=kind)
    report = table_import(resource_class=spec.resource, table=table, user=request.user, dry_run=False)
    if not report.committed:
        # The data changed since the preview (or the user's scope did): nothing was written.
        return _render(request, kind, spec, form=ImportUploadForm(), report=report, file_name=upload["name"])
    messages.success(
        request,
        _("%(file)s imported: %(new)d new, %(updated)d updated, %(unchanged)d unchanged.")
        % {
            "file": upload["name"],
            "new": report.counts[NEW],
            "updated": report.counts[UPDATE],
            "unchanged": report.counts[SKIP],
        },
    )
    return redirect(spec.list_url)


@require_GET
def import_template(request: HttpRequest, kind: str) -> HttpResponse:
    """A CSV with the header row of an import: the columns the file may have, nothing else."""
    spec = _kind_or_404(request, kind)
    headers = [field.column_name for field in spec.resource().get_import_fields()]
    response = StreamingHttpResponse(csv_lines(headers, []), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{kind}-template.csv"'
    return response
