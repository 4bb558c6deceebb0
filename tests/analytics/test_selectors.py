"""The customer page's score explanation: the known customers' inputs in words, within scope."""

import pytest

from analytics.selectors import customer_score_explained
from analytics.services import scores_recalculate
from crm.models import Customer
from tests.analytics.scoring_world import AS_OF, build_world, expected_scores
from tests.factories import CustomerFactory


@pytest.fixture
def scored(rep):
    world = build_world(rep)
    run = scores_recalculate(as_of=AS_OF)
    return world, run, expected_scores(world.inputs)


def texts(explanation) -> dict[str, str]:
    return {line.key: line.text for line in explanation.lines}


def test_alpha_is_overdue_and_value_leads(rep, scored):
    world, run, expected = scored
    km = world.inputs[world.alpha.pk]["km"]
    t4 = expected[world.alpha.pk]["t4"]

    explanation = customer_score_explained(user=rep, customer_id=world.alpha.pk)

    assert texts(explanation) == {
        "urgency": "overdue by 12 days (last visit 42 days ago, every 30 days)",
        "value": "annual value 120,000",
        "pipeline": "open pipeline 11,000 weighted",
        "effort": f"{t4:.1f} h travel and visit effort ({round(km)} km from the rep's base)",
    }
    assert explanation.p == pytest.approx(expected[world.alpha.pk]["p"])
    assert explanation.t == pytest.approx(expected[world.alpha.pk]["t"])
    assert explanation.run_id == run.pk
    assert explanation.policy_version == 1
    assert explanation.as_of == AS_OF
    # Terms: value 0.5*1, urgency 0.3*1.4, pipeline 0.2*1, each divided by T4; they sum to P.
    terms = {line.key: line.term for line in explanation.lines}
    assert terms["value"] == pytest.approx(0.5 / t4)
    assert terms["urgency"] == pytest.approx(0.42 / t4)
    assert terms["pipeline"] == pytest.approx(0.2 / t4)
    assert terms["value"] + terms["urgency"] + terms["pipeline"] == pytest.approx(explanation.p)
    assert terms["effort"] is None
    assert explanation.top_term == "value"
    assert explanation.top_term_text == "Value contributes most to the priority."
    # T = 60 + 20 P (tier A), booked rounded up to 5 minutes within 15..120.
    booked = min(max(-(-explanation.t // 5) * 5, 15), 120)
    assert explanation.booked_minutes == booked


def test_beta_is_due_soon_without_coordinates(rep, scored):
    world, _, _ = scored

    explanation = customer_score_explained(user=rep, customer_id=world.beta.pk)

    # 3.25 days since the visit, every 14 days: due in 10.75 -> 11 days; T4 = 0.25 + 20/40.
    assert texts(explanation) == {
        "urgency": "due in 11 days (last visit 3 days ago, every 14 days)",
        "value": "annual value 30,000",
        "pipeline": "open pipeline 4,800 weighted",
        "effort": "0.8 h travel and visit effort; no coordinates: default 20 km assumed",
    }
    urgency = next(line for line in explanation.lines if line.key == "urgency")
    assert urgency.number == pytest.approx(3.25, abs=1e-6)


def test_gamma_never_visited_and_urgency_leads(scored):
    world, _, expected = scored
    km = world.inputs[world.gamma.pk]["km"]

    explanation = customer_score_explained(user=world.far_rep, customer_id=world.gamma.pk)

    assert texts(explanation)["urgency"] == "never visited"
    assert texts(explanation)["value"] == "annual value 0"
    assert texts(explanation)["pipeline"] == "no open pipeline"
    assert texts(explanation)["effort"].endswith(f"({round(km)} km from the rep's base)")
    assert explanation.top_term == "urgency"
    assert explanation.p == pytest.approx(expected[world.gamma.pk]["p"])


def test_epsilon_due_today_and_without_a_rep_base(admin_user, scored):
    world, _, _ = scored

    explanation = customer_score_explained(user=admin_user, customer_id=world.epsilon.pk)

    assert texts(explanation)["urgency"] == "due today (last visit 30 days ago, every 30 days)"
    assert texts(explanation)["effort"] == "0.8 h travel and visit effort; no coordinates: default 20 km assumed"


def test_another_reps_customer_is_out_of_scope(rep, scored):
    world, _, _ = scored
    with pytest.raises(Customer.DoesNotExist):
        customer_score_explained(user=rep, customer_id=world.gamma.pk)


def test_a_customer_not_scored_yet_has_no_explanation(rep, scored):
    newcomer = CustomerFactory(owner=rep)
    assert customer_score_explained(user=rep, customer_id=newcomer.pk) is None


def test_explanation_takes_a_bounded_number_of_queries(rep, scored, django_assert_max_num_queries):
    world, _, _ = scored
    with django_assert_max_num_queries(6):
        customer_score_explained(user=rep, customer_id=world.alpha.pk)
