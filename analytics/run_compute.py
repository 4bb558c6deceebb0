"""One scoring run's arithmetic: the spec section 1 kernels applied to the bridge's arrays.

No Django import: the bridge fills `ScoringInputs` from the database and writes
`ScoreArrays` back; everything between is plain NumPy that a test can call with
hand-made arrays. Every formula lives in `analytics.scoring`; this module only
decides which kernel gets which input.
"""

from dataclasses import dataclass, fields

import numpy as np

from analytics import scoring

TIER_INDEX = {"A": 0, "B": 1, "C": 2}


@dataclass(frozen=True)
class ScoringInputs:
    """Aligned arrays, one element per active customer (spec section 1 inputs).

    days_since_last_visit is np.inf for a customer never visited; coordinates are
    NaN where missing (a customer without coordinates, or without an owner rep base).
    """

    customer_id: np.ndarray  # int64
    tier_index: np.ndarray  # int8: A 0, B 1, C 2
    annual_value: np.ndarray
    cadence_days: np.ndarray
    days_since_last_visit: np.ndarray
    weighted_open_pipeline: np.ndarray
    latitude: np.ndarray
    longitude: np.ndarray
    base_latitude: np.ndarray
    base_longitude: np.ndarray

    def __len__(self) -> int:
        return len(self.customer_id)


@dataclass(frozen=True)
class PolicyParams:
    """The numbers of a scoring policy; per-tier tuples are ordered (A, B, C)."""

    weights: tuple[float, float, float]
    t5: tuple[float, float, float]
    t6: tuple[float, float, float]
    speed_kmh: float
    default_travel_km: float
    max_visit_minutes: float


@dataclass(frozen=True)
class ScoreArrays:
    """The columns a run stores per customer, aligned with `ScoringInputs.customer_id`."""

    t1: np.ndarray
    t2: np.ndarray
    t3: np.ndarray
    t4: np.ndarray
    t5: np.ndarray
    t6: np.ndarray
    p: np.ndarray
    t: np.ndarray

    def __len__(self) -> int:
        return len(self.p)


def scores_compute(*, inputs: ScoringInputs, params: PolicyParams) -> ScoreArrays:
    """T1..T6, P and T of every customer in `inputs` (spec section 1)."""
    if len(inputs) == 0:
        # The normalising maxima of T1/T3 are undefined over nobody: nothing to score.
        return ScoreArrays(*(np.empty(0, dtype=np.float64) for _ in fields(ScoreArrays)))
    t1 = scoring.value_feature(inputs.annual_value)
    t2 = scoring.urgency_feature(inputs.days_since_last_visit, inputs.cadence_days)
    t3 = scoring.pipeline_feature(inputs.weighted_open_pipeline)
    km = travel_km(inputs=inputs, params=params)
    t4 = scoring.effort_hours(km, params.speed_kmh)
    t5 = scoring.per_tier(inputs.tier_index, params.t5)
    t6 = scoring.per_tier(inputs.tier_index, params.t6)
    p, t = scoring.priority_and_time(t1, t2, t3, t4, t5, t6, params.weights)
    return ScoreArrays(t1=t1, t2=t2, t3=t3, t4=t4, t5=t5, t6=t6, p=p, t=t)


def travel_km(*, inputs: ScoringInputs, params: PolicyParams) -> np.ndarray:
    """Rep base to customer distance, the policy default where a coordinate is missing."""
    return scoring.travel_km(
        inputs.base_latitude,
        inputs.base_longitude,
        inputs.latitude,
        inputs.longitude,
        params.default_travel_km,
    )


def priority_terms(*, t1, t2, t3, t4, weights) -> np.ndarray:
    """Each weighted term's share of P: [W1 T1/T4, W2 T2/T4, W3 T3/T4], which sum to P.

    Scalars give shape (3,); arrays of n customers give (n, 3). The kernel is called
    with the other two terms zeroed, so the split is the kernel's own arithmetic
    rather than a second copy of the formula.
    """
    t1, t2, t3, t4 = (np.asarray(x, dtype=np.float64)[..., None] for x in (t1, t2, t3, t4))
    eye = np.eye(3)
    return scoring.visit_priority(eye[0] * t1, eye[1] * t2, eye[2] * t3, t4 * np.ones(3), weights)


def booked_minutes(*, t: np.ndarray, params: PolicyParams) -> np.ndarray:
    return scoring.booked_minutes(t, params.max_visit_minutes)
