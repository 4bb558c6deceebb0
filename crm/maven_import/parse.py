"""Phase 1: read the four CSVs and validate their structure; nothing here touches the database."""

import csv
import io
import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

from django.utils.translation import gettext as _

from .report import MavenImportError

ACCOUNTS = "accounts.csv"
PRODUCTS = "products.csv"
TEAMS = "sales_teams.csv"
PIPELINE = "sales_pipeline.csv"
COLUMNS = {
    ACCOUNTS: ("account", "sector", "year_established", "revenue", "employees", "office_location", "subsidiary_of"),
    PRODUCTS: ("product", "series", "sales_price"),
    TEAMS: ("sales_agent", "manager", "regional_office"),
    PIPELINE: (
        "opportunity_id",
        "sales_agent",
        "product",
        "account",
        "deal_stage",
        "engage_date",
        "close_date",
        "close_value",
    ),
}
MONEY_LIMIT = Decimal(10) ** 12  # Opportunity/Order amounts: 14 digits, 2 decimals
INTEGER_LIMIT = 2**31 - 1  # PositiveIntegerField on PostgreSQL
# Longest value each text column may hold: the width of the field it lands in.
MAX_LENGTHS = {
    ACCOUNTS: {"account": 200, "sector": 80, "office_location": 120, "subsidiary_of": 200},
    PRODUCTS: {"product": 120, "series": 60},
    TEAMS: {"sales_agent": 150, "manager": 150, "regional_office": 120},
    PIPELINE: {"opportunity_id": 40},
}

INTEGER = re.compile(r"[0-9]+")
MONEY = re.compile(r"[0-9]+(\.[0-9]{1,2})?")
ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
UNDECODABLE = re.compile("[\udc80-\udcff]")  # what surrogateescape leaves for non-UTF-8 bytes


@dataclass(frozen=True)
class Row:
    line: int
    values: dict[str, str]


def read_csv(*, directory: Path, filename: str) -> list[Row]:
    """Rows of one file with stripped values; raises on anything structural."""
    path = directory / filename
    if not path.is_file():
        raise MavenImportError(file=filename, message=_("file not found in %(dir)s") % {"dir": directory})
    # surrogateescape keeps going past bad bytes, so the error can name the line and column they are in.
    text = path.read_bytes().decode("utf-8", errors="surrogateescape").removeprefix("\ufeff")
    reader = csv.reader(io.StringIO(text, newline=""))
    not_utf8 = _("bytes that are not valid UTF-8 (save the file as UTF-8)")
    try:
        header = next(reader, None)
        if header is None:
            raise MavenImportError(file=filename, line=1, message=_("the file is empty"))
        header = [name.strip() for name in header]
        for position, name in enumerate(header, start=1):
            if UNDECODABLE.search(name):  # e.g. a UTF-16 or Latin-1 export: the name is unreadable, give its position
                raise MavenImportError(file=filename, line=1, column=str(position), message=not_utf8)
        for column in COLUMNS[filename]:
            if column not in header:
                raise MavenImportError(file=filename, line=1, column=column, message=_("missing column"))
        rows = []
        for record in reader:
            if not record or all(not value.strip() for value in record):
                continue  # blank lines carry no data
            line = reader.line_num
            if len(record) != len(header):
                column = header[len(record)] if len(record) < len(header) else str(len(header) + 1)
                raise MavenImportError(
                    file=filename,
                    line=line,
                    column=column,
                    message=_("%(found)d fields where the header has %(expected)d")
                    % {"found": len(record), "expected": len(header)},
                )
            for name, value in zip(header, record, strict=True):
                if UNDECODABLE.search(value):
                    raise MavenImportError(file=filename, line=line, column=name, message=not_utf8)
            values = dict(zip(header, (value.strip() for value in record), strict=True))
            for column, limit in MAX_LENGTHS[filename].items():
                if len(values[column]) > limit:
                    message = _("longer than %(limit)d characters") % {"limit": limit}
                    raise MavenImportError(file=filename, line=line, column=column, message=message)
            rows.append(Row(line=line, values={column: values[column] for column in COLUMNS[filename]}))
    except csv.Error as exc:
        raise MavenImportError(file=filename, line=reader.line_num, message=str(exc)) from exc
    return rows


def parse_int(row: Row, filename: str, column: str) -> int | None:
    value = row.values[column]
    if not value:
        return None
    if not INTEGER.fullmatch(value) or int(value) > INTEGER_LIMIT:
        raise MavenImportError(
            file=filename,
            line=row.line,
            column=column,
            message=_("'%(value)s' is not a whole non-negative number") % {"value": value},
        )
    return int(value)


def parse_money(row: Row, filename: str, column: str) -> Decimal | None:
    value = row.values[column]
    if not value:
        return None
    if not MONEY.fullmatch(value) or Decimal(value) >= MONEY_LIMIT:
        raise MavenImportError(
            file=filename,
            line=row.line,
            column=column,
            message=_("'%(value)s' is not a non-negative amount (digits, at most 2 decimals)") % {"value": value},
        )
    return Decimal(value)


def parse_date(row: Row, filename: str, column: str) -> date | None:
    value = row.values[column]
    if not value:
        return None
    try:
        if not ISO_DATE.fullmatch(value):
            raise ValueError(value)
        return date.fromisoformat(value)
    except ValueError:
        raise MavenImportError(
            file=filename,
            line=row.line,
            column=column,
            message=_("'%(value)s' is not a date (YYYY-MM-DD)") % {"value": value},
        ) from None


def name_key(name: str) -> str:
    """Case- and whitespace-insensitive key: 'GTXPro' and 'GTX Pro' meet here."""
    return "".join(name.split()).casefold()
