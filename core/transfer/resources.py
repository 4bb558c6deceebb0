"""The base of Fieldwise's import/export resources: scope, row numbers, one record per row, clear errors.

A resource is built for one import (`Resource(user=...)`, or the admin passes `user` to
`import_data`). Before the first row it evaluates the importing user's scope once and
preloads what rows will look up. Every refusal is a ValidationError keyed by the
column at fault, so the report reads "row N, field F: message"; nothing reaches the
database's CHECK constraints with a value they would refuse.
"""

import re
from collections import defaultdict

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _
from import_export import fields, resources

from core.transfer.scope import ImportScope
from core.transfer.widgets import LookupWidget, is_blank

# SQLite caps the variables of one statement; preloads ask in slices of this many keys.
PRELOAD_CHUNK = 500


def normalize_header(header) -> str:
    """ "Visit cadence days" / "visit-cadence-days" / " CODE " -> "visit_cadence_days" / "code"."""
    return re.sub(r"[\s\-]+", "_", str(header or "").strip().lower())


def chunked(items: list, size: int = PRELOAD_CHUNK):
    for start in range(0, len(items), size):
        yield items[start : start + size]


class MomentField(fields.Field):
    """A date-time column. Exports write whole seconds, so a file giving the stored moment to the
    second leaves it as it is (re-importing an export changes nothing)."""

    def save(self, instance, row, is_m2m=False, **kwargs):
        if self.readonly:
            return
        cleaned = self.clean(row, **kwargs)
        if cleaned is None and not self.saves_null_values:
            return
        current = getattr(instance, self.attribute, None)
        if cleaned is not None and current is not None and current.replace(microsecond=0) == cleaned:
            return
        setattr(instance, self.attribute, cleaned)


class ScopedResource(resources.ModelResource):
    """A ModelResource that knows who imports, which row it is on, and which keys it has seen."""

    #: The permission that gives staff outside the Admin/Manager roles the whole scope (admin site).
    scope_perm = ""
    #: Columns a file must have (the key that says which record a row is).
    required_columns: tuple[str, ...] = ()
    #: Export-only columns that still count on import: the record's id, saying which record to update.
    key_only_columns: tuple[str, ...] = ()
    #: What the columns read through relations, joined into an export's one query.
    export_related: tuple[str, ...] = ()

    def __init__(self, *, user=None, line_numbers: list[int] | None = None, **kwargs):
        super().__init__(**kwargs)
        self.user = user
        self.line_numbers = line_numbers
        self.scope: ImportScope | None = None
        self.now = timezone.now()
        self.row_number = 0
        #: Row number -> things the row does beyond its own record ("X is no longer the primary contact").
        self.row_notes: dict[int, list[str]] = defaultdict(list)
        self._seen_keys: dict[tuple[str, object], int] = {}
        self._seen_records: dict[int, int] = {}
        for field in self.fields.values():
            if isinstance(field.widget, LookupWidget):
                field.widget.bind(self)

    def filter_export(self, queryset, **kwargs):
        # The admin's export and the list exports alike: one query, however many rows.
        return queryset.select_related(*self.export_related) if self.export_related else queryset

    # --- the import's lifecycle ---------------------------------------------------------------

    def before_import(self, dataset, **kwargs):
        if dataset.headers:
            dataset.headers = [normalize_header(header) for header in dataset.headers]
        self.user = kwargs.get("user") or self.user
        self.scope = ImportScope.for_user(self.user, perm=self.scope_perm)
        self.now = timezone.now()
        self.preload(dataset)

    def preload(self, dataset) -> None:
        """Load, in a few queries, the records the rows will look up (override)."""

    def import_row(self, row, instance_loader, **kwargs):
        self.row_number = kwargs.get("row_number", self.row_number + 1)
        return super().import_row(row, instance_loader, **kwargs)

    def get_import_fields(self):
        # Export-only columns (a customer's team) are neither written nor compared.
        return [field for field in super().get_import_fields() if not field.readonly]

    def validate_instance(self, instance, import_validation_errors=None, validate_unique=True):
        """The cells' errors, the resource's cross-column rules, then the model's own field checks.

        Neither the model's CHECK constraints nor its unique fields are re-asked of the database
        row by row (a query each): the widgets, `get_instance` and `check_instance` refuse every
        value they would refuse, with a message that names the column.
        """
        errors = dict(import_validation_errors or {})
        for field, message in self.check_instance(instance, failed=set(errors)).items():
            errors.setdefault(field, []).append(ValidationError(message))
        # Related records come from the resource's lookups, already checked: full_clean would
        # query each one again. Only "is there one" is left to check for required relations.
        related = [field.attribute for field in self.get_import_fields() if isinstance(field.widget, LookupWidget)]
        for name in related:
            model_field = instance._meta.get_field(name)
            if name not in errors and not model_field.null and getattr(instance, model_field.attname) is None:
                errors[name] = [ValidationError(_("A value is required."), code="required")]
        try:
            # Unique keys are the resources' own business (`get_instance`, `claim_key`, `check_instance`).
            instance.full_clean(exclude=[*errors, *related], validate_unique=False, validate_constraints=False)
        except ValidationError as error:
            errors = error.update_error_dict(errors)
        if errors:
            raise ValidationError(errors)

    def check_instance(self, instance, *, failed: set[str]) -> dict[str, str]:
        """Rules across columns, as {column: message}; columns in `failed` already have an error (override)."""
        return {}

    # --- helpers for the subclasses -----------------------------------------------------------

    def line(self, row_number: int | None = None) -> int:
        """The spreadsheet row of a dataset row (the header is row 1)."""
        number = self.row_number if row_number is None else row_number
        if self.line_numbers and 0 < number <= len(self.line_numbers):
            return self.line_numbers[number - 1]
        return number + 1

    def claim_key(self, column: str, key, *, shown: str | None = None) -> None:
        """One row per record: a key met again in the same file is an error on the later row."""
        first = self._seen_keys.setdefault((column, key), self.row_number)
        if first != self.row_number:
            raise ValidationError(
                {
                    column: _("“%(key)s” is also on row %(row)d of this file: each record can be in a file once.")
                    % {"key": key if shown is None else shown, "row": self.line(first)}
                }
            )

    def claim_record(self, column: str, record) -> None:
        """Two rows naming the same record in different ways (an id, a reference) are an error too."""
        first = self._seen_records.setdefault(record.pk, self.row_number)
        if first != self.row_number:
            raise ValidationError(
                {column: _("Row %(row)d of this file already changes this record.") % {"row": self.line(first)}}
            )

    def required_for(self, headers: list[str]) -> tuple[str, ...]:
        """The columns a file with these headers must also have (override when it depends)."""
        return self.required_columns

    def describe_row(self, row) -> str:
        """How the preview names a row's record (override): its key cells."""
        return " / ".join(str(self.cell(row, column)) for column in self.required_columns if self.cell(row, column))

    def note(self, message: str) -> None:
        self.row_notes[self.row_number].append(message)

    @staticmethod
    def cell(row, column: str):
        """The row's cell in `column`, None when the column is missing or the cell is blank."""
        value = row.get(column)
        return None if is_blank(value) else value

    def column_of(self, attribute: str) -> str:
        for field in self.fields.values():
            if field.attribute == attribute:
                return field.column_name
        return attribute
