"""Import and export of records as CSV/XLSX tables (django-import-export underneath).

`files` reads an upload into a table and writes tables out; `widgets` turn cells into
values with messages that name the problem; `resources` is the scoped base resource;
`service` runs an import (preview or commit) and reports row by row.
"""
