# ruff: noqa: S608 -- fixed trigger SQL built from constants, no input
"""The visit effect's counts in the stored day sums, and the triggers that keep them honest.

A completed visit's effect (a forward stage move or an order on its customer within
14 days of its check-out) depends on later sales events. So, besides the visits'
planned days (migration 0007), the triggers now mark:

* a visit's check-out day, old and new row;
* for a stage change or an order, old and new row: the check-out days of its
  customer's completed visits in the 14 days before it;
* for an opportunity moved to another customer: the check-out days of both
  customers' completed visits.

A change to the stages' order or Lost flag changes which moves are forward: the
stored sums are then set as unusable (the reports read the visits) until the next
refresh rebuilds them. So do the sums stored before this migration, which have no
counts yet.
"""

from django.db import migrations, models

from analytics.migrations._vendor_sql import run_by_vendor

_HORIZON_SECONDS = 14 * 86_400  # analytics.visit_effect_math.HORIZON_SECONDS; seconds, not calendar days (DST)
_PG_DAY = "floor(extract(epoch FROM {column}) / 86400)::integer"

_PG_VISIT_MARK = """
CREATE OR REPLACE FUNCTION analytics_visit_day_mark() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' OR TG_OP = 'UPDATE' THEN
        INSERT INTO analytics_visitdaymark (rep_id, day)
        SELECT rep_id, {planned} FROM new_rows
        UNION SELECT rep_id, {out} FROM new_rows WHERE checked_out_at IS NOT NULL;
    END IF;
    IF TG_OP = 'UPDATE' OR TG_OP = 'DELETE' THEN
        INSERT INTO analytics_visitdaymark (rep_id, day)
        SELECT rep_id, {planned} FROM old_rows
        UNION SELECT rep_id, {out} FROM old_rows WHERE checked_out_at IS NOT NULL;
    END IF;
    RETURN NULL;
END
$$;
""".format(planned=_PG_DAY.format(column="planned_start"), out=_PG_DAY.format(column="checked_out_at"))
_PG_VISIT_MARK_BACKWARD = """
CREATE OR REPLACE FUNCTION analytics_visit_day_mark() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' OR TG_OP = 'UPDATE' THEN
        INSERT INTO analytics_visitdaymark (rep_id, day) SELECT DISTINCT rep_id, {planned} FROM new_rows;
    END IF;
    IF TG_OP = 'UPDATE' OR TG_OP = 'DELETE' THEN
        INSERT INTO analytics_visitdaymark (rep_id, day) SELECT DISTINCT rep_id, {planned} FROM old_rows;
    END IF;
    RETURN NULL;
END
$$;
""".format(planned=_PG_DAY.format(column="planned_start"))

# The completed visits of the event's customer checked out in [at - 14 days, at): those it may follow.
_PG_EVENT_MARKS = """
        INSERT INTO analytics_visitdaymark (rep_id, day)
        SELECT DISTINCT v.rep_id, {out}
        FROM {rows} r
        JOIN sales_opportunity o ON o.id = r.opportunity_id
        JOIN visits_visit v ON v.customer_id = o.customer_id AND v.status = 'completed'
            AND v.checked_out_at >= r.{at} - interval '{horizon} seconds' AND v.checked_out_at < r.{at};"""


def _pg_event_function(table: str, at: str) -> str:
    marks = {
        rows: _PG_EVENT_MARKS.format(
            rows=rows, at=at, horizon=_HORIZON_SECONDS, out=_PG_DAY.format(column="v.checked_out_at")
        )
        for rows in ("new_rows", "old_rows")
    }
    return f"""
CREATE FUNCTION analytics_visit_effect_mark_{table}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' OR TG_OP = 'UPDATE' THEN{marks["new_rows"]}
    END IF;
    IF TG_OP = 'UPDATE' OR TG_OP = 'DELETE' THEN{marks["old_rows"]}
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER analytics_visit_effect_{table}_insert AFTER INSERT ON sales_{table}
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION analytics_visit_effect_mark_{table}();
CREATE TRIGGER analytics_visit_effect_{table}_update AFTER UPDATE ON sales_{table}
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION analytics_visit_effect_mark_{table}();
CREATE TRIGGER analytics_visit_effect_{table}_delete AFTER DELETE ON sales_{table}
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION analytics_visit_effect_mark_{table}();
"""


_PG_FORWARD = (
    _PG_VISIT_MARK
    + _pg_event_function("stagechange", "changed_at")
    + _pg_event_function("order", "ordered_at")
    + """
CREATE FUNCTION analytics_visit_effect_mark_customers() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO analytics_visitdaymark (rep_id, day)
    SELECT DISTINCT v.rep_id, {out}
    FROM old_rows o JOIN new_rows n ON n.id = o.id AND n.customer_id IS DISTINCT FROM o.customer_id
    JOIN visits_visit v ON v.customer_id IN (o.customer_id, n.customer_id) AND v.status = 'completed'
        AND v.checked_out_at IS NOT NULL;
    RETURN NULL;
END
$$;
CREATE TRIGGER analytics_visit_effect_opportunity_update AFTER UPDATE ON sales_opportunity
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION analytics_visit_effect_mark_customers();
CREATE FUNCTION analytics_visit_effect_stages_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE analytics_visitdaystate SET zone = '';
    RETURN NULL;
END
$$;
CREATE TRIGGER analytics_visit_effect_stage_update AFTER UPDATE ON sales_stage FOR EACH ROW
    WHEN (OLD."order" IS DISTINCT FROM NEW."order" OR OLD.is_lost IS DISTINCT FROM NEW.is_lost)
    EXECUTE FUNCTION analytics_visit_effect_stages_changed();
""".format(out=_PG_DAY.format(column="v.checked_out_at"))
)
_PG_BACKWARD = (
    "".join(
        f"DROP TRIGGER IF EXISTS analytics_visit_effect_{table}_{event} ON sales_{table};\n"
        for table in ("stagechange", "order")
        for event in ("insert", "update", "delete")
    )
    + """
DROP FUNCTION IF EXISTS analytics_visit_effect_mark_stagechange();
DROP FUNCTION IF EXISTS analytics_visit_effect_mark_order();
DROP TRIGGER IF EXISTS analytics_visit_effect_opportunity_update ON sales_opportunity;
DROP FUNCTION IF EXISTS analytics_visit_effect_mark_customers();
DROP TRIGGER IF EXISTS analytics_visit_effect_stage_update ON sales_stage;
DROP FUNCTION IF EXISTS analytics_visit_effect_stages_changed();
"""
    + _PG_VISIT_MARK_BACKWARD
)

# SQLite: row triggers; Django stores UTC text there, which date() and julianday() read exactly.
_SQLITE_DAY = "CAST(julianday(date({column})) - 2440587.5 AS INTEGER)"
_SQLITE_VISIT_MARK = (
    "INSERT INTO analytics_visitdaymark (rep_id, day) VALUES ({row}.rep_id, "
    + _SQLITE_DAY.format(column="{row}.planned_start")
    + "); INSERT INTO analytics_visitdaymark (rep_id, day) SELECT {row}.rep_id, "
    + _SQLITE_DAY.format(column="{row}.checked_out_at")
    + " WHERE {row}.checked_out_at IS NOT NULL;"
)
_SQLITE_EVENT_MARK = (
    "INSERT INTO analytics_visitdaymark (rep_id, day) SELECT DISTINCT v.rep_id, "
    + _SQLITE_DAY.format(column="v.checked_out_at")
    + " FROM sales_opportunity o JOIN visits_visit v ON v.customer_id = o.customer_id AND v.status = 'completed'"
    " WHERE o.id = {row}.opportunity_id AND julianday(v.checked_out_at) >= julianday({row}.{at}) - 14"
    " AND julianday(v.checked_out_at) < julianday({row}.{at});"
)
_SQLITE_CUSTOMER_MARK = (
    "INSERT INTO analytics_visitdaymark (rep_id, day) SELECT DISTINCT v.rep_id, "
    + _SQLITE_DAY.format(column="v.checked_out_at")
    + " FROM visits_visit v WHERE v.customer_id IN (OLD.customer_id, NEW.customer_id)"
    " AND v.status = 'completed' AND v.checked_out_at IS NOT NULL;"
)


def _sqlite_triggers(name: str, table: str, mark: str) -> list[str]:
    rows = {"insert": ("NEW",), "update": ("OLD", "NEW"), "delete": ("OLD",)}
    return [
        f"CREATE TRIGGER {name}_{event} AFTER {event.upper()} ON {table} BEGIN "
        + " ".join(mark.format(row=row) for row in which)
        + " END"
        for event, which in rows.items()
    ]


_SQLITE_FORWARD = [
    *[f"DROP TRIGGER IF EXISTS analytics_visit_day_{event}" for event in ("insert", "update", "delete")],
    *_sqlite_triggers("analytics_visit_day", "visits_visit", _SQLITE_VISIT_MARK),
    *_sqlite_triggers(
        "analytics_visit_effect_stagechange", "sales_stagechange", _SQLITE_EVENT_MARK.replace("{at}", "changed_at")
    ),
    *_sqlite_triggers("analytics_visit_effect_order", "sales_order", _SQLITE_EVENT_MARK.replace("{at}", "ordered_at")),
    "CREATE TRIGGER analytics_visit_effect_opportunity_update AFTER UPDATE OF customer_id ON sales_opportunity "
    "WHEN OLD.customer_id IS NOT NEW.customer_id BEGIN " + _SQLITE_CUSTOMER_MARK + " END",
    'CREATE TRIGGER analytics_visit_effect_stage_update AFTER UPDATE ON sales_stage WHEN OLD."order" IS NOT '
    "NEW.\"order\" OR OLD.is_lost IS NOT NEW.is_lost BEGIN UPDATE analytics_visitdaystate SET zone = ''; END",
]
_SQLITE_PLANNED_MARK = (
    "INSERT INTO analytics_visitdaymark (rep_id, day) VALUES ({row}.rep_id, "
    + _SQLITE_DAY.format(column="{row}.planned_start")
    + ");"
)
_SQLITE_BACKWARD = [
    *[
        f"DROP TRIGGER IF EXISTS analytics_visit_effect_{table}_{event}"
        for table in ("stagechange", "order")
        for event in ("insert", "update", "delete")
    ],
    "DROP TRIGGER IF EXISTS analytics_visit_effect_opportunity_update",
    "DROP TRIGGER IF EXISTS analytics_visit_effect_stage_update",
    *[f"DROP TRIGGER IF EXISTS analytics_visit_day_{event}" for event in ("insert", "update", "delete")],
    *_sqlite_triggers("analytics_visit_day", "visits_visit", _SQLITE_PLANNED_MARK),
]

# Sums stored before this migration have no visit-effect counts: unusable until rebuilt.
_INVALIDATE = "UPDATE analytics_visitdaystate SET zone = ''"


_TRIGGERS = "analytics.VisitDayMark triggers"


class Migration(migrations.Migration):
    dependencies = [
        ("analytics", "0007_visit_day_terms"),
        ("sales", "0004_visit_effect_indexes"),
    ]

    operations = [
        migrations.AddField(
            model_name="visitdayterms",
            name="effect_hits",
            field=models.BigIntegerField(
                default=0, help_text="Within 14 days of the check-out.", verbose_name="visits followed by a sales event"
            ),
        ),
        migrations.AddField(
            model_name="visitdayterms",
            name="effect_visits",
            field=models.BigIntegerField(default=0, verbose_name="visits checked out"),
        ),
        migrations.RunPython(
            run_by_vendor(
                {"postgresql": [_PG_FORWARD, _INVALIDATE], "sqlite": [*_SQLITE_FORWARD, _INVALIDATE]}, _TRIGGERS
            ),
            run_by_vendor({"postgresql": _PG_BACKWARD, "sqlite": _SQLITE_BACKWARD}, _TRIGGERS),
        ),
    ]
