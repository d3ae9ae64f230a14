"""Checks of :func:`debias.simulate.simulate`'s settings: one clear error per bad value.

Examples
--------
>>> per_model_rates("missing_rate", {"m1": 0.1}, ["m0", "m1"])
{'m0': 0.0, 'm1': 0.1}
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from numbers import Integral, Real
from typing import Any

import numpy as np

from debias.errors import ParameterError, check_param

__all__ = ["per_model_rates", "validate_settings"]


def _is_int(x) -> bool:
    return isinstance(x, Integral) and not isinstance(x, bool)


def _is_real(x) -> bool:
    return isinstance(x, Real) and not isinstance(x, bool) and math.isfinite(x)


def _check_range(name: str, value, lo_min: float, positive: bool = False) -> None:
    ok = (
        isinstance(value, Sequence | np.ndarray)
        and len(value) == 2
        and all(_is_real(v) for v in value)
        and lo_min <= value[0] <= value[1]
        and (not positive or value[0] > 0)
    )
    bound = "> 0" if positive else f">= {lo_min}"
    check_param(
        name, value, f"a pair (low, high) of finite numbers with {bound} and low <= high", ok
    )


def _check_per_model(name: str, value, n: int, sign: str = "", scalar_ok: bool = False) -> None:
    """``value`` is None, (if ``scalar_ok``) a number, or ``n`` numbers of the given sign.

    ``sign`` is ``""`` (any), ``"positive"`` or ``"non-negative"``.
    """
    if value is None or (scalar_ok and _is_real(value)):
        return
    arr = np.asarray(value, dtype=object)
    ok = arr.ndim == 1 and len(arr) == n and all(_is_real(v) for v in arr)
    if ok and sign:
        ok = all(v > 0 for v in arr) if sign == "positive" else all(v >= 0 for v in arr)
    what = "a finite number or " if scalar_ok else ""
    check_param(name, value, f"{what}a sequence of {n} {sign} finite numbers (one per model)", ok)


def per_model_rates(name: str, value, models: list[str]) -> dict[str, float]:
    """A rate for every model from a float or a ``{model: rate}`` mapping.

    Raises
    ------
    ParameterError
        A rate outside [0, 1], or a model that is not simulated.

    Examples
    --------
    >>> per_model_rates("empty_rate", 0.5, ["m0", "m1"])
    {'m0': 0.5, 'm1': 0.5}
    """
    if isinstance(value, Mapping):
        unknown = [m for m in value if m not in models]
        if unknown:
            raise ParameterError(
                f"The {name!r} parameter names unknown model(s) {unknown}; the simulated models "
                f"are {models[:5]}{' ...' if len(models) > 5 else ''}."
            )
        bad = {m: r for m, r in value.items() if not (_is_real(r) and 0 <= r <= 1)}
        check_param(
            name, bad or value, "a float in [0, 1] or a {model: rate in [0, 1]} mapping", not bad
        )
        return {m: float(value.get(m, 0.0)) for m in models}
    ok = _is_real(value) and 0 <= value <= 1
    check_param(name, value, "a float in [0, 1] or a {model: rate in [0, 1]} mapping", ok)
    return dict.fromkeys(models, float(value))


def validate_settings(a: dict[str, Any]) -> None:
    """Check every setting of :func:`~debias.simulate.simulate` (``a``: its arguments).

    Raises
    ------
    ParameterError
        The first setting with a wrong type or value, and what was expected.

    Examples
    --------
    >>> from debias.simulate import simulate
    >>> simulate(n_models=0)
    Traceback (most recent call last):
    ...
    debias.errors.ParameterError: The 'n_models' parameter must be an int in [1, inf). Got 0 instead.
    """
    n = a["n_models"]
    check_param("n_models", n, "an int in [1, inf)", _is_int(n) and n >= 1)
    m = a["n_instructions"]
    check_param("n_instructions", m, "an int in [1, inf)", _is_int(m) and m >= 1)
    for name in ("length_effect", "markdown_effect", "position_bias"):
        check_param(name, a[name], "a finite float", _is_real(a[name]))
    for name in (
        "difficulty_sd",
        "length_sd",
        "instruction_length_sd",
        "baseline_markdown_density",
    ):
        check_param(name, a[name], "a float in [0, inf)", _is_real(a[name]) and a[name] >= 0)
    for name in ("soft_concentration", "markdown_scale", "baseline_length"):
        check_param(name, a[name], "a float in (0, inf)", _is_real(a[name]) and a[name] > 0)
    check_param("soft", a["soft"], "a bool", isinstance(a["soft"], bool | np.bool_))
    check_param("text", a["text"], "a bool", isinstance(a["text"], bool | np.bool_))
    check_param(
        "include_baseline", a["include_baseline"], "a bool", isinstance(a["include_baseline"], bool)
    )
    corr = a["length_strength_corr"]
    check_param(
        "length_strength_corr", corr, "a float in [-1, 1]", _is_real(corr) and -1 <= corr <= 1
    )
    seed = a["seed"]
    check_param(
        "seed", seed, "a non-negative int or None", seed is None or (_is_int(seed) and seed >= 0)
    )
    _check_range("theta_range", a["theta_range"], -math.inf)
    _check_range("length_range", a["length_range"], 0, positive=True)
    _check_range("markdown_range", a["markdown_range"], 0)
    _check_per_model("theta", a["theta"], n)
    _check_per_model("mean_length", a["mean_length"], n, "positive")
    _check_per_model("markdown_density", a["markdown_density"], n, "non-negative")
    _check_per_model("psi", a["psi"], n, scalar_ok=True)
    mix = a["markdown_mix"]
    ok = (
        isinstance(mix, Sequence | np.ndarray)
        and len(mix) == 3
        and all(_is_real(v) and v >= 0 for v in mix)
        and sum(mix) > 0
    )
    check_param("markdown_mix", mix, "three non-negative weights (headers, list items, bold)", ok)
    for name in ("judge", "baseline", "model_prefix"):
        ok = isinstance(a[name], str) and (a[name] != "" or name == "model_prefix")
        check_param(name, a[name], "a non-empty str", ok)
        if name != "model_prefix":
            check_param(name, a[name], "a name usable as a directory", "/" not in a[name])
