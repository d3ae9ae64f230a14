"""Judges side by side: position, style and self-preference terms per judge, in one joint fit.

:func:`fit_judges` fits one Bradley–Terry logistic model to the battle rows of
several judges (:meth:`debias.judgments.Judgments.battles`)::

    logit P(A wins) = s[judge, model_a] − s[judge, model_b]
                      + Σ_terms β[term, judge] · x_term(A, B)

with one coefficient per (term, judge) and standard errors clustered by prompt over
all judges at once (the judges grade the same prompts and answers, so their
estimates are correlated; a difference between two judges is tested with the
covariance of the joint fit). Ties count as half a win (outcome 0.5); row weights
multiply the log-likelihood. Terms, each signed A minus B:

- ``position``: +1 when A was shown first, −1 when second
  (:func:`debias.reports.position.position_covariate`); only for judges whose order
  shown can be separated from the prompt (:func:`~debias.reports.position.order_design`);
- a feature ``f`` (``length``, ``markdown``, ... with columns ``f_a``, ``f_b``):
  Arena's (a − b)/(a + b + 1);
- ``self_preference``: own(A) − own(B), own = the answer's model is of the judge's
  family (:mod:`debias.judgments.families`). Model strengths are then shared by the
  judges (``strengths="shared"``): a judge's own-family preference is measured against
  the other judges' view of the same models. With every judge in one family it is not
  identified (it is one more model-level term); only the differences between judges
  are, and the fit reports those instead.

Counterfactuals balanced over position set ``position`` to 0 (:meth:`JudgesFit.win_rates`).

Examples
--------
>>> from debias.simulate.position import simulate_judges
>>> sim = simulate_judges(n_models=4, n_prompts=150, seed=1)
>>> fit = fit_judges(sim.battles)
>>> fit.table()["term"].unique().tolist()
['position']
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats
from scipy.special import expit

from debias.errors import FitWarning, InputError, ParameterError
from debias.inference.cluster import cluster_factor, critical_value
from debias.judgments.families import model_family
from debias.model.separation import NEAR_SEPARATION
from debias.reports.position import check_battles, order_design, position_covariate

__all__ = ["JudgesFit", "compare_judges", "feature_covariate", "fit_judges", "self_preference"]

SEP = "\u00a6"  # separates judge and model in a strength's name
#: Largest dense design (rows x coefficients, 8 bytes each: 400 MB) fit_judges builds.
MAX_CELLS = 50_000_000


def feature_covariate(battles: pd.DataFrame, feature: str) -> np.ndarray:
    """Arena's (a − b)/(a + b + 1) of a per-answer feature (columns ``f_a``, ``f_b``).

    Examples
    --------
    >>> feature_covariate(pd.DataFrame({"length_a": [3.0], "length_b": [1.0]}), "length")
    array([0.4])
    """
    cols = [f"{feature}_a", f"{feature}_b"]
    missing = [c for c in cols if c not in battles]
    if missing:
        raise InputError(
            f"battle rows: feature {feature!r} needs columns {cols}; missing {missing}. Add them "
            "with debias.battles.style.add_answer_features(battles, judgments, features=...)."
        )
    a = battles[cols[0]].to_numpy(dtype=float)
    b = battles[cols[1]].to_numpy(dtype=float)
    if (a < 0).any() or (b < 0).any() or not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise InputError(f"battle rows: {cols} must be finite counts >= 0.")
    return (a - b) / (a + b + 1.0)


def _own(judges: np.ndarray, models: np.ndarray, families) -> np.ndarray:
    """1.0 where the model is in its judge's family (one family look-up per distinct name)."""
    names = pd.unique(np.concatenate([judges, models]))
    fam = {n: model_family(str(n), families) for n in names}
    return (pd.Series(judges).map(fam).to_numpy() == pd.Series(models).map(fam).to_numpy()).astype(
        float
    )


@dataclass(frozen=True)
class JudgesFit:
    """A joint fit of several judges (:func:`fit_judges`).

    Attributes
    ----------
    params : pandas.Series
        Every coefficient: strengths ``strength¦judge¦model`` (or ``strength¦model`` when
        shared; the reference model of each block is 0 and not listed) and terms
        ``term¦judge`` (or ``self_preference¦judge−reference`` for judge differences).
    cov : pandas.DataFrame
        Cluster-robust covariance by prompt (small-sample factor G/(G − 1)).
    n_clusters : int
    level : float
    notes : dict
        ``(term, judge) -> reason`` for every term not estimated.
    families : dict
        judge or model -> family.
    """

    params: pd.Series
    cov: pd.DataFrame
    n_clusters: int
    level: float
    notes: dict
    families: dict
    x: np.ndarray = field(repr=False)
    rows: pd.DataFrame = field(repr=False)
    problems: list = field(default_factory=list)
    hessian_inv: np.ndarray = field(repr=False, default=None)
    scores: np.ndarray = field(repr=False, default=None)

    @property
    def judges(self) -> list[str]:
        return [str(j) for j in pd.unique(self.rows["judge"])]

    def _interval(self, est: float, se: float) -> dict:
        df = self.n_clusters - 1
        ok = np.isfinite(se) and se > 0 and df >= 1 and not self.problems
        q = critical_value(self.level, df) if df >= 1 else float("nan")
        nan = float("nan")
        return {
            "estimate": float(est),
            "std_error": float(se) if ok else nan,
            "conf_low": float(est - q * se) if ok else nan,
            "conf_high": float(est + q * se) if ok else nan,
            "p_value": float(2 * stats.t.sf(abs(est) / se, df)) if ok else nan,
        }

    def table(self) -> pd.DataFrame:
        """One row per (term, judge): ``term, judge, estimate, std_error, conf_low,
        conf_high, p_value, note`` (log-odds per unit of the term; missing with a note
        when not estimated)."""
        rows = []
        for name, est in self.params.items():
            if name.startswith("strength" + SEP):
                continue
            term, judge = name.split(SEP, 1)
            se = float(np.sqrt(self.cov.loc[name, name]))
            note = "; ".join(self.problems)
            rows.append({"term": term, "judge": judge} | self._interval(est, se) | {"note": note})
        nan = dict.fromkeys(("estimate", "std_error", "conf_low", "conf_high", "p_value"), np.nan)
        for (term, judge), reason in self.notes.items():
            rows.append({"term": term, "judge": judge} | nan | {"note": reason})
        return pd.DataFrame(
            rows,
            columns=[
                "term",
                "judge",
                "estimate",
                "std_error",
                "conf_low",
                "conf_high",
                "p_value",
                "note",
            ],
        )

    def contrast(self, weights: Mapping[str, float]) -> dict:
        """A linear combination of coefficients (names of :attr:`params`) with its interval.

        Examples
        --------
        >>> from debias.simulate.position import simulate_judges
        >>> sim = simulate_judges(n_models=3, n_prompts=120, seed=0)
        >>> fit = fit_judges(sim.battles)
        >>> a, b = fit.judges
        >>> d = fit.contrast({f"position¦{a}": 1.0, f"position¦{b}": -1.0})
        >>> d["conf_low"] < d["estimate"] < d["conf_high"]
        True
        """
        unknown = [k for k in weights if k not in self.params.index]
        if unknown:
            raise ParameterError(
                f"contrast(): unknown coefficient(s) {unknown}; coefficients: "
                f"{[p for p in self.params.index if not p.startswith('strength')]}."
            )
        c = pd.Series(0.0, index=self.params.index)
        for k, v in weights.items():
            c[k] = float(v)
        est = float(c @ self.params)
        se = float(np.sqrt(c @ self.cov.to_numpy() @ c))
        return self._interval(est, se)

    def difference(self, term: str, judge: str, other: str) -> dict:
        """``term``'s coefficient of ``judge`` minus ``other``'s, tested on the joint fit."""
        return self.contrast({f"{term}{SEP}{judge}": 1.0, f"{term}{SEP}{other}": -1.0})

    def win_rates(self, reference: str | None = None, *, at_position: float = 0.0) -> pd.DataFrame:
        """Per judge and model: the win rate (percent) against ``reference`` balanced over
        position (``position`` at ``at_position`` for the model's answer: 0 balanced, +1 always
        shown first, −1 always second; other terms as observed).

        Averages the fitted P(model wins) over the rows of that pair (oriented towards the
        model), with a delta-method interval that also counts the prompts' sampling
        (per-prompt influences, clustered by prompt). Without a position term the
        numbers are the fitted win rates.
        """
        r = self.rows
        pos_cols = [i for i, n in enumerate(self.params.index) if n.startswith("position" + SEP)]
        beta = self.params.to_numpy()
        codes, uniq = pd.factorize(r["prompt"], sort=False)
        g = len(uniq)
        out = []
        for judge in self.judges:
            jm = (r["judge"] == judge).to_numpy()
            ref = reference or _reference(r[jm])
            models = sorted(set(r.loc[jm, "model_a"]) | set(r.loc[jm, "model_b"]))
            for m in models:
                if m == ref:
                    continue
                fwd = jm & (r["model_a"] == m).to_numpy() & (r["model_b"] == ref).to_numpy()
                rev = jm & (r["model_b"] == m).to_numpy() & (r["model_a"] == ref).to_numpy()
                keep = fwd | rev
                n = int(keep.sum())
                if n == 0:
                    continue
                sign = np.where(fwd[keep], 1.0, -1.0)
                x = self.x[keep].copy()
                for i in pos_cols:  # the model's answer shown first: +1 for it, signed A - B
                    x[:, i] = np.where(x[:, i] != 0, at_position * sign, 0.0)
                p = expit(x @ beta)
                pm = np.where(sign > 0, p, 1 - p)
                est = float(pm.mean())
                grad = ((p * (1 - p))[:, None] * x * sign[:, None]).mean(0)
                infl = np.bincount(codes[keep], weights=pm - est, minlength=g) / n
                infl = infl + self.scores @ self.hessian_inv @ grad
                se = float(np.sqrt(cluster_factor(g) * np.sum(infl**2)))
                row = self._interval(100 * est, 100 * se)
                row.pop("p_value")
                out.append({"judge": judge, "model": m, "reference": ref, "n": n} | row)
        return pd.DataFrame(out)


def _reference(rows: pd.DataFrame) -> str:
    """The model in most rows (a fixed baseline when there is one); ties: alphabetical."""
    counts = pd.concat([rows["model_a"], rows["model_b"]]).value_counts()
    top = counts[counts == counts.max()].index
    return str(sorted(top)[0])


def _strength_columns(r: pd.DataFrame, shared: bool):
    names, cols = [], []
    blocks = [("", r.index == r.index)] if shared else []
    if not shared:
        blocks = [(j, (r["judge"] == j).to_numpy()) for j in pd.unique(r["judge"])]
    for judge, mask in blocks:
        ref = _reference(r[mask])
        for m in sorted(set(r.loc[mask, "model_a"]) | set(r.loc[mask, "model_b"])):
            if m == ref:
                continue
            col = np.where(mask & (r["model_a"] == m).to_numpy(), 1.0, 0.0) - np.where(
                mask & (r["model_b"] == m).to_numpy(), 1.0, 0.0
            )
            names.append(SEP.join(["strength", judge, m]) if judge else f"strength{SEP}{m}")
            cols.append(col)
    return names, cols


def fit_judges(
    battles: pd.DataFrame,
    *,
    features: Sequence[str] = (),
    position: bool | str = "auto",
    self_preference: bool = False,
    families: Mapping[str, str] | None = None,
    level: float = 0.95,
) -> JudgesFit:
    """Fit the judges jointly (see the module docstring).

    Parameters
    ----------
    battles : pandas.DataFrame
        Battle rows of one or more judges (``Judgments.battles()``), with
        ``<f>_a``, ``<f>_b`` columns for each feature.
    features : sequence of str
        Per-answer features entering as Arena's (a − b)/(a + b + 1), one coefficient per judge.
    position : bool or "auto", default "auto"
        ``"auto"``: a ``position`` term for each judge whose order shown is identified
        (both orders, or an order varying within prompts); the others get a note saying
        why (unknown order, or a fixed function of the prompt).
    self_preference : bool, default False
        Add the own-family term; model strengths are then shared by the judges.
    families : mapping, optional
        Model or judge name -> family (:func:`debias.judgments.families.model_family`).
    level : float, default 0.95

    Returns
    -------
    JudgesFit

    Warns
    -----
    FitWarning
        Rows without a verdict dropped (counted), a coefficient beyond ±15 (separation:
        its intervals are then missing) or no convergence.
    """
    check_battles(battles)
    critical_value(level)
    if position not in (True, False, "auto"):
        raise ParameterError(
            f"The 'position' parameter must be True, False or 'auto'. Got {position!r}."
        )
    if isinstance(features, str):
        features = [features]
    r = battles.reset_index(drop=True)
    bad_w = "weight" in r and not (r["weight"].to_numpy(dtype=float) >= 0).all()
    if bad_w:
        raise InputError("battle rows: weight must be >= 0.")
    missing = r["outcome"].isna().to_numpy()
    if missing.any():
        warnings.warn(
            f"{int(missing.sum())} battle row(s) without a verdict left out of the fit.",
            FitWarning,
            stacklevel=2,
        )
        r = r[~missing].reset_index(drop=True)
    if r.empty:
        raise InputError("battle rows: no row has a verdict; nothing to fit.")
    r["judge"] = r["judge"].astype(str)
    r["model_a"] = r["model_a"].astype(str)
    r["model_b"] = r["model_b"].astype(str)
    judges = list(pd.unique(r["judge"]))
    n_models = len(set(r["model_a"]) | set(r["model_b"]))
    width = n_models * (1 if self_preference else len(judges)) + (2 + len(features)) * len(judges)
    if len(r) * width > MAX_CELLS:
        raise ParameterError(
            f"fit_judges() builds a dense design: {len(r):,} rows x ~{width} coefficients is over "
            f"{MAX_CELLS:,} cells. For large any-pair data fit one judge at a time with "
            "debias.battles (battle_design(add_position(battles), covariates=('position', ...)))."
        )
    names, cols = _strength_columns(r, shared=self_preference)
    notes: dict = {}
    is_judge = {j: (r["judge"] == j).to_numpy().astype(float) for j in judges}

    if position:
        design = order_design(r)
        pos = position_covariate(r)
        for j in judges:
            if design[j]["identified"]:
                names.append(f"position{SEP}{j}")
                cols.append(pos * is_judge[j])
            elif position is True or design[j]["status"] == "fixed_by_prompt":
                notes[("position", j)] = f"not estimated: {design[j]['reason']}"
    for f in features:
        xf = feature_covariate(r, f)
        for j in judges:
            names.append(f"{f}{SEP}{j}")
            cols.append(xf * is_judge[j])
    fams: dict = {}
    if self_preference:
        own = _own(r["judge"].to_numpy(), r["model_a"].to_numpy(), families) - _own(
            r["judge"].to_numpy(), r["model_b"].to_numpy(), families
        )
        fams = {
            n: model_family(n, families) for n in judges + sorted(set(r.model_a) | set(r.model_b))
        }
        sp_names, sp_cols = [], []
        for j in judges:
            if not (own * is_judge[j]).any():
                notes[("self_preference", j)] = (
                    f"not estimated: no answer of the judge's family ({fams[j]}) in its battles"
                )
                continue
            sp_names.append(f"self_preference{SEP}{j}")
            sp_cols.append(own * is_judge[j])
        base = np.column_stack(cols) if cols else np.zeros((len(r), 0))
        if sp_cols and np.linalg.matrix_rank(np.column_stack([base, *sp_cols])) < base.shape[
            1
        ] + len(sp_cols):
            # not every judge's own-family term is identified: keep differences to the first
            ref = sp_names[0].split(SEP, 1)[1]
            judge_families = sorted({fams[j] for j in judges})
            which = (
                f"every judge is in family {judge_families[0]!r}"
                if len(judge_families) == 1
                else "this design does not separate them"
            )
            why = (
                "not identified: the judges' own-family terms are confounded with the shared "
                f"model strengths ({which}); only the differences between judges are "
                f"(self_preference¦judge−{ref})"
            )
            for n in sp_names:
                notes[("self_preference", n.split(SEP, 1)[1])] = why
            diffs = [
                (f"self_preference{SEP}{n.split(SEP, 1)[1]}−{ref}", c)
                for n, c in zip(sp_names[1:], sp_cols[1:], strict=True)
            ]
            sp_names = [d[0] for d in diffs]
            sp_cols = [d[1] for d in diffs]
        names += sp_names
        cols += sp_cols
    x = np.column_stack(cols) if cols else np.zeros((len(r), 0))
    rank = np.linalg.matrix_rank(x)
    if rank < x.shape[1]:
        raise InputError(
            f"battle rows: the design is not identified (rank {rank} < {x.shape[1]} "
            "coefficients): a judge's models are not connected through shared battles, or a "
            "term is constant within the judge's pairs."
        )
    y = r["outcome"].to_numpy(dtype=float)
    w = r["weight"].to_numpy(dtype=float) if "weight" in r else np.ones(len(r))
    beta, converged = _newton(x, y, w)
    p = expit(x @ beta)
    h = (x * (w * p * (1 - p))[:, None]).T @ x
    h_inv = np.linalg.pinv(h)
    codes, uniq = pd.factorize(r["prompt"], sort=False)
    g = len(uniq)
    s = np.column_stack(
        [np.bincount(codes, weights=w * (y - p) * x[:, k], minlength=g) for k in range(x.shape[1])]
    )
    infl = s @ h_inv  # per-prompt influence (h_inv symmetric)
    cov = cluster_factor(g) * infl.T @ infl
    problems = []
    if not converged:
        problems.append("the fit did not converge")
    big = [n for n, b in zip(names, beta, strict=True) if abs(b) > NEAR_SEPARATION]
    if big:
        problems.append(f"separation: {big[:3]} beyond ±{NEAR_SEPARATION:g}")
    for msg in problems:
        warnings.warn(f"fit_judges: {msg}; intervals are not reported.", FitWarning, stacklevel=2)
    keep = ["judge", "prompt", "model_a", "model_b"]
    return JudgesFit(
        params=pd.Series(beta, index=names),
        cov=pd.DataFrame(cov, index=names, columns=names),
        n_clusters=g,
        level=level,
        notes=notes,
        families=fams,
        x=x,
        rows=r[keep],
        problems=problems,
        hessian_inv=h_inv,
        scores=s,
    )


def _newton(x: np.ndarray, y: np.ndarray, w: np.ndarray, tol: float = 1e-10, max_iter: int = 100):
    """Weighted logistic maximum likelihood (fractional outcomes), Newton with step halving."""
    beta = np.zeros(x.shape[1])

    def loglik(b):
        eta = x @ b
        return float(np.sum(w * (y * eta - np.logaddexp(0.0, eta))))

    ll = loglik(beta)
    for _ in range(max_iter):
        p = expit(x @ beta)
        grad = x.T @ (w * (y - p))
        h = (x * (w * p * (1 - p))[:, None]).T @ x
        step = np.linalg.lstsq(h, grad, rcond=None)[0]
        t = 1.0
        while t > 1e-8:
            new = beta + t * step
            new_ll = loglik(new)
            if new_ll >= ll - 1e-12:
                break
            t /= 2
        beta, old, ll = new, ll, new_ll
        if np.max(np.abs(t * step)) < tol or abs(ll - old) < tol * (1 + abs(ll)):
            return beta, True
    return beta, False


def self_preference(
    battles: pd.DataFrame,
    *,
    families: Mapping[str, str] | None = None,
    features: Sequence[str] = (),
    level: float = 0.95,
) -> pd.DataFrame:
    """Each judge's own-family preference (log-odds), or the judges' differences in it.

    A joint fit with shared model strengths (:func:`fit_judges` with
    ``self_preference=True``, position terms where identified).

    Returns
    -------
    pandas.DataFrame
        ``term, judge, estimate, std_error, conf_low, conf_high, p_value, note`` for the
        ``self_preference`` rows: per judge when identified; otherwise one missing row per
        judge saying why, and rows ``judge−reference`` with the identified differences.
    """
    fit = fit_judges(
        battles, features=features, self_preference=True, families=families, level=level
    )
    t = fit.table()
    return t[t["term"] == "self_preference"].reset_index(drop=True)


def compare_judges(fit: JudgesFit) -> pd.DataFrame:
    """Each term's differences between judges, tested on the joint fit.

    Returns
    -------
    pandas.DataFrame
        ``term, judge, reference, estimate, std_error, conf_low, conf_high, p_value``:
        judge minus reference (the first judge with the term) per term, and one row per
        term with ``judge="all equal"``: the Wald test (F with (k, G − 1) df, k = judges
        − 1) that every judge has the same coefficient (estimate NaN).
    """
    rows = []
    coef = [n for n in fit.params.index if not n.startswith("strength" + SEP)]
    terms = list(dict.fromkeys(n.split(SEP, 1)[0] for n in coef))
    for term in terms:
        names = [n for n in coef if n.split(SEP, 1)[0] == term and "−" not in n]
        if len(names) < 2:
            continue
        ref = names[0]
        c = np.zeros((len(names) - 1, len(fit.params)))
        for i, n in enumerate(names[1:]):
            d = fit.contrast({n: 1.0, ref: -1.0})
            rows.append(
                {"term": term, "judge": n.split(SEP, 1)[1], "reference": ref.split(SEP, 1)[1]} | d
            )
            c[i, fit.params.index.get_loc(n)] = 1.0
            c[i, fit.params.index.get_loc(ref)] = -1.0
        diff = c @ fit.params.to_numpy()
        v = c @ fit.cov.to_numpy() @ c.T
        k, df = len(diff), fit.n_clusters - 1
        p = float("nan")
        if df > k and not fit.problems and np.linalg.matrix_rank(v) == k:
            wald = float(diff @ np.linalg.solve(v, diff))
            p = float(stats.f.sf(wald / k * (df - k + 1) / df, k, df - k + 1))
        rows.append(
            {"term": term, "judge": "all equal", "reference": ref.split(SEP, 1)[1]}
            | dict.fromkeys(("estimate", "std_error", "conf_low", "conf_high"), np.nan)
            | {"p_value": p}
        )
    return pd.DataFrame(rows)
