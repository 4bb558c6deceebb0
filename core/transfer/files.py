"""Tables in and out: an uploaded CSV or XLSX read into a dataset, and rows written as CSV or XLSX.

Reading refuses what it cannot read faithfully, with a message saying so: a file that
is too large, not UTF-8, an XLSX that is not a workbook, a header repeated, a row
longer than the header. Blank rows are left out, but every row keeps its number in
the spreadsheet (the header is row 1), which is the number error messages use.
"""

import csv
import io
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import tablib
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from core.transfer.resources import normalize_header
from core.transfer.widgets import is_blank

MAX_UPLOAD_BYTES = 5 * 1024 * 1024
MAX_UPLOAD_LABEL = gettext_lazy("5 MB")
# Rows per file: both steps (preview, confirm) run within a web request, a few ms a row on PostgreSQL.
MAX_ROWS = 2000
# An XLSX is a zip: refuse one that would unpack to more than this (a "zip bomb").
MAX_XLSX_UNPACKED_BYTES = 50 * 1024 * 1024
# Rows read at most, blank ones included (a sheet formatted down to row 1,048,576 has them all).
MAX_LINES = 50 * MAX_ROWS
FORMATS = ("csv", "xlsx")
XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class TableError(Exception):
    """The file cannot be read as a table; the message says why, for the person who uploaded it."""


@dataclass
class Table:
    dataset: tablib.Dataset
    #: The spreadsheet row number of each dataset row (header = row 1; blank rows skipped).
    line_numbers: list[int]
    #: Header cells that were blank (their columns are ignored), as 1-based column positions.
    unnamed_columns: list[int] = field(default_factory=list)

    @property
    def headers(self) -> list[str]:
        return list(self.dataset.headers or [])


def file_format(name: str) -> str | None:
    """'csv' or 'xlsx' from a file name; None for anything else."""
    extension = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    return extension if extension in FORMATS else None


def read_table(data: bytes, *, name: str) -> Table:
    """The first sheet of an XLSX, or a CSV (UTF-8; comma, semicolon or tab separated), as a Table."""
    if len(data) > MAX_UPLOAD_BYTES:
        raise TableError(
            _("The file is %(size).1f MB: the limit is %(limit)s. Split it into smaller files.")
            % {"size": len(data) / 1024 / 1024, "limit": MAX_UPLOAD_LABEL}
        )
    kind = file_format(name)
    if kind is None:
        raise TableError(_("Upload a .csv or an .xlsx file (this one is “%(name)s”).") % {"name": name})
    rows = _xlsx_rows(data) if kind == "xlsx" else _csv_rows(data)
    return _table(rows)


def _csv_rows(data: bytes) -> Iterator[list]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise TableError(
            _(
                "The file is not UTF-8 text (first unreadable character on row %(row)d). "
                "In Excel, save it as “CSV UTF-8 (comma delimited)” and upload it again."
            )
            % {"row": line}
        ) from None
    first_line = text.split("\n", 1)[0]
    # Excel writes ";" where the decimal separator is a comma: take the separator the header uses most.
    delimiter = max((",", ";", "\t"), key=first_line.count)
    try:
        yield from csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    except csv.Error as error:
        raise TableError(_("The CSV file cannot be read: %(error)s.") % {"error": error}) from None


def _xlsx_rows(data: bytes) -> Iterator[list]:
    import openpyxl  # imported here: only XLSX uploads need it

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except zipfile.BadZipFile:
        raise TableError(_("This .xlsx file is not an Excel workbook, or it is damaged.")) from None
    if unpacked > MAX_XLSX_UNPACKED_BYTES:
        raise TableError(_("This workbook is too large once unpacked: split it into smaller files."))
    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception:  # openpyxl raises many kinds (KeyError, InvalidFileException, XML errors)
        raise TableError(_("This .xlsx file is not an Excel workbook, or it is damaged.")) from None
    try:
        if not workbook.worksheets:
            raise TableError(_("The workbook has no sheet."))
        rows = workbook.worksheets[0].iter_rows(values_only=True)
        while True:
            try:
                row = next(rows, None)
            except Exception:  # a damaged sheet fails while it is read, row by row
                raise TableError(_("This .xlsx file is not an Excel workbook, or it is damaged.")) from None
            if row is None:
                return
            yield list(row)
    finally:
        workbook.close()


def _table(rows: Iterable[list]) -> Table:
    rows = iter(rows)
    header = next(rows, None)
    if header is None:
        raise TableError(_("The file is empty: its first row must name the columns."))
    if all(is_blank(cell) for cell in header):
        raise TableError(_("Row 1 is blank: the first row must name the columns."))
    names = [normalize_header(cell) if not is_blank(cell) else "" for cell in header]
    width = len(names)
    while width and not names[width - 1]:
        width -= 1
    names = names[:width]
    seen: dict[str, int] = {}
    for position, name in enumerate(names, 1):
        if name and name in seen:
            raise TableError(
                _("The column “%(name)s” appears twice (columns %(first)d and %(second)d).")
                % {"name": name, "first": seen[name], "second": position}
            )
        seen.setdefault(name, position)
    unnamed = [position for position, name in enumerate(names, 1) if not name]
    # Unnamed columns get a placeholder name no resource knows, so they are ignored.
    headers = [name or f"_column_{position}" for position, name in enumerate(names, 1)]

    dataset = tablib.Dataset(headers=headers)
    line_numbers: list[int] = []
    for line, row in enumerate(rows, 2):
        if line > MAX_LINES:
            raise TableError(
                _("The sheet goes on past row %(max)d, blank rows included: delete the rows below your data.")
                % {"max": MAX_LINES}
            )
        cells = list(row)
        if all(is_blank(cell) for cell in cells):
            continue
        extra = cells[width:]
        if any(not is_blank(cell) for cell in extra):
            raise TableError(
                _("Row %(row)d has values beyond the last named column: give every column a name in row 1.")
                % {"row": line}
            )
        cells = (cells + [None] * width)[:width]
        if len(line_numbers) >= MAX_ROWS:
            raise TableError(
                _("The file has more than %(max)d rows: split it into files of at most %(max)d rows.")
                % {"max": MAX_ROWS}
            )
        dataset.append([cell.strip() if isinstance(cell, str) else cell for cell in cells])
        line_numbers.append(line)
    if not line_numbers:
        raise TableError(_("The file has a header but no rows to import."))
    return Table(dataset=dataset, line_numbers=line_numbers, unnamed_columns=unnamed)


# --- writing --------------------------------------------------------------------------------


class _Echo:
    """A file-like object whose write returns the text, so csv.writer can feed a streaming response."""

    def write(self, value: str) -> str:
        return value


def csv_lines(headers: list[str], rows: Iterable[list]) -> Iterator[str]:
    """CSV text, line by line: a BOM first, so Excel reads it as UTF-8."""
    writer = csv.writer(_Echo())
    yield "\ufeff" + writer.writerow(headers)
    for row in rows:
        yield writer.writerow(["" if value is None else value for value in row])


def xlsx_bytes(headers: list[str], rows: Iterable[list], *, title: str) -> bytes:
    """An XLSX workbook of one sheet, written as it goes. Text cells are typed as text, so a cell
    starting with "=" stays text and is never run as a formula."""
    import openpyxl
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
    from openpyxl.styles import Font

    workbook = openpyxl.Workbook(write_only=True)
    sheet = workbook.create_sheet(title=title[:31])
    bold = Font(bold=True)
    header_cells = []
    for name in headers:
        cell = WriteOnlyCell(sheet, value=name)
        cell.font = bold
        header_cells.append(cell)
    sheet.append(header_cells)
    for row in rows:
        cells = []
        for value in row:
            if isinstance(value, str):
                cell = WriteOnlyCell(sheet, value=ILLEGAL_CHARACTERS_RE.sub("", value))
                cell.data_type = "s"
            else:
                cell = WriteOnlyCell(sheet, value=value)
            cells.append(cell)
        sheet.append(cells)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
