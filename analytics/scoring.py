"""Visit priority P(i) and scheduled time T(i): the kernels of spec section 1.

Pure NumPy over float64 arrays, one element per customer; no Django import. Every
kernel broadcasts its array arguments like a NumPy ufunc and validates them first:
a non-finite input, a negative T1..T3 (or amount, distance, minutes), or a T4 <= 0
raises `ValueError` naming the argument, the first offending index into the
broadcast inputs and the value. Nothing is returned half-computed.

`visit_priority` and `scheduled_time` run on every active customer of every run,
so they are written for memory bandwidth: they walk the inputs in cache-sized
blocks (a loop over blocks of 65,536 customers, not over customers), check each
block with one integer max-reduction per input while it is in cache, and compute
into the output with ``out=`` ufuncs and one block-sized scratch buffer. The slow
search for the offending index runs only when a check fails.
"""

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from analytics.numbers import (
    Check,
    as_float_array,
    as_group_index,
    check_nonneg,
    check_positive,
    ensure_valid,
    first_invalid,
    index_at,
    invalid_message,
)

__all__ = [
    "EARTH_RADIUS_KM",
    "URGENCY_CAP",
    "booked_minutes",
    "effort_hours",
    "haversine_km",
    "per_tier",
    "pipeline_feature",
    "scheduled_time",
    "travel_km",
    "urgency_feature",
    "value_feature",
    "visit_priority",
]

EARTH_RADIUS_KM = 6371.0088  # mean Earth radius (IUGG), spec section 1
URGENCY_CAP = 3.0  # T2 of a customer never visited, and the cap of every T2
BASE_EFFORT_HOURS = 0.25  # T4 = 0.25 + travel_km / speed_kmh
BOOKING_STEP_MINUTES = 5.0
MIN_BOOKED_MINUTES = 15.0

# Blocks of 2**16 float64 (512 KiB per array): large enough that the per-call cost of
# the ~10 ufuncs per block is negligible, small enough that a block's arrays stay in
# cache between its passes. Measured best on the reference machine (bench/).
_BLOCK = 1 << 16
# +0.0 up to the largest finite float are exactly the bit patterns below +inf's when
# read as uint64; negatives (and -0.0), infinities and NaNs all read as larger.
_INF_BITS = np.uint64(0x7FF0000000000000)
_max = np.maximum.reduce


def _nonneg_finite_fast(block: np.ndarray) -> bool:
    """One reduction: True when every element is in [+0.0, max float] (-0.0 is a false alarm)."""
    return block.size == 0 or bool(_max(block.view(np.uint64), axis=None) < _INF_BITS)


_thread_state = threading.local()


def _scratch() -> np.ndarray:
    """This thread's block-sized scratch buffer, allocated once.

    A fresh 512 KiB array per call would be a fresh mmap, ~130 page faults each time.
    """
    buffer = getattr(_thread_state, "scratch", None)
    if buffer is None:
        buffer = _thread_state.scratch = np.empty(_BLOCK, dtype=np.float64)
    return buffer


@dataclass(frozen=True, eq=False)  # arrays: compare fields explicitly
class _Input:
    name: str
    values: np.ndarray  # float64, the caller's shape
    rule: Callable[[str, np.ndarray], Check]  # exact rule; its fast test is `_nonneg_finite_fast`


def _raise_first_invalid(inputs: Sequence[_Input]) -> None:
    found = first_invalid([inp.rule(inp.name, inp.values) for inp in inputs])
    if found is not None:
        raise ValueError(invalid_message(*found))


def _blocked(
    inputs: Sequence[_Input],
    compute: Callable[[list[np.ndarray], np.ndarray, np.ndarray], None],
    output_name: str,
) -> np.ndarray:
    """Validate and evaluate a non-negative element-wise formula block by block.

    `compute(blocks, out, scratch)` writes the formula of one block into `out`. The
    output must come out finite and >= 0 from valid inputs; an input rule stricter
    than "finite and >= 0" (T4 > 0) is caught there too, since T4 = 0 makes P
    infinite or NaN. Any failure falls back to the exact checks over all inputs,
    so the error always names the first offending input element; a non-finite
    output from valid inputs (overflow) is reported as such.
    """
    shape = np.broadcast_shapes(*(inp.values.shape for inp in inputs))
    out = np.empty(shape, dtype=np.float64)
    n = out.size
    if n == 0:
        return out
    flats: list[np.ndarray] = []
    blockwise: list[bool] = []
    for inp in inputs:
        if inp.values.shape == shape:
            flats.append(inp.values.reshape(-1))
            blockwise.append(True)
        else:
            # A broadcast (smaller) input is checked once, whole, here.
            if not _nonneg_finite_fast(inp.values) and inp.rule(inp.name, inp.values).bad.any():
                _raise_first_invalid(inputs)
            flats.append(np.broadcast_to(inp.values, shape).reshape(-1))
            blockwise.append(False)
    out_flat = out.reshape(-1)
    scratch = _scratch()
    # The fast checks read the blocks as uint64 (see `_INF_BITS`); views made once.
    checked = [
        (inp, flat, flat.view(np.uint64)) for inp, flat, check in zip(inputs, flats, blockwise, strict=True) if check
    ]
    out_bits = out_flat.view(np.uint64)
    for start in range(0, n, _BLOCK):
        stop = min(start + _BLOCK, n)
        for inp, flat, bits in checked:
            if _max(bits[start:stop]) >= _INF_BITS and inp.rule(inp.name, flat[start:stop]).bad.any():
                _raise_first_invalid(inputs)
        out_block = out_flat[start:stop]
        compute([flat[start:stop] for flat in flats], out_block, scratch[: stop - start])
        if _max(out_bits[start:stop]) >= _INF_BITS and not np.isfinite(out_block).all():
            _raise_first_invalid(inputs)
            position = start + int(np.argmax(~np.isfinite(out_block)))
            overflow = Check(output_name, out_block, ~np.isfinite(out_block), "finite (the inputs are too large)")
            raise ValueError(invalid_message(overflow, index_at(position, shape), out_flat[position].item()))
    return out


def _weights(weights: Sequence[float]) -> tuple[float, float, float]:
    w = as_float_array(weights)
    if w.shape != (3,):
        raise ValueError(f"weights must be 3 numbers (W1, W2, W3), got shape {w.shape}")
    ensure_valid(check_nonneg("weights", w))
    return float(w[0]), float(w[1]), float(w[2])


def visit_priority(
    t1: npt.ArrayLike, t2: npt.ArrayLike, t3: npt.ArrayLike, t4: npt.ArrayLike, weights: Sequence[float]
) -> np.ndarray:
    """P = (W1*T1 + W2*T2 + W3*T3) / T4 (spec section 1).

    T1..T3 finite and >= 0, T4 finite and > 0, `weights` three finite numbers >= 0;
    otherwise ValueError naming the first offending index and value.
    """
    w1, w2, w3 = _weights(weights)

    def compute(blocks: list[np.ndarray], out: np.ndarray, scratch: np.ndarray) -> None:
        b1, b2, b3, b4 = blocks
        np.multiply(b1, w1, out=out)
        np.multiply(b2, w2, out=scratch)
        np.add(out, scratch, out=out)
        np.multiply(b3, w3, out=scratch)
        np.add(out, scratch, out=out)
        np.divide(out, b4, out=out)

    inputs = [
        _Input("t1", as_float_array(t1), check_nonneg),
        _Input("t2", as_float_array(t2), check_nonneg),
        _Input("t3", as_float_array(t3), check_nonneg),
        _Input("t4", as_float_array(t4), check_positive),
    ]
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        return _blocked(inputs, compute, "P")


def scheduled_time(p: npt.ArrayLike, t5: npt.ArrayLike, t6: npt.ArrayLike) -> np.ndarray:
    """T = T5 + P * T6, in minutes (spec section 1). P, T5, T6 finite and >= 0."""

    def compute(blocks: list[np.ndarray], out: np.ndarray, scratch: np.ndarray) -> None:
        bp, b5, b6 = blocks
        np.multiply(bp, b6, out=out)
        np.add(out, b5, out=out)

    inputs = [
        _Input("p", as_float_array(p), check_nonneg),
        _Input("t5", as_float_array(t5), check_nonneg),
        _Input("t6", as_float_array(t6), check_nonneg),
    ]
    with np.errstate(over="ignore", invalid="ignore"):
        return _blocked(inputs, compute, "T")


def _log_scaled(name: str, values: npt.ArrayLike) -> np.ndarray:
    """log1p(x) / log1p(max x), 0 for all when the max is 0 (T1 and T3)."""
    x = as_float_array(values)
    ensure_valid(check_nonneg(name, x))
    if x.size == 0:
        return np.empty(x.shape, dtype=np.float64)
    top = float(x.max())
    if top == 0.0:
        return np.zeros(x.shape, dtype=np.float64)
    out = np.log1p(x, out=np.empty(x.shape, dtype=np.float64))
    out /= np.log1p(top)
    return out


def value_feature(annual_value: npt.ArrayLike) -> np.ndarray:
    """T1 = log1p(annual_value) / log1p(max annual_value) over the run's customers (spec section 1)."""
    return _log_scaled("annual_value", annual_value)


def pipeline_feature(weighted_open_pipeline: npt.ArrayLike) -> np.ndarray:
    """T3 = log1p(x) / log1p(max x), x = sum(amount * probability) of open opportunities (spec section 1)."""
    return _log_scaled("weighted_open_pipeline", weighted_open_pipeline)


def urgency_feature(days_since_last_visit: npt.ArrayLike, cadence_days: npt.ArrayLike) -> np.ndarray:
    """T2 = min(days_since_last_visit / cadence_days, 3.0) (spec section 1).

    Days are fractional; ``np.inf`` means never visited and gives 3.0. Negative or
    NaN days, and a cadence that is not finite and > 0, raise ValueError.
    """
    days = as_float_array(days_since_last_visit)
    cadence = as_float_array(cadence_days)
    ensure_valid(
        Check("days_since_last_visit", days, ~(days >= 0), "a number of days >= 0 (inf: never visited)"),
        check_positive("cadence_days", cadence),
    )
    out = np.empty(np.broadcast_shapes(days.shape, cadence.shape), dtype=np.float64)
    with np.errstate(over="ignore"):
        np.divide(days, cadence, out=out)
    return np.minimum(out, URGENCY_CAP, out=out)


def _coordinate_checks(names: Sequence[str], coords: Sequence[np.ndarray], *, allow_nan: bool) -> list[Check]:
    checks = []
    for name, values in zip(names, coords, strict=True):
        limit = 90.0 if "lat" in name else 180.0
        bad = ~(np.abs(values) <= limit)
        if allow_nan:
            bad &= ~np.isnan(values)
        checks.append(Check(name, values, bad, f"in degrees within [-{limit:g}, {limit:g}]"))
    return checks


def _haversine(lat1: np.ndarray, lon1: np.ndarray, lat2: np.ndarray, lon2: np.ndarray) -> np.ndarray:
    phi1 = np.radians(lat1)
    phi2 = np.radians(lat2)
    a = np.sin((phi2 - phi1) / 2.0) ** 2 + np.cos(phi1) * np.cos(phi2) * np.sin(np.radians(lon2 - lon1) / 2.0) ** 2
    # Rounding can push `a` a hair above 1 for antipodal points.
    return 2.0 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.minimum(a, 1.0)))


def haversine_km(lat1: npt.ArrayLike, lon1: npt.ArrayLike, lat2: npt.ArrayLike, lon2: npt.ArrayLike) -> np.ndarray:
    """Great-circle distance in km, R = 6371.0088 (spec section 1, T4). Degrees in, all finite."""
    names = ("lat1", "lon1", "lat2", "lon2")
    coords = [as_float_array(c) for c in (lat1, lon1, lat2, lon2)]
    ensure_valid(*_coordinate_checks(names, coords, allow_nan=False))
    return np.asarray(_haversine(*coords), dtype=np.float64)


def travel_km(
    base_lat: npt.ArrayLike,
    base_lon: npt.ArrayLike,
    lat: npt.ArrayLike,
    lon: npt.ArrayLike,
    default_km: float,
) -> np.ndarray:
    """Rep base to customer distance (spec section 1, T4); `default_km` where a coordinate is NaN.

    NaN on either side (base or customer, latitude or longitude) means "no
    coordinates"; infinite or out-of-range degrees raise ValueError.
    """
    names = ("base_lat", "base_lon", "lat", "lon")
    coords = [as_float_array(c) for c in (base_lat, base_lon, lat, lon)]
    default = as_float_array(default_km)
    ensure_valid(check_nonneg("default_km", default))  # a policy number, not a broadcast input
    ensure_valid(*_coordinate_checks(names, coords, allow_nan=True))
    missing = np.isnan(coords[0]) | np.isnan(coords[1]) | np.isnan(coords[2]) | np.isnan(coords[3])
    with np.errstate(invalid="ignore"):
        km = np.asarray(_haversine(*coords), dtype=np.float64)
    return np.asarray(np.where(missing, default, km), dtype=np.float64)


def effort_hours(travel_km: npt.ArrayLike, speed_kmh: float) -> np.ndarray:
    """T4 = 0.25 + travel_km / speed_kmh, hours, always >= 0.25 (spec section 1)."""
    km = as_float_array(travel_km)
    speed = as_float_array(speed_kmh)
    ensure_valid(check_positive("speed_kmh", speed))
    ensure_valid(check_nonneg("travel_km", km))
    out = np.empty(np.broadcast_shapes(km.shape, speed.shape), dtype=np.float64)
    with np.errstate(over="ignore"):
        np.divide(km, speed, out=out)
    out += BASE_EFFORT_HOURS
    ensure_valid(Check("T4", out, ~np.isfinite(out), "finite (travel_km too large for speed_kmh)"))
    return out


def per_tier(tier_index: npt.ArrayLike, values: Sequence[float]) -> np.ndarray:
    """T5 or T6 by customer tier: `values[tier_index]`, tier_index 0 = A, 1 = B, 2 = C (spec section 1)."""
    per_tier_values = as_float_array(values)
    if per_tier_values.ndim != 1:
        raise ValueError(f"values must be one number per tier, got shape {per_tier_values.shape}")
    ensure_valid(check_nonneg("values", per_tier_values))
    index = as_group_index(tier_index, per_tier_values.shape[0], "tier_index")
    return np.asarray(per_tier_values[index], dtype=np.float64)


def booked_minutes(t: npt.ArrayLike, max_visit_minutes: float) -> np.ndarray:
    """Minutes the planner books: clip(ceil(T / 5) * 5, 15, max_visit_minutes) (spec section 1)."""
    minutes = as_float_array(t)
    cap = as_float_array(max_visit_minutes)
    ensure_valid(
        Check("max_visit_minutes", cap, ~((cap >= MIN_BOOKED_MINUTES) & (cap < np.inf)), "a finite number >= 15")
    )
    ensure_valid(check_nonneg("t", minutes))
    out = np.ceil(np.asarray(minutes / BOOKING_STEP_MINUTES))
    out *= BOOKING_STEP_MINUTES
    return np.asarray(np.clip(out, MIN_BOOKED_MINUTES, cap), dtype=np.float64)
