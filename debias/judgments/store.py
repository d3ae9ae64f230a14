"""Answers and prompts stored once each; rows refer to them by integer id.

Today's Comparisons repeat the baseline's answer on every row; here a distinct
(model, prompt, text) answer is one row of the answer table, and each judge call
holds two ``int32`` ids. :func:`take` materialises a text column on demand.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from debias.errors import DataWarning, InputError, row_list
from debias.judgments import validate as check

NO_ANSWER = -1


def take(values: pd.Series, codes: np.ndarray) -> pd.Series:
    """``values[codes]`` as a fresh Series (code -1 gives a missing value)."""
    arr = values.array
    if (codes < 0).any():
        return pd.Series(arr.take(codes, allow_fill=True))
    return pd.Series(arr.take(codes))


def prompt_table(ids: pd.Series, turn: np.ndarray, text: pd.Series, source: str):
    id_code, id_values = pd.factorize(ids.to_numpy())
    key = id_code.astype(np.int64) * (int(turn.max(initial=1)) + 1) + turn
    code, key_values = pd.factorize(key)
    check.one_text_per_prompt(code, text, ids, source)
    first = pd.Series(np.arange(len(code))).groupby(code, sort=True).first().to_numpy()
    prompts = pd.DataFrame(
        {
            "prompt_id": pd.Series(
                np.asarray(id_values, dtype=object)[id_code[first]], dtype="str"
            ),
            "text": text.iloc[first].reset_index(drop=True).astype("str"),
            "turn": turn[first],
        }
    )
    return code.astype(np.int32), prompts


def answer_table(model_a, model_b, prompt_code, text_a, text_b, paired, tokens=None):
    """Distinct (model, prompt, text) answers, and the ids of each row's A and B.

    ``tokens``: optional (tokens_a, tokens_b) float arrays (NaN = unknown); the
    answer table then has a ``tokens`` column (the first row's count of each answer).
    """
    n = len(model_a)
    models = np.concatenate(
        [model_a.to_numpy(dtype=object), model_b.to_numpy(dtype=object)[paired]]
    )
    prompt = np.concatenate([prompt_code, prompt_code[paired]]).astype(np.int64)
    text = pd.concat([text_a, text_b[paired]], ignore_index=True)
    m_code, m_values = pd.factorize(models)
    t_code, _ = pd.factorize(text.to_numpy())
    key = (m_code.astype(np.int64) * (int(prompt.max(initial=0)) + 1) + prompt) * (
        int(t_code.max(initial=0)) + 1
    ) + t_code
    code, _ = pd.factorize(key)
    first = pd.Series(np.arange(len(code))).groupby(code, sort=True).first().to_numpy()
    answers = pd.DataFrame(
        {
            "model": pd.Series(np.asarray(m_values, dtype=object)[m_code[first]], dtype="str"),
            "prompt": prompt[first].astype(np.int32),
            "text": text.iloc[first].reset_index(drop=True),
        }
    )
    if tokens is not None:
        counts = np.concatenate([tokens[0], tokens[1][paired]])
        answers["tokens"] = counts[first]
    answer_a = code[:n].astype(np.int32)
    answer_b = np.full(n, NO_ANSWER, dtype=np.int32)
    answer_b[paired] = code[n:]
    return answer_a, answer_b, answers


def token_counts(tokens_a, tokens_b, n: int, source: str):
    """The optional ``tokens_a`` / ``tokens_b`` columns as float arrays (NaN = unknown), or None.

    Token counts are stored by some readers (FastChat's ``token_len``); they must
    be non-negative numbers.
    """
    if tokens_a is None and tokens_b is None:
        return None
    out = []
    for name, column in (("tokens_a", tokens_a), ("tokens_b", tokens_b)):
        if column is None:
            out.append(np.full(n, np.nan))
            continue
        values = pd.to_numeric(column, errors="coerce").to_numpy(dtype=float)
        bad = (np.isnan(values) & column.notna().to_numpy()) | (values < 0) | np.isinf(values)
        if bad.any():
            rows = np.flatnonzero(bad)
            raise InputError(
                f"{source}: column {name!r} is not a non-negative number of tokens in row(s) "
                f"{row_list(rows)} (e.g. {column.iloc[rows[0]]!r})."
            )
        out.append(values)
    return out[0], out[1]


def quiet(func, *args, **kwargs):
    """Call ``func`` with debias DataWarnings silenced (they were given once already)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        return func(*args, **kwargs)
