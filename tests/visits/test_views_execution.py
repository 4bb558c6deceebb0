"""Pages of visit execution for each role: scope (404 on other reps' objects), forms, follow-ups, htmx."""

import re
from datetime import timedelta

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone

from crm.models import Need
from tests.factories import CustomerFactory, FollowUpFactory, VisitFactory
from visits.execution import visit_check_in
from visits.models import CalendarFeed, FollowUp, Visit

HOME = (48.8530, 2.3499)


@pytest.fixture
def visit(rep):
    # Today, so it can be checked in.
    customer = CustomerFactory(owner=rep, name="Boulangerie Martin", latitude=HOME[0], longitude=HOME[1])
    return VisitFactory(customer=customer, planned_start=timezone.now(), status=Visit.Status.CONFIRMED, goal="Renewal")


@pytest.fixture
def checked_in_visit(visit, rep):
    return visit_check_in(visit=visit, by=rep)


def login(client, user):
    client.force_login(user)
    return client


def texts(response):
    return [str(message) for message in get_messages(response.wsgi_request)]


def report_post(**overrides):
    today = timezone.localdate()
    data = {
        "outcome": "follow_up",
        "notes": "Discussed the spring range.",
        "actual_satisfaction": "4",
        "expected_satisfaction": "3",
        "next_step": "Send samples",
        "check_out": "on",
        "latitude": "",
        "longitude": "",
        "needs-TOTAL_FORMS": "3",
        "needs-INITIAL_FORMS": "0",
        "needs-MIN_NUM_FORMS": "0",
        "needs-MAX_NUM_FORMS": "20",
        "needs-0-description": "Gluten-free flour",
        "needs-0-satisfied": "on",
        "needs-1-description": "Weekend delivery",
        "needs-2-description": "",
        "followups-TOTAL_FORMS": "3",
        "followups-INITIAL_FORMS": "0",
        "followups-MIN_NUM_FORMS": "0",
        "followups-MAX_NUM_FORMS": "20",
        "followups-0-title": "Send samples",
        "followups-0-due_date": (today + timedelta(days=2)).isoformat(),
        "followups-1-title": "",
        "followups-1-due_date": "",
        "followups-2-title": "",
        "followups-2-due_date": "",
    }
    data.update(overrides)
    return data


# -- scope: every endpoint answers 404 on another rep's objects -----------------------------------

VISIT_GETS = ["visits:visit_detail", "visits:visit_report", "visits:visit_ics"]
VISIT_POSTS = ["visits:visit_check_in", "visits:visit_check_out", "visits:visit_report"]
FOLLOW_UP_POSTS = ["visits:followup_done", "visits:followup_reopen"]


@pytest.fixture(params=["teammate", "other_rep"])
def outsider(request):
    """A rep of the same team and one of another team: neither may reach `rep`'s objects."""
    return request.getfixturevalue(request.param)


@pytest.mark.parametrize("name", VISIT_GETS)
def test_another_reps_visit_is_404_on_get(client, checked_in_visit, outsider, name):
    response = login(client, outsider).get(reverse(name, args=[checked_in_visit.pk]))
    assert response.status_code == 404


@pytest.mark.parametrize("name", VISIT_POSTS)
def test_another_reps_visit_is_404_on_post_and_unchanged(client, visit, outsider, name):
    response = login(client, outsider).post(reverse(name, args=[visit.pk]), report_post())
    assert response.status_code == 404
    visit.refresh_from_db()
    assert (visit.status, visit.checked_in_at, visit.report_filed_at) == ("confirmed", None, None)


def test_another_reps_checked_in_visit_cannot_be_reported_or_checked_out(client, checked_in_visit, outsider):
    login(client, outsider)
    for name in ("visits:visit_report", "visits:visit_check_out"):
        assert client.post(reverse(name, args=[checked_in_visit.pk]), report_post()).status_code == 404
    checked_in_visit.refresh_from_db()
    assert (checked_in_visit.status, checked_in_visit.report_filed_at) == ("checked_in", None)


@pytest.mark.parametrize("name", FOLLOW_UP_POSTS)
@pytest.mark.parametrize("htmx", [True, False])
def test_another_reps_follow_up_is_404_on_post_and_unchanged(client, visit, outsider, name, htmx):
    follow_up = FollowUpFactory(visit=visit, done_at=timezone.now() if "reopen" in name else None)
    before = follow_up.done_at
    headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}
    response = login(client, outsider).post(reverse(name, args=[follow_up.pk]), **headers)
    assert response.status_code == 404
    assert FollowUp.objects.get(pk=follow_up.pk).done_at == before


def test_another_reps_follow_ups_are_not_listed(client, visit, outsider):
    FollowUpFactory(visit=visit, title="Secret task")
    response = login(client, outsider).get(reverse("visits:followups"))
    assert b"Secret task" not in response.content
    assert response.context["page"].paginator.count == 0


def test_a_teammate_cannot_see_the_visit_but_the_manager_and_admin_can(client, visit, teammate, manager, admin_user):
    url = reverse("visits:visit_detail", args=[visit.pk])
    assert login(client, teammate).get(url).status_code == 404
    for user in (manager, admin_user):
        response = login(client, user).get(url)
        assert response.status_code == 200
        assert b"Boulangerie Martin" in response.content


def test_anonymous_users_are_sent_to_login(client, visit):
    for url in (reverse("visits:visit_detail", args=[visit.pk]), reverse("visits:followups")):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))


def test_get_is_refused_on_post_endpoints(client, rep, visit):
    login(client, rep)
    assert client.get(reverse("visits:visit_check_in", args=[visit.pk])).status_code == 405
    assert client.get(reverse("visits:feed_revoke")).status_code == 405


# -- visit page and check-in ------------------------------------------------------------------


def test_visit_page_offers_the_check_in_today(client, rep, visit):
    response = login(client, rep).get(reverse("visits:visit_detail", args=[visit.pk]))
    assert response.status_code == 200
    assert b'id="check-in-button"' in response.content
    assert b"data-geolocate" in response.content
    assert b"visits/checkin.js" in response.content


def test_visit_page_query_count_does_not_grow(client, rep, checked_in_visit, django_assert_max_num_queries):
    for index in range(12):
        FollowUpFactory(visit=checked_in_visit, title=f"task {index}")
    login(client, rep)
    # session, user, groups, the visit (with customer and rep), its needs, its follow-ups
    with django_assert_max_num_queries(6):
        response = client.get(reverse("visits:visit_detail", args=[checked_in_visit.pk]))
    assert response.content.count(b'data-testid="followup-row"') == 12


def test_a_visit_of_another_day_cannot_be_checked_in_yet(client, rep):
    visit = VisitFactory(customer__owner=rep, planned_start=timezone.now() + timedelta(days=2))
    response = login(client, rep).get(reverse("visits:visit_detail", args=[visit.pk]))
    assert b'id="check-in-button"' not in response.content
    assert b'id="check-in-later"' in response.content


def test_check_in_with_a_position_is_verified_and_says_how_far(client, rep, visit):
    response = login(client, rep).post(
        reverse("visits:visit_check_in", args=[visit.pk]), {"latitude": HOME[0] + 0.001, "longitude": HOME[1]}
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("visits:visit_detail", args=[visit.pk])
    assert any("Verified: 111 m from the customer." in text for text in texts(response))
    visit.refresh_from_db()
    assert (visit.status, visit.check_in_result) == ("checked_in", "verified")

    page = client.get(response["Location"])
    assert '<span id="check-in-detail">111 m from the customer</span>' in page.content.decode()
    assert b'id="check-out-button"' in page.content


def test_check_in_far_away_says_outside_in_km(client, rep, visit):
    response = login(client, rep).post(
        reverse("visits:visit_check_in", args=[visit.pk]), {"latitude": HOME[0] + 0.02, "longitude": HOME[1]}
    )
    assert any("2.2 km away" in text for text in texts(response))
    assert Visit.objects.get(pk=visit.pk).check_in_result == "outside"


def test_check_in_without_position_is_unverified(client, rep, visit):
    response = login(client, rep).post(
        reverse("visits:visit_check_in", args=[visit.pk]), {"latitude": "", "longitude": ""}
    )
    assert any("Unverified: no position" in text for text in texts(response))
    assert Visit.objects.get(pk=visit.pk).check_in_result == "unverified"


def test_a_garbled_position_is_refused_with_a_message(client, rep, visit):
    response = login(client, rep).post(
        reverse("visits:visit_check_in", args=[visit.pk]), {"latitude": "north", "longitude": "2.3"}
    )
    assert response.status_code == 302
    assert any("could not be read" in text for text in texts(response))
    assert Visit.objects.get(pk=visit.pk).status == "confirmed"


def test_checking_in_twice_is_refused_with_a_message(client, rep, checked_in_visit):
    response = login(client, rep).post(reverse("visits:visit_check_in", args=[checked_in_visit.pk]))
    assert any("Only a planned or confirmed visit" in text for text in texts(response))


def test_a_manager_can_check_in_for_the_teams_rep(client, manager, visit):
    login(client, manager).post(reverse("visits:visit_check_in", args=[visit.pk]))
    assert Visit.objects.get(pk=visit.pk).status == "checked_in"


def test_check_out_without_report_completes_the_visit(client, rep, checked_in_visit):
    response = login(client, rep).post(reverse("visits:visit_check_out", args=[checked_in_visit.pk]))
    assert any("file its report when you can" in text for text in texts(response))
    checked_in_visit.refresh_from_db()
    assert checked_in_visit.status == "completed"
    page = client.get(reverse("visits:visit_detail", args=[checked_in_visit.pk]))
    assert b'id="report-button"' in page.content


# -- report form ------------------------------------------------------------------------------


def test_report_form_files_the_report_and_checks_out(client, rep, checked_in_visit):
    url = reverse("visits:visit_report", args=[checked_in_visit.pk])
    assert login(client, rep).get(url).status_code == 200

    response = client.post(url, report_post())

    assert response.status_code == 302
    assert any("Report filed and checked out; 1 follow-up task created." in t for t in texts(response))
    visit = Visit.objects.get(pk=checked_in_visit.pk)
    assert (visit.status, visit.outcome, visit.needs_raised, visit.needs_satisfied) == ("completed", "follow_up", 2, 1)
    assert (visit.actual_satisfaction, visit.expected_satisfaction, visit.next_step) == (4, 3, "Send samples")
    assert list(Need.objects.filter(visit=visit).order_by("id").values_list("description", "satisfied")) == [
        ("Gluten-free flour", True),
        ("Weekend delivery", False),
    ]
    assert list(FollowUp.objects.filter(visit=visit).values_list("title", "assignee")) == [("Send samples", rep.pk)]


def test_report_without_check_out_keeps_the_visit_checked_in(client, rep, checked_in_visit):
    data = report_post()
    del data["check_out"]
    login(client, rep).post(reverse("visits:visit_report", args=[checked_in_visit.pk]), data)
    visit = Visit.objects.get(pk=checked_in_visit.pk)
    assert (visit.status, visit.report_filed_at is not None) == ("checked_in", True)


def test_an_invalid_report_comes_back_filled_with_the_errors_next_to_the_fields(client, rep, checked_in_visit):
    yesterday = (timezone.localdate() - timedelta(days=1)).isoformat()
    data = report_post(
        actual_satisfaction="7",
        expected_satisfaction="",
        **{
            "needs-1-satisfied": "on",
            "needs-2-satisfied": "on",  # satisfied without a description: more satisfied than raised
            "followups-0-due_date": yesterday,
            "followups-1-due_date": (timezone.localdate() + timedelta(days=1)).isoformat(),
            "followups-2-title": "Call back",
        },
    )
    response = login(client, rep).post(reverse("visits:visit_report", args=[checked_in_visit.pk]), data)

    assert response.status_code == 200
    form = response.context["form"]
    assert form.errors["actual_satisfaction"] == ["Choose a satisfaction from 1 to 5."]
    assert form.errors["expected_satisfaction"] == ["Give a satisfaction from 1 to 5."]
    needs_errors = response.context["needs"].errors
    assert needs_errors[2] == {"description": ["Describe the need you marked as satisfied."]}
    follow_up_errors = response.context["follow_ups"].errors
    assert follow_up_errors[0] == {"due_date": ["The due date cannot be in the past."]}
    assert follow_up_errors[1] == {"title": ["Give this follow-up a title."]}
    assert follow_up_errors[2] == {"due_date": ["Pick a due date for this follow-up."]}
    html = response.content.decode()
    # Everything typed is still there...
    assert "Discussed the spring range." in html
    assert 'value="Gluten-free flour"' in html
    assert 'value="Weekend delivery"' in html
    assert 'value="Send samples"' in html
    assert f'value="{yesterday}"' in html
    assert 'value="Call back"' in html
    # ...and each message sits in its field's block, right after the invalid input.
    assert html.count("is-invalid") >= 6
    # Radios: their wrapper is marked too, or Bootstrap would keep the message hidden.
    assert re.search(r'<div\s+class="is-invalid" data-testid="report-actual-satisfaction">', html)
    position = html.index('name="followups-0-due_date"')
    assert html.index("The due date cannot be in the past.", position) - position < 600
    # Nothing was written.
    visit = Visit.objects.get(pk=checked_in_visit.pk)
    assert (visit.report_filed_at, visit.status) == (None, "checked_in")
    assert not Need.objects.filter(visit=visit).exists()


def test_a_follow_up_outcome_needs_a_next_step_or_a_task(client, rep, checked_in_visit):
    data = report_post(next_step="", **{"followups-0-title": "", "followups-0-due_date": ""})
    response = login(client, rep).post(reverse("visits:visit_report", args=[checked_in_visit.pk]), data)
    assert response.status_code == 200
    assert list(response.context["form"].errors) == ["next_step"]


def test_a_report_on_a_visit_not_checked_in_comes_back_filled(client, rep, visit):
    url = reverse("visits:visit_report", args=[visit.pk])
    response = login(client, rep).get(url)
    assert response.status_code == 302  # nothing to report yet: back to the visit
    response = client.post(url, report_post())
    assert response.status_code == 200
    assert response.context["form"].non_field_errors() == ["Check in before you file the report."]
    assert "Discussed the spring range." in response.content.decode()


def test_a_filed_report_is_not_offered_again(client, rep, checked_in_visit):
    url = reverse("visits:visit_report", args=[checked_in_visit.pk])
    login(client, rep).post(url, report_post())
    response = client.get(url)
    assert response.status_code == 302
    assert any("already been filed" in text for text in texts(response))
    page = client.get(reverse("visits:visit_detail", args=[checked_in_visit.pk]))
    assert b'data-report-filed="' in page.content
    assert b"Discussed the spring range." in page.content


# -- follow-ups page --------------------------------------------------------------------------


def test_follow_ups_overdue_first_then_by_due_date_only_open_and_own(client, rep, other_rep):
    today = timezone.localdate()
    visit = VisitFactory(customer__owner=rep)
    due = {}
    for title, days in [("in a week", 7), ("overdue 1", -1), ("today", 0), ("overdue 5", -5), ("tomorrow", 1)]:
        due[title] = FollowUpFactory(visit=visit, title=title, due_date=today + timedelta(days=days))
    FollowUpFactory(visit=visit, title="done already", due_date=today - timedelta(days=9), done_at=timezone.now())
    FollowUpFactory(visit__customer__owner=other_rep, title="someone else's", due_date=today - timedelta(days=20))

    response = login(client, rep).get(reverse("visits:followups"))

    titles = [follow_up.title for follow_up in response.context["page"].object_list]
    assert titles == ["overdue 5", "overdue 1", "today", "tomorrow", "in a week"]
    html = response.content.decode()
    assert html.count('data-state="overdue"') == 2
    assert reverse("visits:visit_detail", args=[visit.pk]) in html
    assert visit.customer.name in html


def test_a_manager_sees_the_teams_follow_ups(client, rep, teammate, other_rep, manager):
    FollowUpFactory(visit__customer__owner=rep, title="rep task")
    FollowUpFactory(visit__customer__owner=teammate, title="teammate task")
    FollowUpFactory(visit__customer__owner=other_rep, title="other team task")
    response = login(client, manager).get(reverse("visits:followups"))
    titles = {follow_up.title for follow_up in response.context["page"].object_list}
    assert titles == {"rep task", "teammate task"}
    assert response.context["show_assignee"] is True


@pytest.mark.parametrize("count", [3, 40])
def test_follow_ups_page_query_count_does_not_grow_with_rows(client, rep, count, django_assert_max_num_queries):
    for index in range(count):
        FollowUpFactory(visit__customer__owner=rep, title=f"task {index}")
    CalendarFeed.objects.create(user=rep, token="t" * 43)
    login(client, rep)
    # session, user, groups, count, the page's rows, the feed
    with django_assert_max_num_queries(7):
        response = client.get(reverse("visits:followups"))
    assert len(response.context["page"].object_list) == count


def test_done_with_htmx_returns_the_row_and_the_message(client, rep):
    follow_up = FollowUpFactory(visit__customer__owner=rep, title="Send the quote")
    response = login(client, rep).post(
        reverse("visits:followup_done", args=[follow_up.pk]),
        {"next": reverse("visits:followups")},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" not in html
    assert html.strip().startswith('<li class="list-group-item')
    assert f'id="followup-{follow_up.pk}"' in html
    assert 'data-state="done"' in html
    assert f'id="followup-{follow_up.pk}-reopen"' in html
    assert 'hx-swap-oob="true"' in html
    assert "Done: Send the quote" in html
    assert "HX-Request" in response["Vary"]
    assert FollowUp.objects.get(pk=follow_up.pk).done_at is not None
    assert texts(response) == []  # the message travelled in the partial, not to the next page

    reopened = client.post(reverse("visits:followup_reopen", args=[follow_up.pk]), HTTP_HX_REQUEST="true")
    assert 'data-state="open"' in reopened.content.decode()
    assert FollowUp.objects.get(pk=follow_up.pk).done_at is None


def test_done_without_javascript_redirects_back_with_a_message(client, rep):
    follow_up = FollowUpFactory(visit__customer__owner=rep, title="Call back")
    next_url = reverse("visits:visit_detail", args=[follow_up.visit_id])
    response = login(client, rep).post(reverse("visits:followup_done", args=[follow_up.pk]), {"next": next_url})
    assert (response.status_code, response["Location"]) == (302, next_url)
    assert texts(response) == ["Done: Call back"]


def test_done_never_redirects_off_site(client, rep):
    follow_up = FollowUpFactory(visit__customer__owner=rep)
    response = login(client, rep).post(
        reverse("visits:followup_done", args=[follow_up.pk]), {"next": "https://evil.example/"}
    )
    assert response["Location"] == reverse("visits:followups")


def test_a_manager_can_close_a_reps_follow_up(client, rep, manager):
    follow_up = FollowUpFactory(visit__customer__owner=rep)
    login(client, manager).post(reverse("visits:followup_done", args=[follow_up.pk]))
    assert FollowUp.objects.get(pk=follow_up.pk).done_at is not None


# -- calendar feed section --------------------------------------------------------------------


def test_feed_section_create_rotate_revoke(client, rep):
    login(client, rep)
    page = client.get(reverse("visits:followups"))
    assert b'id="feed-create"' in page.content

    response = client.post(reverse("visits:feed_rotate"))
    assert response["Location"].endswith("#calendar-feed")
    first = CalendarFeed.objects.get(user=rep).token
    assert len(first) == 43
    page = client.get(reverse("visits:followups"))
    feed_url = f"http://testserver/calendar/feed/{first}.ics"
    assert feed_url in page.content.decode()
    assert f"webcal://testserver/calendar/feed/{first}.ics" in page.content.decode()

    client.post(reverse("visits:feed_rotate"))
    second = CalendarFeed.objects.get(user=rep).token
    assert second != first
    assert client.get(f"/calendar/feed/{first}.ics").status_code == 404
    assert client.get(f"/calendar/feed/{second}.ics").status_code == 200

    response = client.post(reverse("visits:feed_revoke"))
    assert any("turned off" in text for text in texts(response))
    assert client.get(f"/calendar/feed/{second}.ics").status_code == 404
    page = client.get(reverse("visits:followups"))
    assert second not in page.content.decode()
    assert b'id="feed-create"' in page.content
