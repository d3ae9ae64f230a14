"""The simulator's text generator: answers with the designed lengths and markdown counts.

Texts are cut from a fixed pseudo-word corpus (independent of the user's seed):
sentences of pseudo-words with ``## Title`` headers, ``- item`` list items and
``**bold**`` spans, exactly ``length`` characters long and with exactly the designed
counts. Lengths are lognormal around the writer's mean, markdown elements Poisson per
1,000 characters (at most ``length // markdown_cap()`` of them, so they fit).

Examples
--------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> out = draw_outputs(rng, 300.0, np.zeros(3), 0.3, 0.09, 10.0, np.array([0.2, 0.5, 0.3]), True)
>>> [len(t) for t in out.texts] == out.length.tolist()
True
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "DATASETS",
    "MAX_LENGTH",
    "MIN_LENGTH",
    "Outputs",
    "draw_instructions",
    "draw_outputs",
    "markdown_cap",
]

#: AlpacaEval's sub-collections and their shares of the 805 instructions.
DATASETS: dict[str, float] = {
    "helpful_base": 129 / 805,
    "koala": 156 / 805,
    "oasst": 188 / 805,
    "selfinstruct": 252 / 805,
    "vicuna": 80 / 805,
}
MIN_LENGTH = 4
MAX_LENGTH = 16_000


_ONSETS = ("b", "c", "d", "f", "g", "l", "m", "n", "p", "r", "s", "t", "v", "z", "br", "st", "tr")
_NUCLEI = ("a", "e", "i", "o", "u", "ai", "ou")
_CODAS = ("", "", "", "n", "r", "s", "l", "th")
_POOL_SEED = 8_052_024
_CORPUS_CHARS = 4 * MAX_LENGTH + 200_000


@dataclass(frozen=True)
class _Pools:
    """Cached pieces texts are cut from (see :func:`_pools`)."""

    vocab: tuple[str, ...]
    weights: np.ndarray
    corpus: str
    starts: np.ndarray
    headers: tuple[str, ...]
    items: tuple[str, ...]
    bolds: tuple[str, ...]
    longest_word: int
    cap: int


def _words(rng: np.random.Generator, vocab: Sequence[str], weights: np.ndarray, n: int) -> list:
    return [vocab[i] for i in rng.choice(len(vocab), size=n, p=weights)]


def _sentence(rng: np.random.Generator, vocab, weights, lo: int, hi: int, end: str = ".") -> str:
    words = _words(rng, vocab, weights, int(rng.integers(lo, hi + 1)))
    return " ".join([words[0].capitalize(), *words[1:]]) + end


@functools.cache
def _pools() -> _Pools:
    """Vocabulary, a long prose corpus and pools of markdown pieces (built once)."""
    rng = np.random.default_rng(_POOL_SEED)
    vocab: dict[str, None] = {}
    while len(vocab) < 2000:
        n_syl = int(rng.choice([1, 2, 3], p=[0.3, 0.5, 0.2]))
        word = (
            "".join(
                _ONSETS[rng.integers(len(_ONSETS))] + _NUCLEI[rng.integers(len(_NUCLEI))]
                for _ in range(n_syl)
            )
            + _CODAS[rng.integers(len(_CODAS))]
        )
        vocab[word] = None
    words = tuple(vocab)
    weights = 1.0 / (np.arange(len(words)) + 10.0)  # Zipf-like frequencies
    weights /= weights.sum()
    sentences, starts, pos = [], [], 0
    while pos < _CORPUS_CHARS:
        s = _sentence(rng, words, weights, 4, 16)
        sentences.append(s)
        starts.append(pos)
        pos += len(s) + 1
    corpus = " ".join(sentences)
    headers = tuple(
        "## "
        + " ".join(w.capitalize() for w in _words(rng, words, weights, int(rng.integers(1, 4))))
        for _ in range(256)
    )
    items = tuple("- " + _sentence(rng, words, weights, 2, 6) for _ in range(512))
    bolds = tuple(
        "**" + " ".join(_words(rng, words, weights, int(rng.integers(1, 3)))) + "**"
        for _ in range(256)
    )
    # Worst case per markdown element: its piece + separators + one prose piece that
    # overshoots its target by a word. ``count <= length // cap`` keeps the intro >= 1.
    longest_piece = max(map(len, headers + items + bolds))
    longest_word = max(map(len, words)) + 1
    cap = longest_piece + 4 + 2 * (longest_word + 2) + 10
    return _Pools(
        words, weights, corpus, np.asarray(starts), headers, items, bolds, longest_word, cap
    )


def _compose(
    length: int, fixed: int, headers: list, items: list, bolds: list, start: int, pools: _Pools
) -> str:
    """One markdown text of exactly ``length`` characters with the given pieces.

    Layout: an intro paragraph, then one section per header (``## Title``, a
    paragraph); bold spans sit inside the paragraphs between prose pieces and
    list items close the sections. ``fixed`` is the number of characters of
    markdown pieces and separators (see :func:`_fixed_chars`); the intro absorbs
    the rounding, so the length is exact.
    """
    corpus = pools.corpus
    if fixed == 0:  # plain prose
        return corpus[start : start + length - 1] + "."
    n_sec = len(headers) + 1
    n_items, n_bold = len(items), len(bolds)
    prose = length - fixed
    n_other = n_sec - 1 + n_bold
    # Every prose piece gets about the same share; overshoot by a word is absorbed
    # by the intro, which keeps at least prose / (n_other + 1) characters.
    target = max(1, prose // (n_other + 1) - pools.longest_word)
    pos = corpus.find(" ", start + prose) + 1

    def take() -> str:
        nonlocal pos
        end = corpus.find(" ", pos + target)
        piece, pos = corpus[pos:end], end + 1
        return piece[0].upper() + piece[1:-1] + "." if len(piece) > 1 else piece

    sections = []
    for k in range(n_sec):
        parts = [headers[k - 1], "\n\n", take()] if k else []
        for bold in bolds[k * n_bold // n_sec : (k + 1) * n_bold // n_sec]:
            parts += [" ", bold, " ", take()]
        block = items[k * n_items // n_sec : (k + 1) * n_items // n_sec]
        if block:
            parts += ["\n\n", "\n".join(block)]
        sections.append("".join(parts))
    body = "\n\n".join(sections)
    n_intro = length - len(body)
    if n_intro < 1:  # pragma: no cover - prevented by the cap on markdown counts
        raise RuntimeError(
            f"cannot fit {n_other + n_items} markdown elements in {length} characters"
        )
    return corpus[start : start + n_intro - 1] + "." + body


def _fixed_chars(split: np.ndarray, picks: list[np.ndarray], pools: _Pools) -> np.ndarray:
    """Characters taken by markdown pieces and their separators, per text.

    A header costs its length + 4 (``"\\n\\n"`` before and after), a bold span its
    length + 2 (spaces), a list item its length + 1 (newline) and every
    non-empty list block 1 more (``"\\n\\n"`` before it, one newline fewer inside).
    """
    n = len(split)
    out = np.zeros(n, dtype=np.int64)
    for j, (pool, extra) in enumerate(((pools.headers, 4), (pools.items, 1), (pools.bolds, 2))):
        lens = np.fromiter(map(len, pool), dtype=np.int64)[picks[j]] + extra
        rows = np.repeat(np.arange(n), split[:, j])
        out += np.bincount(rows, weights=lens, minlength=n).astype(np.int64)
    return out + np.minimum(split[:, 1], split[:, 0] + 1)


@dataclass
class Outputs:
    """One writer's answers to every instruction (designed features and texts).

    Attributes
    ----------
    length, headers, items, bolds : numpy.ndarray
        Characters and markdown counts of each answer, by design.
    texts : numpy.ndarray
        The answers (object array of str; all empty when drawn with ``text=False``).
    """

    length: np.ndarray
    headers: np.ndarray
    items: np.ndarray
    bolds: np.ndarray
    texts: np.ndarray  # object array of str

    @property
    def markdown(self) -> np.ndarray:
        return self.headers + self.items + self.bolds

    def blank(self, rows: np.ndarray) -> None:
        """Make the outputs at positions ``rows`` empty strings (length and counts 0)."""
        for arr in (self.length, self.headers, self.items, self.bolds):
            arr[rows] = 0
        self.texts[rows] = ""


def draw_outputs(
    rng: np.random.Generator,
    mean_length: float,
    instruction_factor: np.ndarray,
    length_sd: float,
    log_var: float,
    density: float,
    mix: np.ndarray,
    text: bool,
) -> Outputs:
    """Draw lengths, markdown counts and (if ``text``) the texts of one writer.

    Parameters
    ----------
    rng : numpy.random.Generator
        The writer's own random stream.
    mean_length : float
        Expected length in characters.
    instruction_factor : numpy.ndarray
        The per-instruction log-length factors shared by all writers (one per answer).
    length_sd, log_var : float
        SD of the row noise on the log scale, and the total log variance (so that
        ``mean_length`` is the expectation).
    density : float
        Expected markdown elements per 1,000 characters.
    mix : numpy.ndarray
        Shares of headers, list items and bold spans (summing to 1).
    text : bool
        Compose the texts (else they stay empty strings).

    Returns
    -------
    Outputs

    Examples
    --------
    >>> out = draw_outputs(np.random.default_rng(1), 500.0, np.zeros(4), 0.3, 0.09, 8.0,
    ...                    np.array([0.2, 0.5, 0.3]), True)
    >>> all(t.count("\\n## ") == h for t, h in zip(out.texts, out.headers))
    True
    """
    pools = _pools()
    n = len(instruction_factor)
    log_len = np.log(mean_length) + instruction_factor + length_sd * rng.standard_normal(n)
    length = np.clip(np.rint(np.exp(log_len - log_var / 2)), MIN_LENGTH, MAX_LENGTH).astype(
        np.int64
    )
    total = np.minimum(rng.poisson(density * length / 1000.0), length // pools.cap)
    split = rng.multinomial(total, mix)
    picks = [
        rng.integers(len(pool), size=int(split[:, j].sum()))
        for j, pool in enumerate((pools.headers, pools.items, pools.bolds))
    ]
    room = np.searchsorted(pools.starts, len(pools.corpus) - 2 * length - 200, side="right")
    starts = pools.starts[(rng.random(n) * room).astype(np.int64)]
    texts = np.empty(n, dtype=object)
    texts[:] = ""
    if text:
        texts[:] = _texts(length, split, picks, starts, pools)
    return Outputs(length, split[:, 0].copy(), split[:, 1].copy(), split[:, 2].copy(), texts)


def _texts(length, split, picks, starts, pools: _Pools) -> list[str]:
    """Compose every text of one writer (the hot loop: plain Python values only)."""
    fixed = _fixed_chars(split, picks, pools).tolist()
    pieces = [
        np.asarray(pool, dtype=object)[pk].tolist()
        for pool, pk in zip((pools.headers, pools.items, pools.bolds), picks, strict=True)
    ]
    ends = np.cumsum(split, axis=0).tolist()
    begins = (np.cumsum(split, axis=0) - split).tolist()
    hp, ip, bp = pieces
    out = []
    for L, fx, (h0, i0, b0), (h1, i1, b1), s in zip(
        length.tolist(), fixed, begins, ends, starts.tolist(), strict=True
    ):
        out.append(_compose(L, fx, hp[h0:h1], ip[i0:i1], bp[b0:b1], s, pools))
    return out


def draw_instructions(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` unique pseudo-word instructions and their AlpacaEval dataset names.

    Examples
    --------
    >>> instructions, datasets = draw_instructions(np.random.default_rng(0), 3)
    >>> len(set(instructions)), set(datasets) <= set(DATASETS)
    (3, True)
    """
    pools = _pools()
    verbs = ("Explain", "Describe", "Write", "List", "Summarize", "Compare", "Give", "Suggest")
    seen: dict[str, None] = {}
    while len(seen) < n:
        verb = verbs[rng.integers(len(verbs))]
        words = _words(rng, pools.vocab, pools.weights, int(rng.integers(3, 10)))
        end = "?" if rng.random() < 0.4 else "."
        seen.setdefault(f"{verb} {' '.join(words)}{end}", None)
    names = np.array(list(DATASETS), dtype=object)
    datasets = names[rng.choice(len(names), size=n, p=np.array(list(DATASETS.values())))]
    return np.array(list(seen), dtype=object), datasets


def markdown_cap() -> int:
    """Characters per markdown element: a text of ``n`` characters holds at most ``n // cap``.

    Examples
    --------
    >>> markdown_cap() > 10
    True
    """
    return _pools().cap
