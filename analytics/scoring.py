"""Visit priority P(i) and scheduled time T(i): the kernels of spec section 1.

Pure NumPy over float64 arrays, one element per customer; no Django import. Every
kernel broadcasts its array arguments like a NumPy ufunc and validates them first:
a non-finite input, a negative T1..T3 (or amount, distance, minutes), or a T4 <= 0
raises `ValueError` naming the argument, the first offending index into the
broadcast inputs and the value. Nothing is returned half-computed.

`visit_priority`, `scheduled_time` and `priority_and_time` run on every active
customer of every run, so they are written for memory bandwidth. When every input
has the broadcast shape or is a single number, they walk the inputs in cache-sized
blocks (a loop over blocks of 65,536 customers, not over customers) shared by up to
one thread per core (NumPy releases the GIL inside each ufunc). While a block is in
cache, each of its inputs and outputs is checked with one read-only pass (T's only
when the peaks of P, T5 and T6 do not already bound it below infinity), and it is
computed with ``out=`` ufuncs in the formula's order. Any alarm abandons the pass
for the exact path: whole-array checks, the formula, then the overflow check. Both
paths do the same float operations in the same order, so results and error
messages do not depend on the path, the block size or the thread count.

(numexpr was measured for this and not used: its interpreter runs every operation
as a scalar loop, about twice NumPy's SIMD time per element on one core, which
costs more than the temporaries it saves once the blocks fit in cache.)
"""

import itertools
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

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
    "kernel_threads",
    "per_tier",
    "pipeline_feature",
    "priority_and_time",
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

# Blocks of 2**16 float64 (512 KiB per array): large enough that the ~15 NumPy calls
# per block cost little next to their work, small enough that a block's arrays stay
# in cache between its passes. Measured on the reference machine (bench/).
_BLOCK = 1 << 16
# Below this many elements one thread does it all: handing blocks to a helper costs
# more than it saves.
_PARALLEL_MIN = 4 * _BLOCK
# The kernels are memory-bound: more threads than this only compete for bandwidth.
_MAX_THREADS = 4
_INF_BITS = 0x7FF0000000000000  # +inf read as uint64, see `_Flat.peak`
_INF = float("inf")


_thread_state = threading.local()


def _scratch() -> np.ndarray:
    """This thread's block-sized scratch buffer, allocated once.

    A fresh 512 KiB array per block would be a fresh mmap, ~130 page faults each time.
    """
    buffer = getattr(_thread_state, "scratch", None)
    if buffer is None:
        buffer = _thread_state.scratch = np.empty(_BLOCK, dtype=np.float64)
    return buffer


# --- threads -----------------------------------------------------------------------------

_threads_wanted: ContextVar[int | None] = ContextVar("scoring_kernel_threads", default=None)
_pool_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None
_cores: int | None = None


@contextmanager
def kernel_threads(count: int) -> Iterator[None]:
    """Inside ``with kernel_threads(count):`` the P/T kernels use at most `count` threads.

    The default is one per core, at most 4, for inputs of 4 blocks or more. Results
    and errors are the same for every count; `kernel_threads(1)` keeps the work on
    the calling thread (benchmarks, or processes that already fill every core).
    """
    if int(count) != count or count < 1:
        raise ValueError(f"count is {count!r}: must be an integer >= 1")
    token = _threads_wanted.set(int(count))
    try:
        yield
    finally:
        _threads_wanted.reset(token)


def _thread_count(n: int) -> int:
    global _cores
    if n < _PARALLEL_MIN:
        return 1
    wanted = _threads_wanted.get()
    if wanted is None:
        if _cores is None:
            _cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        wanted = _cores
    return max(1, min(wanted, _MAX_THREADS, -(-n // _BLOCK)))


def _helpers() -> ThreadPoolExecutor:
    """The process's helper threads, started on first use (threads start on demand)."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=_MAX_THREADS - 1, thread_name_prefix="scoring-kernel")
        return _pool


def _forget_threads() -> None:
    # A forked child (Celery prefork, gunicorn) has none of the parent's threads.
    global _pool, _pool_lock, _cores
    _pool, _pool_lock, _cores = None, threading.Lock(), None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_threads)


# --- the blocked fast pass -----------------------------------------------------------------


@dataclass(eq=False)
class _Pass:
    """One attempt over `size` elements; threads claim blocks from a shared counter.

    `body(start, stop, scratch)` checks and computes block [start, stop) (with a
    block-long scratch buffer) and returns False on any alarm. An alarm stops every
    thread; the caller then takes the exact path, so no error is raised from here.
    """

    size: int
    body: Callable[[int, int, np.ndarray], bool]
    claim: Callable[[], int] = field(default_factory=lambda: itertools.count().__next__)
    stop: bool = False
    alarm: bool = False

    def run(self) -> None:
        scratch = _scratch()
        size, body, claim = self.size, self.body, self.claim
        # errstate is per thread: overflow or 0/0 is expected here and caught by the checks.
        with np.errstate(all="ignore"):
            while not self.stop:
                start = claim() * _BLOCK
                if start >= size:
                    return
                stop = min(start + _BLOCK, size)
                if not body(start, stop, scratch[: stop - start]):
                    self.alarm = self.stop = True


def _fast_pass(size: int, body: Callable[[int, int, np.ndarray], bool]) -> bool:
    """Run `body` over every block, on up to `_thread_count(size)` threads; False on any alarm."""
    job = _Pass(size, body)
    helpers: list[Future[None]] = []
    threads = _thread_count(size)
    if threads > 1:
        pool = _helpers()
        for _ in range(threads - 1):
            try:
                helpers.append(pool.submit(job.run))
            except RuntimeError:  # interpreter shutting down: the threads already running do it all
                break
    try:
        job.run()
    except BaseException:
        job.stop = True  # the helpers finish their current block and return
        raise
    finally:
        for helper in helpers:
            # A helper still queued behind another call's work is not waited for.
            if not helper.cancel():
                helper.result()
    return not job.alarm


@dataclass(frozen=True, eq=False)  # arrays: compare fields explicitly
class _Input:
    name: str
    values: np.ndarray  # float64, the caller's shape
    rule: Callable[[str, np.ndarray], Check]  # exact rule; its fast test is `_Flat.peak`


@dataclass(frozen=True, eq=False)
class _Flat:
    """One operand of the fast pass: 1-D, of the broadcast size."""

    values: np.ndarray  # a stride-0 view for a single number
    bits: np.ndarray | None  # `values` as uint64, checked block by block; None: a single number, checked whole

    def peak(self, start: int, stop: int) -> float:
        """The largest element of [start, stop), or -1.0 (an alarm) unless all are in [+0.0, max float].

        One pass: +0.0 up to the largest finite float are exactly the bit patterns
        below +inf's when read as uint64, in the same order; negatives (and -0.0, a
        false alarm that the exact path sorts out), infinities and NaNs all read as
        larger. `argmax` costs a fraction of `np.maximum.reduce` per call.
        """
        if self.bits is None:
            return float(self.values[0])
        bits = self.bits[start:stop]
        top = bits.argmax()
        return -1.0 if bits[top] >= _INF_BITS else float(self.values[start + top])


def _flat(values: np.ndarray) -> _Flat:
    return _Flat(values, values.view(np.uint64))


def _flat_operands(inputs: Sequence[_Input], shape: tuple[int, ...]) -> list[_Flat] | None:
    """The operands of the fast pass, or None when it does not apply.

    An input of the broadcast shape is flattened (a copy only if it is not
    contiguous); a valid single number becomes a stride-0 view (NumPy's scalar
    loops). Any other broadcast, or an invalid single number, takes the exact path.
    """
    size = int(np.prod(shape))
    operands = []
    for inp in inputs:
        if inp.values.shape == shape:
            operands.append(_flat(inp.values.reshape(-1)))
        elif inp.values.size == 1 and not inp.rule(inp.name, inp.values).bad.any():
            operands.append(_Flat(np.broadcast_to(inp.values.reshape(()), (size,)), None))
        else:
            return None
    return operands


def _time_is_finite(p_peak: float, t5_peak: float, t6_peak: float) -> bool:
    """Whether T = P*T6 + T5 is finite wherever P, T5, T6 lie in [0, their peaks].

    Rounding is monotonic, so fl(fl(p*t6) + t5) <= fl(fl(P*T6) + T5) element by
    element: when this bound is finite, T needs no pass of its own.
    """
    return p_peak * t6_peak + t5_peak < _INF


def _raise_first_invalid(inputs: Sequence[_Input]) -> None:
    found = first_invalid([inp.rule(inp.name, inp.values) for inp in inputs])
    if found is not None:
        raise ValueError(invalid_message(*found))


def _exact(inputs: Sequence[_Input], formula: Callable[..., np.ndarray], output_name: str) -> np.ndarray:
    """The reference path: exact checks over whole inputs, the formula, then the overflow check.

    Input errors win over an overflow anywhere; the output must come out finite
    (>= 0 follows from valid inputs), else the first non-finite element is named.
    """
    _raise_first_invalid(inputs)
    with np.errstate(all="ignore"):
        out = np.asarray(formula(*(inp.values for inp in inputs)), dtype=np.float64)
    bad = ~np.isfinite(out)
    if bad.any():
        position = int(np.argmax(bad.reshape(-1)))
        overflow = Check(output_name, out, bad, "finite (the inputs are too large)")
        raise ValueError(invalid_message(overflow, index_at(position, out.shape), out.reshape(-1)[position].item()))
    return out


# --- P and T ---------------------------------------------------------------------------------


def _weights(weights: Sequence[float]) -> tuple[float, float, float]:
    w = as_float_array(weights)
    if w.shape != (3,):
        raise ValueError(f"weights must be 3 numbers (W1, W2, W3), got shape {w.shape}")
    ensure_valid(check_nonneg("weights", w))
    return float(w[0]), float(w[1]), float(w[2])


def _priority_formula(w: tuple[float, float, float]) -> Callable[..., np.ndarray]:
    w1, w2, w3 = w
    return lambda t1, t2, t3, t4: (t1 * w1 + t2 * w2 + t3 * w3) / t4


def _time_formula(p: np.ndarray, t5: np.ndarray, t6: np.ndarray) -> np.ndarray:
    return p * t6 + t5


def _priority_block(
    blocks: Sequence[np.ndarray], w: tuple[float, float, float], out: np.ndarray, scratch: np.ndarray
) -> None:
    """`_priority_formula` into `out`: the same operations in the same order."""
    b1, b2, b3, b4 = blocks
    np.multiply(b1, w[0], out=out)
    np.multiply(b2, w[1], out=scratch)
    np.add(out, scratch, out=out)
    np.multiply(b3, w[2], out=scratch)
    np.add(out, scratch, out=out)
    np.divide(out, b4, out=out)


def _time_block(bp: np.ndarray, b5: np.ndarray, b6: np.ndarray, out: np.ndarray) -> None:
    """`_time_formula` into `out`."""
    np.multiply(bp, b6, out=out)
    np.add(out, b5, out=out)


def _priority_inputs(t1: npt.ArrayLike, t2: npt.ArrayLike, t3: npt.ArrayLike, t4: npt.ArrayLike) -> list[_Input]:
    return [
        _Input("t1", as_float_array(t1), check_nonneg),
        _Input("t2", as_float_array(t2), check_nonneg),
        _Input("t3", as_float_array(t3), check_nonneg),
        _Input("t4", as_float_array(t4), check_positive),
    ]


def _time_inputs(p: npt.ArrayLike, t5: npt.ArrayLike, t6: npt.ArrayLike) -> list[_Input]:
    return [_Input("p", as_float_array(p), check_nonneg), *_minutes_inputs(t5, t6)]


def _minutes_inputs(t5: npt.ArrayLike, t6: npt.ArrayLike) -> list[_Input]:
    return [_Input("t5", as_float_array(t5), check_nonneg), _Input("t6", as_float_array(t6), check_nonneg)]


def _shape(inputs: Sequence[_Input]) -> tuple[int, ...]:
    return np.broadcast_shapes(*(inp.values.shape for inp in inputs))


def visit_priority(
    t1: npt.ArrayLike, t2: npt.ArrayLike, t3: npt.ArrayLike, t4: npt.ArrayLike, weights: Sequence[float]
) -> np.ndarray:
    """P = (W1*T1 + W2*T2 + W3*T3) / T4 (spec section 1).

    T1..T3 finite and >= 0, T4 finite and > 0, `weights` three finite numbers >= 0;
    otherwise ValueError naming the first offending index and value.
    """
    w = _weights(weights)
    inputs = _priority_inputs(t1, t2, t3, t4)
    shape = _shape(inputs)
    operands = _flat_operands(inputs, shape)
    if operands is not None:
        out = np.empty(shape, dtype=np.float64)
        p = _flat(out.reshape(-1))
        f1, f2, f3, f4 = operands

        def body(start: int, stop: int, scratch: np.ndarray) -> bool:
            # T4 = 0 passes this check and is caught through P (inf or NaN).
            if min(f1.peak(start, stop), f2.peak(start, stop), f3.peak(start, stop), f4.peak(start, stop)) < 0.0:
                return False
            blocks = (f1.values[start:stop], f2.values[start:stop], f3.values[start:stop], f4.values[start:stop])
            _priority_block(blocks, w, p.values[start:stop], scratch)
            return p.peak(start, stop) >= 0.0

        if out.size == 0 or _fast_pass(out.size, body):
            return out
    return _exact(inputs, _priority_formula(w), "P")


def scheduled_time(p: npt.ArrayLike, t5: npt.ArrayLike, t6: npt.ArrayLike) -> np.ndarray:
    """T = T5 + P * T6, in minutes (spec section 1). P, T5, T6 finite and >= 0."""
    inputs = _time_inputs(p, t5, t6)
    shape = _shape(inputs)
    operands = _flat_operands(inputs, shape)
    if operands is not None:
        out = np.empty(shape, dtype=np.float64)
        t = _flat(out.reshape(-1))
        fp, f5, f6 = operands

        def body(start: int, stop: int, scratch: np.ndarray) -> bool:
            p_peak, t5_peak, t6_peak = fp.peak(start, stop), f5.peak(start, stop), f6.peak(start, stop)
            if min(p_peak, t5_peak, t6_peak) < 0.0:
                return False
            _time_block(fp.values[start:stop], f5.values[start:stop], f6.values[start:stop], t.values[start:stop])
            return _time_is_finite(p_peak, t5_peak, t6_peak) or t.peak(start, stop) >= 0.0

        if out.size == 0 or _fast_pass(out.size, body):
            return out
    return _exact(inputs, _time_formula, "T")


def priority_and_time(
    t1: npt.ArrayLike,
    t2: npt.ArrayLike,
    t3: npt.ArrayLike,
    t4: npt.ArrayLike,
    t5: npt.ArrayLike,
    t6: npt.ArrayLike,
    weights: Sequence[float],
) -> tuple[np.ndarray, np.ndarray]:
    """(P, T) of spec section 1 in one pass over the inputs.

    The same arrays, and the same errors, as
    ``p = visit_priority(t1, t2, t3, t4, weights); scheduled_time(p, t5, t6)``; each
    block's P is turned into T while it is still in cache, so P is never read back
    from memory.
    """
    w = _weights(weights)
    p_inputs = _priority_inputs(t1, t2, t3, t4)
    t_inputs = _minutes_inputs(t5, t6)
    inputs = [*p_inputs, *t_inputs]
    shape = _shape(inputs)
    # One pass needs P of the final shape: T5 and T6 must not broadcast P any larger.
    operands = _flat_operands(inputs, shape) if _shape(p_inputs) == shape else None
    if operands is not None:
        p_out = np.empty(shape, dtype=np.float64)
        t_out = np.empty(shape, dtype=np.float64)
        p, t = _flat(p_out.reshape(-1)), _flat(t_out.reshape(-1))
        f1, f2, f3, f4, f5, f6 = operands

        def body(start: int, stop: int, scratch: np.ndarray) -> bool:
            if min(f1.peak(start, stop), f2.peak(start, stop), f3.peak(start, stop), f4.peak(start, stop)) < 0.0:
                return False
            p_block, t_block = p.values[start:stop], t.values[start:stop]
            blocks = (f1.values[start:stop], f2.values[start:stop], f3.values[start:stop], f4.values[start:stop])
            _priority_block(blocks, w, p_block, t_block)  # T's block is the scratch: one array less in cache
            p_peak, t5_peak, t6_peak = p.peak(start, stop), f5.peak(start, stop), f6.peak(start, stop)
            if min(p_peak, t5_peak, t6_peak) < 0.0:
                return False
            _time_block(p_block, f5.values[start:stop], f6.values[start:stop], t_block)
            return _time_is_finite(p_peak, t5_peak, t6_peak) or t.peak(start, stop) >= 0.0

        if p_out.size == 0 or _fast_pass(p_out.size, body):
            return p_out, t_out
    p_exact = _exact(p_inputs, _priority_formula(w), "P")
    return p_exact, _exact([_Input("p", p_exact, check_nonneg), *t_inputs], _time_formula, "T")


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
