"""Where the ORM meets NumPy: inputs in as arrays, results out, in a fixed number of queries.

The bridge never computes a formula (the kernels do); it aggregates in SQL, moves
columns between the database and arrays, and converts units (timestamps to epoch
seconds or days). PostgreSQL moves data with binary COPY both ways; SQLite, the
embedded development database, takes a plain cursor path that gives the same answers.

One module per consumer: `scores` (spec section 1), `visits` (section 2),
`visit_days` (section 2 from stored day sums), `pipeline` (section 3), `need`
(section 4), `forecast` (section 5), `profile360` (section 6), `visit_effect` (the visit-effect figure);
`columns` holds the shared SQL and COPY plumbing, `expressions` the column
expressions, `packed` the rows-as-arrays transport.
Every public name is importable from `analytics.bridge`.
"""

from analytics.bridge.columns import (
    _COPY_HEADER,
    _COPY_SIGNATURE,
    _COPY_TRAILER,
    _decode_binary_copy,
    load_columns,
)
from analytics.bridge.expressions import SECONDS_PER_DAY
from analytics.bridge.forecast import WonSales, load_won_sales
from analytics.bridge.need import NeedEngagement, load_engagement_with_latest_model, load_need_engagement
from analytics.bridge.pipeline import (
    OpportunityArrays,
    OrderArrays,
    PipelineArrays,
    StageChangeArrays,
    StageTable,
    load_pipeline_arrays,
    load_stage_table,
    stage_funnel_codes,
)
from analytics.bridge.profile360 import DAYS_PER_MONTH, PROFILE_WINDOW_DAYS, Profile360Inputs, load_profile360_inputs
from analytics.bridge.scores import load_scoring_inputs, policy_params, save_scores
from analytics.bridge.visit_days import TermWindow, VisitTermSums, as_ratio_terms, load_visit_term_sums
from analytics.bridge.visit_effect import VisitEffectInputs, load_visit_effect_inputs
from analytics.bridge.visits import (
    VisitRatioInputs,
    load_rep_visit_inputs,
    load_visit_ratio_inputs,
    local_day_starts,
)

__all__ = [
    "DAYS_PER_MONTH",
    "PROFILE_WINDOW_DAYS",
    "SECONDS_PER_DAY",
    "_COPY_HEADER",
    "_COPY_SIGNATURE",
    "_COPY_TRAILER",
    "OpportunityArrays",
    "OrderArrays",
    "PipelineArrays",
    "NeedEngagement",
    "Profile360Inputs",
    "StageChangeArrays",
    "StageTable",
    "TermWindow",
    "VisitEffectInputs",
    "VisitRatioInputs",
    "VisitTermSums",
    "WonSales",
    "as_ratio_terms",
    "_decode_binary_copy",
    "load_columns",
    "load_engagement_with_latest_model",
    "load_need_engagement",
    "load_pipeline_arrays",
    "load_profile360_inputs",
    "load_rep_visit_inputs",
    "load_scoring_inputs",
    "load_stage_table",
    "load_visit_effect_inputs",
    "load_visit_ratio_inputs",
    "load_visit_term_sums",
    "load_won_sales",
    "local_day_starts",
    "policy_params",
    "save_scores",
    "stage_funnel_codes",
]
