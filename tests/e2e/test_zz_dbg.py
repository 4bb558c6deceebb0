import pytest
from django.contrib.auth.models import Group
from django.db import connection

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

@pytest.mark.parametrize("n", [1, 2])
def test_x(n, live_server):
    c = getattr(connection, "_test_serialized_contents", None)
    print("GROUPS", n, Group.objects.count(), None if c is None else len(c), "auth.group" in (c or ""))
    Group.objects.all().delete() if False else None
