"""Single-answer grades: the mean grade per model and a length-controlled mean grade.

A judge that grades one answer at a time (MT-Bench's ``Rating: [[7]]``, Arena-Bench, the 1-5
scores of instruction back-translation) may reward length. The grade is modelled on the model
and the answer's length, and each model's grade predicted at a reference length:

``x = log(1 + characters) - median over the prompt's answers of log(1 + characters)``
    the length term; ``x = 0`` is the prompt's median answer (the reference length). A
    prompt's turns are apart here (each turn its own reference and fixed effect) and together
    as one cluster.

``method="linear"``
    OLS ``grade ~ model + x + prompt`` (prompt fixed effects, fitted within prompts). The
    controlled grade of model ``m`` is the mean over every prompt of the data of the fitted
    grade of ``m`` at ``x = 0``: ``alpha_m + mean_p u_p``.
``method="ordinal"``
    The cumulative logit (:mod:`debias.model.ordinal`) ``P(grade <= k) = logistic(theta_k -
    alpha_m - slope * x)`` over the grade levels (no prompt terms: a population-averaged
    model). The controlled grade is the expected grade ``sum_k level_k P(grade = k)`` at
    ``x = 0``.

Intervals are cluster-robust by prompt (the linear variant through the stacked influence of
the prompt average and the coefficients), Student's t with ``prompts - 1`` degrees of freedom,
clipped to the grade range.

Paired grades (two grades per call, as the Vicuna GPT-4 reviews): :func:`paired_grade_totals`
gives the published totals, :func:`paired_grade_difference` the mean difference and the
difference at equal length (``grade_a - grade_b = delta + slope * (log(1 + len_a) -
log(1 + len_b))``, ``delta`` at equal length).

Examples
--------
>>> from debias.simulate.grades import simulate_grades
>>> sim = simulate_grades(n_models=3, n_prompts=100, seed=2)
>>> rep = length_controlled_grades(sim.grades, scale=(1, 10))
>>> rep.table[["model", "mean_grade", "controlled_grade"]].round(2)
     model  mean_grade  controlled_grade
0  model_2        6.36              6.71
1  model_1        5.57              5.58
2  model_0        4.76              4.31
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from debias.errors import InputError, ParameterError
from debias.inference.cluster import cluster_factor, critical_value
from debias.model.ordinal import OrdinalFit, fit_ordinal

GRADE_COLUMNS = (
    "model",
    "n",
    "mean_grade",
    "mean_grade_se",
    "mean_grade_ci_low",
    "mean_grade_ci_high",
    "controlled_grade",
    "controlled_grade_se",
    "controlled_grade_ci_low",
    "controlled_grade_ci_high",
    "note",
)
REFERENCE = "the prompt's median answer (median of log(1 + characters) over its graded answers)"


@dataclass(frozen=True)
class GradeReport:
    """Mean and length-controlled grades per model.

    Attributes
    ----------
    table : pandas.DataFrame
        ``model, n, mean_grade, mean_grade_se, mean_grade_ci_low, mean_grade_ci_high,
        controlled_grade, controlled_grade_se, controlled_grade_ci_low, controlled_grade_ci_high,
        note``, sorted by controlled grade.
    slope : pandas.DataFrame
        The length term: ``term, estimate, std_error, conf_low, conf_high, note`` (per unit of
        log length: +1 = 2.7 times longer; for ``ordinal`` on the log-odds scale).
    method : str
    grade_range : tuple of float
    definition : str
        What the controlled grade is, in one paragraph.
    fit : object
        The fitted model (:class:`~debias.model.ordinal.OrdinalFit` for ``ordinal``).
    """

    table: pd.DataFrame
    slope: pd.DataFrame
    method: str
    grade_range: tuple
    definition: str
    fit: object = field(repr=False, default=None)


# ------------------------------------------------------------------------- inputs
def grade_frame(judgments, *, length: str = "characters") -> pd.DataFrame:
    """One row per graded answer of a :class:`~debias.judgments.Judgments` on a grade scale.

    Parameters
    ----------
    judgments : Judgments
    length : {"characters", "tokens"}
        Characters of the answer text, or the stored token counts.

    Returns
    -------
    pandas.DataFrame
        ``judge, prompt, turn, model, grade, side, call, length`` (``side`` a/b, ``call`` the
        row of the judge call; rows without a grade dropped).
    """
    from debias.judgments.store import NO_ANSWER, take

    if judgments.scale.kind != "grade":
        raise ParameterError(
            f"{judgments.source}: grades need a grade scale (Scale.grade(low, high)); the scale "
            f"is {judgments.scale.describe()}."
        )
    if length not in ("characters", "tokens"):
        raise ParameterError(
            f"The 'length' parameter must be 'characters' or 'tokens'. Got {length!r}."
        )
    answers = judgments.answers
    if length == "tokens" and "tokens" not in answers:
        raise InputError(f"{judgments.source}: no token counts stored; use length='characters'.")
    size = (
        answers["tokens"].to_numpy(float)
        if length == "tokens"
        else answers["text"].astype(str).str.len().to_numpy(float)
    )
    r = judgments.rows
    parts = []
    for side, answer, grade in (("a", "answer_a", "verdict"), ("b", "answer_b", "verdict_b")):
        keep = (r[answer].to_numpy() != NO_ANSWER) & r[grade].notna().to_numpy()
        sub = r[keep]
        codes = sub[answer].to_numpy()
        parts.append(
            pd.DataFrame(
                {
                    "judge": sub["judge"].astype(str).to_numpy(),
                    "prompt": take(judgments.prompts["prompt_id"], sub["prompt"].to_numpy()),
                    "turn": judgments.prompts["turn"].to_numpy()[sub["prompt"].to_numpy()],
                    "model": take(answers["model"], codes),
                    "grade": sub[grade].to_numpy(float),
                    "side": side,
                    "call": np.flatnonzero(keep),
                    "length": size[codes],
                }
            )
        )
    out = pd.concat(parts, ignore_index=True)
    return out.sort_values(["call", "side"], kind="stable").reset_index(drop=True)


def _prepare(data, *, judge, scale, length) -> tuple[pd.DataFrame, tuple, str]:
    """Rows ``prompt, model, grade, length``, the grade range and how it was set."""
    from debias.judgments import Judgments

    declared = None
    if isinstance(data, Judgments):
        if judge is not None:
            data = data.select(judge=judge)
        declared = (data.scale.low, data.scale.high)
        frame = grade_frame(data, length=length)
    elif isinstance(data, pd.DataFrame):
        frame = data
        if judge is not None and "judge" in frame:
            frame = frame[frame["judge"] == judge]
    else:
        raise ParameterError(
            f"grades: expected a Judgments or a DataFrame (prompt, model, grade, length); got "
            f"{type(data).__name__}."
        )
    missing = [c for c in ("prompt", "model", "grade", "length") if c not in frame]
    if missing:
        raise InputError(
            f"grades: missing column(s) {missing}; columns present: {list(frame.columns)}."
        )
    if "judge" in frame and frame["judge"].nunique() > 1:
        raise ParameterError(
            f"grades: several judges {sorted(frame['judge'].unique())}; pass judge= to pick one."
        )
    grade = pd.to_numeric(frame["grade"], errors="coerce").to_numpy(float)
    size = pd.to_numeric(frame["length"], errors="coerce").to_numpy(float)
    bad = ~np.isfinite(size) | (size < 0)
    if bad.any():
        raise InputError(
            f"grades: length missing or negative in row(s) {np.flatnonzero(bad)[:5].tolist()}."
        )
    keep = np.isfinite(grade)
    turn = frame["turn"].astype(str).to_numpy() if "turn" in frame else np.full(len(frame), "1")
    out = pd.DataFrame(
        {
            "prompt": frame["prompt"].astype(str).to_numpy()[keep],
            "unit": (frame["prompt"].astype(str).to_numpy() + "\0" + turn)[keep],
            "model": frame["model"].astype(str).to_numpy()[keep],
            "grade": grade[keep],
            "length": size[keep],
        }
    )
    if len(out) == 0:
        raise InputError("grades: no graded answer (every grade is missing).")
    if scale is not None:
        low, high = float(scale[0]), float(scale[1])
        how = f"declared [{low:g}, {high:g}]"
    elif declared is not None:
        low, high = declared
        how = f"declared by the judgments' scale [{low:g}, {high:g}]"
    else:
        low, high = float(out["grade"].min()), float(out["grade"].max())
        how = f"inferred from the data (lowest and highest grade given) [{low:g}, {high:g}]"
    off = (out["grade"] < low) | (out["grade"] > high)
    if off.any():
        raise InputError(
            f"grades: grade {out['grade'][off].iloc[0]!r} outside the range [{low:g}, {high:g}]; "
            "declare scale=(low, high)."
        )
    if low >= high:
        raise InputError(f"grades: every grade is {low:g}; nothing to compare.")
    logl = np.log1p(out["length"].to_numpy())
    out["x"] = logl - pd.Series(logl).groupby(out["unit"].to_numpy()).transform("median")
    if np.allclose(out["x"], 0):
        raise InputError(
            "grades: every answer has its prompt's median length (one graded answer per prompt, "
            "or equal lengths), so there is no length difference to control; compare models on "
            "shared prompts, or use mean_grades()."
        )
    return out, (low, high), how


# ------------------------------------------------------------------------- raw means
def mean_grades(frame: pd.DataFrame, *, level: float = 0.95) -> pd.DataFrame:
    """Mean grade per model with a prompt-clustered interval (missing grades dropped).

    Returns ``model, n, mean_grade, mean_grade_se, mean_grade_ci_low, mean_grade_ci_high``.
    """
    rows = []
    for model, g in frame.groupby("model", sort=False):
        per_prompt = g.groupby("prompt")["grade"]
        n, mean = len(g), float(g["grade"].mean())
        resid = (per_prompt.sum() - per_prompt.count() * mean) / n
        se = (
            float(np.sqrt(np.sum(resid**2) * cluster_factor(len(resid))))
            if len(resid) > 1
            else np.nan
        )
        se = se if np.isfinite(se) and se > 1e-12 else np.nan
        z = critical_value(level, df=len(resid) - 1)
        rows.append((model, n, mean, se, mean - z * se, mean + z * se))
    return pd.DataFrame(rows, columns=["model", "n", *GRADE_COLUMNS[2:6]])


# ------------------------------------------------------------------------- controlled
def length_controlled_grades(
    data,
    *,
    method: str = "linear",
    judge: str | None = None,
    scale=None,
    length: str = "characters",
    level: float = 0.95,
) -> GradeReport:
    """Mean grade per model and the grade at the prompt's median answer length.

    Parameters
    ----------
    data : Judgments or pandas.DataFrame
        Graded answers: a :class:`~debias.judgments.Judgments` on a grade scale, or a frame
        with ``prompt, model, grade, length`` (characters).
    method : {"linear", "ordinal"}
        See the module docstring.
    judge : str, optional
        Needed when the data hold several judges.
    scale : (low, high), optional
        The grade range; by default the judgments' scale, or the lowest and highest grade
        given (the report says which).
    length : {"characters", "tokens"}
        Length of an answer (Judgments only).
    level : float

    Returns
    -------
    GradeReport
    """
    if method not in ("linear", "ordinal"):
        raise ParameterError(
            f"The 'method' parameter must be 'linear' or 'ordinal'. Got {method!r}."
        )
    critical_value(level)
    frame, grade_range, how = _prepare(data, judge=judge, scale=scale, length=length)
    models = list(pd.unique(frame["model"]))
    if len(models) < 1:
        raise InputError("grades: no model.")
    n_prompts = frame["prompt"].nunique()
    z = critical_value(level, df=n_prompts - 1)
    raw = mean_grades(frame, level=level).set_index("model").loc[models]
    if method == "linear":
        est, se, slope, fit, notes = _linear(frame, models, level)
        model_text = "OLS grade ~ model + x + prompt (prompt fixed effects)"
        average = "the mean over every prompt of the data of the fitted grade at x = 0"
    else:
        est, se, slope, fit, notes = _ordinal(frame, models, grade_range, level)
        model_text = "cumulative logit of the grade on model + x (no prompt terms)"
        average = "the expected grade sum_k level_k P(grade = k) at x = 0"
    se = np.where(np.isfinite(se) & (se > 1e-12), se, np.nan)
    low, high = grade_range
    table = pd.DataFrame(
        {
            "model": models,
            "n": raw["n"].to_numpy(),
            **{c: raw[c].to_numpy() for c in GRADE_COLUMNS[2:6]},
            "controlled_grade": est,
            "controlled_grade_se": se,
            "controlled_grade_ci_low": np.clip(est - z * se, low, high),
            "controlled_grade_ci_high": np.clip(est + z * se, low, high),
            "note": notes,
        }
    )
    for side in ("mean_grade_ci_low", "mean_grade_ci_high"):
        table[side] = table[side].clip(low, high)
    table = table.sort_values(
        "controlled_grade", ascending=False, kind="stable", na_position="last"
    )
    definition = (
        f"Controlled grade ({method}): {model_text}, x = log(1 + characters) minus its median "
        f"over the prompt's answers; the grade of each model at {REFERENCE}, {average}. "
        f"Grade range {how}. Intervals {level:.0%}, clustered by prompt ({n_prompts} prompts)."
    )
    return GradeReport(table.reset_index(drop=True), slope, method, grade_range, definition, fit)


def _slope_row(estimate, se, df, level, note="") -> pd.DataFrame:
    se = se if np.isfinite(se) and se > 1e-12 else np.nan
    z = critical_value(level, df=df)
    return pd.DataFrame(
        [("log_length", estimate, se, estimate - z * se, estimate + z * se, note)],
        columns=["term", "estimate", "std_error", "conf_low", "conf_high", "note"],
    )


ISOLATED = (
    "graded only on prompts no other model answered: no comparison within prompts "
    "(method='ordinal' compares across prompts)"
)


def _linear(frame: pd.DataFrame, models: list[str], level: float = 0.95):
    """Fit on the models compared within at least one prompt; the others missing with why."""
    per_unit = frame.groupby("unit")["model"].transform("nunique").to_numpy()
    shared = set(frame.loc[per_unit >= 2, "model"])
    kept = [m for m in models if m in shared]
    M = len(models)
    est, se = np.full(M, np.nan), np.full(M, np.nan)
    notes = np.array([ISOLATED if m not in shared else "" for m in models], dtype=object)
    if len(kept) < 2:
        notes[:] = ISOLATED
        slope = _slope_row(
            np.nan, np.nan, 1, level, "fewer than two models compared within prompts"
        )
        return est, se, slope, {}, notes
    sub = frame[frame["model"].isin(kept)].reset_index(drop=True)
    e, s, slope, fit, n = _linear_fit(sub, kept, level)
    where = [models.index(m) for m in kept]
    est[where], se[where], notes[where] = e, s, n
    return est, se, slope, fit, notes


def _linear_fit(frame: pd.DataFrame, models: list[str], level: float):
    m_code = pd.Categorical(frame["model"], categories=models).codes
    p_code, units = pd.factorize(frame["unit"])  # fixed effects: (prompt, turn)
    c_code, clusters = pd.factorize(frame["prompt"])  # clusters: prompts
    P, G, M = len(units), len(clusters), len(models)
    unit_cluster = np.zeros(P, dtype=np.int64)
    unit_cluster[p_code] = c_code
    D = np.zeros((len(frame), M - 1))
    rows = np.flatnonzero(m_code > 0)
    D[rows, m_code[rows] - 1] = 1.0
    X = np.column_stack([D, frame["x"].to_numpy()])
    y = frame["grade"].to_numpy()
    counts = np.bincount(p_code, minlength=P).astype(float)

    def within(a):
        means = np.stack(
            [np.bincount(p_code, weights=c, minlength=P) for c in np.atleast_2d(a.T)], 1
        )
        means = means / counts[:, None]
        return a - (means[p_code] if a.ndim == 2 else means[p_code, 0]), means

    Xt, X_means = within(X)
    yt, y_means = within(y)
    bread = Xt.T @ Xt
    if np.linalg.matrix_rank(bread) < bread.shape[0]:
        raise InputError(
            "grades (linear): the model and length terms cannot be separated from the prompt "
            "effects (a model graded on prompts no other model answered, or lengths that do not "
            "vary within prompts); use method='ordinal' or more data."
        )
    inv = np.linalg.inv(bread)
    b = inv @ (Xt.T @ yt)
    resid = yt - Xt @ b
    scores = np.stack(
        [np.bincount(c_code, weights=Xt[:, j] * resid, minlength=G) for j in range(X.shape[1])], 1
    )
    infl_b = scores @ inv  # (G, k): per-prompt influence of b
    u = y_means[:, 0] - X_means @ b  # prompt effects, reference model at 0
    u_bar = u.mean()
    grad_u = -X_means.mean(axis=0)  # d u_bar / d b
    alpha = np.concatenate([[0.0], b[: M - 1]])
    est = alpha + u_bar
    se = np.empty(M)
    factor = cluster_factor(G)
    sampling = np.bincount(unit_cluster, weights=(u - u_bar) / P, minlength=G)
    for m in range(M):
        g = grad_u.copy()
        if m > 0:
            g[m - 1] += 1.0
        infl = sampling + infl_b @ g
        se[m] = np.sqrt(np.sum(infl**2) * factor)
    slope_se = np.sqrt(np.sum(infl_b[:, -1] ** 2) * factor)
    n_per_model = np.bincount(m_code, minlength=M)
    notes = np.where(n_per_model < 2, "fewer than 2 grades: no interval", "")
    se = np.where(n_per_model < 2, np.nan, se)
    slope = _slope_row(float(b[-1]), float(slope_se), G - 1, level)
    fit = {"coef": b, "prompt_effects": u, "influence": infl_b}
    return est, se, slope, fit, notes


def _ordinal_levels(grades: np.ndarray, grade_range) -> list[float]:
    low, high = grade_range
    whole = np.all(np.isclose(grades, np.round(grades)))
    if whole and float(low).is_integer() and float(high).is_integer():
        return [float(v) for v in np.arange(low, high + 1)]
    return [float(v) for v in np.unique(grades)]


def _ordinal(frame: pd.DataFrame, models: list[str], grade_range, level: float = 0.95):
    m_code = pd.Categorical(frame["model"], categories=models).codes
    M = len(models)
    D = np.zeros((len(frame), M - 1))
    rows = np.flatnonzero(m_code > 0)
    D[rows, m_code[rows] - 1] = 1.0
    X = np.column_stack([D, frame["x"].to_numpy()])
    levels = _ordinal_levels(frame["grade"].to_numpy(), grade_range)
    names = [f"model[{m}]" for m in models[1:]] + ["log_length"]
    fit: OrdinalFit = fit_ordinal(
        X, frame["grade"].to_numpy(), cluster=frame["prompt"].to_numpy(), names=names, levels=levels
    )
    X0 = np.zeros((M, X.shape[1]))
    X0[np.arange(1, M), np.arange(M - 1)] = 1.0
    values = np.asarray(levels)
    est = np.full(M, np.nan)
    se = np.full(M, np.nan)
    notes = np.array([""] * M, dtype=object)
    if fit.cov.size:
        proba, jac = fit.predict_proba(X0, jacobian=True)
        est = proba @ values
        grad = np.einsum("mkp,k->mp", jac, values)
        se = np.sqrt(np.einsum("mp,pq,mq->m", grad, fit.cov, grad))
    for m in range(M):
        reason = fit.problems.get(names[m - 1]) if m > 0 else None
        reason = reason or fit.problems.get("fit")
        if reason:
            notes[m] = reason
            se[m] = np.nan
    if not fit.usable:
        se[:] = np.nan
    table = fit.table(level)
    row = table[table["term"] == "log_length"].iloc[0]
    slope = _slope_row(row["estimate"], row["std_error"], fit.n_clusters - 1, level, row["note"])
    if "levels" in fit.problems:
        slope["note"] = (slope["note"] + " " + fit.problems["levels"]).str.strip()
    return est, se, slope, fit, notes


# ------------------------------------------------------------------------- paired grades
def _paired_frame(judgments, length: str) -> pd.DataFrame:
    g = grade_frame(judgments, length=length)
    a = g[g["side"] == "a"]
    b = g.loc[g["side"] == "b", ["call", "model", "grade", "length"]]
    both = a.merge(b, on="call", suffixes=("_a", "_b"), how="inner")
    return both.rename(columns={"model_b": "model_b", "model_a": "model_a"})


def paired_grade_totals(judgments) -> pd.DataFrame:
    """Total and mean grades of each side of each pair of models (as the Vicuna blog's table).

    Only calls where both answers have a grade count.

    Returns
    -------
    pandas.DataFrame
        ``judge, model_a, model_b, n, total_a, total_b, mean_a, mean_b, ratio`` (``ratio`` =
        total_b / total_a, in percent).
    """
    both = _paired_frame(judgments, "characters")
    out = (
        both.groupby(["judge", "model_a", "model_b"], sort=False)
        .agg(n=("grade_a", "size"), total_a=("grade_a", "sum"), total_b=("grade_b", "sum"))
        .reset_index()
    )
    out["mean_a"] = out["total_a"] / out["n"]
    out["mean_b"] = out["total_b"] / out["n"]
    out["ratio"] = 100 * out["total_b"] / out["total_a"]
    return out


def paired_grade_difference(
    judgments, *, length: str = "characters", level: float = 0.95
) -> pd.DataFrame:
    """Mean grade difference (A minus B) per pair of models, raw and at equal length.

    ``grade_a - grade_b = delta + slope * (log(1 + len_a) - log(1 + len_b))``; ``delta`` is
    the difference when both answers have the same length. Intervals are robust with prompts
    as clusters (Student's t, prompts - 1 degrees of freedom).

    Returns
    -------
    pandas.DataFrame
        ``judge, model_a, model_b, n, difference, difference_ci_low, difference_ci_high,
        controlled_difference, controlled_difference_se, controlled_difference_ci_low,
        controlled_difference_ci_high, slope, slope_se, note``.
    """
    both = _paired_frame(judgments, length)
    rows = []
    for (judge, a, b), g in both.groupby(["judge", "model_a", "model_b"], sort=False):
        d = (g["grade_a"] - g["grade_b"]).to_numpy()
        zlen = (np.log1p(g["length_a"]) - np.log1p(g["length_b"])).to_numpy()
        clusters = pd.factorize(g["prompt"])[0]
        G = clusters.max() + 1
        t = critical_value(level, df=G - 1) if G > 1 else np.nan
        mean = float(d.mean())
        infl = np.bincount(clusters, weights=(d - mean) / len(d))
        se_raw = float(np.sqrt(np.sum(infl**2) * cluster_factor(G)))
        se_raw = se_raw if se_raw > 1e-12 else np.nan
        X = np.column_stack([np.ones(len(d)), zlen])
        note = ""
        if G < 3 or np.linalg.matrix_rank(X) < 2:
            coef, se_c = np.array([np.nan, np.nan]), np.array([np.nan, np.nan])
            note = "fewer than 3 prompts or lengths that do not vary: no controlled difference"
        else:
            inv = np.linalg.inv(X.T @ X)
            coef = inv @ X.T @ d
            resid = d - X @ coef
            s = np.stack([np.bincount(clusters, weights=X[:, j] * resid) for j in range(2)], 1)
            cov = inv @ (s.T @ s) @ inv * cluster_factor(G)
            se_c = np.sqrt(np.diag(cov))
            se_c = np.where(se_c > 1e-12, se_c, np.nan)
        rows.append(
            (
                judge, a, b, len(d), mean, mean - t * se_raw, mean + t * se_raw,
                coef[0], se_c[0], coef[0] - t * se_c[0], coef[0] + t * se_c[0],
                coef[1], se_c[1], note,
            )
        )  # fmt: skip
    columns = [
        "judge", "model_a", "model_b", "n", "difference", "difference_ci_low",
        "difference_ci_high", "controlled_difference", "controlled_difference_se",
        "controlled_difference_ci_low", "controlled_difference_ci_high", "slope", "slope_se", "note",
    ]  # fmt: skip
    return pd.DataFrame(rows, columns=columns)
