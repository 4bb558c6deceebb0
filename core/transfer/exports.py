"""A scoped queryset written out as a CSV (streamed) or XLSX download, through an import/export resource."""

from django.db.models import QuerySet
from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.utils import timezone

from core.transfer.files import FORMATS, XLSX_CONTENT_TYPE, csv_lines, xlsx_bytes

# Rows fetched per round trip; one query (a server-side cursor on PostgreSQL) whatever the total.
EXPORT_CHUNK = 2000


def export_response(*, resource, queryset: QuerySet, fmt: str, basename: str) -> HttpResponse:
    """The download of `queryset` in `fmt` ("csv" or "xlsx"; anything else is a 404).

    The caller scopes and filters the queryset; the resource joins what its columns read
    (`filter_export`), so the export is one query however many rows it has.
    """
    if fmt not in FORMATS:
        raise Http404
    headers = resource.get_export_headers()
    filename = f"{basename}-{timezone.localdate().isoformat()}.{fmt}"
    native = fmt == "xlsx"
    queryset = resource.filter_export(queryset)
    rows = (resource.export_resource(obj, force_native_type=native) for obj in queryset.iterator(EXPORT_CHUNK))
    if fmt == "csv":
        response = StreamingHttpResponse(csv_lines(headers, rows), content_type="text/csv; charset=utf-8")
    else:
        response = HttpResponse(xlsx_bytes(headers, rows, title=basename), content_type=XLSX_CONTENT_TYPE)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"  # scoped, personal data: never from a shared cache
    return response
