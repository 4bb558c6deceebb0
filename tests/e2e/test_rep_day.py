"""A rep's day in a real browser, on a desktop and on a phone viewport.

Log in, open Today (visits in route order, the route on the map), open the first visit,
check in with a position at the customer (verified), file the report (first with
mistakes: the errors show next to their fields and nothing typed is lost; then right)
and check out, see the follow-up on Follow-ups and mark it done inline (htmx), then
move a planned visit on the week calendar (desktop: drag with the mouse; phone: the
visit's dialog). Every page is screenshotted into tests/e2e/screenshots/ and must log
no JavaScript error.
"""

from datetime import datetime, time, timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from analytics.models import CustomerScore, PlanRun, ScoringPolicy
from tests.factories import CustomerFactory, RepProfileFactory, VisitFactory
from visits.models import FollowUp, Visit
from visits.scheduling import slot_errors
from visits.services import local_zone, plans_build

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

PASSWORD = "pw-for-tests"  # UserFactory's
BASE = (48.8566, 2.3522)  # the rep's home base, central Paris
# Three scored customers a few km from the base: the planner puts all three on today.
CUSTOMERS = [("Atelier Nord", 48.8700, 2.3600, 3.0), ("Boulangerie Ouest", 48.8400, 2.3000, 2.0)]
CUSTOMERS += [("Café Est", 48.9000, 2.4000, 1.0)]
FOLLOW_UP_TITLE = "Send the spring price list"
NOTES = "Talked about the spring range; they want prices by Friday."


def local(day, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=local_zone())


@pytest.fixture
def rep_day():
    """A rep working every day 08:30-17:30 whose plan, built as of 07:00 today, has three visits today,
    and a planned visit tomorrow 09:00 (the one to move on the calendar)."""
    today = timezone.localdate(timezone=local_zone())
    as_of = local(today, 7)
    profile = RepProfileFactory(
        user__username="e2e_rep",
        user__first_name="Riley",
        user__last_name="Field",
        home_latitude=BASE[0],
        home_longitude=BASE[1],
        working_days=127,
    )
    rep = profile.user
    policy = ScoringPolicy.objects.get(active=True)
    scores = PlanRun.objects.create(
        kind=PlanRun.Kind.SCORES, status=PlanRun.Status.SUCCEEDED, as_of=as_of, policy=policy
    )
    for index, (name, lat, lon, p) in enumerate(CUSTOMERS):
        customer = CustomerFactory(owner=rep, name=name, code=f"E2E{index}", latitude=lat, longitude=lon)
        CustomerScore.objects.create(
            customer=customer, run=scores, policy=policy, t1=0.5, t2=1.0, t3=0.0, t4=1.0, t5=45, t6=15,
            p=p, t=50.0, computed_at=as_of,
        )  # fmt: skip
    plans = PlanRun.objects.create(kind=PlanRun.Kind.PLANS, status=PlanRun.Status.RUNNING, as_of=as_of, policy=policy)
    assert plans_build(rep_ids=[rep.pk], as_of=as_of, run=plans) == 3
    todays = list(
        Visit.objects.filter(rep=rep, planned_start__date=today).select_related("customer").order_by("planned_start")
    )
    assert len(todays) == 3
    assert all(v.status == Visit.Status.PLANNED for v in todays)

    tomorrow = today + timedelta(days=1)
    mover = VisitFactory(
        customer=CustomerFactory(owner=rep, name="Droguerie Sud", code="E2E9", latitude=48.83, longitude=2.36),
        planned_start=local(tomorrow, 9),
        planned_minutes=45,
        origin=Visit.Origin.PLANNER,
        status=Visit.Status.PLANNED,
    )
    # The drop target: the first of these times tomorrow that breaks no rule (what the server checks).
    target = next(
        local(tomorrow, hour, minute)
        for hour, minute in [(10, 30), (11, 0), (14, 0), (15, 0), (16, 0)]
        if not slot_errors(
            profile=profile, start=local(tomorrow, hour, minute), minutes=45, exclude_pk=mover.pk, now=timezone.now()
        )
    )
    return {"rep": rep, "today": today, "visits": todays, "mover": mover, "target": target}


def log_in(tab, live_server, username: str, shown_as: str) -> None:
    page = tab.page
    page.goto(live_server.url + "/login/")
    tab.check("01-login")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("form[action='/login/'] button[type=submit]")
    expect(page.locator(".navbar-text.who")).to_contain_text(shown_as)
    tab.check("02-home")


@pytest.mark.parametrize("viewport", ["desktop", "phone"])
def test_rep_day(open_tab, live_server, rep_day, viewport):
    visits = rep_day["visits"]
    first = visits[0]
    customer = first.customer
    tab = open_tab(viewport, geolocation={"latitude": customer.latitude, "longitude": customer.longitude})
    page = tab.page
    log_in(tab, live_server, "e2e_rep", "Riley Field · Rep")

    # Today: three visits in route order (stop numbers 1..3, times rising), the map with a
    # marker per stop plus the base, and the dashed route line.
    page.goto(live_server.url + "/today/")
    rows = page.locator("[data-testid=today-visit]")
    expect(rows).to_have_count(3)
    assert [rows.nth(i).get_attribute("data-visit-id") for i in range(3)] == [str(v.pk) for v in visits]
    assert [rows.nth(i).get_attribute("data-stop") for i in range(3)] == ["1", "2", "3"]
    times = [rows.nth(i).locator("[data-testid=today-visit-time]").inner_text()[:5] for i in range(3)]
    assert times == [timezone.localtime(v.planned_start, local_zone()).strftime("%H:%M") for v in visits]
    expect(page.locator("[data-testid=today-stop-count]")).to_have_text("3")
    expect(page.locator("#today-map .leaflet-marker-icon")).to_have_count(4)
    expect(page.locator("#today-map .leaflet-marker-icon.is-base")).to_have_count(1)
    expect(page.locator("#today-map path.leaflet-interactive")).to_have_count(1)
    tab.check("03-today")

    # The first visit: check in at the customer's position -> verified.
    page.click(f"#today-visit-link-{first.pk}")
    expect(page.locator("#visit-status")).to_have_attribute("data-status", "planned")
    tab.check("04-visit")
    page.click("#check-in-button")
    expect(page.locator("#check-in-result")).to_have_attribute("data-result", "verified")
    expect(page.locator(".messages")).to_contain_text("Verified")
    tab.check("05-checked-in")
    first.refresh_from_db()
    assert first.status == Visit.Status.CHECKED_IN
    assert first.check_in_result == Visit.CheckInResult.VERIFIED
    assert first.check_in_distance_m < 1  # the browser reported the customer's own coordinates

    # The report, first with two mistakes: no satisfaction given, and a need ticked as
    # satisfied without saying what it was (more satisfied than raised).
    page.click("#report-button")
    page.select_option("#id_outcome", "follow_up")
    page.fill("#id_notes", NOTES)
    page.check("input[name=expected_satisfaction][value='3']")
    page.check("#id_needs-0-satisfied")
    page.fill("#id_followups-0-title", FOLLOW_UP_TITLE)
    due = rep_day["today"] + timedelta(days=3)
    page.fill("#id_followups-0-due_date", due.isoformat())
    tab.check("06-report-filled-wrong")
    page.click("#report-submit")
    expect(page.locator("#report-errors")).to_be_visible()
    satisfaction_error = page.locator("#div_id_actual_satisfaction .invalid-feedback, #error_1_id_actual_satisfaction")
    expect(satisfaction_error.first).to_contain_text("Give a satisfaction from 1 to 5.")
    expect(satisfaction_error.first).to_be_visible()
    need_error = page.locator("#div_id_needs-0-description .invalid-feedback")
    expect(need_error).to_contain_text("Describe the need you marked as satisfied.")
    expect(need_error).to_be_visible()
    # Nothing typed is lost.
    expect(page.locator("#id_notes")).to_have_value(NOTES)
    expect(page.locator("#id_outcome")).to_have_value("follow_up")
    expect(page.locator("input[name=expected_satisfaction][value='3']")).to_be_checked()
    expect(page.locator("#id_followups-0-title")).to_have_value(FOLLOW_UP_TITLE)
    expect(page.locator("#id_followups-0-due_date")).to_have_value(due.isoformat())
    tab.check("07-report-errors")
    first.refresh_from_db()
    assert first.report_filed_at is None
    assert not FollowUp.objects.filter(visit=first).exists()

    # Corrected: the need described, satisfaction given; filed and checked out in one go.
    page.fill("#id_needs-0-description", "Prices for the spring range")
    page.check("input[name=actual_satisfaction][value='4']")
    expect(page.locator("#id_check_out")).to_be_checked()
    page.click("#report-submit")
    expect(page.locator(".messages")).to_contain_text("Report filed and checked out; 1 follow-up task created.")
    expect(page.locator("#visit-status")).to_have_attribute("data-status", "completed")
    expect(page.locator("#check-out-summary")).to_be_visible()
    expect(page.locator("#visit-followups")).to_contain_text(FOLLOW_UP_TITLE)
    tab.check("08-visit-completed")
    first.refresh_from_db()
    assert first.status == Visit.Status.COMPLETED
    assert (first.outcome, first.actual_satisfaction, first.expected_satisfaction) == ("follow_up", 4, 3)
    assert (first.needs_raised, first.needs_satisfied) == (1, 1)
    follow_up = FollowUp.objects.get(visit=first)
    assert (follow_up.title, follow_up.due_date, follow_up.done_at) == (FOLLOW_UP_TITLE, due, None)

    # Follow-ups: the new task is there; "Done" swaps its row in place (no page load).
    page.goto(live_server.url + "/followups/")
    row = page.locator(f"#followup-{follow_up.pk}")
    expect(row).to_contain_text(FOLLOW_UP_TITLE)
    expect(row).to_have_attribute("data-state", "open")
    tab.check("09-followups")
    page.evaluate("window.__noReload = true")
    page.click(f"#followup-{follow_up.pk}-done")
    expect(row).to_have_attribute("data-state", "done")
    expect(page.locator(f"#followup-{follow_up.pk}-reopen")).to_be_visible()
    expect(page.locator("#followup-flash")).to_contain_text(f"Done: {FOLLOW_UP_TITLE}")
    assert page.evaluate("window.__noReload") is True
    tab.check("10-followup-done")
    follow_up.refresh_from_db()
    assert follow_up.done_at is not None

    # Back on Today, the first stop shows as done on the map too.
    page.goto(live_server.url + "/today/")
    expect(page.locator("#today-map .leaflet-marker-icon.is-done")).to_have_count(1)
    expect(page.locator(f"#today-visit-{first.pk} .fw-status")).to_have_attribute("data-status", "completed")
    tab.check("11-today-after")

    move_on_calendar(tab, live_server, rep_day)


def move_on_calendar(tab, live_server, rep_day) -> None:
    """Move tomorrow's planned visit to the free target time: a mouse drag, or the dialog on a phone."""
    page = tab.page
    mover, target = rep_day["mover"], rep_day["target"]
    target_local = timezone.localtime(target, local_zone())
    page.goto(f"{live_server.url}/calendar/?week={target_local.date().isoformat()}")
    block = page.locator(f"#calendar-visit-{mover.pk}")
    expect(block).to_have_attribute("data-status", "planned")
    expect(block).to_contain_text("09:00")
    tab.check("12-calendar")

    if tab.viewport == "desktop":
        calendar = page.locator("#week-calendar")
        first = float(calendar.get_attribute("data-first-minute"))
        span = max(float(calendar.get_attribute("data-last-minute")) - first, 60)
        block.scroll_into_view_if_needed()
        box = block.bounding_box()
        day = page.locator(f"#calendar-day-{target_local.date().isoformat()}").bounding_box()
        grab_x, grab_y = box["x"] + box["width"] / 2, box["y"] + 4
        minute = target_local.hour * 60 + target_local.minute
        # calendar.js: minute = first + (y - grabOffset - dayTop) / dayHeight * span, snapped to 15.
        drop_y = day["y"] + (minute - first) / span * day["height"] + 4
        assert 0 <= drop_y <= page.viewport_size["height"], "the drop point must be on screen"
        page.mouse.move(grab_x, grab_y)
        page.mouse.down()
        page.mouse.move(grab_x, grab_y + 10, steps=2)
        page.mouse.move(grab_x, drop_y, steps=8)
        expect(block.locator(".fw-cal-visit-time")).to_have_text(target_local.strftime("%H:%M"))
        tab.check("13-calendar-dragging")
        with page.expect_navigation():
            page.mouse.up()
    else:
        block.tap()
        dialog = page.locator(f"#visit-modal-{mover.pk}")
        expect(dialog).to_be_visible()
        tab.check("13-calendar-dialog")
        dialog.locator(f"#id_move{mover.pk}_start").fill(target_local.strftime("%Y-%m-%dT%H:%M"))
        dialog.locator(f"#move-submit-{mover.pk}").click()

    expect(page.locator(".messages")).to_contain_text("is confirmed")
    block = page.locator(f"#calendar-visit-{mover.pk}")
    expect(block).to_have_attribute("data-status", "confirmed")
    expect(block.locator(".fw-cal-visit-time")).to_have_text(target_local.strftime("%H:%M"))
    tab.check("14-calendar-moved")
    mover.refresh_from_db()
    assert mover.status == Visit.Status.CONFIRMED
    assert mover.planned_start == target
