"""The tidy table of judge calls: :class:`Judgments`.

One row is one judge call: the judge read a prompt (id, text, turn), answer A
and, unless it graded one answer alone, answer B, and gave a verdict on its own
:class:`~debias.judgments.scale.Scale`. Answers are stored once each in an
answer table (``model, prompt, text``) and rows point at them by integer id, so a
baseline's answer is not repeated on every row. :meth:`Judgments.to_frame` and
the views give plain strings back.

Input columns (:meth:`Judgments.from_dataframe`)
-------------------------------------------------
prompt : str
    The prompt text (``prompt_id`` defaults to it).
prompt_id : str, optional
turn : int, optional
    Conversation turn judged, 1 by default.
model_a, answer_a : str
    Who wrote answer A and its text (text optional).
model_b, answer_b : str, optional
    Answer B; empty for single-answer grading.
shown_first : {"a", "b", "unknown"}, optional
verdict : the scale's values
    P(A preferred), a label, or the grade of answer A; NaN = no verdict.
verdict_b : float, optional
    The grade of answer B when a judge grades both answers of a pair.
judge : str, optional
weight : float, optional
    1 by default.
dataset : str, optional; position : int, optional
    Kept as given (AlpacaEval's sub-collection and source row).
tokens_a, tokens_b : float, optional
    Stored token counts of the answers (e.g. FastChat's ``token_len``); the
    answer table then has a ``tokens`` column (NaN = unknown).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from debias.data import Comparisons
from debias.errors import InputError, ParameterError
from debias.judgments import validate as check
from debias.judgments import views
from debias.judgments.scale import Scale
from debias.judgments.store import (
    NO_ANSWER,
    answer_table,
    prompt_table,
    quiet,
    take,
    token_counts,
)

INPUT_COLUMNS: tuple[str, ...] = (
    "prompt_id",
    "prompt",
    "turn",
    "model_a",
    "answer_a",
    "model_b",
    "answer_b",
    "shown_first",
    "verdict",
    "verdict_b",
    "judge",
    "weight",
    "dataset",
    "position",
)


@dataclass(frozen=True)
class Judgments:
    """Validated judge calls, answers stored once each.

    Build it with :meth:`from_dataframe` or :meth:`from_comparisons`.

    Attributes
    ----------
    rows : pandas.DataFrame
        One row per call: ``prompt`` (int code into ``prompts``), ``answer_a``,
        ``answer_b`` (int codes into ``answers``; -1 = none), ``shown_first``,
        ``verdict``, ``verdict_b`` (stored numbers, see :meth:`Scale.encode`),
        ``judge`` (categorical), ``weight``, ``dataset``, ``position``.
    answers : pandas.DataFrame
        One row per distinct answer: ``model``, ``prompt`` (int code), ``text``.
    prompts : pandas.DataFrame
        One row per distinct (prompt id, turn): ``prompt_id``, ``text``, ``turn``.
    scale : Scale
    source : str
    n_missing_outputs : int
        Missing answers read as empty text.
    prompt_order : tuple of str, optional
        The evaluation set's canonical prompt order when known (AlpacaEval).

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"prompt": ["2+2?", "2+2?"], "model_a": ["m", "base"],
    ...                    "answer_a": ["4", "four"], "model_b": ["base", "m"],
    ...                    "answer_b": ["four", "4"], "shown_first": ["a", "a"],
    ...                    "verdict": ["A", "B"]})
    >>> j = Judgments.from_dataframe(df, scale=Scale.win_tie_loss())
    >>> len(j), len(j.answers)
    (2, 2)
    >>> j.battles()[["model_a", "model_b", "outcome", "pair"]]
      model_a model_b  outcome  pair
    0       m    base      1.0     0
    1    base       m      0.0     0
    """

    rows: pd.DataFrame
    answers: pd.DataFrame
    prompts: pd.DataFrame
    scale: Scale
    source: str = "DataFrame"
    n_missing_outputs: int = field(default=0)
    prompt_order: tuple[str, ...] | None = field(default=None, repr=False)

    # ------------------------------------------------------------------ building
    @classmethod
    def from_dataframe(
        cls,
        df: pd.DataFrame,
        *,
        scale: Scale | None = None,
        judge: str | None = None,
        source: str = "DataFrame",
    ) -> Judgments:
        """Validate a tidy frame of judge calls (columns: see the module docstring).

        The caller's frame is never modified.

        Parameters
        ----------
        df : pandas.DataFrame
        scale : Scale, optional
            The judge's scale; :meth:`Scale.probability` by default.
        judge : str, optional
            Fills ``judge`` when the frame has no such column ("unknown" otherwise).
        source : str
            Name used in error messages.

        Raises
        ------
        InputError
            One line naming the column and rows: missing columns, empty names,
            verdicts off the scale, booleans, bad weights / turns / orders,
            one prompt id with two texts, a pairwise verdict without answer B,
            the same call twice.

        Examples
        --------
        >>> import pandas as pd
        >>> df = pd.DataFrame({"prompt": ["q"], "model_a": ["m"], "verdict": [7]})
        >>> Judgments.from_dataframe(df, scale=Scale.grade(1, 10)).scores()[["model", "grade"]]
          model  grade
        0     m    7.0
        """
        if not isinstance(df, pd.DataFrame):
            raise InputError(f"{source}: expected a pandas DataFrame, got {type(df).__name__}.")
        scale = Scale.probability() if scale is None else scale
        if not isinstance(scale, Scale):
            raise ParameterError(
                f"The 'scale' parameter must be a debias.judgments.Scale (e.g. Scale.grade(1, 10)). "
                f"Got {scale!r} instead."
            )
        missing = [c for c in ("model_a", "verdict") if c not in df.columns]
        if "prompt" not in df.columns and "prompt_id" not in df.columns:
            missing.insert(0, "prompt")
        if missing:
            raise InputError(
                f"{source}: missing required column(s) {missing}. Columns present: "
                f"{list(df.columns)}. Rename yours (df.rename(columns={{'question': 'prompt'}}))."
            )
        df = df.reset_index(drop=True)
        n = len(df)
        col = df.get
        model_a = check.names(df["model_a"], "model_a", source)
        b_given = col("model_b")
        model_b = (
            pd.Series([None] * n, dtype=object)
            if b_given is None
            else check.names(b_given, "model_b", source, required=False)
        )
        if "judge" in df:
            judges = check.names(df["judge"], "judge", source)
        else:
            judges = pd.Series([judge or "unknown"] * n, dtype="str")
        ids = check.names(df["prompt_id"], "prompt_id", source) if "prompt_id" in df else None
        prompt_text, _ = check.texts(col("prompt"), n, "prompt", source)
        if ids is None:
            ids = check.names(df["prompt"], "prompt", source)
        turn = (
            np.ones(n, np.int64) if "turn" not in df else check.whole(df["turn"], "turn", 1, source)
        )
        text_a, miss_a = check.texts(col("answer_a"), n, "answer_a", source)
        b_text_given = col("answer_b")
        text_b, _ = check.texts(b_text_given, n, "answer_b", source)
        has_b_text = (
            pd.Series(False, index=df.index)
            if b_text_given is None
            else (b_text_given.notna() & (b_text_given.astype(str) != ""))
        )
        verdict_b_raw = col("verdict_b")
        check.pair_rules(model_b, has_b_text, verdict_b_raw, scale.kind, source)
        paired = model_b.notna().to_numpy()
        miss_b = 0 if b_text_given is None else int(b_text_given.isna().to_numpy()[paired].sum())
        verdict = scale.encode(df["verdict"], column="verdict", source=source)
        verdict_b = (
            pd.Series(np.nan, index=df.index)
            if verdict_b_raw is None
            else scale.encode(verdict_b_raw, column="verdict_b", source=source)
        )
        if scale.kind == "grade" and paired.any() and verdict_b_raw is not None:
            check.paired_grades(verdict, verdict_b, paired, source)
        shown = check.shown_first(col("shown_first"), n, source)
        weight = check.weights(col("weight"), n, source)
        tokens = token_counts(col("tokens_a"), col("tokens_b"), n, source)

        prompt_code, prompts = prompt_table(ids, turn, prompt_text, source)
        answer_a, answer_b, answers = answer_table(
            model_a, model_b, prompt_code, text_a, text_b, paired, tokens
        )
        key = pd.DataFrame(
            {
                "judge": judges.to_numpy(),
                "prompt": prompt_code,
                "a": model_a.to_numpy(),
                "b": model_b.fillna("").to_numpy(),
                "shown": np.asarray(shown),
            }
        )
        check.duplicates(key, source)
        rows = pd.DataFrame(
            {
                "prompt": prompt_code,
                "answer_a": answer_a,
                "answer_b": answer_b,
                "shown_first": shown,
                "verdict": verdict.to_numpy(),
                "verdict_b": verdict_b.to_numpy(),
                "judge": pd.Categorical(judges.to_numpy()),
                "weight": weight,
            }
        )
        rows["dataset"] = df["dataset"].copy() if "dataset" in df else pd.NA
        if "position" in df:
            rows["position"] = check.whole(df["position"], "position", 0, source)
        else:
            rows["position"] = key.groupby(["judge", "a", "b"], sort=False).cumcount().to_numpy()
        n_missing_text = miss_a + miss_b
        check.warn_missing(n_missing_text, int(np.isnan(verdict.to_numpy()).sum()), source)
        return cls(rows, answers, prompts, scale, source, n_missing_text)

    @classmethod
    def from_comparisons(cls, comparisons: Comparisons) -> Judgments:
        """Judgments of a :class:`~debias.Comparisons`: A = the model, B = the baseline.

        The verdict is the preference (P(model preferred)) on a probability scale;
        the order shown is unknown; ``prompt_id`` is the instruction text.
        ``Judgments.from_comparisons(c).fixed_baseline()`` equals ``c``.

        Examples
        --------
        >>> import pandas as pd
        >>> from debias import Comparisons
        >>> c = Comparisons.from_dataframe(pd.DataFrame({"instruction": ["x", "y"], "model": "m",
        ...     "baseline": "b", "output_model": "hi", "output_baseline": "hello",
        ...     "preference": [1.0, 0.5]}))
        >>> j = Judgments.from_comparisons(c)
        >>> len(j.answers)
        4
        >>> j.fixed_baseline().data.equals(c.data)
        True
        """
        if not isinstance(comparisons, Comparisons):
            raise ParameterError(
                "Judgments.from_comparisons expects a debias.Comparisons. "
                f"Got {type(comparisons).__name__}."
            )
        d = comparisons.data
        frame = pd.DataFrame(
            {
                "prompt": d["instruction"],
                "model_a": d["model"],
                "answer_a": d["output_model"],
                "model_b": d["baseline"],
                "answer_b": d["output_baseline"],
                "verdict": d["preference"],
                "judge": d["judge"],
                "dataset": d["dataset"],
                "position": d["position"],
            }
        )
        j = quiet(cls.from_dataframe, frame, scale=Scale.probability(), source=comparisons.source)
        j = dataclasses.replace(j, n_missing_outputs=comparisons.n_missing_outputs)
        return j.with_prompt_order(comparisons.instruction_order)

    # ------------------------------------------------------------------ basics
    def __len__(self) -> int:
        return len(self.rows)

    def __repr__(self) -> str:
        return (
            f"Judgments({len(self)} judge calls, {len(self.answers)} answers, "
            f"{len(self.models)} models, {len(self.prompts)} prompts, scale={self.scale.kind}, "
            f"judges={self.judges}, source={self.source!r})"
        )

    @property
    def models(self) -> list[str]:
        """Model names in order of first appearance (answer table order)."""
        return [str(v) for v in pd.unique(self.answers["model"])]

    @property
    def judges(self) -> list[str]:
        """Judge names in order of first appearance."""
        return [str(v) for v in pd.unique(self.rows["judge"].astype(str))]

    @property
    def n_missing(self) -> int:
        """Judge calls without a verdict (NaN)."""
        return int(self.rows["verdict"].isna().sum())

    @property
    def is_pairwise(self) -> np.ndarray:
        """Boolean mask of rows that compare two answers."""
        return self.rows["answer_b"].to_numpy() != NO_ANSWER

    def with_prompt_order(self, order) -> Judgments:
        """A copy that knows the evaluation set's canonical prompt order."""
        order = tuple(order) if order is not None else None
        return Judgments(
            self.rows,
            self.answers,
            self.prompts,
            self.scale,
            self.source,
            self.n_missing_outputs,
            order,
        )

    def column(self, name: str) -> pd.Series:
        """One materialised column per row as plain strings/numbers (see :meth:`to_frame`).

        Examples
        --------
        >>> import pandas as pd
        >>> df = pd.DataFrame({"prompt": ["q"], "model_a": ["m"], "model_b": ["b"],
        ...                    "verdict": [0.25]})
        >>> Judgments.from_dataframe(df).column("model_b").tolist()
        ['b']
        """
        r = self.rows
        if name in ("prompt_id", "turn"):
            return take(self.prompts[name], r["prompt"].to_numpy())
        if name == "prompt":
            return take(self.prompts["text"], r["prompt"].to_numpy())
        if name in ("model_a", "answer_a", "model_b", "answer_b"):
            what = "model" if name.startswith("model") else "text"
            return take(self.answers[what], r[name.replace("model", "answer")].to_numpy())
        if name in ("tokens_a", "tokens_b"):
            if "tokens" not in self.answers:
                return pd.Series(np.full(len(r), np.nan))
            return take(self.answers["tokens"], r[name.replace("tokens", "answer")].to_numpy())
        if name in ("verdict", "verdict_b"):
            return pd.Series(self.scale.label(r[name].to_numpy()))
        if name == "judge":
            return r["judge"].astype(str).reset_index(drop=True)
        if name in ("shown_first", "weight", "dataset", "position"):
            return r[name].reset_index(drop=True)
        raise ParameterError(f"Judgments has no column {name!r}; columns: {list(INPUT_COLUMNS)}.")

    def to_frame(self, columns=None) -> pd.DataFrame:
        """The tidy frame back, texts as plain strings (materialised here, on demand).

        ``columns`` defaults to the input columns, with ``tokens_a``, ``tokens_b`` when the
        answers carry token counts; ``from_dataframe(j.to_frame(), scale=j.scale)`` gives
        the same judgments.
        """
        if columns is None:
            columns = INPUT_COLUMNS
            if "tokens" in self.answers:
                columns = (*INPUT_COLUMNS, "tokens_a", "tokens_b")
        return pd.DataFrame({c: self.column(c) for c in columns})

    def select(self, *, judge: str | None = None) -> Judgments:
        """Keep the rows of one judge (the answer and prompt tables are shared)."""
        if judge is None:
            return self
        if judge not in self.judges:
            raise InputError(
                f"{self.source}: judge= {judge!r} not in the data; judges: {self.judges}."
            )
        keep = (self.rows["judge"].astype(str) == judge).to_numpy()
        return Judgments(
            self.rows[keep].reset_index(drop=True),
            self.answers,
            self.prompts,
            self.scale,
            self.source,
            self.n_missing_outputs,
            self.prompt_order,
        )

    def memory_bytes(self) -> int:
        """Bytes held by the three tables (pandas deep memory usage)."""
        return int(
            sum(t.memory_usage(deep=True).sum() for t in (self.rows, self.answers, self.prompts))
        )

    # ------------------------------------------------------------------ views
    def fixed_baseline(self, baseline: str | None = None, *, orders: str = "refuse"):
        """The fixed-baseline pairs as :class:`~debias.Comparisons` (see :mod:`.views`)."""
        return views.fixed_baseline(self, baseline, orders=orders)

    def battles(self) -> pd.DataFrame:
        """Any-pair rows with the outcome for A in [0, 1] (see :mod:`.views`)."""
        return views.battles(self)

    def scores(self) -> pd.DataFrame:
        """Per-answer grades (see :mod:`.views`)."""
        return views.scores(self)
