"""What an import did: counts per entity, corrections, skips, notes; and the error that stops it."""

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

ENTITY_LABELS = {
    "teams": gettext_lazy("teams"),
    "managers": gettext_lazy("managers"),
    "reps": gettext_lazy("reps"),
    "products": gettext_lazy("products"),
    "customers": gettext_lazy("customers"),
    "opportunities": gettext_lazy("opportunities"),
    "stage_changes": gettext_lazy("stage changes"),
    "orders": gettext_lazy("orders"),
}


class MavenImportError(Exception):
    """A file that cannot be imported at all; nothing was written."""

    def __init__(self, *, file: str, message: str, line: int | None = None, column: str | None = None):
        self.file, self.line, self.column, self.message = file, line, column, message
        super().__init__(str(self))

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where = _("%(file)s, line %(line)d") % {"file": where, "line": self.line}
        if self.column is not None:
            where = _("%(where)s, column %(column)s") % {"where": where, "column": self.column}
        return f"{where}: {self.message}"


@dataclass
class EntityCounts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0

    @property
    def changed(self) -> int:
        return self.created + self.updated + self.deleted


@dataclass(frozen=True)
class Correction:
    """A value the import changed or merged: `rows` rows had `original`, stored as `corrected`."""

    file: str
    column: str
    original: str
    corrected: str
    rows: int
    first_line: int


@dataclass(frozen=True)
class Skip:
    file: str
    line: int
    reason: str


@dataclass
class MavenImportReport:
    directory: Path
    rows_read: dict[str, int] = field(default_factory=dict)
    counts: dict[str, EntityCounts] = field(default_factory=lambda: {key: EntityCounts() for key in ENTITY_LABELS})
    corrections: list[Correction] = field(default_factory=list)
    skipped: list[Skip] = field(default_factory=list)
    merged_rows: int = 0
    leads_without_customer: int = 0
    snapshot_date: date | None = None
    notes: list[str] = field(default_factory=list)
    dry_run: bool = False

    @property
    def rows_skipped(self) -> int:
        return len(self.skipped)

    @property
    def rows_imported(self) -> int:
        return sum(self.rows_read.values()) - self.rows_skipped

    @property
    def changed(self) -> bool:
        return any(counts.changed for counts in self.counts.values())

    def summary_lines(self) -> list[str]:
        lines = [_("Maven CRM import from %(dir)s") % {"dir": self.directory}]
        if self.dry_run:
            lines.append(_("Dry run: everything below was rolled back."))
        lines.append(
            _("Rows read: %(files)s.")
            % {"files": ", ".join(f"{name} {count}" for name, count in self.rows_read.items())}
        )
        lines.append(
            _("%(imported)d rows imported, %(merged)d merged or corrected, %(skipped)d skipped.")
            % {"imported": self.rows_imported, "merged": self.merged_rows, "skipped": self.rows_skipped}
        )
        header = (_("entity"), _("created"), _("updated"), _("unchanged"), _("deleted"))
        lines.append(f"  {header[0]:<16}" + "".join(f"{title:>11}" for title in header[1:]))
        for key, counts in self.counts.items():
            numbers = (counts.created, counts.updated, counts.unchanged, counts.deleted)
            lines.append(f"  {ENTITY_LABELS[key]!s:<16}" + "".join(f"{number:>11}" for number in numbers))
        if not self.changed:
            lines.append(_("Nothing changed: the database already matched the files."))
        if self.corrections:
            lines.append(_("Merged or corrected:"))
            for fix in self.corrections:
                template = ngettext(
                    "%(file)s, %(column)s: '%(original)s' -> '%(corrected)s' (%(rows)d row, line %(line)d)",
                    "%(file)s, %(column)s: '%(original)s' -> '%(corrected)s' (%(rows)d rows, first line %(line)d)",
                    fix.rows,
                )
                values = {"file": fix.file, "column": fix.column, "original": fix.original}
                values.update(corrected=fix.corrected, rows=fix.rows, line=fix.first_line)
                lines.append("  " + template % values)
        if self.skipped:
            lines.append(_("Skipped:"))
            for skip in self.skipped:
                lines.append(
                    "  "
                    + _("%(file)s, line %(line)d: %(reason)s")
                    % {"file": skip.file, "line": skip.line, "reason": skip.reason}
                )
        else:
            lines.append(_("Skipped: none."))
        if self.notes:
            lines.append(_("Assumptions and notes:"))
            lines.extend(f"  - {note}" for note in self.notes)
        return lines
