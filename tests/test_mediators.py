"""Tests of debias.mediators: built-in features, the registry, compute_mediators and the
pairwise stateful transforms."""

from __future__ import annotations

import collections
import math

import numpy as np
import pandas as pd
import patsy
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from debias.errors import InputError, ParameterError
from debias.mediators import (
    TRANSFORMS,
    DiffOverSum,
    LogRatio,
    Mediator,
    Scaled,
    available_mediators,
    compute_mediators,
    get_mediator,
    register_mediator,
    unregister_mediator,
)
from debias.mediators import texts as med_texts

try:
    import pyarrow  # noqa: F401

    HAVE_ARROW = True
except ImportError:  # pragma: no cover
    HAVE_ARROW = False

BUILTINS = [
    "bold",
    "code_blocks",
    "emoji",
    "exclamations",
    "headers",
    "length",
    "lists",
    "markdown",
    "words",
]
BACKENDS = ["object", "python"] + (["pyarrow"] if HAVE_ARROW else [])


def as_backend(texts, backend: str) -> pd.Series:
    if backend == "object":
        return pd.Series(list(texts), dtype=object)
    return pd.Series(list(texts), dtype=pd.StringDtype(backend, na_value=np.nan))


@pytest.fixture
def registry():
    """Names registered by a test are removed afterwards."""
    before = set(available_mediators())
    yield
    for name in set(available_mediators()) - before:
        unregister_mediator(name)


# --------------------------------------------------------------------------- built-ins
HEADERS = (
    "# One\n"
    "## Two\n"
    "###### Six\n"
    "####### seven is too many\n"
    "#nospace\n"
    "  # indented\n"
    "#\ttab\n"
    "text # not at start\n"
    "```\n# inside code\n## also code\n```\n"
    "### Three"
)  # One, Two, Six, tab, Three
LISTS = (
    "- a\n"
    "* b\n"
    "+ c\n"
    "  - nested\n"
    "\t* tab nested\n"
    "1. one\n"
    "2) two\n"
    "10. ten\n"
    "-no space\n"
    "1.no space\n"
    "**bold** is not a list\n"
    "a - b\n"
    "```python\n- code item\n1. code item\n```\n"
    "    + deep"
)  # 9
BOLD = (
    "**a** and __b__ and **c d**\n"
    "**not\nclosed ____ and a lone ** marker\n"
    "***x***\n"
    "```\n**in code** __too__\n```\n"
    "__init__ counts like Arena does"
)  # **a**, __b__, **c d**, ***x*** (one), __init__ -> 5
EMOJI = "Hi 😀 👍🏽 👨\u200d👩\u200d👧 🇫🇷 ❤️ 1️⃣ ✅ plain ascii :)"  # 7
CODE = "```py\nx = 1\n```\ntext\n```\ny\n```\n"  # 2 blocks


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("headers", HEADERS, 5),
        ("lists", LISTS, 9),
        ("bold", BOLD, 5),
        ("markdown", HEADERS + "\n" + LISTS + "\n" + BOLD, 20),  # LISTS has a bold span
        ("emoji", EMOJI, 7),
        ("emoji", "no emoji here, only ASCII #1 *", 0),
        ("code_blocks", CODE, 2),
        ("code_blocks", "intro\n```\nunclosed code", 1),
        ("code_blocks", "no fences", 0),
        ("exclamations", "Wow!! Great! ¡No!", 4),
        ("words", "  two   words\n\tthree\u00a0four\u3000five ", 5),
        ("words", "", 0),
        ("words", " \n\t ", 0),
        ("length", "héllo😀", 6),
        ("length", "", 0),
        ("headers", "", 0),
        ("lists", "- only\n", 1),
        ("headers", "```\n# unclosed fence hides the rest\n# also hidden", 0),
    ],
)
@pytest.mark.parametrize("backend", BACKENDS)
def test_builtin_counts(name, text, expected, backend):
    mediator = get_mediator(name)
    assert mediator.func(text) == expected
    assert mediator(text) == expected
    values = mediator.vectorized(as_backend([text, text], backend))
    assert values.tolist() == [expected, expected]


def test_headers_lists_bold_ignore_code_only_inside_fences():
    text = "# Title\n```\n# code\n- code\n**code**\n```\n- item\n**bold**"
    assert get_mediator("headers")(text) == 1
    assert get_mediator("lists")(text) == 1
    assert get_mediator("bold")(text) == 1
    assert get_mediator("markdown")(text) == 3


def test_builtins_have_units_and_descriptions():
    assert set(BUILTINS) <= set(available_mediators())
    for name in BUILTINS:
        m = get_mediator(name)
        assert isinstance(m, Mediator) and m.name == name
        assert m.unit and m.description and m.vectorized is not None
    assert get_mediator("length").unit == "characters"


TOKENS = list("#*_-+`1.)! \t\naZ") + ["\r", "\u00a0", "\u3000", "\x1c", "\x00", "é", "😀"]
TOKENS += ["🏽", "\u200d", "🇫", "\ufe0f", "\u20e3", "✅", "```", "\n- ", "\n# ", "**", "__"]
MARKDOWNISH = st.lists(st.sampled_from(TOKENS), max_size=40).map("".join)


@settings(max_examples=150, deadline=None)
@given(st.lists(MARKDOWNISH, min_size=1, max_size=8))
def test_vectorized_equals_scalar_on_every_backend(texts):
    """Python's re (object/python strings) and RE2 + numpy (arrow strings) agree."""
    for name in BUILTINS:
        mediator = get_mediator(name)
        expected = [float(mediator.func(t)) for t in texts]
        for backend in BACKENDS:
            got = mediator.vectorized(as_backend(texts, backend)).tolist()
            assert got == expected, (name, backend, texts)


@pytest.mark.skipif(not HAVE_ARROW, reason="needs pyarrow")
def test_arrow_byte_scans_across_blocks(monkeypatch):
    """Word counts and fence detection stay exact when texts span many small blocks."""
    monkeypatch.setattr(med_texts, "_BYTE_CHUNK", 7)
    rng = np.random.default_rng(0)
    pieces = ["word", " ", "\n", "\u00a0", "```", "é", "", "x\u2003y", "\t"]
    texts = ["".join(rng.choice(pieces, size=rng.integers(0, 12))) for _ in range(300)]
    texts += ["", "a" * 50, " " * 20]
    series = as_backend(texts, "pyarrow")
    assert get_mediator("words").vectorized(series).tolist() == [len(t.split()) for t in texts]
    assert med_texts.contains(series, "```").tolist() == ["```" in t for t in texts]


# --------------------------------------------------------------------------- registry
def test_register_as_decorator(registry):
    @register_mediator("question_marks", unit="question marks", description="'?'")
    def question_marks(text):
        return text.count("?")

    assert question_marks("??") == 2  # the function stays usable
    m = get_mediator("question_marks")
    assert (m.name, m.unit, m.description, m.vectorized) == (
        "question_marks",
        "question marks",
        "'?'",
        None,
    )
    assert m("a? b?") == 2.0
    assert "question_marks" in available_mediators()


def test_register_as_call_with_vectorized(registry):
    def vec(texts):
        return texts.str.count("z").to_numpy(dtype=float)

    func = register_mediator("zeds", lambda t: t.count("z"), vectorized=vec, unit="z")
    assert callable(func)
    assert get_mediator("zeds").vectorized is vec
    assert get_mediator("zeds").compute(["zz", "", "z"]).tolist() == [2.0, 0.0, 1.0]


def test_duplicate_name_needs_overwrite(registry):
    register_mediator("dup_feature", len)
    with pytest.raises(ParameterError, match="already registered.*overwrite=True"):
        register_mediator("dup_feature", len)
    with pytest.raises(ParameterError, match="already registered"):
        register_mediator("length")(len)
    register_mediator("dup_feature", lambda t: 7, overwrite=True)
    assert get_mediator("dup_feature")("abc") == 7.0


def test_unknown_name_suggests_closest():
    with pytest.raises(ParameterError) as err:
        get_mediator("lenght")
    msg = str(err.value)
    assert msg.startswith("Unknown mediator 'lenght'. Did you mean 'length'? Known mediators: ")
    assert all(name in msg for name in BUILTINS)
    with pytest.raises(ParameterError) as err:
        get_mediator("zzzzqqq")
    assert "Did you mean" not in str(err.value)
    with pytest.raises(ParameterError, match="Unknown mediator 'nope'"):
        unregister_mediator("nope")
    with pytest.raises(ParameterError, match="must be a str"):
        get_mediator(3)


@pytest.mark.parametrize(
    "name",
    ["my-feat", "1abc", "two words", "", "class", "lambda", "x_model", "x_baseline", "scaled", 5],
)
def test_invalid_names(name, registry):
    with pytest.raises(ParameterError):
        register_mediator(name, len)


def test_invalid_arguments(registry):
    with pytest.raises(ParameterError, match="callable"):
        register_mediator("not_callable", 3)
    with pytest.raises(ParameterError, match="vectorized"):
        register_mediator("bad_vec", len, vectorized="nope")
    with pytest.raises(ParameterError, match="unit"):
        register_mediator("bad_unit", len, unit=3)
    assert "not_callable" not in available_mediators()


def test_available_is_sorted_and_unregister(registry):
    names = available_mediators()
    assert names == sorted(names)
    register_mediator("temp_one", len)
    unregister_mediator("temp_one")
    assert "temp_one" not in available_mediators()


# --------------------------------------------------------------------------- compute_mediators
def small_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "model": ["m1", "m1", "m2", "m2"],
            "output_model": ["# Hi\n- a\n- b", "same", "", "**x** y z!"],
            "output_baseline": ["plain words here", "same", "base", "plain words here"],
        },
        index=[10, 11, 12, 13],
    )


@pytest.mark.parametrize("backend", BACKENDS)
def test_compute_mediators_shape_sign_and_zero(backend):
    dtype = as_backend([], backend).dtype
    frame = small_frame().astype({"output_model": dtype, "output_baseline": dtype})
    out = compute_mediators(frame, ["length", "lists", "words"])
    assert list(out.columns) == [
        "length_model",
        "length_baseline",
        "length",
        "lists_model",
        "lists_baseline",
        "lists",
        "words_model",
        "words_baseline",
        "words",
    ]
    assert out.index.equals(frame.index)
    assert all(dtype == np.float64 for dtype in out.dtypes)
    assert out["length_model"].tolist() == [12.0, 4.0, 0.0, 10.0]
    assert out["length_baseline"].tolist() == [16.0, 4.0, 4.0, 16.0]
    assert out["length"].tolist() == [-4.0, 0.0, -4.0, -6.0]  # model minus baseline
    assert out["lists"].tolist() == [2.0, 0.0, 0.0, 0.0]
    assert out["words"].tolist() == [3.0, 0.0, -1.0, 0.0]
    assert out.loc[11, ["length", "lists", "words"]].tolist() == [0.0, 0.0, 0.0]  # same text


def test_compute_mediators_arguments():
    frame = small_frame()
    single = compute_mediators(frame, "bold")
    assert list(single.columns) == ["bold_model", "bold_baseline", "bold"]
    assert single["bold"].tolist() == [0.0, 0.0, 0.0, 1.0]
    twice = compute_mediators(frame, ["bold", "bold"])
    assert list(twice.columns) == list(single.columns)
    empty_names = compute_mediators(frame, [])
    assert empty_names.shape == (4, 0) and empty_names.index.equals(frame.index)
    with pytest.raises(ParameterError, match="Did you mean 'lists'"):
        compute_mediators(frame, ["lsts"])
    with pytest.raises(InputError, match="missing column"):
        compute_mediators(frame.drop(columns="output_baseline"), ["length"])
    with pytest.raises(InputError, match="DataFrame"):
        compute_mediators(frame["output_model"], ["length"])


def test_compute_mediators_empty_frame():
    frame = pd.DataFrame({"output_model": pd.Series([], dtype=object), "output_baseline": []})
    out = compute_mediators(frame, ["length", "words", "headers"])
    assert out.shape == (0, 9)


def test_compute_mediators_bad_outputs():
    frame = small_frame()
    frame.loc[12, "output_model"] = None
    with pytest.raises(InputError, match=r"'output_model' is missing in 1 row\(s\) \(12\)"):
        compute_mediators(frame, ["length"])
    frame = small_frame().astype({"output_baseline": object})
    frame.loc[13, "output_baseline"] = 42
    with pytest.raises(InputError, match="must be a str"):
        compute_mediators(frame, ["length"])


def test_texts_arrow_cannot_hold_still_work():
    """A lone surrogate cannot be UTF-8 encoded: evaluation falls back to Python strings."""
    frame = pd.DataFrame(
        {"output_model": ["bad \ud800 text!"], "output_baseline": ["ok"]}, dtype=object
    )
    out = compute_mediators(frame, ["length", "words", "exclamations"])
    assert out[["length_model", "words_model", "exclamations"]].iloc[0].tolist() == [11.0, 3.0, 1.0]


def test_each_unique_text_evaluated_once(registry):
    calls = collections.Counter()

    @register_mediator("counted")
    def counted(text):
        calls[text] += 1
        return len(text)

    frame = pd.DataFrame(
        {
            "output_model": ["a", "bb", "a", "base1", "ccc", "bb"],
            "output_baseline": ["base1", "base2", "base1", "base1", "base2", "base1"],
        }
    )
    out = compute_mediators(frame, ["counted"])
    assert calls == {t: 1 for t in ["a", "bb", "base1", "ccc", "base2"]}
    assert out["counted"].tolist() == [-4.0, -3.0, -4.0, 0.0, -2.0, -3.0]


def test_vectorized_user_mediator_called_once_on_distinct_texts(registry):
    seen = []

    def vec(texts):
        seen.append(list(texts))
        return texts.str.len().to_numpy(dtype=float) * 2

    register_mediator("double_len", lambda t: 2 * len(t), vectorized=vec)
    frame = pd.DataFrame({"output_model": ["x", "yy", "x"], "output_baseline": ["zzz"] * 3})
    out = compute_mediators(frame, ["double_len"])
    assert len(seen) == 1 and sorted(seen[0]) == ["x", "yy", "zzz"]
    assert out["double_len"].tolist() == [-4.0, -2.0, -4.0]


@pytest.mark.parametrize("backend", ["object"] + (["pyarrow"] if HAVE_ARROW else []))
@pytest.mark.parametrize("distinct", [True, False])
def test_compute_mediators_large_frames(backend, distinct):
    """Big frames take the fast paths (fingerprints, full-column evaluation); results
    equal a plain per-row computation."""
    rng = np.random.default_rng(1)
    n_models, n_inst = 25, 500
    words = np.array(["alpha", "beta", "# head", "- item", "**b**", "\n", "😀", "```"])

    def text():
        return " ".join(rng.choice(words, size=rng.integers(0, 15)))

    base = [text() for _ in range(n_inst)]
    pool = [text() for _ in range(300)]
    model = [text() + f" {i}" if distinct else pool[rng.integers(300)] for i in range(12_500)]
    frame = pd.DataFrame(
        {
            "model": np.repeat([f"m{j}" for j in range(n_models)], n_inst),
            "output_model": model,
            "output_baseline": base * n_models,
        }
    )
    dtype = as_backend([], backend).dtype
    frame = frame.astype({"output_model": dtype, "output_baseline": dtype})
    names = ["length", "words", "headers", "lists", "bold", "emoji", "code_blocks"]
    out = compute_mediators(frame, names)
    for name in names:
        f = get_mediator(name).func
        expect_m = np.array([f(t) for t in frame["output_model"]], dtype=float)
        expect_b = np.array([f(t) for t in frame["output_baseline"]], dtype=float)
        np.testing.assert_array_equal(out[f"{name}_model"], expect_m)
        np.testing.assert_array_equal(out[name], expect_m - expect_b)


@pytest.mark.parametrize(
    ("func", "pattern"),
    [
        (lambda t: 1 / 0 if t == "boom" else 1, "failed with ZeroDivisionError.*'boom'"),
        (lambda t: "abc", "finite number, but returned 'abc' \\(str\\)"),
        (lambda t: None, "returned None"),
        (lambda t: math.nan, "returned nan"),
        (lambda t: math.inf, "returned inf"),
    ],
)
def test_user_function_errors(func, pattern, registry):
    register_mediator("faulty", func)
    frame = pd.DataFrame({"output_model": ["ok", "boom"], "output_baseline": ["fine", "fine"]})
    with pytest.raises(InputError, match=f"Mediator 'faulty'.*{pattern}"):
        compute_mediators(frame, ["faulty"])


def test_error_shows_truncated_text(registry):
    register_mediator("always_fails", lambda t: [])
    long_text = "x" * 500
    frame = pd.DataFrame({"output_model": [long_text], "output_baseline": [long_text]})
    with pytest.raises(InputError) as err:
        compute_mediators(frame, ["always_fails"])
    msg = str(err.value)
    assert "'always_fails'" in msg and "x" * 80 + "…" in msg and "x" * 81 not in msg


def test_bools_and_numpy_numbers_are_accepted(registry):
    register_mediator("has_code", lambda t: "```" in t)
    register_mediator("np_len", lambda t: np.int64(len(t)))
    frame = pd.DataFrame({"output_model": ["```x```"], "output_baseline": ["y"]})
    out = compute_mediators(frame, ["has_code", "np_len"])
    assert out[["has_code", "np_len"]].iloc[0].tolist() == [1.0, 6.0]


def test_bad_vectorized_functions(registry):
    register_mediator("wrong_shape", len, vectorized=lambda s: np.zeros(len(s) + 1))
    register_mediator("vec_raises", len, vectorized=lambda s: 1 / 0)
    register_mediator("vec_nan", len, vectorized=lambda s: np.full(len(s), np.nan))
    frame = pd.DataFrame({"output_model": ["a"], "output_baseline": ["b"]})
    with pytest.raises(InputError, match="shape"):
        compute_mediators(frame, ["wrong_shape"])
    with pytest.raises(InputError, match="vectorized version of mediator 'vec_raises' failed"):
        compute_mediators(frame, ["vec_raises"])
    with pytest.raises(InputError, match="'vec_nan' must return a finite number"):
        compute_mediators(frame, ["vec_nan"])


def test_mediator_compute_checks_texts():
    m = get_mediator("length")
    assert m.compute(pd.Series(["ab", ""], index=[5, 6])).tolist() == [2.0, 0.0]
    with pytest.raises(InputError, match="single str"):
        m.compute("abc")
    with pytest.raises(InputError, match="must be a str"):
        m.compute(["a", None])


# --------------------------------------------------------------------------- transforms
def fit(transform, *args):
    transform.memorize_chunk(*args)
    transform.memorize_finish()
    return transform


def grouped_data(seed: int = 0, n: int = 400) -> pd.Series:
    rng = np.random.default_rng(seed)
    groups = rng.choice(["a", "b", "c", "d"], size=n)
    scale = pd.Series({"a": 1.0, "b": 10.0, "c": 300.0, "d": 0.1})[groups].to_numpy()
    return pd.Series(rng.normal(0.5, 1, size=n) * scale, index=pd.Index(groups, name="model"))


def test_scaled_per_group_sd_matches_pandas():
    x = grouped_data()
    t = fit(Scaled(), x)
    expected = x.groupby(level=0).std(ddof=1)
    assert t.grouped_
    pd.testing.assert_series_equal(
        t.scale_.sort_index(), expected.sort_index(), check_names=False, check_index_type=False
    )
    out = t.transform(x)
    assert isinstance(out, pd.Series) and out.index.equals(x.index)
    np.testing.assert_allclose(out.to_numpy(), (x / expected.reindex(x.index).to_numpy()))


def test_scaled_is_not_centred_and_handles_degenerate_groups():
    x = pd.Series([0.0, 5.0, 7.0, 3.0, 3.0, 3.0, 9.0], index=list("aaabbbc"))
    t = fit(Scaled(), x)
    assert t.scale_["b"] == 1.0  # all equal: SD 0 -> no scaling
    assert t.scale_["c"] == 1.0  # one row: SD undefined -> no scaling
    out = t.transform(x)
    assert out.iloc[0] == 0.0  # 0 stays 0
    assert out["b"].tolist() == [3.0, 3.0, 3.0]
    all_equal = fit(Scaled(), pd.Series([4.0] * 5, index=["m"] * 5))
    assert all_equal.transform(pd.Series([4.0], index=["m"])).tolist() == [4.0]


def test_scaled_global_when_no_group_labels():
    values = np.array([1.0, -2.0, 4.0, 0.0])
    for x in (values, list(values), pd.Series(values), pd.Series(values, index=[3, 1, 2, 0])):
        t = fit(Scaled(), x)
        assert not t.grouped_
        assert t.scale_ == pytest.approx(np.std(values, ddof=1))
        out = t.transform(x)
        np.testing.assert_allclose(np.asarray(out), values / np.std(values, ddof=1))
        assert isinstance(out, pd.Series) == isinstance(x, pd.Series)


def test_scaled_unseen_group_and_protocol_errors():
    t = fit(Scaled(), pd.Series([1.0, 2.0, 3.0], index=["a", "a", "b"]))
    with pytest.raises(InputError, match="'zz'.*not seen"):
        t.transform(pd.Series([1.0, 2.0], index=["a", "zz"]))
    with pytest.raises(InputError, match="no group labels"):
        t.transform(np.array([1.0]))
    with pytest.raises(InputError, match="before memorize_finish"):
        Scaled().transform(np.array([1.0]))
    with pytest.raises(InputError, match="nothing was memorized"):
        Scaled().memorize_finish()
    mixed = Scaled()
    mixed.memorize_chunk(pd.Series([1.0], index=["a"]))
    with pytest.raises(InputError, match="same way"):
        mixed.memorize_chunk(np.array([1.0]))
    with pytest.raises(InputError, match="numbers"):
        Scaled().memorize_chunk(pd.Series(["x", "y"]))
    with pytest.raises(InputError, match="1-D"):
        Scaled().memorize_chunk(np.ones((2, 2)))


def test_scaled_reproduces_reference_std_delta_len():
    """Up to sign: the reference uses (baseline − model) / SD over the model's rows."""
    rng = np.random.default_rng(3)
    len_model = rng.integers(0, 3000, 805).astype(float)
    len_base = rng.integers(0, 3000, 805).astype(float)
    delta_ref = len_base - len_model
    std_delta_len = delta_ref / pd.Series(delta_ref).std()
    x = pd.Series(len_model - len_base, index=["m"] * 805)
    np.testing.assert_allclose(fit(Scaled(), x).transform(x).to_numpy(), -std_delta_len)


@pytest.mark.parametrize("cls", [Scaled, DiffOverSum])
def test_memorize_two_chunks_equals_one(cls):
    rng = np.random.default_rng(5)
    groups = rng.choice(["a", "b", "c"], size=300)
    a = pd.Series(rng.integers(0, 500, 300).astype(float), index=groups)
    b = pd.Series(rng.integers(0, 500, 300).astype(float), index=groups)
    args = (a - b,) if cls is Scaled else (a, b)
    one = fit(cls(), *args)
    two = cls()
    two.memorize_chunk(*(x.iloc[:120] for x in args))
    two.memorize_chunk(*(x.iloc[120:] for x in args))
    two.memorize_finish()
    pd.testing.assert_series_equal(one.scale_.sort_index(), two.scale_.sort_index())
    np.testing.assert_allclose(one.transform(*args), two.transform(*args), rtol=1e-12)


def test_nullable_input():
    x = pd.Series([1.0, None, 3.0], index=list("aab"), dtype="Float64")
    out = fit(Scaled(), x).transform(x)
    assert out.iloc[0] == 1.0 and np.isnan(out.iloc[1]) and out.iloc[2] == 3.0


def test_memorize_ignores_nan():
    x = pd.Series([1.0, np.nan, 3.0, 5.0], index=list("aaab"))
    t = fit(Scaled(), x)
    assert t.scale_["a"] == pytest.approx(np.std([1.0, 3.0], ddof=1))
    assert np.isnan(t.transform(x).iloc[1])


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(0, 5000), min_size=4, max_size=40),
    st.floats(0.01, 1000),
    st.randoms(use_true_random=False),
)
def test_scaled_invariant_to_units(lengths, c, rnd):
    a = np.array(lengths, dtype=float)
    b = np.array(rnd.sample(lengths, len(lengths)), dtype=float)
    index = ["m1", "m2"] * (len(a) // 2) + ["m1"] * (len(a) % 2)
    x = pd.Series(a - b, index=index)
    y = pd.Series(c * a - c * b, index=index)
    # (an all-equal group is left unscaled, which is not unit-free by design)
    assume((x.groupby(level=0).std() > 0).all())
    np.testing.assert_allclose(
        fit(Scaled(), y).transform(y), fit(Scaled(), x).transform(x), rtol=1e-9, atol=1e-9
    )


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.integers(1000, 5000), st.integers(1000, 5000)), min_size=3, max_size=40),
    st.floats(1, 50),
)
def test_diff_over_sum_nearly_invariant_to_units(pairs, c):
    a = pd.Series([p[0] for p in pairs], dtype=float, index=["m"] * len(pairs))
    b = pd.Series([p[1] for p in pairs], dtype=float, index=["m"] * len(pairs))
    ratio = (a - b) / (a + b)
    assume(ratio.std() > 0.05)  # a spread well above the +1's effect (≤ 1/(a+b))
    base = fit(DiffOverSum(), a, b).transform(a, b)
    scaled = fit(DiffOverSum(), c * a, c * b).transform(c * a, c * b)
    np.testing.assert_allclose(scaled, base, rtol=1e-2, atol=1e-2)


def test_diff_over_sum_values():
    a = pd.Series([3.0, 0.0, 5.0, 10.0, 0.0], index=["m", "m", "m", "n", "n"])
    b = pd.Series([1.0, 0.0, 5.0, 0.0, 10.0], index=a.index)
    t = fit(DiffOverSum(), a, b)
    ratio = (a - b) / (a + b + 1)
    sd = ratio.groupby(level=0).std(ddof=1)
    out = t.transform(a, b)
    np.testing.assert_allclose(out, ratio / sd.reindex(a.index).to_numpy())
    assert out.iloc[1] == 0.0 and out.iloc[2] == 0.0  # equal values give exactly 0
    with pytest.raises(InputError, match="non-negative"):
        fit(DiffOverSum(), a - 5, b)
    with pytest.raises(InputError, match="not aligned"):
        fit(DiffOverSum(), a, b.set_axis(list("vwxyz")))
    with pytest.raises(InputError, match="differ in length"):
        fit(DiffOverSum(), a, b.iloc[:2])
    flat = fit(DiffOverSum(), np.array([2.0, 2.0]), np.array([1.0, 1.0]))
    assert flat.scale_ == 1.0  # constant ratio: no scaling, no crash


def test_log_ratio():
    a = pd.Series([3.0, 0.0, 9.0], index=["x", "y", "z"], name="len")
    b = pd.Series([1.0, 0.0, 0.0], index=a.index)
    out = fit(LogRatio(), a, b).transform(a, b)
    assert out.index.equals(a.index)
    np.testing.assert_allclose(out, [math.log(2), 0.0, math.log(10)])
    np.testing.assert_allclose(LogRatio().transform([1.0], [3.0]), [math.log(0.5)])
    with pytest.raises(InputError, match="greater than -1"):
        LogRatio().transform([-1.0], [0.0])


def test_transforms_registry():
    assert TRANSFORMS == {"scaled": Scaled, "diff_over_sum": DiffOverSum, "log_ratio": LogRatio}


# --------------------------------------------------------------------------- patsy
def patsy_frame() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    models = np.repeat(["short", "long"], 50)
    length = np.where(models == "long", 40.0, 1.0) * rng.normal(0, 1, 100)
    length[0] = 0.0
    headers_model = rng.integers(0, 5, 100).astype(float)
    headers_baseline = rng.integers(0, 5, 100).astype(float)
    return pd.DataFrame(
        {
            "length": length,
            "headers_model": headers_model,
            "headers_baseline": headers_baseline,
        },
        index=pd.Index(models, name="model"),
    )


def test_patsy_scaled_is_per_model():
    df = patsy_frame()
    env = patsy.EvalEnvironment(
        [{name: patsy.stateful_transform(c) for name, c in TRANSFORMS.items()}, {"np": np}]
    )
    dm = patsy.dmatrix("np.tanh(scaled(length)) - 1", df, eval_env=env, return_type="dataframe")
    sd = df["length"].groupby(level=0).std(ddof=1)
    expected = np.tanh(df["length"] / sd.reindex(df.index).to_numpy())
    np.testing.assert_allclose(dm.iloc[:, 0].to_numpy(), expected.to_numpy())
    assert dm.iloc[0, 0] == 0.0  # uncentred
    # applying the stored design to new data re-uses the memorised per-model scales
    new = df.iloc[[0, 60]].assign(length=[10.0, 10.0])
    (again,) = patsy.build_design_matrices([dm.design_info], new, return_type="dataframe")
    np.testing.assert_allclose(again.iloc[:, 0], np.tanh(10.0 / sd[["short", "long"]].to_numpy()))
    unseen = new.set_axis(pd.Index(["brand_new", "long"], name="model"))
    with pytest.raises(patsy.PatsyError, match="brand_new") as err:
        patsy.build_design_matrices([dm.design_info], unseen)
    assert isinstance(err.value.__cause__, InputError)  # patsy wraps our error


def test_patsy_diff_over_sum_and_log_ratio():
    df = patsy_frame()
    env = patsy.EvalEnvironment(
        [{name: patsy.stateful_transform(c) for name, c in TRANSFORMS.items()}]
    )
    dm = patsy.dmatrix(
        "diff_over_sum(headers_model, headers_baseline) + log_ratio(headers_model, headers_baseline) - 1",
        df,
        eval_env=env,
    )
    ratio = (df.headers_model - df.headers_baseline) / (df.headers_model + df.headers_baseline + 1)
    sd = ratio.groupby(level=0).std(ddof=1)
    np.testing.assert_allclose(dm[:, 0], ratio / sd.reindex(df.index).to_numpy())
    np.testing.assert_allclose(dm[:, 1], np.log1p(df.headers_model) - np.log1p(df.headers_baseline))
