"""For the migrations that install database triggers: run SQL written for the connection's vendor.

Django's migration loader skips modules whose name starts with an underscore, so this is no migration.
"""


def run_by_vendor(statements_by_vendor: dict, what: str):
    """A RunPython function running `statements_by_vendor[vendor]` (a statement or a list of them)."""

    def run(apps, schema_editor):
        statements = statements_by_vendor.get(schema_editor.connection.vendor)
        if statements is None:
            raise NotImplementedError(f"{what} exist for PostgreSQL and SQLite, not {schema_editor.connection.vendor}")
        for statement in [statements] if isinstance(statements, str) else statements:
            schema_editor.execute(statement)

    return run
