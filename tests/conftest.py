import pytest

from config.celery import app
from tests.factories import RepProfileFactory, TeamFactory, UserFactory


@pytest.fixture
def team(db):
    return TeamFactory(name="North")


@pytest.fixture
def other_team(db):
    return TeamFactory(name="South")


@pytest.fixture
def rep(team):
    return RepProfileFactory(team=team, user__username="rep_north").user


@pytest.fixture
def teammate(team):
    return RepProfileFactory(team=team, user__username="rep_north_2").user


@pytest.fixture
def other_rep(other_team):
    return RepProfileFactory(team=other_team, user__username="rep_south").user


@pytest.fixture
def manager(team):
    user = UserFactory(username="manager_north", role="Manager")
    team.managers.add(user)
    return user


@pytest.fixture
def admin_user(db):
    return UserFactory(username="admin", role="Admin", is_staff=True, is_superuser=True)


def pytest_report_header(config):
    # CI greps this line to prove the suite ran against the real database and broker.
    from django.conf import settings

    vendor = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
    broker = "redis" if settings.REDIS_URL else "in-process"
    return [f"DATABASE={vendor} BROKER={broker}"]


@pytest.fixture
def eager_celery():
    """Run tasks in-process for a unit test, whatever REDIS_URL says (worker tests use a real worker)."""
    previous = app.conf.task_always_eager, app.conf.task_eager_propagates
    app.conf.task_always_eager, app.conf.task_eager_propagates = True, True
    yield
    app.conf.task_always_eager, app.conf.task_eager_propagates = previous


def pytest_collection_modifyitems(config, items):
    # A transactional test empties the database when it ends; without serialized_rollback
    # the rows the data migrations made (role groups, stages, the scoring policy) are gone
    # for the tests after it, and serialized tests then fail on re-created content types.
    for item in items:
        marker = item.get_closest_marker("django_db")
        if marker and marker.kwargs.get("transaction") and not marker.kwargs.get("serialized_rollback"):
            raise pytest.UsageError(
                f"{item.nodeid}: use @pytest.mark.django_db(transaction=True, serialized_rollback=True)"
            )


@pytest.fixture(autouse=True)
def _default_language_after_each_test():
    # LocaleMiddleware activates a request's language on the thread and leaves it there:
    # a test that browses in Chinese would otherwise translate the next test's strings.
    yield
    from django.utils import translation

    translation.deactivate()


@pytest.fixture(autouse=True)
def _close_load_lanes_after_each_test():
    # A load lane keeps its connection for the next request (analytics.bridge.beside): close it with the
    # test, or the test database could not be flushed or dropped while the lane holds a session on it.
    yield
    from analytics.bridge.beside import close_idle_lanes

    close_idle_lanes()
