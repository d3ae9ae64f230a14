"""The counterfactual ``at=``: mediators set to a difference from the baseline's answer, or to a
:func:`ratio` of it, and each model's design matrix under it."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import pandas as pd

from debias.errors import ParameterError, check_param


def ratio(r: float) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """Counterfactual "the model's value is ``r`` times the baseline's".

    Returns a picklable callable that shows its value (``ratio(1.3)``), so fits and
    counterfactuals that hold it can be cached and told apart.

    Examples
    --------
    >>> ratio(1.3)(np.array([5.0]), np.array([100.0]))
    array([130.])
    >>> ratio(1.3)
    ratio(1.3)
    """
    ok = isinstance(r, (int, float, np.number)) and not isinstance(r, bool)
    check_param("r", r, "a finite float in [0, inf)", ok and np.isfinite(r) and r >= 0)
    return _Ratio(float(r))


class _Ratio:
    """The callable :func:`ratio` returns (module level: picklable, compared by value)."""

    def __init__(self, r: float):
        self.r = r

    def __call__(self, model_values, baseline_values) -> np.ndarray:
        return self.r * np.asarray(baseline_values, dtype=float)

    def __eq__(self, other) -> bool:
        return isinstance(other, _Ratio) and other.r == self.r

    def __hash__(self) -> int:
        return hash((_Ratio, self.r))

    def __repr__(self) -> str:
        return f"ratio({self.r!r})"


def apply_at(frame: pd.DataFrame, mediators, at: Mapping | None = None) -> pd.DataFrame:
    """Return a copy of a model frame with mediators set to counterfactual values.

    Parameters
    ----------
    frame : pandas.DataFrame
        A frame as the formula sees it (``{m}``, ``{m}_model``, ``{m}_baseline``).
    mediators : iterable of str
        The formula's mediators.
    at : mapping, optional
        ``None``: every mediator at "no difference"; else ``{name: number or callable}``.

    Examples
    --------
    >>> f = pd.DataFrame({"length": [50.0], "length_model": [150.0], "length_baseline": [100.0]})
    >>> apply_at(f, ["length"]).to_dict("records")
    [{'length': 0.0, 'length_model': 100.0, 'length_baseline': 100.0}]
    >>> apply_at(f, ["length"], {"length": ratio(2)}).to_dict("records")
    [{'length': 100.0, 'length_model': 200.0, 'length_baseline': 100.0}]
    """
    mediators = list(mediators)
    out = frame.copy()
    targets = {m: 0.0 for m in mediators} if at is None else dict(at)
    for name, value in targets.items():
        if name not in mediators:
            raise ParameterError(
                f"at= names {name!r}, which is not a mediator of this fit; its mediators are "
                f"{mediators}."
            )
        base_col, model_col = f"{name}_baseline", f"{name}_model"
        has_raw = base_col in out and out[base_col].notna().all()
        if callable(value):
            if not has_raw:
                raise ParameterError(
                    f"at={{{name!r}: callable}} needs the per-output values of {name!r}."
                )
            new_model = np.asarray(
                value(out[model_col].to_numpy(float), out[base_col].to_numpy(float)), float
            )
            out[model_col] = new_model
            out[name] = new_model - out[base_col].to_numpy(float)
        else:
            v = float(value)
            out[name] = v
            if has_raw:
                out[model_col] = out[base_col].to_numpy(float) + v
    return out


def fitted_models(fit, models):
    if models is None:
        return [m for m in fit.models_ if m in fit.results_]
    unknown = [m for m in models if m not in fit.models_]
    if unknown:
        raise ParameterError(f"Unknown model(s) {unknown}; fitted models: {fit.models_}.")
    return list(models)


def counterfactual_designs(fit, at: Mapping | None, models) -> dict[str, np.ndarray]:
    """Design matrices of each model's own rows under the counterfactual ``at``.

    One formula evaluation for all models (the transforms keep per-model statistics).
    """
    models = [m for m in models if m in fit.results_]
    if not models:
        return {}
    frames = [fit.results_[m].frame for m in models]
    X = fit.design_.matrix(apply_at(pd.concat(frames), fit.spec_.mediators, at), 1.0)
    bounds = np.cumsum([0] + [len(f) for f in frames])
    return {m: X[bounds[i] : bounds[i + 1]] for i, m in enumerate(models)}
