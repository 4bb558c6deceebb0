"""Shared plumbing of the analytics kernels: input checks, undefined ratios, and the JSON edge.

No Django import: the kernels (spec sections 1-6) and their tests use this module
with plain arrays.

Validation follows the rule of spec section 1 for every kernel: an invalid input
raises `ValueError` naming the argument, the first offending index (into the
broadcast inputs: an ``int`` for 1-D, a tuple for N-D) and the value, before
anything is returned. Ratios whose denominator is 0 are NaN inside arrays
(spec section 2) and become ``None`` only at the edge (`nan_to_none`).
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = [
    "Check",
    "as_bool_array",
    "as_float_array",
    "as_group_index",
    "check_finite",
    "check_fraction",
    "check_nonneg",
    "check_optional_finite",
    "check_positive",
    "check_score",
    "ensure_valid",
    "first_invalid",
    "group_sum",
    "index_at",
    "invalid_message",
    "nan_to_none",
    "nan_to_none_list",
    "ratio",
]


@dataclass(frozen=True, eq=False)  # arrays: compare fields explicitly
class Check:
    """One argument's validity: `bad` marks the offending elements of `values`."""

    name: str
    values: np.ndarray
    bad: np.ndarray
    requirement: str


def as_float_array(values: npt.ArrayLike) -> np.ndarray:
    """`values` as float64 without copying when it already is (None becomes NaN)."""
    return np.asarray(values, dtype=np.float64)


def as_bool_array(values: npt.ArrayLike, name: str) -> np.ndarray:
    """Booleans as a bool array; numbers are accepted when every one is 0 or 1."""
    array = np.asarray(values)
    if array.dtype == np.bool_:
        return array
    if array.dtype.kind not in "iuf":
        raise TypeError(f"{name} must be booleans, got dtype {array.dtype}")
    ensure_valid(Check(name, array, (array != 0) & (array != 1), "a boolean (0 or 1)"))
    return array.astype(np.bool_)


def as_group_index(group_index: npt.ArrayLike, n_groups: int, name: str = "group_index") -> np.ndarray:
    """Integer group numbers in [0, n_groups) as int64, for `numpy.bincount`."""
    if int(n_groups) != n_groups or n_groups < 0:
        raise ValueError(f"n_groups is {n_groups!r}: must be an integer >= 0")
    array = np.asarray(group_index)
    if array.dtype.kind == "f":
        ensure_valid(Check(name, array, ~np.isfinite(array) | (array != np.floor(array)), "an integer"))
    elif array.dtype.kind not in "iu" and not (array.dtype == np.bool_ or array.size == 0):
        raise TypeError(f"{name} must be integers, got dtype {array.dtype}")
    ensure_valid(Check(name, array, (array < 0) | (array >= n_groups), f"an integer in [0, {int(n_groups)})"))
    return array.astype(np.int64)


# Element-wise validity rules. Each returns a Check whose `bad` mask is True where the
# element breaks the rule; comparisons are written so that NaN is bad unless allowed.


def check_finite(name: str, values: np.ndarray) -> Check:
    return Check(name, values, ~np.isfinite(values), "a finite number")


def check_nonneg(name: str, values: np.ndarray) -> Check:
    return Check(name, values, ~((values >= 0) & (values < np.inf)), "a finite number >= 0")


def check_positive(name: str, values: np.ndarray) -> Check:
    return Check(name, values, ~((values > 0) & (values < np.inf)), "a finite number > 0")


def check_fraction(name: str, values: np.ndarray) -> Check:
    return Check(name, values, ~((values >= 0) & (values <= 1)), "a fraction in [0, 1]")


def check_optional_finite(name: str, values: np.ndarray) -> Check:
    """Timestamps and the like: NaN means missing, infinities are errors."""
    return Check(name, values, np.isinf(values), "a finite number or NaN (missing)")


def check_score(name: str, values: np.ndarray) -> Check:
    """Satisfaction scores: 1..5, or NaN when not given."""
    return Check(name, values, ~(((values >= 1) & (values <= 5)) | np.isnan(values)), "a score in [1, 5] or NaN")


def first_invalid(checks: Sequence[Check]) -> tuple[Check, int | tuple[int, ...], object] | None:
    """The check, broadcast index and value of the first offending element, or None.

    Checks broadcast together like the kernel's inputs; the first offending element
    is the lowest flat (C-order) index where any check fails, the earliest argument
    in `checks` order breaking the tie.
    """
    if not checks:
        return None
    shape = np.broadcast_shapes(*(np.shape(c.bad) for c in checks), *(np.shape(c.values) for c in checks))
    best: tuple[int, Check] | None = None
    for check in checks:
        flat = np.broadcast_to(check.bad, shape).reshape(-1)
        if flat.size and flat.any():
            position = int(np.argmax(flat))
            if best is None or position < best[0]:
                best = (position, check)
    if best is None:
        return None
    position, check = best
    value = np.broadcast_to(check.values, shape).reshape(-1)[position].item()
    return check, index_at(position, shape), value


def index_at(position: int, shape: tuple[int, ...]) -> int | tuple[int, ...]:
    """The index of flat (C-order) `position` in `shape`: an int for 1-D, a tuple otherwise."""
    index = np.unravel_index(position, shape)
    return int(index[0]) if len(shape) == 1 else tuple(int(i) for i in index)


def invalid_message(check: Check, index: int | tuple[int, ...], value: object) -> str:
    where = f"{check.name} is" if index == () else f"{check.name} at index {index} is"
    return f"{where} {value!r}: must be {check.requirement}"


def ensure_valid(*checks: Check) -> None:
    """Raise ValueError for the first offending element of `checks` (see `first_invalid`)."""
    if not any(np.any(c.bad) for c in checks):
        return
    found = first_invalid(checks)
    if found is not None:  # pragma: no branch - `any` above guarantees it
        raise ValueError(invalid_message(*found))


def ratio(numerator: npt.ArrayLike, denominator: npt.ArrayLike, scale: float = 1.0) -> np.ndarray:
    """`scale * numerator / denominator`, NaN where the denominator is 0 (undefined, spec section 2)."""
    num = as_float_array(numerator)
    den = as_float_array(denominator)
    if scale != 1.0:
        num = num * scale  # scale first, as in the formula 100 * sum / sum
    out = np.full(np.broadcast_shapes(num.shape, den.shape), np.nan)
    np.divide(num, den, out=out, where=den != 0)
    return out


def group_sum(values: npt.ArrayLike, group_index: np.ndarray, n_groups: int) -> np.ndarray:
    """Per-group sums in one `numpy.bincount` pass; `group_index` already checked by `as_group_index`."""
    weights = np.broadcast_to(as_float_array(values), group_index.shape).reshape(-1)
    return np.bincount(group_index.reshape(-1), weights=weights, minlength=n_groups)


def nan_to_none(value: object) -> float | None:
    """A number for a template or JSON: None when missing, NaN or infinite ("—" / null)."""
    if value is None:
        return None
    number = float(value)  # type: ignore[arg-type]
    return number if np.isfinite(number) else None


def nan_to_none_list(values: npt.ArrayLike | Iterable[float]) -> list:
    """`nan_to_none` over an array: a (nested, for N-D) list of floats and Nones."""
    array = as_float_array(values)
    out = array.astype(object)
    out[~np.isfinite(array)] = None
    return out.tolist()
