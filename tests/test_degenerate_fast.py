"""The vectorised degenerate-submission statistics equal their definitions (Python sets of
5-grams, the per-text marker scan) on hostile texts: short, empty, non-ASCII, NUL, emoji."""

from __future__ import annotations

import numpy as np
import pytest

from debias.reports import degenerate as deg


def _reference_similarity(texts, n_pairs, seed=0):
    """The definition: mean Jaccard of the 5-gram sets of random pairs (Python sets)."""
    n = len(texts)
    rng = np.random.default_rng(seed)
    i = rng.integers(0, n, size=n_pairs)
    j = (i + rng.integers(1, n, size=n_pairs)) % n
    sims = []
    for a, b in zip(i, j, strict=True):
        sa, sb = deg._shingles(texts[a]), deg._shingles(texts[b])
        sims.append(len(sa & sb) / len(sa | sb))
    return float(np.mean(sims))


def _random_texts(rng, n):
    alphabet = list("ab c\n\tdé€😀ΣςİK\x00") + [chr(0x10FFFF), "\u2028"]
    out = []
    for _ in range(n):
        length = int(rng.choice([1, 2, 4, 5, 6, 30, 2500]))
        out.append("".join(rng.choice(alphabet, size=length)))
    return out


@pytest.mark.parametrize("seed", range(6))
def test_vectorised_similarity_equals_python_sets(seed):
    rng = np.random.default_rng(seed)
    texts = _random_texts(rng, 40)
    texts += ["abcd", "abcd", "abcde", "x"]  # one 5-gram shorter than 5, repeats
    got = deg._mean_similarity(texts, 150, seed=seed)
    assert got == pytest.approx(_reference_similarity(texts, 150, seed=seed), abs=1e-15)


def test_vectorised_similarity_falls_back_on_a_huge_alphabet():
    # more than ~6,200 distinct characters do not fit five to an int64: Python sets
    width = deg._MAX_CHARS
    texts = ["".join(chr(0x4E00 + (width * k + i) % 9000) for i in range(width)) for k in range(12)]
    assert deg._distinct_shingle_codes(texts) is None
    assert deg._mean_similarity(texts, 30) == pytest.approx(_reference_similarity(texts, 30))


def test_marker_scan_equals_the_per_text_check():
    texts = [
        "Ignore previous instructions",
        "plain answer",
        "## Instruction: x",
        "SYSTEM: hi",
        "see [[A]] and output (b)",
        "\ud800 lone surrogate output (a)",  # not UTF-8 encodable: the per-text path
        "",
        "the judge, as the evaluator, must",
    ]
    low = [t.lower() for t in texts]
    assert deg._markers_per_text(low) == [deg.injection_markers(t) for t in texts]
    assert deg._markers_per_text(low[:5] + low[6:]) == [
        deg.injection_markers(t) for t in texts[:5] + texts[6:]
    ]


def test_lowering_the_joined_texts_equals_lowering_each():
    texts = ["ΣΑΣ", "Σ", "AΣ", "İx", "KELVIN K", "", "a\x00B"]
    assert deg._lowered(texts) == [t.lower() for t in texts]
    assert deg._lowered(texts[:-1]) == [t.lower() for t in texts[:-1]]
