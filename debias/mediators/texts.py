"""Texts as arrow-backed strings, and numpy scans over their UTF-8 bytes.

The text engine's low level: :func:`text_series` checks that outputs are str and
stores them arrow-backed when pyarrow is installed (pandas' ``.str`` methods then run
in C); :func:`arrow_word_counts`, :func:`contains` and :func:`fingerprints` scan the
arrow buffers with numpy instead of looping over Python strings.

Examples
--------
>>> s = text_series(["a b", "```x```", ""], "texts")
>>> contains(s, "```").tolist()
[False, True, False]
>>> chunks = arrow_chunks(s)  # None without pyarrow
>>> chunks is None or arrow_word_counts(chunks[0]).tolist() == [2.0, 1.0, 0.0]
True
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd

from debias.errors import InputError

try:  # pyarrow makes pandas' string methods (and our byte scans) much faster
    import pyarrow as pa
except ImportError:  # pragma: no cover - exercised only without pyarrow
    pa = None

__all__ = [
    "arrow_chunks",
    "arrow_string_dtype",
    "arrow_word_counts",
    "contains",
    "fingerprints",
    "is_arrow_string",
    "text_series",
]


def arrow_string_dtype() -> pd.StringDtype | None:
    """pandas' arrow-backed string dtype (missing values as NaN), or None without pyarrow.

    Examples
    --------
    >>> dtype = arrow_string_dtype()
    >>> dtype is None or dtype.storage == "pyarrow"
    True
    """
    if pa is None:
        return None
    try:
        return pd.StringDtype("pyarrow", na_value=np.nan)  # pandas >= 2.3 ("str")
    except TypeError:  # pragma: no cover - older pandas
        return pd.StringDtype("pyarrow")


def is_arrow_string(series: pd.Series) -> bool:
    """Whether a Series holds arrow-backed strings (pandas' string methods run in C).

    Examples
    --------
    >>> is_arrow_string(pd.Series(["a"], dtype=object))
    False
    """
    dtype = series.dtype
    if isinstance(dtype, pd.StringDtype):
        return dtype.storage == "pyarrow"
    if isinstance(dtype, pd.ArrowDtype) and pa is not None:
        return pa.types.is_string(dtype.pyarrow_dtype) or pa.types.is_large_string(
            dtype.pyarrow_dtype
        )
    return False


def text_series(values: object, what: str) -> pd.Series:
    """Check that ``values`` are all str and return them as a Series on a RangeIndex.

    Arrow-backed strings are used when pyarrow is installed (fast string kernels).

    Parameters
    ----------
    values : sequence of str or pandas.Series
        The texts.
    what : str
        Where they come from, for the error message.

    Raises
    ------
    InputError
        A single str, or a value that is not a str (the first position is named).

    Examples
    --------
    >>> text_series(pd.Series(["x", "yz"], index=[5, 9]), "outputs").str.len().tolist()
    [1, 2]
    >>> text_series(["x", None], "outputs")
    Traceback (most recent call last):
    ...
    debias.errors.InputError: outputs: every output must be a str; position 1 holds None ...
    """
    if isinstance(values, str):
        raise InputError(f"{what}: expected a sequence of texts, got a single str.")
    series = values if isinstance(values, pd.Series) else pd.Series(list(values), dtype=object)
    series = series.reset_index(drop=True)
    if not is_arrow_string(series):
        obj = series.to_numpy(dtype=object)
        bad = [i for i, v in enumerate(obj) if not isinstance(v, str)]
        if bad:
            raise InputError(
                f"{what}: every output must be a str; position {bad[0]} holds "
                f"{obj[bad[0]]!r} ({len(bad)} such value(s)). Fill missing outputs with '' "
                "(Comparisons does this for you)."
            )
        dtype = arrow_string_dtype()
        series = pd.Series(obj, dtype=object)
        if dtype is not None:
            try:  # pyarrow converts much faster than pandas' constructor
                series = pd.Series(pd.array(pa.array(obj, type=pa.large_string()), dtype=dtype))
            except Exception:  # e.g. lone surrogates, which UTF-8 cannot encode
                pass
    elif series.isna().any():
        pos = int(np.flatnonzero(series.isna().to_numpy())[0])
        raise InputError(
            f"{what}: every output must be a str; position {pos} is missing. Fill missing "
            "outputs with '' (Comparisons does this for you)."
        )
    return series


# byte scans on arrow data
_BYTE_CHUNK = 1 << 21  # bytes of text per numpy pass (small enough to stay in cache)
# Python's str.split() whitespace, as UTF-8 byte sequences longer than one byte
_WIDE_SPACES = [c.encode() for c in map(chr, range(0x80, 0x3001)) if c.isspace()]


def arrow_chunks(texts: pd.Series) -> list | None:
    """The arrow arrays behind an arrow-backed string Series without nulls, else None.

    Examples
    --------
    >>> arrow_chunks(pd.Series(["a"], dtype=object)) is None
    True
    """
    if pa is None or not is_arrow_string(texts):
        return None
    data = texts.array.__arrow_array__()
    chunks = data.chunks if isinstance(data, pa.ChunkedArray) else [data]
    if any(c.null_count for c in chunks):
        return None
    return chunks


def _byte_blocks(arr) -> Iterator[tuple[int, int, np.ndarray, np.ndarray, np.ndarray]]:
    """Yield ``(i0, i1, data, starts, ends)`` over consecutive texts of an arrow string
    array: the UTF-8 bytes of texts i0..i1-1 and each text's byte span within ``data``."""
    n = len(arr)
    if n == 0:
        return
    bufs = arr.buffers()
    width = np.int64 if pa.types.is_large_string(arr.type) else np.int32
    offsets = np.frombuffer(bufs[1], dtype=width)[arr.offset : arr.offset + n + 1]
    offsets = offsets.astype(np.int64)
    data = np.frombuffer(bufs[2], dtype=np.uint8) if bufs[2] is not None else np.zeros(0, "u1")
    i0 = 0
    while i0 < n:
        i1 = int(np.searchsorted(offsets, offsets[i0] + _BYTE_CHUNK, side="right")) - 1
        i1 = min(max(i1, i0 + 1), n)
        base = offsets[i0]
        yield (
            i0,
            i1,
            data[base : offsets[i1]],
            offsets[i0:i1] - base,
            offsets[i0 + 1 : i1 + 1] - base,
        )
        i0 = i1


def _sparse_positions(mask: np.ndarray) -> np.ndarray:
    """``np.flatnonzero(mask)`` for a mostly-False mask, faster (scans packed bits)."""
    packed = np.packbits(mask, bitorder="little")
    groups = np.flatnonzero(packed)
    if len(groups) == 0:
        return groups
    pos = (groups[:, None] * 8 + np.arange(8)).ravel()
    pos = pos[pos < len(mask)]
    return pos[mask[pos]]


def _match_bytes(d: np.ndarray, needle: bytes) -> np.ndarray:
    """Start positions of ``needle`` in ``d`` (overlapping occurrences included)."""
    pos = _sparse_positions(d == needle[0])
    pos = pos[pos + len(needle) <= len(d)]
    for k in range(1, len(needle)):
        pos = pos[d[pos + k] == needle[k]]
    return pos


def _prefix_counts(mask: np.ndarray, bounds: np.ndarray) -> np.ndarray:
    """Number of True values in ``mask[:b]`` for each ``b`` in ``bounds``."""
    if not hasattr(np, "bitwise_count"):  # numpy < 2
        return np.searchsorted(np.flatnonzero(mask), bounds)
    packed = np.packbits(mask, bitorder="little")
    packed = np.concatenate([packed, np.zeros(-len(packed) % 8, dtype=np.uint8)])
    blocks = packed.view("<u8")  # bit j of blocks[k] is mask[64 k + j]
    cum = np.zeros(len(blocks) + 1, dtype=np.int64)
    np.cumsum(np.bitwise_count(blocks), out=cum[1:])
    q, r = np.divmod(bounds, 64)
    below = (np.uint64(1) << r.astype(np.uint64)) - np.uint64(1)
    part = np.bitwise_count(blocks[np.minimum(q, len(blocks) - 1)] & below).astype(np.int64)
    return cum[q] + np.where(r == 0, 0, part)


def arrow_word_counts(arr) -> np.ndarray:
    """``len(text.split())`` for every text of an arrow string array, with numpy."""
    out = np.zeros(len(arr))
    size = _BYTE_CHUNK
    t, ws, tmp = np.empty(size, np.uint8), np.empty(size, bool), np.empty(size, bool)
    for i0, i1, d, starts, ends in _byte_blocks(arr):
        n = len(d)
        if n == 0:
            continue
        if n > size:  # one text longer than a block
            size = n
            t, ws, tmp = np.empty(size, np.uint8), np.empty(size, bool), np.empty(size, bool)
        bt, bws, btmp = t[:n], ws[:n], tmp[:n]
        # str.split() whitespace: \t \n \v \f \r (9-13), \x1c-\x1f and space (28-32) ...
        np.subtract(d, np.uint8(9), out=bt)
        np.less(bt, 5, out=bws)
        np.subtract(bt, np.uint8(19), out=bt)
        np.less(bt, 5, out=btmp)
        np.logical_or(bws, btmp, out=bws)
        # ... and a few multi-byte characters (U+0085, U+00A0, U+2000-U+200A, ...)
        lead = _sparse_positions(np.greater(d, 0xC1, out=btmp))
        if len(lead):
            v = d[lead]
            for seq in _WIDE_SPACES:
                pos = lead[v == seq[0]]
                pos = pos[pos + len(seq) <= n]
                for k in range(1, len(seq)):
                    pos = pos[d[pos + k] == seq[k]]
                for k in range(len(seq)):
                    bws[pos + k] = True
        # a word starts at a non-space byte preceded by a space or by the start of its text
        start = btmp
        start[0] = not bws[0]
        np.greater(bws[:-1], bws[1:], out=start[1:])
        first = starts[starts < ends]
        start[first] = ~bws[first]
        out[i0:i1] = np.diff(_prefix_counts(start, np.append(starts, ends[-1])))
    return out


def fingerprints(arr) -> np.ndarray:
    """A uint64 per text from its byte length and first and last 8 bytes (equal texts,
    equal fingerprints).

    Examples
    --------
    >>> chunks = arrow_chunks(text_series(["same", "same", "other"], "t"))
    >>> if chunks is not None:  # needs pyarrow
    ...     f = fingerprints(chunks[0])
    ...     assert f[0] == f[1] != f[2]
    """
    n = len(arr)
    if n == 0:
        return np.zeros(0, dtype=np.uint64)
    bufs = arr.buffers()
    width = np.int64 if pa.types.is_large_string(arr.type) else np.int32
    offsets = np.frombuffer(bufs[1], dtype=width)[arr.offset : arr.offset + n + 1]
    lo, hi = offsets[:-1].astype(np.int64), offsets[1:].astype(np.int64)
    h = (hi - lo).astype(np.uint64)
    data = np.frombuffer(bufs[2], dtype=np.uint8) if bufs[2] is not None else None
    if data is None or len(data) == 0:
        return h
    step = np.arange(8)
    size = (hi - lo)[:, None]
    head = (np.minimum(lo[:, None] + step, len(data) - 1), step < size)
    tail = (np.maximum(hi[:, None] - 8 + step, 0), step >= 8 - size)
    for idx, keep in (head, tail):
        sample = np.where(keep, data[idx], np.uint8(0))
        with np.errstate(over="ignore"):
            h = (h ^ sample.view("<u8")[:, 0]) * np.uint64(0x9E3779B97F4A7C15)
            h ^= h >> np.uint64(29)
    return h


def contains(texts: pd.Series, needle: str) -> np.ndarray:
    """Boolean mask: which texts contain ``needle`` (byte scans on arrow data).

    Examples
    --------
    >>> contains(text_series(["a```b", "ab", "```"], "t"), "```").tolist()
    [True, False, True]
    """
    chunks = arrow_chunks(texts)
    if chunks is None:
        return np.fromiter((needle in t for t in texts), dtype=bool, count=len(texts))
    raw = needle.encode()
    parts = []
    for arr in chunks:
        mask = np.zeros(len(arr), dtype=bool)
        for i0, _, d, _, ends in _byte_blocks(arr):
            pos = _match_bytes(d, raw)
            which = np.searchsorted(ends, pos, "right")
            inside = pos + len(raw) <= ends[np.minimum(which, len(ends) - 1)]
            mask[i0 + which[inside]] = True
        parts.append(mask)
    return np.concatenate(parts) if parts else np.zeros(0, dtype=bool)
