"""The reference's exact stage-2 procedure (AlpacaEval 0.6.6), for reproducing published numbers.

Per model, AlpacaEval fits ``LogisticRegressionCV`` with an L1 penalty (liblinear,
no intercept, ``random_state=123``), the C grid ``logspace(-4, 4, 10)`` and 5-fold
``GroupKFold`` over the original rows, scored by a weighted soft-label log loss.
Soft labels are expanded by duplicating every row: a copy with label 1 and weight
``p * w`` followed by a copy with label 0 and weight ``(1 - p) * w``. The rows are,
in order, the regularisation rows (the baseline's variants, weight λ/2 each) and
then the model's own rows. The columns are the reference's: length with its
sign (baseline − model), then the other terms, then the strength.

The cross-validated C sits on a flat curve, so it depends on how ``GroupKFold``
assigns rows to folds, which changed under the reference's feet:
:func:`group_kfold` implements both assignments here, independently of the
scikit-learn installed (``folds=`` of :func:`fit_alpaca_eval`):

- ``"current"``: scikit-learn ≥ 1.9 (a stable sort): what ``pip install
  alpaca-eval==0.6.6`` runs today;
- ``"sklearn-1.4"``: the 2024 stack that made the published leaderboard
  (scikit-learn 1.4 with numpy 1.26, whose unstable ``argsort`` ordered the
  equal-sized groups; numpy's portable introsort is reproduced here).

Rows without a preference (NaN) stay in the model's length SD and in its LC
average, as in the reference; only the fit leaves them out.

Without the reference's two frozen inputs, the instruction difficulty and the
baseline's gamed variants (its hub files ``instruction_difficulty.csv`` and
``df_gamed.csv``), the procedure is the reference's but the numbers are not:
:func:`warn_unless_reference_inputs` says so (a :class:`~debias.errors.FitWarning`)
and :func:`reference_inputs` fetches the two files (cached) when online.

Files the reference would misread are refused or read differently, on purpose:
out-of-range preferences (the reference turns them into negative weights) are an
error of debias's readers, and a missing output (``None``, where the reference
crashes once it regularises) is read as empty text with a warning.

Differences from the reference, none of which changes a number: the current
scikit-learn spelling (``l1_ratios=(1,)`` instead of ``penalty="l1"`` from 1.8 on),
metadata routing switched on only inside the call (the reference switches it on
globally), and no files written.
"""

from __future__ import annotations

import os
import tempfile
import time
import urllib.error
import urllib.request
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import sklearn
from sklearn.linear_model import LogisticRegressionCV
from sklearn.metrics import make_scorer

from debias.errors import FitWarning, InputError, ParameterError, check_param
from debias.model.formula import DIFFICULTY, STRENGTH

_SKLEARN_18 = tuple(int(p) for p in sklearn.__version__.split(".")[:2]) >= (1, 8)


def _soft_log_loss(y_true, y_pred, true_prob, true_sample_weight=None):
    """The reference's CV score: weighted log loss against the continuous target."""
    target = np.where(y_true == 1, true_prob, 1 - true_prob)
    y_pred = np.clip(y_pred, 1e-15, 1 - 1e-15)
    loss = target * np.log(y_pred) + (1 - target) * np.log(1 - y_pred)
    if true_sample_weight is not None:
        loss = loss * true_sample_weight
    return -np.mean(loss)


FOLD_ASSIGNMENTS = ("sklearn-1.4", "current")
DEFAULT_FOLDS = "sklearn-1.4"  # the stack of the published numbers (see PreferenceGLM)
#: Where alpaca-eval 0.6.6's ``hf_hub_download(repo_id="tatsu-lab/alpaca_eval",
#: repo_type="dataset", filename=...)`` fetches its two frozen inputs (revision main).
HUB_BASE_URL = "https://huggingface.co/datasets/tatsu-lab/alpaca_eval/resolve/main"
REFERENCE_FILES = {"difficulty": "instruction_difficulty.csv", "regularize": "df_gamed.csv"}
_REFERENCE_COLUMNS = {
    "difficulty": {"instruction_difficulty"},
    "regularize": {"index", "preference", "std_delta_len", "instruction_difficulty", "model"},
}
_HOW_TO_REPRODUCE = (
    "To reproduce it pass difficulty=<instruction_difficulty.csv> and regularize=<df_gamed.csv>: "
    f"the reference's hub files ({HUB_BASE_URL}/...), which "
    "leaderboard(..., reference_inputs='download') fetches and caches, or an AlpacaEval data "
    "pack's derived/instruction_difficulty.csv and derived/df_gamed_surrogate.csv."
)
_SMALL_QUICKSORT = 15  # numpy 1.x npysort/quicksort.cpp: partitions longer than this


def _heap_argsort(v: list, a: list, start: int, n: int) -> None:
    """numpy 1.x ``aheapsort_`` on ``a[start:start + n]``, in place (the introsort fallback)."""
    off = start - 1  # 1-based heap indexing
    for top in range(n >> 1, 0, -1):
        _sift(v, a, off, top, n, a[off + top])
    while n > 1:
        tmp = a[off + n]
        a[off + n] = a[off + 1]
        n -= 1
        _sift(v, a, off, 1, n, tmp)


def _sift(v: list, a: list, off: int, i: int, n: int, tmp: int) -> None:
    j = i << 1
    while j <= n:
        if j < n and v[a[off + j]] < v[a[off + j + 1]]:
            j += 1
        if not v[tmp] < v[a[off + j]]:
            break
        a[off + i] = a[off + j]
        i, j = j, j + j
    a[off + i] = tmp


def numpy1_argsort(values) -> np.ndarray:
    """``np.argsort(values)`` exactly as numpy 1.x's portable introsort orders ties.

    numpy's default ``kind="quicksort"`` is not stable: equal values come out in an
    order fixed by the algorithm. numpy 1.26 used this introsort (median-of-3
    quicksort, insertion sort below 16 elements, heapsort past depth 2·log2 n) on
    every CPU without AVX-512; scikit-learn < 1.9 sorted GroupKFold's group sizes
    with it. A line-by-line port of ``aquicksort_``/``aheapsort_`` of numpy 1.26's
    ``npysort`` (BSD-3-Clause), checked against numpy 1.26.4 in the tests.

    Examples
    --------
    >>> numpy1_argsort([2] * 17).tolist()
    [0, 14, 13, 12, 11, 10, 9, 15, 8, 6, 5, 4, 3, 2, 1, 7, 16]
    >>> numpy1_argsort([3, 1, 2]).tolist()
    [1, 2, 0]
    """
    v = np.asarray(values).tolist()
    a = list(range(len(v)))
    stack: list[tuple[int, int, int]] = []
    pl, pr = 0, len(v) - 1
    depth = 2 * (max(len(v), 1).bit_length() - 1)
    while True:
        if depth < 0:
            _heap_argsort(v, a, pl, pr - pl + 1)
        else:
            while pr - pl > _SMALL_QUICKSORT:
                pm = pl + ((pr - pl) >> 1)
                if v[a[pm]] < v[a[pl]]:
                    a[pm], a[pl] = a[pl], a[pm]
                if v[a[pr]] < v[a[pm]]:
                    a[pr], a[pm] = a[pm], a[pr]
                if v[a[pm]] < v[a[pl]]:
                    a[pm], a[pl] = a[pl], a[pm]
                pivot = v[a[pm]]
                pi, pj = pl, pr - 1
                a[pm], a[pj] = a[pj], a[pm]
                while True:
                    pi += 1
                    while v[a[pi]] < pivot:
                        pi += 1
                    pj -= 1
                    while pivot < v[a[pj]]:
                        pj -= 1
                    if pi >= pj:
                        break
                    a[pi], a[pj] = a[pj], a[pi]
                a[pi], a[pr - 1] = a[pr - 1], a[pi]
                depth -= 1
                if pi - pl < pr - pi:  # keep the larger part for later
                    stack.append((pi + 1, pr, depth))
                    pr = pi - 1
                else:
                    stack.append((pl, pi - 1, depth))
                    pl = pi + 1
            for pi in range(pl + 1, pr + 1):  # insertion sort of the short part
                vi, pj = a[pi], pi
                while pj > pl and v[vi] < v[a[pj - 1]]:
                    a[pj] = a[pj - 1]
                    pj -= 1
                a[pj] = vi
        if not stack:
            return np.array(a, dtype=np.intp)
        pl, pr, depth = stack.pop()


def group_kfold(groups, n_splits: int = 5, assignment: str = "current") -> list:
    """``GroupKFold(n_splits).split(X, y, groups)`` as a given scikit-learn assigns folds.

    GroupKFold hands the groups, largest first, each to the currently lightest fold
    (ties: the lowest fold). Groups of equal size (all of them, in the reference:
    every row is one group of its two soft-label copies) are taken in the order of
    ``argsort(sizes)[::-1]``, which is where versions differ.

    Parameters
    ----------
    groups : array-like
        Group label of each sample.
    n_splits : int
        Number of folds.
    assignment : {"current", "sklearn-1.4"}
        ``"current"``: scikit-learn ≥ 1.9 (stable sort; for equal sizes the last
        group goes to fold 0, the one before to fold 1, ...). ``"sklearn-1.4"``:
        scikit-learn 1.4–1.8 with numpy 1.x's portable introsort
        (:func:`numpy1_argsort`), the stack of the published AlpacaEval 2.0 numbers.

    Returns
    -------
    list of (ndarray, ndarray)
        ``(train_indices, test_indices)`` per fold, as ``split`` yields them.

    Examples
    --------
    >>> [test.tolist() for _, test in group_kfold([0, 0, 1, 2, 3], n_splits=2)]
    [[0, 1, 2], [3, 4]]
    """
    check_param(
        "compat_folds",
        assignment,
        f"one of {FOLD_ASSIGNMENTS}",
        assignment in FOLD_ASSIGNMENTS,
    )
    _, codes = np.unique(np.asarray(groups), return_inverse=True)
    codes = codes.ravel()
    sizes = np.bincount(codes)
    if n_splits > len(sizes):
        raise ParameterError(
            f"Cannot cross-validate with {n_splits} folds: only {len(sizes)} groups."
        )
    if assignment == "current":
        order = np.argsort(sizes, kind="stable")[::-1]
    else:
        order = numpy1_argsort(sizes)[::-1]
    load = np.zeros(n_splits)
    group_fold = np.zeros(len(sizes), dtype=np.intp)
    for g in order:
        lightest = int(np.argmin(load))
        load[lightest] += sizes[g]
        group_fold[g] = lightest
    fold = group_fold[codes]
    return [(np.flatnonzero(fold != f), np.flatnonzero(fold == f)) for f in range(n_splits)]


def reference_layout(columns: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Column order and signs of the reference's design for debias's ``columns``.

    Returns ``(order, sign)``: the reference's matrix is ``X[:, order] * sign``.
    Mediator terms come first with the reference's sign (baseline − model), then
    ``difficulty``, then the strength (its ``not_gamed_baseline``).
    """
    mediators = [j for j, c in enumerate(columns) if c not in (STRENGTH, DIFFICULTY)]
    rest = [j for j, c in enumerate(columns) if c == DIFFICULTY]
    order = np.array(mediators + rest + [columns.index(STRENGTH)])
    sign = np.array([-1.0] * len(mediators) + [1.0] * (len(rest) + 1))
    return order, sign


def fit_alpaca_eval(
    X: np.ndarray,
    y: np.ndarray,
    w: np.ndarray,
    *,
    columns: list[str],
    n_regularization: int = 0,
    n_splits: int = 5,
    folds: str = DEFAULT_FOLDS,
) -> np.ndarray:
    """Fit one model exactly as AlpacaEval 0.6.6 does; coefficients in debias's layout.

    Parameters
    ----------
    X, y, w : ndarray
        The model's rows, with its regularisation rows **first** (``n_regularization``
        of them), as the reference concatenates them.
    columns : list of str
        debias's coefficient names (``strength`` first).
    n_splits : int
        Folds of the grouped cross-validation (5 in the reference).
    folds : {"current", "sklearn-1.4"}
        Which scikit-learn's GroupKFold fold assignment to use (:func:`group_kfold`).

    Returns
    -------
    ndarray
        Coefficients in debias's column order and sign convention.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = np.column_stack([np.ones(200), np.tanh(rng.normal(size=200))])
    >>> y = rng.random(200)
    >>> fit_alpaca_eval(X, y, np.ones(200), columns=["strength", "tanh(scaled(length))"]).shape
    (2,)
    """
    order, sign = reference_layout(columns)
    Xr = np.asarray(X, float)[:, order] * sign
    y = np.asarray(y, float)
    w = np.asarray(w, float)
    n = len(y)
    X_dup = np.vstack([Xr, Xr])
    labels = np.r_[np.ones(n), np.zeros(n)]
    true_prob = np.r_[y, 1 - y]
    true_sample_weight = np.r_[w, w]
    sample_weight = true_prob * true_sample_weight
    groups = np.r_[np.arange(n), np.arange(n)]
    kwargs = dict(
        random_state=123, dual=False, solver="liblinear", n_jobs=None, fit_intercept=False
    )
    if _SKLEARN_18:
        kwargs.update(l1_ratios=(1.0,), use_legacy_attributes=True)
    else:  # pragma: no cover - older scikit-learn
        kwargs.update(penalty="l1")
    with sklearn.config_context(enable_metadata_routing=True), warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        scorer = make_scorer(
            _soft_log_loss, response_method="predict_proba", greater_is_better=False
        ).set_score_request(true_sample_weight=True, true_prob=True)
        cv = group_kfold(groups, n_splits, folds)
        model = LogisticRegressionCV(cv=cv, scoring=scorer, **kwargs)
        model.set_fit_request(sample_weight=True)
        model.fit(
            X_dup,
            labels,
            sample_weight=sample_weight,
            true_sample_weight=true_sample_weight,
            true_prob=true_prob,
        )
    coef_ref = np.asarray(model.coef_[0], float)
    coef = np.empty_like(coef_ref)
    coef[order] = coef_ref * sign
    return coef


def warn_unless_reference_inputs(
    *, uses_difficulty: bool, difficulty, lam: float, reg_rows
) -> bool:
    """Warn (:class:`~debias.errors.FitWarning`) when a compat fit lacks the reference's inputs.

    The reference freezes two inputs it downloads: the instruction difficulty γ
    (fitted once, in 2024, on other models) and the baseline's gamed variants
    (regularisation rows). Fitted without them, the procedure is the reference's
    but the numbers are not. A warning, not an error: the procedure is still the
    right one to compare on other judges, baselines or instruction sets, where
    those files do not apply.

    Parameters
    ----------
    uses_difficulty : bool
        Whether the formula has the difficulty term.
    difficulty : Difficulty or None
        The difficulty used (``source == "fit"``: fitted on the data at hand).
    lam : float
        Regularisation weight of the preset (0: none wanted).
    reg_rows : DataFrame or None
        The regularisation rows used (None: none found).

    Returns
    -------
    bool
        True when the inputs are the reference's kind (nothing was warned).

    Examples
    --------
    >>> warn_unless_reference_inputs(uses_difficulty=False, difficulty=None, lam=0.0, reg_rows=None)
    True
    """
    missing = []
    if uses_difficulty and (difficulty is None or difficulty.source == "fit"):
        missing.append(
            "the instruction difficulty was fitted on these models (the reference uses its "
            "frozen instruction_difficulty.csv)"
        )
    if lam > 0 and reg_rows is None:
        missing.append(
            "no gamed-variant rows were found, so nothing regularises the slopes (the reference "
            "appends the baseline's verbose/concise variants of df_gamed.csv)"
        )
    if missing:
        warnings.warn(
            "solver='alpaca_eval' ran WITHOUT the reference's inputs, so the result is NOT "
            f"alpaca-eval's: {'; '.join(missing)}. {_HOW_TO_REPRODUCE}",
            FitWarning,
            stacklevel=3,
        )
    return not missing


def _fetch_to(url: str, dest: Path, *, timeout: float, cap: int) -> None:
    """GET ``url`` into ``dest`` atomically: streamed, at most ``cap`` bytes, done by ``timeout``."""
    from debias import __version__

    deadline = time.monotonic() + timeout
    request = urllib.request.Request(url, headers={"User-Agent": f"debias/{__version__}"})
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(request, timeout=timeout) as resp:
            total = 0
            while chunk := resp.read(1 << 16):
                total += len(chunk)
                if total > cap or time.monotonic() > deadline:
                    raise OSError(f"more than {cap} bytes" if total > cap else "timed out")
                out.write(chunk)
        pd.read_csv(tmp, nrows=5)  # a CSV, not an error page
        os.replace(tmp, dest)
    except (OSError, ValueError, urllib.error.URLError) as exc:
        reason = str(getattr(exc, "reason", None) or exc).strip() or type(exc).__name__
        raise InputError(
            f"could not download {url} ({reason.splitlines()[0]}); offline? Pass local copies "
            "as difficulty= and regularize= (e.g. a data pack's derived/instruction_difficulty.csv "
            "and derived/df_gamed_surrogate.csv)."
        ) from None
    finally:
        Path(tmp).unlink(missing_ok=True)


def reference_inputs(
    *,
    download: bool = True,
    cache_dir: str | os.PathLike | None = None,
    base_url: str = HUB_BASE_URL,
    timeout: float = 120.0,
    max_bytes: int = 50_000_000,
) -> dict[str, Path]:
    """The reference's two frozen inputs, from the cache or (once) from its hub.

    Returns ``{"difficulty": instruction_difficulty.csv, "regularize": df_gamed.csv}``,
    the files alpaca-eval 0.6.6 downloads on every call, ready for
    ``leaderboard(difficulty=..., regularize=...)`` (or, read with
    :func:`debias.io.read_model_inputs`, for the estimator). Downloads only when asked,
    streamed into the cache with a size cap and a total deadline, checked to be a
    CSV with the expected columns, renamed into place (never half-written).

    Parameters
    ----------
    download : bool
        Fetch files missing from the cache (else: an error naming them).
    cache_dir : path, optional
        Default ``<debias cache>/reference_hub`` (``$DEBIAS_CACHE_DIR`` or
        ``~/.cache/debias``).
    base_url : str
        Where the files are (default :data:`HUB_BASE_URL`; ``file://`` URLs work).
    timeout : float
        Seconds in all per file.
    max_bytes : int
        Largest file accepted.

    Returns
    -------
    dict of str to pathlib.Path

    Raises
    ------
    InputError
        Offline, a server error, a file that is not the expected CSV, or a file
        missing from the cache with ``download=False``: one line, naming the URL
        and the local alternative.

    Examples
    --------
    >>> paths = reference_inputs()  # doctest: +SKIP
    >>> leaderboard(comps, compat="alpaca_eval", **paths)  # doctest: +SKIP
    """
    if cache_dir is None:
        from debias.io.download import default_cache_dir

        cache_dir = default_cache_dir().parent / "reference_hub"
    folder = Path(cache_dir).expanduser()
    out = {}
    for key, name in REFERENCE_FILES.items():
        path = folder / name
        if not path.is_file():
            if not download:
                raise InputError(
                    f"{path} is not cached; call reference_inputs(download=True) when online, or "
                    "pass a local copy."
                )
            _fetch_to(f"{base_url.rstrip('/')}/{name}", path, timeout=timeout, cap=max_bytes)
        columns = set(pd.read_csv(path, nrows=5).columns)
        if not _REFERENCE_COLUMNS[key] <= columns:
            raise InputError(
                f"{path} lacks the column(s) {sorted(_REFERENCE_COLUMNS[key] - columns)} of the "
                f"reference's {name}; delete it to download it again."
            )
        out[key] = path
    return out
