"""The arrays a Bradley–Terry fit reads: :func:`battle_design`.

A :class:`BattleDesign` holds one row per battle with a verdict: integer codes of
the two models, the covariates (signed A minus B), the outcome P(A wins) in [0, 1],
the weight and the prompt (cluster) code. No dense n x p design is ever built: the
fits accumulate what they need with :func:`numpy.bincount` over these codes.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from debias.errors import DataWarning, InputError, ParameterError, row_list

__all__ = [
    "BattleDesign",
    "battle_design",
    "covariate_separation",
    "supported_models",
    "unsupported_models",
]


@dataclass(frozen=True, eq=False)
class BattleDesign:
    """Battles as codes and arrays, ready for a fit.

    Attributes
    ----------
    models : tuple of str
        Model names; code ``j`` is ``models[j]``.
    a, b : numpy.ndarray of int32
        Codes of the model that wrote answer A and answer B.
    x : numpy.ndarray, shape (n, k)
        Covariates, signed A minus B (float64).
    covariate_names : tuple of str
    outcome : numpy.ndarray
        P(A wins) in [0, 1]: 1 win, 0.5 tie, 0 loss (soft values allowed).
    weight : numpy.ndarray
        Non-negative row weights.
    cluster : numpy.ndarray of int64
        Code of the row's prompt (each row its own cluster when there is no prompt).
    n_clusters : int
    rows : numpy.ndarray of int64
        Position of each row in the battles frame it was built from (rows without a
        verdict are not here).
    """

    models: tuple[str, ...]
    a: np.ndarray
    b: np.ndarray
    x: np.ndarray
    covariate_names: tuple[str, ...]
    outcome: np.ndarray
    weight: np.ndarray
    cluster: np.ndarray
    n_clusters: int
    rows: np.ndarray

    @property
    def n(self) -> int:
        """Number of battles."""
        return len(self.a)

    @property
    def n_models(self) -> int:
        """Number of models."""
        return len(self.models)

    def select(self, keep: np.ndarray) -> BattleDesign:
        """The design restricted to the rows where ``keep`` is true (same models).

        Cluster codes are renumbered over the rows kept.
        """
        keep = np.asarray(keep, dtype=bool)
        if keep.all():
            return self
        cluster, _ = pd.factorize(self.cluster[keep])
        return BattleDesign(
            self.models,
            self.a[keep],
            self.b[keep],
            self.x[keep],
            self.covariate_names,
            self.outcome[keep],
            self.weight[keep],
            cluster.astype(np.int64),
            int(cluster.max(initial=-1)) + 1,
            self.rows[keep],
        )


def battle_design(
    battles: pd.DataFrame,
    *,
    covariates: Sequence[str] = (),
    models: Sequence[str] | None = None,
) -> BattleDesign:
    """Codes and arrays of the battles with a verdict.

    Parameters
    ----------
    battles : pandas.DataFrame
        The rows of :meth:`Judgments.battles` (at least ``model_a``, ``model_b``,
        ``outcome``; ``weight`` is 1 and each row its own cluster when ``weight`` or
        ``prompt`` is absent), plus the covariate columns.
    covariates : sequence of str
        Columns to use as covariates, already signed A minus B (see
        :func:`debias.battles.style.style_covariates`).
    models : sequence of str, optional
        The models and their order (default: every model in the battles, sorted).
        A model listed without battles gets no strength (the fit says why).

    Returns
    -------
    BattleDesign

    Raises
    ------
    InputError
        A missing column, an outcome outside [0, 1], a negative or non-finite weight,
        a non-finite covariate, or a battle of a model not in ``models=``.

    Examples
    --------
    >>> frame = pd.DataFrame({"model_a": ["x", "y", "x"], "model_b": ["y", "z", "z"],
    ...                       "outcome": [1.0, 0.5, float("nan")], "prompt": ["p", "q", "r"]})
    >>> import warnings
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     d = battle_design(frame)
    >>> d.models, d.a.tolist(), d.b.tolist(), d.n_clusters
    (('x', 'y', 'z'), [0, 1], [1, 2], 2)
    """
    if not isinstance(battles, pd.DataFrame):
        raise ParameterError(
            f"The 'battles' parameter must be a pandas DataFrame. Got {type(battles).__name__}."
        )
    if isinstance(covariates, str):
        covariates = (covariates,)
    covariates = tuple(covariates)
    need = ["model_a", "model_b", "outcome", *covariates]
    missing = [c for c in need if c not in battles.columns]
    if missing:
        raise InputError(
            f"battles: no column(s) {', '.join(map(repr, missing))}; the battles need "
            "model_a, model_b, outcome and each covariate (add style covariates with "
            "debias.battles.style.style_covariates)."
        )
    outcome = pd.to_numeric(battles["outcome"], errors="coerce").to_numpy(dtype=float)
    bad = np.flatnonzero(battles["outcome"].notna().to_numpy() & np.isnan(outcome))
    bad = np.union1d(bad, np.flatnonzero((outcome < 0) | (outcome > 1)))
    if len(bad):
        raise InputError(
            f"battles: row(s) {row_list(bad)} have an outcome outside [0, 1] (P(A wins): "
            "1 win, 0.5 tie, 0 loss); fix or drop them."
        )
    has_verdict = ~np.isnan(outcome)
    if not has_verdict.all():
        warnings.warn(
            f"battles: {int((~has_verdict).sum())} of {len(outcome)} rows have no verdict "
            "and are left out of the fit",
            DataWarning,
            stacklevel=2,
        )
    rows = np.flatnonzero(has_verdict)
    kept = battles.iloc[rows]
    weight = _weights(kept, rows)
    x = _covariates(kept, covariates, rows)
    model_a = kept["model_a"].astype(str).to_numpy()
    model_b = kept["model_b"].astype(str).to_numpy()
    names = _models(model_a, model_b, models)
    index = pd.Index(names)
    a = index.get_indexer(model_a)
    b = index.get_indexer(model_b)
    unknown = np.flatnonzero((a < 0) | (b < 0))
    if len(unknown):
        who = sorted(set(model_a[a < 0]) | set(model_b[b < 0]))
        raise InputError(
            f"battles: row(s) {row_list(rows[unknown])} involve model(s) {who[:5]} not in "
            "models=; add them or drop those rows."
        )
    if "prompt" in kept.columns:
        cluster, _ = pd.factorize(kept["prompt"].to_numpy(), use_na_sentinel=False)
    else:
        cluster = np.arange(len(rows))
    return BattleDesign(
        names,
        a.astype(np.int32),
        b.astype(np.int32),
        x,
        covariates,
        outcome[rows],
        weight,
        np.asarray(cluster, dtype=np.int64),
        int(np.max(cluster, initial=-1)) + 1,
        rows.astype(np.int64),
    )


def unsupported_models(design: BattleDesign) -> dict[str, str]:
    """Models whose strength has no finite maximum-likelihood estimate, with the reason.

    The graph argument (Zermelo 1929; Ford 1957): draw an arrow from A to B when A won
    (part of) a battle against B (a tie or a soft outcome draws both arrows). Strengths
    are finite exactly when every model can reach every other along arrows, i.e. the
    graph is one strongly connected component. Otherwise the largest component is kept
    and every model outside it is reported: a model that never loses (or never wins),
    a group that beats (or loses to) everyone outside it, or a group never compared
    with the rest. Rows of weight 0 and self-battles carry no such evidence.

    Examples
    --------
    >>> a, b = np.array([0, 0, 1, 2, 3]), np.array([1, 2, 2, 3, 1])  # x beats y and z
    >>> d = BattleDesign(("x", "y", "z", "w"), a, b, np.zeros((5, 0)), (), np.ones(5),
    ...                  np.ones(5), np.arange(5), 5, np.arange(5))  # y > z > w > y
    >>> unsupported_models(d)
    {'x': 'wins all its 2 battles: no finite strength (separation)'}
    """
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import connected_components

    m = design.n_models
    use = (design.weight > 0) & (design.a != design.b)
    pair = design.a.astype(np.int64) * m + design.b
    count = np.bincount(pair, weights=use, minlength=m * m).reshape(m, m)
    won = np.bincount(pair, weights=use & (design.outcome > 0), minlength=m * m)
    lost = np.bincount(pair, weights=use & (design.outcome < 1), minlength=m * m)
    arrows = won.reshape(m, m) + lost.reshape(m, m).T  # arrows[i, j] > 0: i beat j (partly)
    battles = count.sum(axis=1) + count.sum(axis=0)
    graph = csr_matrix(arrows > 0)
    _, strong = connected_components(graph, directed=True, connection="strong")
    _, weak = connected_components(graph, directed=True, connection="weak")
    played = battles > 0
    if not played.any():
        return {name: "no battles" for name in design.models}
    sizes = np.bincount(strong[played], minlength=strong.max() + 1)
    weight = np.bincount(strong, weights=battles, minlength=strong.max() + 1)
    main = max(np.flatnonzero(sizes), key=lambda c: (sizes[c], weight[c]))
    wins = (arrows > 0).sum(axis=1)
    losses = (arrows > 0).sum(axis=0)
    problems = {}
    for j in np.flatnonzero(strong != main):
        if not played[j]:
            reason = "no battles"
        elif weak[j] != weak[np.flatnonzero(strong == main)[0]]:
            reason = "never compared, even indirectly, with the main group of models"
        elif losses[j] == 0:
            reason = f"wins all its {battles[j]:g} battles: no finite strength (separation)"
        elif wins[j] == 0:
            reason = f"loses all its {battles[j]:g} battles: no finite strength (separation)"
        else:
            reason = (
                "its group of models wins (or loses) every battle against the others: no "
                "finite strength (separation)"
            )
        problems[design.models[j]] = reason
    return problems


def supported_models(
    design: BattleDesign, identify: str, penalised_strengths: bool
) -> tuple[dict[str, str], np.ndarray, BattleDesign]:
    """The models a fit can estimate: (problems, supported mask, the rows to fit).

    Warns (:class:`~debias.errors.FitWarning`) naming the models left out; a penalty on
    the strengths keeps a separated model's strength finite, so then only models never
    compared with the main group are left out. Checks ``identify``.
    """
    from debias.errors import FitWarning

    problems = unsupported_models(design)
    if penalised_strengths:
        problems = {k: v for k, v in problems.items() if "separation" not in v}
    if not isinstance(identify, str) or (
        identify != "sum_to_zero" and identify not in design.models
    ):
        raise ParameterError(
            f"The 'identify' parameter must be 'sum_to_zero' or a model name. Got {identify!r}."
        )
    if identify in problems:
        raise InputError(
            f"identify= {identify!r}: this model's strength is not supported "
            f"({problems[identify]}); choose another reference or 'sum_to_zero'."
        )
    if problems:
        warnings.warn(
            "no finite strength for "
            + "; ".join(f"{name}: {why}" for name, why in list(problems.items())[:5])
            + (f" and {len(problems) - 5} more" if len(problems) > 5 else "")
            + ". Their strengths are missing and their battles are left out.",
            FitWarning,
            stacklevel=3,
        )
    supported = np.array([name not in problems for name in design.models])
    if supported.sum() < 2:
        raise InputError(
            "battles: fewer than two models have a finite strength; nothing to compare."
        )
    return problems, supported, design.select(supported[design.a] & supported[design.b])


def _weights(kept: pd.DataFrame, rows: np.ndarray) -> np.ndarray:
    if "weight" not in kept.columns:
        return np.ones(len(kept))
    weight = pd.to_numeric(kept["weight"], errors="coerce").to_numpy(dtype=float)
    bad = np.flatnonzero(~np.isfinite(weight) | (weight < 0))
    if len(bad):
        raise InputError(
            f"battles: row(s) {row_list(rows[bad])} have a missing, negative or infinite "
            "weight; weights must be finite and >= 0."
        )
    return weight


def _covariates(kept: pd.DataFrame, covariates: tuple[str, ...], rows: np.ndarray):
    x = np.empty((len(kept), len(covariates)), order="F")  # each covariate contiguous
    for j, name in enumerate(covariates):
        values = pd.to_numeric(kept[name], errors="coerce").to_numpy(dtype=float)
        bad = np.flatnonzero(~np.isfinite(values))
        if len(bad):
            raise InputError(
                f"battles: column {name!r} is missing or not a finite number in row(s) "
                f"{row_list(rows[bad])}; fill or drop those rows."
            )
        x[:, j] = values
    return x


def _models(model_a, model_b, models) -> tuple[str, ...]:
    if models is None:
        return tuple(sorted(set(pd.unique(model_a)) | set(pd.unique(model_b))))
    if isinstance(models, str) or not all(isinstance(m, str) for m in models):
        raise ParameterError(
            f"The 'models' parameter must be a sequence of model names (str). Got {models!r}."
        )
    names = tuple(models)
    if len(set(names)) != len(names):
        twice = sorted({m for m in names if names.count(m) > 1})
        raise ParameterError(f"The 'models' parameter names {twice} more than once.")
    return names


LP_MAX_CELLS = 5_000_000
"""Largest dense design (rows x parameters) the separation linear programme is run on."""


def covariate_separation(design: BattleDesign, supported: np.ndarray) -> dict[str, str]:
    """Strengths and covariates along which the outcomes are separated, with the reason.

    The graph argument of :func:`unsupported_models` is exact without covariates; with
    them a combination of strengths and covariates can separate the outcomes too. This
    runs the linear programme of :func:`debias.model.separation.separating_direction`
    (Konis 2007) on the dense design of the battles between ``supported`` models, when
    it has at most :data:`LP_MAX_CELLS` cells (else returns ``{}``: not checked).
    """
    from debias.model.separation import separating_direction

    use = supported[design.a] & supported[design.b] & (design.a != design.b)
    use &= design.weight > 0
    models = np.flatnonzero(supported)
    m, k, n = len(models), design.x.shape[1], int(use.sum())
    if k == 0 or n * (m - 1 + k) > LP_MAX_CELLS:
        return {}
    local = np.cumsum(supported) - 1
    a, b = local[design.a[use]], local[design.b[use]]
    z = np.zeros((n, m))
    z[np.arange(n), a] += 1.0
    z[np.arange(n), b] -= 1.0
    exog = np.column_stack([z[:, 1:], design.x[use]])  # the first supported model at 0
    d = separating_direction(exog, design.outcome[use], design.weight[use])
    if d is None:
        return {}
    names = [design.models[j] for j in models[1:]] + list(design.covariate_names)
    involved = [name for name, dj in zip(names, d, strict=True) if abs(dj) > 1e-6]
    reason = (
        "separation: the outcomes are predicted perfectly along a combination of "
        + ", ".join(involved[:6])
        + (" and more" if len(involved) > 6 else "")
        + " (no finite estimate)"
    )
    return {name: reason for name in involved}
