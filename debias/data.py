"""The canonical table of pairwise judgments: :class:`Comparisons`.

One row is one judgment of one instruction: the judge compared ``output_model``
(from ``model``) with ``output_baseline`` (from ``baseline``) and said how
likely the model's answer is the better one. ``preference`` is a probability
in [0, 1] (1 = model preferred, 0 = baseline preferred, 0.5 = tie); NaN means
the judge gave no usable verdict: the row is kept and counted but not fitted.

Columns
-------
instruction : str
    The instruction text. Instruction difficulty is joined on it, never on row position.
model, baseline : str
    Who wrote ``output_model`` and ``output_baseline``.
output_model, output_baseline : str
    The two answers (missing answers become empty strings, with a warning).
preference : float
    P(model preferred) in [0, 1], NaN for no verdict.
judge : str
    The annotator's name.
dataset : str
    Optional sub-collection name (AlpacaEval's ``dataset``), NA when unknown.
position : int
    Row position of the judgment in its source (per model); kept only so the
    reference's positional joins can be reproduced.

``instruction`` and ``output_baseline`` repeat on every model's rows; they are stored
once per distinct text, as pandas Categorical of strings: ``==`` against text, ``.str``,
``isin``, ``pd.unique`` and ``groupby`` behave as for strings; for string arithmetic
(``+``, ``*``) or assigning new texts, convert first with ``.astype(str)``.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from debias.errors import DataWarning, InputError, row_list

COLUMNS: tuple[str, ...] = (
    "instruction",
    "model",
    "baseline",
    "output_model",
    "output_baseline",
    "preference",
    "judge",
    "dataset",
    "position",
)
REQUIRED: tuple[str, ...] = ("instruction", "model", "baseline", "preference")
_TEXT = ("instruction", "model", "baseline", "judge")
# Text repeated across rows (each instruction once per model, the baseline's answer once per
# model): stored once, as pandas Categorical (string semantics: ``==`` against text, ``.str``,
# ``isin``, ``pd.unique``). Short names (model, baseline, judge) stay plain strings: comparing
# two Categorical columns with different categories (``model != baseline``) is an error.
_REPEATED = ("instruction", "output_baseline")


@dataclass(frozen=True)
class Comparisons:
    """Validated pairwise judgments, one row per (judge, model, baseline, instruction).

    Build it with :meth:`from_dataframe` or a reader in :mod:`debias.io`; the
    constructor expects an already-canonical frame and is not meant for users.

    Attributes
    ----------
    data : pandas.DataFrame
        The canonical table (see the module docstring for its columns). Treat it
        as read-only; methods return new objects.
    source : str
        Where the data came from (a path or ``"DataFrame"``); used in messages.
    n_missing_outputs : int
        How many missing (None/NaN) outputs were read as empty text.
    instruction_order : tuple of str, optional
        The evaluation set's canonical instruction order (AlpacaEval: the
        baseline's ``model_outputs.json``), used to read difficulty files keyed by
        position (``index,instruction_difficulty``). ``None`` when unknown.

    Examples
    --------
    >>> import pandas as pd
    >>> from debias import Comparisons
    >>> df = pd.DataFrame({"instruction": ["a", "b"], "model": "m", "baseline": "b",
    ...                    "preference": [1.0, 0.5]})
    >>> comps = Comparisons.from_dataframe(df)
    >>> comps.win_rates()[["model", "n", "win_rate"]]
      model  n  win_rate
    0     m  2      75.0
    """

    data: pd.DataFrame
    source: str = "DataFrame"
    n_missing_outputs: int = field(default=0)
    instruction_order: tuple[str, ...] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "data", _repeated_text_once(self.data))

    # ------------------------------------------------------------------ building
    @classmethod
    def from_dataframe(
        cls,
        df: pd.DataFrame,
        mapping: Mapping[str, str] | None = None,
        *,
        judge: str | None = None,
        baseline: str | None = None,
        preference_scale: str = "probability",
        source: str = "DataFrame",
    ) -> Comparisons:
        """Validate a DataFrame of judgments and return :class:`Comparisons`.

        The caller's frame is never modified.

        Parameters
        ----------
        df : pandas.DataFrame
            One row per judgment.
        mapping : dict, optional
            ``{canonical column: your column}``, e.g. ``{"instruction": "prompt",
            "output_model": "response_a"}``, or the other way round, ``{your column:
            canonical column}`` (as the CLI's ``--map COL=FIELD``): when every key is
            a canonical name the first reading is used, else when every value is,
            the second. Unmapped canonical columns are looked up under their own names.
        judge, baseline : str, optional
            Fill ``judge`` / ``baseline`` when the frame has no such column.
        preference_scale : {"probability", "alpaca_eval"}
            ``"probability"``: P(model preferred) in [0, 1]. ``"alpaca_eval"``:
            AlpacaEval's 1..2 scale (1 = baseline, 2 = model, 1.5 tie, legacy 0 = tie),
            converted with ``preference - 1``; a table of only 0 and 1 on this
            scale is refused (those are 0/1 labels: use ``"probability"``). On either
            scale the verdict words ``model`` / ``baseline`` / ``tie`` (any case)
            mean 1 / 0 / 0.5; booleans are refused (ambiguous).
        source : str
            Name used in error messages (a file path, say).

        Returns
        -------
        Comparisons

        Raises
        ------
        InputError
            Missing columns, preferences out of range (rows named), duplicated
            (judge, model, baseline, instruction) rows (named).

        Examples
        --------
        >>> import pandas as pd
        >>> df = pd.DataFrame({"prompt": ["x"], "model": ["m"], "pref": [2.0]})
        >>> c = Comparisons.from_dataframe(df, {"instruction": "prompt", "preference": "pref"},
        ...                                baseline="gpt4", preference_scale="alpaca_eval")
        >>> float(c.data.preference.iloc[0])
        1.0
        """
        if not isinstance(df, pd.DataFrame):
            raise InputError(f"{source}: expected a pandas DataFrame, got {type(df).__name__}.")
        mapping = _canonical_mapping(mapping, source)
        out = pd.DataFrame(index=pd.RangeIndex(len(df)))
        for col in COLUMNS:
            src = mapping.get(col, col)
            if src in df.columns:
                out[col] = df[src].to_numpy(copy=True)
            elif col in mapping:
                raise InputError(
                    f"{source}: mapping says {col!r} is in column {src!r}, but there is no such "
                    f"column. Columns present: {list(df.columns)}."
                )
        if "judge" not in out and judge is not None:
            out["judge"] = judge
        if "baseline" not in out and baseline is not None:
            out["baseline"] = baseline
        if "judge" not in out:
            out["judge"] = "unknown"
        missing = [c for c in REQUIRED if c not in out]
        if missing:
            hint = (
                " Pass baseline=... if every row has the same baseline."
                if "baseline" in missing
                else ""
            )
            raise InputError(
                f"{source}: missing required column(s) {missing}. Columns present: "
                f"{list(df.columns)}. Map yours with mapping={{'instruction': 'your_column', ...}}.{hint}"
            )
        return cls._validated(out, preference_scale=preference_scale, source=source)

    @classmethod
    def _validated(cls, out: pd.DataFrame, *, preference_scale: str, source: str) -> Comparisons:
        for col in (*_TEXT, "output_model", "output_baseline"):
            if col in out and out[col].dtype == object:
                _refuse_nested(out[col], col, source)
        for col in _TEXT:
            bad = out[col].isna()
            if bad.any():
                raise InputError(
                    f"{source}: column {col!r} is empty in row(s) {row_list(out.index[bad])}; "
                    f"every judgment needs an {col}."
                )
            out[col] = out[col].astype(str)
        n_missing_outputs = 0
        for col in ("output_model", "output_baseline"):
            if col not in out:
                out[col] = ""
                continue
            bad = out[col].isna()
            n_missing_outputs += int(bad.sum())
            out[col] = out[col].where(~bad, "").astype(str)
        if n_missing_outputs:
            warnings.warn(
                f"{source}: {n_missing_outputs} missing output(s) (None/NaN) were read as empty text.",
                DataWarning,
                stacklevel=3,
            )
        out["preference"] = _parse_preference(out["preference"], preference_scale, source)
        if "dataset" not in out:
            out["dataset"] = pd.NA
        if "position" not in out:
            out["position"] = out.groupby(["judge", "model", "baseline"], sort=False).cumcount()
        out["position"] = out["position"].astype(int)
        key = ["judge", "model", "baseline", "instruction"]
        dup = out.duplicated(key, keep=False)
        if dup.any():
            first = out.loc[dup, key].drop_duplicates().head(3)
            named = "; ".join(
                f"model {r.model!r} on instruction {r.instruction[:60]!r}"
                for r in first.itertuples()
            )
            raise InputError(
                f"{source}: {int(dup.sum())} rows judge the same (model, instruction) more than "
                f"once (rows {row_list(out.index[dup])}): {named}. Keep one judgment per "
                "instruction, or average repeated judgments before building Comparisons."
            )
        n_nan = int(out["preference"].isna().sum())
        if n_nan:
            warnings.warn(
                f"{source}: {n_nan} judgment(s) have no preference (NaN); they are kept, "
                "counted in n_missing and left out of the fit (the reference-compatible "
                "procedure, as alpaca-eval does, still counts them in its length scale and "
                "average).",
                DataWarning,
                stacklevel=3,
            )
        return cls(out[list(COLUMNS)].reset_index(drop=True), source, n_missing_outputs)

    @classmethod
    def concat(cls, parts: Iterable[Comparisons], source: str | None = None) -> Comparisons:
        """Stack several :class:`Comparisons` (re-validated as a whole).

        Examples
        --------
        >>> import pandas as pd
        >>> a = Comparisons.from_dataframe(pd.DataFrame(
        ...     {"instruction": ["x"], "model": "m1", "baseline": "b", "preference": [1.0]}))
        >>> b = Comparisons.from_dataframe(pd.DataFrame(
        ...     {"instruction": ["x"], "model": "m2", "baseline": "b", "preference": [0.0]}))
        >>> Comparisons.concat([a, b]).models
        ['m1', 'm2']
        """
        parts = list(parts)
        if not parts:
            raise InputError("Comparisons.concat needs at least one Comparisons object.")
        src = source or ", ".join(dict.fromkeys(p.source for p in parts))
        frame = pd.concat([p.data for p in parts], ignore_index=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DataWarning)
            out = cls._validated(frame, preference_scale="probability", source=src)
        order = next((p.instruction_order for p in parts if p.instruction_order), None)
        return cls(out.data, src, sum(p.n_missing_outputs for p in parts), order)

    # ------------------------------------------------------------------ views
    def __len__(self) -> int:
        return len(self.data)

    def __repr__(self) -> str:
        return (
            f"Comparisons({len(self)} judgments, {len(self.models)} models, "
            f"baselines={self.baselines}, judges={self.judges}, source={self.source!r})"
        )

    @property
    def models(self) -> list[str]:
        """Model names in order of first appearance."""
        return _in_order(self.data["model"])

    @property
    def baselines(self) -> list[str]:
        """Baseline names in order of first appearance."""
        return _in_order(self.data["baseline"])

    @property
    def judges(self) -> list[str]:
        """Judge names in order of first appearance."""
        return _in_order(self.data["judge"])

    @property
    def n_missing(self) -> int:
        """Number of judgments without a usable preference (NaN)."""
        return int(self.data["preference"].isna().sum())

    def with_instruction_order(self, order: Iterable[str] | None) -> Comparisons:
        """Return a copy that knows the evaluation set's canonical instruction order."""
        order = tuple(order) if order is not None else None
        return Comparisons(self.data, self.source, self.n_missing_outputs, order)

    def fit_rows(self) -> pd.DataFrame:
        """The rows that enter fits: those with a preference (a copy)."""
        return self.data[self.data["preference"].notna()].reset_index(drop=True)

    def select(
        self,
        *,
        models: str | Iterable[str] | None = None,
        judge: str | None = None,
        exclude: str | Iterable[str] | None = None,
        baseline: str | None = None,
    ) -> Comparisons:
        """Keep some models (or all but ``exclude``), one judge and/or one baseline.

        A plain string is one name, not a list of characters.

        Raises
        ------
        InputError
            A named model, judge or baseline is not present (close matches or the
            present ones are listed), or nothing is left.

        Examples
        --------
        >>> import pandas as pd
        >>> df = pd.DataFrame({"instruction": ["x", "x"], "model": ["model_0", "model_1"],
        ...                    "baseline": "b", "preference": [1.0, 0.0]})
        >>> Comparisons.from_dataframe(df).select(models="model_0").models
        ['model_0']
        """
        mask = np.ones(len(self.data), dtype=bool)
        for col, wanted, present, drop in (
            ("judge", judge, self.judges, False),
            ("baseline", baseline, self.baselines, False),
            ("model", models, self.models, False),
            ("model", exclude, self.models, True),
        ):
            if wanted is None:
                continue
            names = [wanted] if isinstance(wanted, str) else [str(w) for w in wanted]
            unknown = [w for w in names if w not in present]
            if unknown:
                keyword = "exclude" if drop else {"model": "models"}.get(col, col)
                raise InputError(
                    f"{self.source}: {keyword}= names {col}(s) {unknown} not in the data"
                    f"{_close_matches(unknown, present, col + 's')}"
                )
            inside = self.data[col].isin(names).to_numpy()
            mask &= ~inside if drop else inside
        if not mask.any():
            raise InputError(f"{self.source}: no judgments left after the selection.")
        return Comparisons(
            self.data[mask].reset_index(drop=True),
            self.source,
            self.n_missing_outputs,
            self.instruction_order,
        )

    def by_judge(self) -> Iterator[tuple[str, Comparisons]]:
        """Iterate over ``(judge, Comparisons of that judge)``."""
        for j in self.judges:
            yield j, self.select(judge=j)

    def require_fixed_baseline(self) -> str:
        """Check there is one judge and one baseline; return the baseline's name.

        Raises
        ------
        InputError
            Several judges (group with :meth:`by_judge` or pass ``judge=``) or
            several baselines (a fixed-baseline job needs one).
        """
        if len(self.judges) > 1:
            raise InputError(
                f"{self.source}: judgments from several judges {self.judges} are mixed. A judge's "
                "biases are its own: choose one (judge=... / --judge) or loop over "
                "Comparisons.by_judge()."
            )
        if len(self.baselines) > 1:
            raise InputError(
                f"{self.source}: a fixed-baseline job needs one baseline, found {self.baselines}. "
                "Select the rows of one baseline first."
            )
        return self.baselines[0]

    def win_rates(self) -> pd.DataFrame:
        """Raw win rates per (judge, model), in percent.

        Returns
        -------
        pandas.DataFrame
            Columns ``judge, model, baseline, n, n_missing, win_rate, win_rate_se,
            avg_length``: ``win_rate`` = 100 × mean P(model preferred) over rows with a
            preference; ``win_rate_se`` = 100 × its standard error of the mean
            (AlpacaEval's definition; NaN below 2 judgments); ``avg_length`` = mean characters of the model's
            outputs.
        """
        d = self.data.assign(_len=self.data["output_model"].str.len())
        g = d.groupby(["judge", "model", "baseline"], sort=False)
        out = g.agg(
            n=("preference", "count"),
            n_missing=("preference", lambda s: int(s.isna().sum())),
            win_rate=("preference", "mean"),
            win_rate_se=("preference", "sem"),
            avg_length=("_len", "mean"),
        ).reset_index()
        out["win_rate"] *= 100
        out["win_rate_se"] = out["win_rate_se"] * 100  # NaN below 2 judgments
        return out


def _close_matches(unknown: list[str], present: list[str], what: str) -> str:
    """ "; 'x': did you mean 'y'?" or "; models present: a, b" (for one-line messages)."""
    import difflib

    hints = [
        f"{name!r}: did you mean {', '.join(map(repr, near))}?"
        for name in unknown
        if (near := difflib.get_close_matches(name, present, n=3, cutoff=0.6))
    ]
    if hints:
        return "; " + " ".join(hints)
    more = f" and {len(present) - 10} more" if len(present) > 10 else ""
    return f"; {what} present: {', '.join(present[:10])}{more}."


def _repeated_text_once(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with each repeated text column as a Categorical of the values present.

    Categories are sorted, so equal contents give equal frames however they were built.
    """
    stored = {}
    for col in _REPEATED:
        if col not in frame:
            continue
        column = frame[col]
        if isinstance(column.dtype, pd.CategoricalDtype):
            stored[col] = column.cat.remove_unused_categories()
        else:
            stored[col] = column.astype("category")
    return frame.assign(**stored)


def _in_order(column: pd.Series) -> list[str]:
    """Distinct values in order of first appearance (fast on Arrow-backed strings)."""
    return [str(v) for v in pd.unique(column)]


def _canonical_mapping(mapping: Mapping[str, str] | None, source: str) -> dict[str, str]:
    """``{canonical: yours}`` from either ``{canonical: yours}`` or ``{yours: canonical}``."""
    mapping = dict(mapping or {})
    if set(mapping) <= set(COLUMNS):
        return mapping
    if set(mapping.values()) <= set(COLUMNS):
        inverse: dict[str, str] = {}
        for yours, canonical in mapping.items():
            if canonical in inverse:
                raise InputError(
                    f"{source}: mapping sends both {inverse[canonical]!r} and {yours!r} to "
                    f"{canonical!r}; map one column to each field."
                )
            inverse[canonical] = yours
        return inverse
    unknown = sorted(set(mapping) - set(COLUMNS))
    raise InputError(
        f"{source}: mapping {unknown} names no canonical field; the fields are {list(COLUMNS)} "
        "(mapping={'your_column': 'instruction', ...})."
    )


def _refuse_nested(column: pd.Series, name: str, source: str) -> None:
    """Objects, arrays and booleans are not text: refuse rather than stringify them."""
    kinds = set(map(type, column))
    if kinds <= {str, float, int, type(None)}:
        return
    bad = column.map(lambda v: isinstance(v, (dict, list, tuple, set, np.ndarray, bool, np.bool_)))
    if bad.any():
        example = column[bad].iloc[0]
        raise InputError(
            f"{source}: column {name!r} holds a {type(example).__name__} in row(s) "
            f"{row_list(column.index[bad])} (e.g. {str(example)[:40]!r}); it must be text."
        )


_VERDICTS = {"model": 1.0, "baseline": 0.0, "tie": 0.5}


def _parse_preference(raw: pd.Series, scale: str, source: str) -> pd.Series:
    """Convert preferences to P(model preferred) and check the range."""
    if scale not in ("probability", "alpaca_eval"):
        raise InputError(
            f"The 'preference_scale' parameter must be 'probability' or 'alpaca_eval'. "
            f"Got {scale!r} instead."
        )
    if raw.dtype == bool or (
        raw.dtype == object and raw.map(lambda v: isinstance(v, (bool, np.bool_))).any()
    ):
        bad = raw.map(lambda v: isinstance(v, (bool, np.bool_)))
        raise InputError(
            f"{source}: preference is a boolean in row(s) {row_list(raw.index[bad])}; booleans "
            "are ambiguous (True = model or baseline?): write 1/0/0.5 or model/baseline/tie."
        )
    words = pd.Series(np.nan, index=raw.index)
    if raw.dtype == object or pd.api.types.is_string_dtype(raw):
        lowered = raw.map(lambda v: v.strip().lower() if isinstance(v, str) else v)
        words = lowered.map(_VERDICTS).astype(float)
        raw = raw.where(words.isna())
    values = pd.to_numeric(raw, errors="coerce")
    unparsable = values.isna() & raw.notna() & (raw.astype(str).str.strip() != "")
    if unparsable.any():
        bad = raw[unparsable]
        raise InputError(
            f"{source}: preference is not a number in row(s) {row_list(bad.index)} "
            f"(e.g. {bad.iloc[0]!r}). Preferences must be numeric."
        )
    values = values.astype(float)
    if scale == "alpaca_eval":
        zeros = values == 0
        if zeros.any() and not (values > 1 + 1e-9).any():
            raise InputError(
                f"{source}: preferences are only 0 and 1 (e.g. row {values.index[zeros][0]}) on "
                "AlpacaEval's 1..2 scale, where 0 is a legacy tie and 1 a loss: these look like "
                "0/1 labels; pass preference_scale='probability' (1 = model preferred)."
            )
        values = values.where(~zeros, 1.5) - 1.0
        lo, hi, shown = 0.0, 1.0, "[1, 2] (AlpacaEval scale; 0 = legacy tie)"
    else:
        lo, hi, shown = 0.0, 1.0, "[0, 1]"
    tol = 1e-9
    bad = values.notna() & ((values < lo - tol) | (values > hi + tol))
    if bad.any():
        offset = 1.0 if scale == "alpaca_eval" else 0.0
        example = values[bad].iloc[0] + offset
        raise InputError(
            f"{source}: preference out of range {shown} in row(s) {row_list(values.index[bad])} "
            f"(e.g. {example!r}). Check the preference scale (preference_scale='alpaca_eval' for "
            "1..2) or fix those rows; out-of-range values would act as negative weights."
        )
    values = values.clip(lo, hi)
    return values.where(words.isna(), words)
