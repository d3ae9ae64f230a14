"""Formulas are code-like input: every term is checked against an allow-list before use.

patsy evaluates each term of a formula (``tanh(scaled(length))``) as Python code.
A formula typed by a user, read from a config file or passed on the command line
must never run anything else, so :func:`check_term` parses the term with
:mod:`ast` and accepts only

- names of data: registered mediators, ``{mediator}_model``, ``{mediator}_baseline``
  and ``difficulty``;
- calls, with positional arguments only, to the pairwise transforms
  (:data:`debias.mediators.TRANSFORMS`) and to the numpy functions in
  :data:`NUMPY_FUNCTIONS`, written bare (``tanh(x)``) or as ``np.tanh(x)``
  (the only attribute access allowed);
- numbers, ``+ - * /``, unary ``+ -`` and ``**`` with a small constant exponent
  (inside a call: at the formula level these are patsy's operators), and patsy's
  identity ``I(...)`` to write arithmetic at the formula level.

Anything else (strings, dunders, subscripts, lambdas, comparisons, keywords,
patsy's ``C()``/``Q()`` and other functions, other attributes) is refused with a
:class:`~debias.errors.FormulaError` naming the term, before anything is
evaluated. As a second line of defence :class:`SafeEnvironment` evaluates terms
with no Python builtins at all (not a sandbox by itself: attribute chains on any
object reach Python's internals, which is why the allow-list refuses attributes).

Examples
--------
>>> sorted(check_term("tanh(scaled(length)) * 2", "f", ["length"]))
['length']
>>> check_term("open('x')", "f", ["length"])
Traceback (most recent call last):
...
debias.errors.FormulaError: Term "open('x')" in formula 'f': 'open' is not a function ...
"""

from __future__ import annotations

import ast
import difflib
import inspect
import math

import numpy as np
import patsy
import patsy.eval

from debias import mediators as _mediators
from debias.errors import FormulaError
from debias.model.formula_names import IDENTITY, NUMPY_FUNCTIONS

MAX_FORMULA_CHARS = 2000
MAX_EXPONENT = 8
MAX_CONSTANT = 1e12

_DATA_SUFFIXES = ("_model", "_baseline")
_BINARY = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Pow)
_UNARY = (ast.UAdd, ast.USub)


def _transform_arity() -> dict[str, int]:
    """Transform name → number of arguments (debias.mediators imports this module)."""
    return {
        name: len(inspect.signature(cls.transform).parameters) - 1
        for name, cls in _mediators.TRANSFORMS.items()
    }


def functions() -> dict[str, object]:
    """The callables a checked formula may use, by formula name (the evaluation namespace)."""
    env: dict[str, object] = {
        name: patsy.stateful_transform(cls) for name, cls in _mediators.TRANSFORMS.items()
    }
    env.update({name: getattr(np, name) for name in NUMPY_FUNCTIONS})
    env[IDENTITY] = _identity
    env["np"] = _NumpySubset()
    return env


def _identity(x):
    return x


class _NumpySubset:
    """``np`` inside a formula: only the allow-listed functions are attributes."""

    def __init__(self) -> None:
        for name in NUMPY_FUNCTIONS:
            setattr(self, name, getattr(np, name))


class SafeEnvironment(patsy.EvalEnvironment):
    """A patsy evaluation environment whose code sees no Python builtins.

    patsy evaluates a term with ``eval(code, {}, namespace)``, and Python fills the
    empty globals with the real builtins (``open``, ``__import__``, ...). Here the
    globals are ``{"__builtins__": {}}``; :meth:`subset` keeps the class, since patsy
    stores the subset it evaluates every term in.

    Examples
    --------
    >>> env = SafeEnvironment([{"x": 2}])
    >>> env.eval("x * 3")
    6
    >>> env.eval("len([1])")
    Traceback (most recent call last):
    ...
    NameError: name 'len' is not defined
    """

    def subset(self, names):
        lookup = patsy.eval.VarLookupDict(self._namespaces)
        return SafeEnvironment([{name: lookup[name] for name in names}], self.flags)

    def eval(self, expr, source_name="<string>", inner_namespace=None):
        code = compile(expr, source_name, "eval", self.flags, False)
        namespace = patsy.eval.VarLookupDict([inner_namespace or {}, *self._namespaces])
        return eval(code, {"__builtins__": {}}, namespace)  # checked terms, no builtins


def check_formula_text(formula: str) -> None:
    """Refuse formulas too long to be a model (bounded parse time)."""
    if len(formula) > MAX_FORMULA_CHARS:
        raise FormulaError(
            f"The formula has {len(formula)} characters; at most {MAX_FORMULA_CHARS} are "
            "accepted. Write fewer terms."
        )


def check_term(code: str, formula: str, mediators) -> set[str]:
    """Check one patsy factor against the allow-list; return the data names it uses.

    Parameters
    ----------
    code : str
        The factor's Python code, as patsy split it from the formula.
    formula : str
        The whole formula (for the message).
    mediators : iterable of str
        The registered mediator names.

    Raises
    ------
    FormulaError
        Naming the term and what is not allowed in it.
    """
    known = set(mediators)
    transforms = {**_transform_arity(), IDENTITY: 1}
    try:
        tree = ast.parse(code.strip(), mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        raise FormulaError(f"Term {code!r} in formula {formula!r} is not valid Python.") from None
    names: set[str] = set()

    def refuse(why: str):
        return FormulaError(f"Term {code!r} in formula {formula!r}: {why}")

    def callee(node: ast.expr) -> str:
        if isinstance(node, ast.Name) and (node.id in transforms or node.id in NUMPY_FUNCTIONS):
            return node.id
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id == "np"
            and node.attr in NUMPY_FUNCTIONS
        ):
            return node.attr
        shown = ast.unparse(node)
        close = difflib.get_close_matches(shown, [*transforms, *NUMPY_FUNCTIONS], n=1, cutoff=0.7)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        why = (
            f"{shown!r} is not a function a formula may call.{hint} Allowed: the transforms "
            f"{', '.join(transforms)} and numpy's {', '.join(NUMPY_FUNCTIONS)} "
            "(bare or as np.<name>)."
        )
        raise refuse(why)

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.Expression):
            visit(node.body)
        elif isinstance(node, ast.Name):
            names.add(_data_name(node.id, known, transforms, refuse))
        elif isinstance(node, ast.Constant):
            value = node.value
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise refuse(
                    f"{value!r} is a {type(value).__name__}; only numbers may appear as constants."
                )
            if not (math.isfinite(value) and abs(value) <= MAX_CONSTANT):
                raise refuse(f"the number {value!r} is out of range (at most {MAX_CONSTANT:g}).")
        elif isinstance(node, ast.Call):
            name = callee(node.func)
            if node.keywords or any(isinstance(a, ast.Starred) for a in node.args):
                raise refuse(f"{name}() takes positional arguments only (no keywords, * or **).")
            arity = transforms.get(name) or NUMPY_FUNCTIONS[name]
            if len(node.args) != arity:
                raise refuse(f"{name}() takes {arity} argument(s), got {len(node.args)}.")
            for arg in node.args:
                visit(arg)
        elif isinstance(node, ast.BinOp) and isinstance(node.op, _BINARY):
            if isinstance(node.op, ast.Pow) and not _small_constant(node.right):
                raise refuse(
                    f"the exponent of '**' must be a number between -{MAX_EXPONENT} and "
                    f"{MAX_EXPONENT}; got {ast.unparse(node.right)!r}."
                )
            visit(node.left)
            visit(node.right)
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, _UNARY):
            visit(node.operand)
        elif isinstance(node, ast.Attribute):
            raise refuse(
                f"{ast.unparse(node)!r}: the only attribute access allowed is np.<function> "
                f"with an allow-listed function ({', '.join(NUMPY_FUNCTIONS)}), called."
            )
        else:
            raise refuse(
                f"{type(node).__name__} ({ast.unparse(node)!r}) is not allowed. A term may use "
                "mediators, difficulty, numbers, + - * / **, the transforms and allow-listed "
                "numpy functions."
            )

    try:
        visit(tree)
    except RecursionError:
        raise refuse("too deeply nested.") from None
    return names


def _small_constant(node: ast.expr) -> bool:
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, _UNARY):
        node = node.operand
    return (
        isinstance(node, ast.Constant)
        and isinstance(node.value, (int, float))
        and not isinstance(node.value, bool)
        and abs(node.value) <= MAX_EXPONENT
    )


def _data_name(name: str, known: set[str], transforms, refuse) -> str:
    """Check a bare name: a mediator, its per-output columns, or difficulty."""
    if name.startswith("__") or name.startswith("_patsy"):
        raise refuse(f"{name!r}: names starting with '__' or '_patsy' are not allowed.")
    if name == "difficulty" or name in known:
        return name
    for suffix in _DATA_SUFFIXES:
        if name.endswith(suffix) and name[: -len(suffix)] in known:
            return name
    if name == "strength":
        raise refuse("the model's strength is always included; remove 'strength' from the formula.")
    if name in transforms or name in NUMPY_FUNCTIONS or name == "np":
        raise refuse(f"{name!r} is a function: call it on a mediator, e.g. {name}(length).")
    candidates = sorted(known | {"difficulty"} | set(transforms))
    close = difflib.get_close_matches(name, candidates, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise refuse(
        f"unknown name {name!r}.{hint} Use a mediator ({', '.join(sorted(known))}; register "
        "your own with debias.register_mediator), 'difficulty', or a transform "
        f"({', '.join(transforms)})."
    )
