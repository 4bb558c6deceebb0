"""Hostile input posted to every form of the site: never a 500, never a stored script rendered as HTML.

Each form endpoint (FORMS) is posted, as the role that may use it and on a real object of its
scope, hypothesis-generated data: wrong types, empty and missing fields, huge strings, unicode
(emoji, right-to-left marks, NUL), SQL-ish and HTML payloads, huge and negative numbers,
impossible dates. Each example runs in a savepoint rolled back afterwards, so every example
starts from the same state (a filed report does not hide the form from the next example).
The test client re-raises a view's exception, so a 500 fails with its traceback.

Stored XSS: text typed into the forms (report, follow-ups, goal, cancel and lost reasons) is
posted with a script payload, then every page that shows it is read back: the payload must
come out escaped.

Every POST-able URL pattern outside /admin/ and /api/ (the API has tests/api/test_bad_input.py)
is either in FORMS, in NO_FORM (with the reason), or in GET_ONLY, where a POST answers 405:
a new view fails test_every_url_pattern_is_classified until it is listed.
"""

import re
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.test import Client
from django.urls import get_resolver, reverse
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.api.world import build_world
from tests.core.test_anonymous_access import chains, view_name
from tests.factories import stage

# --- hostile values ---------------------------------------------------------------------------

SCRIPT = '<script>alert("x")</script>'
IMG = '"><img src=x onerror=alert(1)>'
HOSTILE = [
    "",
    " ",
    "\x00",
    "a\x00b",
    SCRIPT,
    IMG,
    "' OR 1=1 --",
    "'; DROP TABLE crm_customer; --",
    "1e309",
    "-1e309",
    "NaN",
    "inf",
    "-inf",
    "-1",
    "0",
    "1.5",
    "99999999999999999999999999999999",
    "-9223372036854775809",
    "9223372036854775808",
    "0001-01-01",
    "9999-12-31",
    "2026-02-30",
    "2026-13-01",
    "0001-01-01T00:00",
    "9999-12-31T23:59",
    "2026-02-30T10:00",
    "2026-06-01T25:61",
    "true",
    "null",
    "[]",
    "{}",
    "١٢٣",
    "\u202eevil\u202c",
    "שלום עולם",
    "😀" * 20,
    "\ufeff",
    "%00",
    "../../etc/passwd",
    "//evil.example/",
    "javascript:alert(1)",
    "/x\r\nSet-Cookie: a=b",
    "abc",  # not a path: a `next` like this once made redirect() reverse it as a URL name (a 500)
]
# Surrogates cannot be sent as UTF-8: a client-side error, not the server's.
TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=60)
HUGE = st.builds(
    lambda char, size: char * size, st.sampled_from(["a", "é", "😀", "<", "\x00"]), st.sampled_from([10_000, 100_000])
)
NUMBERS = st.one_of(st.integers(), st.floats(allow_nan=True, allow_infinity=True)).map(str)
# Huge strings are slow to post and render: about one value in nine.
HOSTILE_VALUE = st.one_of(st.sampled_from(HOSTILE), TEXT, NUMBERS, st.one_of(HUGE, st.sampled_from(HOSTILE), TEXT))


def value_for(good):
    """A field's value: often a plausible one (so deeper checks run), else anything hostile, or a list."""
    choices = [HOSTILE_VALUE, st.lists(HOSTILE_VALUE, min_size=2, max_size=3)]
    if good is not None:
        choices.insert(0, st.just(str(good)))
    return st.one_of(*choices)


@st.composite
def form_data(draw, fields: dict):
    """Every field with a value, some dropped, sometimes an unknown one added."""
    names = sorted(fields)
    dropped = draw(st.sets(st.sampled_from(names))) if names else set()
    data = {name: draw(value_for(fields[name])) for name in names if name not in dropped}
    if draw(st.booleans()):
        data[draw(st.sampled_from(["extra", "id", "pk", "owner", "csrfmiddlewaretoken"]))] = draw(HOSTILE_VALUE)
    return data


# --- the endpoints ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Endpoint:
    role: str  # the World attribute of the user who posts
    url: object  # World -> URL
    fields: dict = field(default_factory=dict)  # name -> plausible value (World -> value) or None


def _tomorrow_at_ten(world=None) -> str:
    day = timezone.localdate() + timedelta(days=1)
    return f"{day.isoformat()}T10:00"


def _next_week(world=None) -> str:
    return (timezone.localdate() + timedelta(days=7)).isoformat()


REPORT_FIELDS = {
    "outcome": "successful",
    "notes": "Talked about the new range.",
    "actual_satisfaction": "4",
    "expected_satisfaction": "3",
    "next_step": "Send a quote",
    "check_out": "on",
    "latitude": "48.853",
    "longitude": "2.35",
    "needs-TOTAL_FORMS": "1",
    "needs-INITIAL_FORMS": "0",
    "needs-0-description": "More bread",
    "needs-0-satisfied": "on",
    "followups-TOTAL_FORMS": "1",
    "followups-INITIAL_FORMS": "0",
    "followups-0-title": "Call back",
    "followups-0-due_date": _next_week,
}


def _url(name, obj=None, **kwargs):
    def build(world):
        if obj is not None:
            kwargs["pk"] = getattr(world, obj).pk
        return reverse(name, kwargs=kwargs or None)

    return build


# Posted by a rep unless said otherwise; a callable value is computed when the world exists.
FORMS = {
    "visits:visit_check_in": Endpoint(
        "rep", _url("visits:visit_check_in", "visit_today"), {"latitude": "48.853", "longitude": "2.35"}
    ),
    "visits:visit_check_out": Endpoint(
        "rep", _url("visits:visit_check_out", "visit_checked_in"), {"latitude": "48.853", "longitude": "2.35"}
    ),
    "visits:visit_report": Endpoint("rep", _url("visits:visit_report", "visit_checked_in"), REPORT_FIELDS),
    "visits:followup_done": Endpoint("rep", _url("visits:followup_done", "follow_up"), {"next": "/followups/"}),
    "visits:followup_reopen": Endpoint("rep", _url("visits:followup_reopen", "follow_up"), {"next": "/followups/"}),
    "visits:feed_rotate": Endpoint("rep", _url("visits:feed_rotate")),
    "visits:feed_revoke": Endpoint("rep", _url("visits:feed_revoke")),
    "visits:visit_move": Endpoint(
        "rep", _url("visits:visit_move", "visit_future"), {"start": _tomorrow_at_ten, "next": "/calendar/"}
    ),
    "visits:visit_confirm": Endpoint("rep", _url("visits:visit_confirm", "visit_future"), {"next": "/calendar/"}),
    "visits:visit_cancel": Endpoint(
        "rep", _url("visits:visit_cancel", "visit_future"), {"reason": "Closed", "next": "/today/"}
    ),
    "visits:visit_create": Endpoint(
        "rep",
        _url("visits:visit_create"),
        {
            "rep": lambda w: w.rep.pk,
            "customer": lambda w: w.customer.pk,
            "start": _tomorrow_at_ten,
            "minutes": "45",
            "goal": "Present the range",
        },
    ),
    "sales:opportunity_move": Endpoint(
        "rep",
        _url("sales:opportunity_move", "opportunity"),
        {"stage": lambda w: stage("communication").pk, "reason": "Too dear"},
    ),
    "sales:opportunity_win": Endpoint("rep", _url("sales:opportunity_win", "opportunity")),
    "sales:opportunity_lose": Endpoint("rep", _url("sales:opportunity_lose", "opportunity"), {"reason": "Too dear"}),
    "sales:opportunity_probability": Endpoint(
        "rep", _url("sales:opportunity_probability", "opportunity"), {"probability": "37.5"}
    ),
    "sales:order_fulfil": Endpoint("rep", _url("sales:order_fulfil", "order"), {"next": "/pipeline/orders/"}),
    "analytics:need_model_fit_now": Endpoint("manager", _url("analytics:need_model_fit_now")),
    "analytics:run_recalculate": Endpoint("manager", _url("analytics:run_recalculate")),
    "crm:import_confirm": Endpoint("manager", _url("crm:import_confirm", kind="customers")),
    # The upload is multipart: its own test below posts hostile files.
    "crm:import_upload": Endpoint("manager", _url("crm:import_upload", kind="customers")),
    "set_language": Endpoint("rep", _url("set_language"), {"language": "fr", "next": "/today/"}),
    "logout": Endpoint("rep", _url("logout")),
    "login": Endpoint("anonymous", _url("login"), {"username": "rep_north", "password": "pw-for-tests", "next": "/"}),
}
# URL patterns that answer a POST but are not forms of the site.
NO_FORM = {
    "visits:feed": "the calendar feed: GET/HEAD only, its token is the credential",
    "home": "redirects to the user's start page",
}
GET_ONLY = {
    "crm:customer_list": {},
    "crm:customer_detail": {"pk": "customer"},
    "crm:customer_export": {"fmt": "csv"},
    "crm:contact_export": {"fmt": "csv"},
    "crm:import_template": {"kind": "customers"},
    "visits:today": {},
    "visits:calendar": {},
    "visits:visit_detail": {"pk": "visit_today"},
    "visits:visit_ics": {"pk": "visit_today"},
    "visits:followups": {},
    "sales:board": {},
    "sales:opportunity_list": {},
    "sales:opportunity_export": {"fmt": "csv"},
    "sales:opportunity_detail": {"pk": "opportunity"},
    "sales:order_list": {},
    "analytics:dashboard": {},
    "analytics:dashboard_field_today": {},
    "analytics:dashboard_reps_csv": {},
    "analytics:runs": {},
    "analytics:run_progress": {"pk": None},  # a run of the admin's, made by the test
}


def _site_patterns():
    """View names of every URL pattern outside /admin/ and /api/ (admin forms and the API are tested apart)."""
    names = set()
    for chain in chains(get_resolver().url_patterns):
        name = view_name(chain)
        if name and not name.startswith(("admin:", "api:")):
            names.add(name)
    return names


def test_every_url_pattern_is_classified():
    classified = set(FORMS) | set(NO_FORM) | set(GET_ONLY)
    assert _site_patterns() - classified == set(), "a new view: add it to FORMS (with its fields) or GET_ONLY"
    assert classified - _site_patterns() == set(), "a listed view no longer exists"


@pytest.fixture
def world(db):
    return build_world(score=False)


def client_of(world, role: str) -> Client:
    client = Client()
    if role != "anonymous":
        client.force_login(getattr(world, role))
    return client


def _resolved(world, fields: dict) -> dict:
    return {name: (value(world) if callable(value) else value) for name, value in fields.items()}


@pytest.mark.django_db
@pytest.mark.parametrize("name", sorted(GET_ONLY))
def test_get_only_views_refuse_a_post(world, name):
    kwargs = dict(GET_ONLY[name])
    if "pk" in kwargs:
        if kwargs["pk"] is None:
            from analytics.models import PlanRun

            kwargs["pk"] = PlanRun.objects.create(kind=PlanRun.Kind.SCORES, as_of=timezone.now()).pk
        else:
            kwargs["pk"] = getattr(world, kwargs["pk"]).pk
    response = client_of(world, "admin").post(reverse(name, kwargs=kwargs or None), {"x": SCRIPT})
    assert response.status_code == 405


def _post_rolled_back(client: Client, url: str, data, **extra):
    with transaction.atomic():
        response = client.post(url, data, **extra)
        transaction.set_rollback(True)
    return response


FUZZ = settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
    database=None,
)


@pytest.mark.django_db
@pytest.mark.parametrize("name", sorted(FORMS))
@FUZZ
@given(data=st.data())
def test_hostile_form_data_never_breaks_a_form(world, name, data):
    endpoint = FORMS[name]
    client = client_of(world, endpoint.role)
    posted = data.draw(form_data(_resolved(world, endpoint.fields)), label="posted")
    htmx = data.draw(st.booleans(), label="htmx")
    extra = {"HTTP_HX_REQUEST": "true"} if htmx else {}
    response = _post_rolled_back(client, endpoint.url(world), posted, **extra)
    assert response.status_code < 500


FILE_NAMES = st.one_of(
    st.sampled_from(["customers.csv", "customers.xlsx", "c.CSV", "c.exe", "c", ".csv", "c.csv.exe", "c.xlsx.csv"]),
    st.builds(
        lambda stem, ext: stem + ext,
        st.sampled_from(["a" * 200, "é" * 100, "<script>", "😀" * 50, "x"]),
        st.sampled_from([".csv", ".xlsx", ".txt", ""]),
    ),
)
CSV_HEADER = b"code,name,tier,segment,city,country,owner\n"
FILE_BODIES = st.one_of(
    st.binary(max_size=2000),
    st.just(b""),
    st.just(b"PK\x03\x04" + b"\x00" * 100),  # a zip signature, not an xlsx
    st.just(b"\xff\xfe" + "code,name\n".encode("utf-16-le")),
    st.builds(
        lambda row: CSV_HEADER + row.encode(), st.sampled_from(HOSTILE).map(lambda v: f'X1,"{v}",Z,{v},{v},{v},{v}\n')
    ),
    st.builds(lambda n: CSV_HEADER + b"," * n, st.integers(0, 5000)),
)


@pytest.mark.django_db
@pytest.mark.parametrize("kind", ["customers", "contacts", "opportunities"])
@FUZZ
@given(file_name=FILE_NAMES, body=FILE_BODIES)
def test_hostile_files_never_break_the_import(world, kind, file_name, body):
    client = client_of(world, "manager")
    upload = SimpleUploadedFile(file_name, body, content_type="text/csv")
    response = _post_rolled_back(client, reverse("crm:import_upload", kwargs={"kind": kind}), {"file": upload})
    assert response.status_code < 500


# --- admin add forms --------------------------------------------------------------------------

INPUT_NAME = re.compile(r'<(?:input|textarea)\b[^>]*\bname="([^"]+)"')
SELECT_NAME = re.compile(r'<select\b[^>]*\bname="([^"]+)"')
# Django's admin AutocompleteSelect re-renders a refused form by filtering the related model on the
# posted value: a non-numeric id raised ValueError, an id beyond 64 bits a DataError (a 500; Django 5.2,
# contrib/admin/widgets.py). `core.admin_widgets` guards them: the selects get hostile ids too.
SELECT_VALUE = st.one_of(
    st.just(""),
    st.integers(-1, 10**6).map(str),
    st.sampled_from(["abc", "1.5", str(2**70), "-" + str(2**64), "1e3", "<script>", "\u00e9"]),
)
ADMIN_FORMS = ["admin:crm_customer_add", "admin:sales_opportunity_add", "admin:crm_contact_add"]


@pytest.mark.django_db
@pytest.mark.parametrize("name", ADMIN_FORMS)
@FUZZ
@given(data=st.data())
def test_hostile_data_never_breaks_an_admin_add_form(world, name, data):
    client = client_of(world, "admin")
    url = reverse(name)
    page = client.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    fields = dict.fromkeys(set(INPUT_NAME.findall(html)) - {"csrfmiddlewaretoken"})
    selects = set(SELECT_NAME.findall(html))
    assert len(fields) >= 3, f"{name}: the add page's inputs were not found"
    assert selects
    posted = data.draw(form_data(fields), label="posted")
    posted |= {select: data.draw(SELECT_VALUE, label=select) for select in sorted(selects)}
    response = _post_rolled_back(client, url, posted)
    assert response.status_code < 500


# --- stored XSS -------------------------------------------------------------------------------

PAYLOAD = f"Hi {SCRIPT} {IMG}"
RAW_MARKERS = ("<script>alert(", "<img src=x")


def assert_escaped(response, *, where: str):
    assert response.status_code == 200, where
    html = response.content.decode()
    for marker in RAW_MARKERS:
        assert marker not in html, f"{where}: the payload is rendered unescaped"


@pytest.mark.django_db
def test_text_typed_into_the_forms_is_escaped_on_every_page_showing_it(world):
    rep, manager = client_of(world, "rep"), client_of(world, "manager")
    visit = world.visit_checked_in
    report = {
        **_resolved(world, REPORT_FIELDS),
        "outcome": "follow_up",
        "notes": PAYLOAD,
        "next_step": PAYLOAD,
        "needs-0-description": PAYLOAD[:500],
        "needs-0-satisfied": "",
        "followups-0-title": PAYLOAD,
    }
    response = rep.post(reverse("visits:visit_report", kwargs={"pk": visit.pk}), report)
    assert response.status_code == 302, response.content.decode()[:2000]
    visit.refresh_from_db()
    assert visit.report == PAYLOAD
    assert visit.next_step == PAYLOAD
    assert visit.follow_ups.filter(title=PAYLOAD).exists()

    start = _tomorrow_at_ten()
    response = rep.post(
        reverse("visits:visit_create"),
        {"rep": world.rep.pk, "customer": world.customer.pk, "start": start, "minutes": "45", "goal": PAYLOAD},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    created = world.customer.visits.get(goal=PAYLOAD)
    cancelled = rep.post(reverse("visits:visit_cancel", kwargs={"pk": world.visit_future.pk}), {"reason": PAYLOAD})
    assert cancelled.status_code == 302
    world.visit_future.refresh_from_db()
    assert world.visit_future.cancel_reason == PAYLOAD

    lost = rep.post(reverse("sales:opportunity_lose", kwargs={"pk": world.opportunity.pk}), {"reason": PAYLOAD})
    assert lost.status_code == 302
    world.opportunity.refresh_from_db()
    assert world.opportunity.stage.is_lost

    day = timezone.localdate(created.planned_start).isoformat()
    pages = {
        "visit page": (rep, reverse("visits:visit_detail", kwargs={"pk": visit.pk})),
        "new visit page": (rep, reverse("visits:visit_detail", kwargs={"pk": created.pk})),
        "cancelled visit page": (rep, reverse("visits:visit_detail", kwargs={"pk": world.visit_future.pk})),
        "today": (rep, reverse("visits:today")),
        "today of the new visit": (rep, reverse("visits:today") + f"?date={day}"),
        "calendar": (rep, reverse("visits:calendar") + f"?week={day}"),
        "follow-ups": (rep, reverse("visits:followups")),
        "manager's follow-ups": (manager, reverse("visits:followups")),
        "opportunity": (rep, reverse("sales:opportunity_detail", kwargs={"pk": world.opportunity.pk})),
        "board": (rep, reverse("sales:board")),
        "opportunities": (rep, reverse("sales:opportunity_list")),
        "customer page": (rep, reverse("crm:customer_detail", kwargs={"pk": world.customer.pk})),
        "manager's customer page": (manager, reverse("crm:customer_detail", kwargs={"pk": world.customer.pk})),
        "dashboard": (manager, reverse("analytics:dashboard")),
        "field today": (manager, reverse("analytics:dashboard_field_today")),
    }
    for where, (client, url) in pages.items():
        assert_escaped(client.get(url), where=where)
    # The payload is shown (escaped) where it belongs, not merely absent.
    visit_page = rep.get(pages["visit page"][1]).content.decode()
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in visit_page


@pytest.mark.django_db
def test_a_board_drop_on_lost_with_a_script_reason_answers_escaped(world):
    rep = client_of(world, "rep")
    response = rep.post(
        reverse("sales:opportunity_move", kwargs={"pk": world.opportunity.pk}),
        {"stage": stage("lost").pk, "reason": PAYLOAD},
        HTTP_HX_REQUEST="true",
    )
    assert_escaped(response, where="board update")
    response = rep.post(
        reverse("sales:opportunity_move", kwargs={"pk": world.opportunity.pk}),
        {"stage": PAYLOAD},
        HTTP_HX_REQUEST="true",
    )
    assert_escaped(response, where="board refusal")
