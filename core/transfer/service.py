"""Run an import, as a preview (dry run) or for real, and report it row by row.

All or nothing: the whole file runs in one transaction, which is rolled back for a
preview and whenever any row has an error, so a file is either imported entirely or
not at all, and the report says which.
"""

import logging
from dataclasses import dataclass, field

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.utils.translation import gettext as _
from import_export.results import RowResult

from core.transfer.files import Table
from core.transfer.resources import ScopedResource
from core.transfer.widgets import unescape_formula

logger = logging.getLogger(__name__)

NEW, UPDATE, SKIP, ERROR = "new", "update", "skip", "error"
_STATUS = {
    RowResult.IMPORT_TYPE_NEW: NEW,
    RowResult.IMPORT_TYPE_UPDATE: UPDATE,
    RowResult.IMPORT_TYPE_SKIP: SKIP,
    RowResult.IMPORT_TYPE_INVALID: ERROR,
    RowResult.IMPORT_TYPE_ERROR: ERROR,
}
# Django's messages for a missing value say "field" and "null"; a spreadsheet user has cells.
_REQUIRED_CODES = {"null", "blank", "required"}


@dataclass(frozen=True)
class RowError:
    """What is wrong and where: a row (None: the whole file) and a column (None: the whole row)."""

    line: int | None
    column: str | None
    message: str

    def __str__(self) -> str:
        if self.line is not None and self.column:
            return _("Row %(row)d, field %(field)s: %(message)s") % {
                "row": self.line,
                "field": self.column,
                "message": self.message,
            }
        if self.line is not None:
            return _("Row %(row)d: %(message)s") % {"row": self.line, "message": self.message}
        return self.message


@dataclass
class RowOutcome:
    line: int
    status: str  # NEW, UPDATE, SKIP or ERROR
    key: str
    changes: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)


@dataclass
class ImportReport:
    dry_run: bool
    rows: list[RowOutcome] = field(default_factory=list)
    #: Every error, file-wide ones first, then by row.
    errors: list[RowError] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)
    export_only_columns: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=lambda: {NEW: 0, UPDATE: 0, SKIP: 0, ERROR: 0})

    @property
    def has_errors(self) -> bool:
        return bool(self.errors)

    @property
    def committed(self) -> bool:
        """Whether the rows are now in the database (a real run without any error)."""
        return not self.dry_run and not self.has_errors and bool(self.rows)

    @property
    def writes(self) -> int:
        return self.counts[NEW] + self.counts[UPDATE]


def _messages(error: ValidationError) -> list[tuple[str, str]]:
    """(field, message) pairs of a validation error, "A value is required." for Django's null/blank."""
    pairs = []
    groups = error.error_dict if hasattr(error, "error_dict") else {NON_FIELD_ERRORS: error.error_list}
    for name, errors in groups.items():
        for item in errors:
            text = _("A value is required.") if item.code in _REQUIRED_CODES else " ".join(item.messages)
            pairs.append((name, text))
    return pairs


def _display(resource: ScopedResource, import_field, instance) -> str:
    return unescape_formula(str(import_field.export(instance)))


def _changes(resource: ScopedResource, original, instance) -> list[str]:
    """ "city: Paris → Lyon" for each column whose value the row changes."""
    changes = []
    for import_field in resource.get_import_fields():
        before = _display(resource, import_field, original)
        after = _display(resource, import_field, instance)
        if before != after:
            changes.append(f"{import_field.column_name}: {before or '∅'} → {after or '∅'}")
    return changes


def table_import(*, resource_class: type[ScopedResource], table: Table, user, dry_run: bool) -> ImportReport:
    """Import `table` with `resource_class` as `user`: a preview when `dry_run`, else for real.

    Nothing is written unless it is a real run and every row is valid.
    """
    resource = resource_class(user=user, line_numbers=table.line_numbers)
    report = ImportReport(dry_run=dry_run)
    headers = table.headers
    columns = {import_field.column_name: import_field for import_field in resource.fields.values()}
    report.ignored_columns = [header for header in headers if header not in columns and not header.startswith("_")]
    report.ignored_columns += [_("column %(n)d (no name)") % {"n": n} for n in table.unnamed_columns]
    report.export_only_columns = [
        header
        for header in headers
        if header in columns and columns[header].readonly and header not in resource.key_only_columns
    ]
    missing = [column for column in resource.required_for(headers) if column not in headers]
    if missing:
        report.errors = [
            RowError(None, None, _("The column “%(name)s” is missing: row 1 must name it.") % {"name": name})
            for name in missing
        ]
        return report

    result = resource.import_data(
        table.dataset,
        dry_run=dry_run,
        raise_errors=False,
        use_transactions=True,
        rollback_on_validation_errors=True,
        retain_instance_in_row_result=True,
        user=user,
    )
    for base_error in result.base_errors:
        logger.error("import of %s failed before its rows", resource_class.__name__, exc_info=base_error.error)
        report.errors.append(
            RowError(None, None, _("The import failed (%(error)s).") % {"error": type(base_error.error).__name__})
        )

    for number, (row_result, values) in enumerate(zip(result.rows, table.dataset.dict, strict=False), 1):
        line = resource.line(number)
        outcome = RowOutcome(
            line=line,
            status=_STATUS.get(row_result.import_type, ERROR),
            key=resource.describe_row(values),
            notes=list(resource.row_notes.get(number, [])),
        )
        if row_result.validation_error is not None:
            for name, message in _messages(row_result.validation_error):
                column = None if name == NON_FIELD_ERRORS else resource.column_of(name)
                outcome.errors.append(RowError(line, column, message))
        for row_error in row_result.errors:
            logger.error("import of %s: row %d failed", resource_class.__name__, line, exc_info=row_error.error)
            outcome.errors.append(
                RowError(
                    line,
                    None,
                    _("This row could not be saved (%(error)s).") % {"error": type(row_error.error).__name__},
                )
            )
        if outcome.status == UPDATE and row_result.original is not None and row_result.instance is not None:
            outcome.changes = _changes(resource, row_result.original, row_result.instance)
        report.counts[outcome.status] += 1
        report.rows.append(outcome)
        report.errors.extend(outcome.errors)
    logger.info(
        "import of %s by user %s (%s): %s, %d errors",
        resource_class.__name__,
        getattr(user, "pk", None),
        "preview" if dry_run else "commit",
        report.counts,
        len(report.errors),
    )
    return report
