"""The loads' plumbing: packed arrays decoded by hand, timestamps as epoch seconds, id lists, UNION ALL loads."""

import math
import struct
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from django.db import connection
from django.db.models import F

from analytics import bridge
from analytics.bridge.columns import load_queryset_columns
from analytics.bridge.expressions import IdIn, _epoch_seconds, epoch_column, int_column
from analytics.bridge.packed import decode_packed_row
from crm.models import Customer
from sales.models import Opportunity, Order
from tests.factories import CustomerFactory, OpportunityFactory, OrderFactory

INT8_OID, FLOAT8_OID = 20, 701


def packed_field(values: list, code: str, oid: int, *, null_element: bool = False) -> bytes:
    """One array field of a packed COPY row: int32 length, then the array in PostgreSQL's binary format."""
    array = struct.pack(">iii", 1, int(null_element), oid) + struct.pack(">ii", len(values), 1)
    for value in values:
        array += struct.pack(">i", -1) if null_element else struct.pack(f">i{code}", 8, value)
    return struct.pack(">i", len(array)) + array


def test_a_packed_row_decodes_into_native_arrays():
    row = struct.pack(">h", 3)
    row += packed_field([7, 2**40], "q", INT8_OID)
    row += packed_field([1.5, -0.25], "d", FLOAT8_OID)
    row += struct.pack(">i", -1)  # array_agg over no rows is NULL: an empty column
    columns = (("id", ">i8"), ("value", ">f8"), ("none", ">f8"))

    decoded = decode_packed_row(bridge._COPY_HEADER + row + bridge._COPY_TRAILER, len(bridge._COPY_HEADER), columns)

    assert decoded["id"].tolist() == [7, 2**40]
    assert decoded["value"].tolist() == [1.5, -0.25]
    assert decoded["value"].dtype == np.dtype("float64")
    assert decoded["none"].tolist() == []


def test_a_packed_row_with_a_null_element_is_refused_rather_than_misread():
    row = struct.pack(">h", 1) + packed_field([1.5], "d", FLOAT8_OID, null_element=True)
    with pytest.raises(ValueError, match="NULLs"):
        decode_packed_row(bridge._COPY_HEADER + row, len(bridge._COPY_HEADER), (("value", ">f8"),))
    row = struct.pack(">h", 2) + packed_field([1.5], "d", FLOAT8_OID) * 2
    with pytest.raises(ValueError, match="2 fields, expected 1"):
        decode_packed_row(bridge._COPY_HEADER + row, len(bridge._COPY_HEADER), (("value", ">f8"),))


def test_postgresql_microseconds_become_the_epoch_seconds_of_the_instant():
    moments = [datetime(2000, 1, 1, tzinfo=UTC), datetime(2026, 3, 29, 1, 0, 0, 123457, tzinfo=UTC)]
    since_2000 = [(moment - datetime(2000, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1) for moment in moments]

    seconds = _epoch_seconds(np.array([*since_2000, np.iinfo(np.int64).max], dtype=np.int64))

    assert seconds[:2].tolist() == [946_684_800.0, moments[1].timestamp()]  # exactly, not approximately
    assert math.isnan(seconds[2])  # 'infinity', the NULL of the load


def test_id_in_filters_on_a_list_of_ids_and_its_negation(db):
    first, second, third = CustomerFactory.create_batch(3)
    ids = {"id": (int_column("pk"), ">i8")}

    chosen = load_queryset_columns(Customer.objects.filter(IdIn("pk", [third.pk, first.pk])).order_by("pk"), ids)
    others = load_queryset_columns(Customer.objects.exclude(IdIn("pk", [third.pk, first.pk])).order_by("pk"), ids)
    none = load_queryset_columns(Customer.objects.filter(IdIn("pk", [])), ids)

    assert chosen["id"].tolist() == [first.pk, third.pk]
    assert others["id"].tolist() == [second.pk]
    assert none["id"].tolist() == []


@pytest.mark.parametrize("packed", [False, True])
def test_querysets_of_two_models_load_as_one_union_all_with_null_times_as_nan(db, django_assert_num_queries, packed):
    opened = datetime(2025, 3, 3, 9, 30, 0, 250000, tzinfo=UTC)
    open_one = OpportunityFactory(opened_at=opened, closed_at=None)
    order = OrderFactory(ordered_at=opened + timedelta(days=2))
    opportunities = Opportunity.objects.filter(pk=open_one.pk).annotate(at=F("closed_at"))
    orders = Order.objects.filter(pk=order.pk).annotate(at=F("ordered_at"))

    with django_assert_num_queries(1):
        loaded = load_queryset_columns(
            [opportunities.order_by(), orders.order_by()],
            {"pk": (int_column("pk"), ">i8"), "time": (epoch_column("at"), ">f8")},
            packed=packed,
        )

    assert loaded["pk"].tolist() == [open_one.pk, order.pk]
    assert math.isnan(loaded["time"][0])  # still open: no close time
    ordered = (opened + timedelta(days=2)).timestamp()
    # Exact on PostgreSQL; SQLite's julianday keeps about a tenth of a millisecond.
    assert loaded["time"][1] == (ordered if connection.vendor == "postgresql" else pytest.approx(ordered, abs=1e-3))


def test_ordered_querysets_cannot_be_loaded_together(db):
    with pytest.raises(ValueError, match="unordered"):
        load_queryset_columns(
            [Customer.objects.order_by("pk"), Customer.objects.all()], {"id": (int_column("pk"), ">i8")}
        )


@pytest.mark.skipif(connection.vendor != "postgresql", reason="JIT is PostgreSQL's")
def test_the_connections_run_without_jit(db):
    # Set at connect time (settings): a load pays no SET of its own, and JIT never compiles one.
    with connection.cursor() as cursor:
        cursor.execute("SHOW jit")
        assert cursor.fetchone()[0] == "off"
