"""Stage 1: the shared per-instruction difficulty γ, fitted jointly over all models.

The joint model (convex: the model multiplier on γ is fixed at 1) is

    logit P(model m preferred on x) = x_i · b_m + γ_x

with per-model coefficients ``b_m`` (strength and mediator slopes, from the
formula without its ``difficulty`` term) and one γ per instruction shared by all
models; the first instruction of the canonical order is the reference (γ = 0).
It is solved by Newton steps on a Schur complement (:class:`_NewtonSystem`): the
diagonal γ block is eliminated when the instructions outnumber the model coefficients
(cost linear in the instructions: 20 models × 3,200 instructions in 0.15 s, see
``benchmarks/stage1_scaling.py``), the per-model blocks otherwise (linear in the models).

Difficulty is keyed by instruction **text**, never by row position.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.linalg
import scipy.sparse as sp
from scipy.special import expit

from debias.errors import FitWarning, InputError
from debias.model.solvers.newton import group_gram, one_blas_thread, softplus


@dataclass(frozen=True)
class Difficulty:
    """Per-instruction difficulty γ with standard errors, keyed by instruction text.

    Attributes
    ----------
    values : pandas.Series
        γ indexed by instruction text (the reference instruction has γ = 0).
    std_error : pandas.Series
        Model-based standard errors (NaN when loaded from a file without them).
    source : str
        ``"fit"`` or the file it came from.

    Examples
    --------
    >>> d = Difficulty(pd.Series([0.0, 1.5], index=["a", "b"]))
    >>> d.lookup(["b", "a"]).tolist()
    [1.5, 0.0]
    """

    values: pd.Series
    std_error: pd.Series | None = None
    source: str = "fit"

    def __len__(self) -> int:
        return len(self.values)

    def lookup(self, instructions, source: str = "the data") -> np.ndarray:
        """γ for each instruction (by text).

        Raises
        ------
        InputError
            Some instructions have no difficulty (counted and shown).
        """
        instr = pd.Index(instructions)
        pos = self.values.index.get_indexer(instr)
        missing = pos < 0
        if missing.any():
            unknown = pd.unique(instr[missing])
            shown = "; ".join(repr(str(u)[:60]) for u in unknown[:3])
            raise InputError(
                f"{len(unknown)} instruction(s) in {source} have no difficulty in {self.source} "
                f"(e.g. {shown}). Fit the difficulty on these data (difficulty='fit'), supply a "
                "file that covers them, or use a formula without 'difficulty'."
            )
        return self.values.to_numpy()[pos]

    def to_frame(self) -> pd.DataFrame:
        """Columns ``instruction, difficulty, std_error``."""
        se = (
            self.std_error
            if self.std_error is not None
            else pd.Series(np.nan, index=self.values.index)
        )
        return pd.DataFrame(
            {
                "instruction": self.values.index,
                "difficulty": self.values.to_numpy(),
                "std_error": se.to_numpy(),
            }
        )

    def to_csv(self, path: str | Path, instruction_order=None) -> Path:
        """Save as CSV.

        With ``instruction_order`` (the evaluation set's canonical order) the file uses
        the reference's layout ``index,instruction_difficulty``; otherwise
        ``instruction,difficulty,std_error``.
        """
        from debias.atomic import write_text  # temp file + rename: never half-written

        path = Path(path)
        if instruction_order is not None:
            order = list(instruction_order)
            frame = pd.DataFrame(
                {"index": np.arange(len(order)), "instruction_difficulty": self.lookup(order)}
            )
        else:
            frame = self.to_frame()
        write_text(path, frame.to_csv(index=False, lineterminator="\n"))
        return path

    @classmethod
    def from_csv(cls, path: str | Path, instruction_order=None) -> Difficulty:
        """Load a difficulty file: ``instruction,difficulty[,std_error]`` or the reference's
        ``index,instruction_difficulty`` (which needs the canonical instruction order).

        Raises
        ------
        InputError
            Unknown layout, empty or header-only file, a positional file without an
            instruction order, or a bad value: text, infinite or missing numbers, a
            negative std_error, an ``index`` that is negative, fractional or past the
            evaluation set, a repeated instruction or index (file, line and column named).

        Examples
        --------
        >>> import tempfile, pathlib
        >>> f = pathlib.Path(tempfile.mkdtemp()) / "difficulty.csv"
        >>> _ = f.write_text("instruction,difficulty\\na,0.5\\nb,-0.25\\n")
        >>> Difficulty.from_csv(f).values.to_dict()
        {'a': 0.5, 'b': -0.25}
        """
        from debias.io import csv_checks

        path = Path(path)
        df = csv_checks.read_csv(path, "difficulty file")
        if {"instruction", "difficulty"} <= set(df.columns):
            instr = csv_checks.text(df, "instruction", path)
            csv_checks.unique(pd.Series(instr), path, "instruction")
            vals = pd.Series(csv_checks.numbers(df, "difficulty", path), index=instr)
            ses = None
            if "std_error" in df.columns:
                se = csv_checks.numbers(df, "std_error", path, low=0, allow_missing=True)
                ses = pd.Series(se, index=vals.index)
            return cls(vals, ses, str(path))
        if "instruction_difficulty" in df.columns:
            if instruction_order is None:
                raise InputError(
                    f"{path}: this file gives difficulty by position (index,instruction_difficulty); "
                    "its instructions are unknown without the evaluation set's order. Read the "
                    "annotations with debias.io.read_alpaca_eval (which finds the baseline's "
                    "model_outputs.json) or pass instruction_order=."
                )
            order = list(instruction_order)
            key = "index" if "index" in df.columns else df.columns[0]
            idx = csv_checks.positions(df, key, path, len(order))
            csv_checks.unique(pd.Series(idx), path, key)
            values = csv_checks.numbers(df, "instruction_difficulty", path)
            return cls(pd.Series(values, index=[order[i] for i in idx]), None, str(path))
        raise InputError(
            f"{path}: expected columns instruction,difficulty or index,instruction_difficulty; "
            f"found {list(df.columns)}."
        )


@dataclass
class JointFit:
    """Output of :func:`fit_joint`."""

    coef: np.ndarray  # (G, k)
    gamma: np.ndarray  # (I,)
    gamma_se: np.ndarray  # (I,)
    converged: bool
    n_iter: int


def fit_joint(*args, **kwargs) -> JointFit:
    """Joint soft-label logistic fit of per-model coefficients and shared γ (see :func:`_fit_joint`).

    BLAS runs single-threaded here: the Schur complements are too
    small to gain from threads, and on a busy 2-core machine threads contend (7 s
    against 0.3 s measured on the 46 local models).
    """
    with one_blas_thread():
        return _fit_joint(*args, **kwargs)


def _stage1_reporter(progress, n_models: int, n_instructions: int):
    """``report(n_iter, step)`` for :func:`_fit_joint`; ``report(None, None)`` closes."""
    if callable(progress):
        return lambda n_iter, step: n_iter is None or progress(n_iter, step)
    if not progress:
        return lambda n_iter, step: None
    import sys

    from tqdm.auto import tqdm

    bar = tqdm(
        desc=f"stage 1: difficulty of {n_instructions} instructions ({n_models} models)",
        unit=" steps",
        file=sys.stderr,
    )

    def report(n_iter, step):
        if n_iter is None:
            bar.close()
        else:
            bar.set_postfix_str(f"change {step:.1e}", refresh=False)
            bar.update()

    return report


def _fit_joint(
    X: np.ndarray,
    y: np.ndarray,
    w: np.ndarray,
    model: np.ndarray,
    instruction: np.ndarray,
    n_models: int,
    n_instructions: int,
    *,
    reference: int = 0,
    l2: float = 0.0,
    tol: float = 1e-9,
    max_iter: int = 100,
    init: tuple[np.ndarray, np.ndarray] | None = None,
    progress=False,
) -> JointFit:
    """Joint soft-label logistic fit of per-model coefficients and shared γ.

    Parameters
    ----------
    X : ndarray, shape (n, k)
        Per-row design (strength and mediator columns; no difficulty column).
    y, w : ndarray, shape (n,)
        Soft labels in [0, 1] and weights.
    model, instruction : ndarray of int, shape (n,)
        Codes in ``range(n_models)`` and ``range(n_instructions)``.
    reference : int
        The instruction reported at γ = 0.
    l2 : float
        Optional ridge ``l2 * sum(γ**2)`` (0: plain maximum likelihood).
    init : (ndarray, ndarray), optional
        Starting coefficients and γ (a warm start, e.g. in a bootstrap).
    progress : bool or callable, default False
        ``True``: a progress line per Newton step on stderr; a callable is called as
        ``progress(n_iter, step)`` after each step (``step``: the largest change).

    Returns
    -------
    JointFit

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> G, I = 20, 50
    >>> m, x = np.repeat(np.arange(G), I), np.tile(np.arange(I), G)
    >>> gamma = np.r_[0, rng.normal(size=I - 1)]
    >>> theta = rng.normal(size=G)
    >>> y = (rng.random(G * I) < expit(theta[m] + gamma[x])).astype(float)
    >>> fit = fit_joint(np.ones((G * I, 1)), y, np.ones(G * I), m, x, G, I)
    >>> bool(np.corrcoef(fit.gamma, gamma)[0, 1] > 0.6)
    True
    """
    X = np.asarray(X, dtype=float)
    n, k = X.shape
    G, I = n_models, n_instructions
    Sm = sp.csr_matrix((np.ones(n), (model, np.arange(n))), shape=(G, n))
    Sx = sp.csr_matrix((np.ones(n), (instruction, np.arange(n))), shape=(I, n))
    # Without a ridge γ is identified only up to a constant (absorbed by the strengths): hold the
    # reference instruction at 0. With a ridge every γ is free (the ridge centres them), and the
    # result is shifted afterwards so the reference is 0; either way the fit does not depend on
    # which instruction is the reference.
    free = np.ones(I, dtype=bool)
    if l2 == 0:
        free[reference] = False
    # C[g, :, x] = sum over model g's rows on instruction x of v_i * X_i (a dense (G, k, I) block)
    flat_gx = model * I + instruction

    B = np.zeros((G, k)) if init is None else np.array(init[0], dtype=float)
    gamma = np.zeros(I) if init is None else np.array(init[1], dtype=float)

    def objective(B, gamma):
        eta = np.einsum("ij,ij->i", X, B[model]) + gamma[instruction]
        return float(np.sum(w * (softplus(eta) - y * eta)) + l2 * np.sum(gamma**2)), eta

    f, eta = objective(B, gamma)
    report = _stage1_reporter(progress, G, I)
    converged = False
    n_iter = 0
    system = None
    for n_iter in range(1, max_iter + 1):
        p = expit(eta)
        r = w * (p - y)
        v = w * p * (1 - p)
        gB = np.asarray(Sm @ (r[:, None] * X))  # (G, k)
        gx = np.asarray(Sx @ r).ravel() + 2 * l2 * gamma
        HB = group_gram(X, model, v, G)
        HB += 1e-12 * np.eye(k)[None]
        D = np.asarray(Sx @ v).ravel() + 2 * l2
        C = np.stack(
            [
                np.bincount(flat_gx, weights=v * X[:, j], minlength=G * I).reshape(G, I)
                for j in range(k)
            ],
            axis=1,
        )  # (G, k, I)
        system = _NewtonSystem(HB, C, D, free)
        dB, dgamma = system.solve(gB, gx)
        t = 1.0
        for _ in range(40):
            f_new, eta_new = objective(B - t * dB, gamma - t * dgamma)
            if f_new <= f + 1e-12 * abs(f):
                break
            t /= 2
        B, gamma, f, eta = B - t * dB, gamma - t * dgamma, f_new, eta_new
        step = t * max(np.max(np.abs(dB)), np.max(np.abs(dgamma)))
        report(n_iter, step)
        if step <= tol * (1 + max(np.max(np.abs(B)), np.max(np.abs(gamma)))):
            converged = True
            break
    report(None, None)
    se = np.full(I, np.nan) if system is None else system.gamma_se(reference, l2)
    shift = gamma[reference]
    gamma = gamma - shift
    B = B.copy()
    B[:, 0] += shift  # the strength column absorbs the shift (column 0 is the strength)
    if not converged:
        warnings.warn(
            f"The joint difficulty fit did not converge in {max_iter} Newton steps; γ may be "
            "unreliable (instructions every model wins or loses?). Try a small ridge (l2=0.1).",
            FitWarning,
            stacklevel=2,
        )
    if np.max(np.abs(gamma)) > 15:
        warnings.warn(
            "Some instruction difficulties are extreme (|γ| > 15): those instructions are won or "
            "lost by every model. Consider a small ridge (difficulty_l2=0.1).",
            FitWarning,
            stacklevel=2,
        )
    return JointFit(B, gamma, se, converged, n_iter)


class _NewtonSystem:
    """One Newton system of the joint fit, solved by eliminating its cheaper side.

    The Hessian is ``[[blockdiag(H_g), C], [C', diag(D)]]``: one small block per model
    (k × k), the γ block diagonal, coupled through ``C`` (G·k × I), restricted to the
    free γ's. When the instructions outnumber the model coefficients (G·k < I) the
    diagonal γ block is eliminated: the Schur complement ``blockdiag(H_g) - C D⁻¹ C'``
    is G·k × G·k, so a step costs O(I·(G·k)²), linear in the instructions (Woodbury
    gives γ's covariance). Otherwise the model blocks are eliminated: the complement
    ``diag(D) - C' H⁻¹ C`` is I × I, O(I³) per step but linear in the models.
    """

    def __init__(self, HB: np.ndarray, C: np.ndarray, D: np.ndarray, free: np.ndarray):
        G, k, n_instr = C.shape
        self.free, self.D = free, D
        self.by_gamma = G * k < int(free.sum())
        if self.by_gamma:
            self.Cf = C[:, :, free].reshape(G * k, -1)
            self.E = self.Cf / D[free]  # C D⁻¹
            S = -(self.E @ self.Cf.T)
            S.reshape(G, k, G, k)[np.arange(G), :, np.arange(G), :] += HB
        else:
            self.C, self.HBinv = C, np.linalg.inv(HB)
            M = np.einsum("gkl,gli->gki", self.HBinv, C)  # H⁻¹ C per model
            S = -(C.reshape(G * k, n_instr).T @ M.reshape(G * k, n_instr))
            S[np.diag_indices(n_instr)] += D
            S = S[np.ix_(free, free)]
        self.S = S
        try:
            self.factor = scipy.linalg.cho_factor(S, check_finite=False)
        except np.linalg.LinAlgError:
            self.factor = None

    def _solve(self, rhs: np.ndarray) -> np.ndarray:
        if self.factor is not None:
            return scipy.linalg.cho_solve(self.factor, rhs, check_finite=False)
        return np.linalg.lstsq(self.S, rhs, rcond=None)[0]

    def solve(self, gB: np.ndarray, gx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The Newton step ``(dB, dγ)`` for gradients ``gB`` (G, k) and ``gx`` (I,)."""
        free = self.free
        dgamma = np.zeros(len(gx))
        if self.by_gamma:
            gxf = gx[free]
            dB = self._solve(gB.ravel() - self.E @ gxf).reshape(gB.shape)
            dgamma[free] = (gxf - self.Cf.T @ dB.ravel()) / self.D[free]
            return dB, dgamma
        HBinv, C = self.HBinv, self.C
        rhs = gx - np.einsum("gki,gk->i", C, np.einsum("gkl,gl->gk", HBinv, gB))
        dgamma[free] = self._solve(rhs[free])
        dB = np.einsum("gkl,gl->gk", HBinv, gB - np.einsum("gki,i->gk", C, dgamma))
        return dB, dgamma

    def gamma_se(self, reference: int, l2: float) -> np.ndarray:
        """Model-based SEs of γ (with a ridge: of γ_x − γ_reference); NaN when singular."""
        free = self.free
        se = np.full(len(free), np.nan)
        try:
            S_inv = np.linalg.inv(self.S)
        except np.linalg.LinAlgError:
            se[reference] = 0.0
            return se
        if self.by_gamma:  # γ's covariance D⁻¹ + D⁻¹ C' S⁻¹ C D⁻¹, only the parts needed
            Z = S_inv @ self.E
            d = 1 / self.D[free] + np.einsum("ai,ai->i", self.E, Z)
            col = self.E.T @ Z[:, reference] if l2 != 0 else None
            if col is not None:
                col[reference] += 1 / self.D[reference]
        else:
            d = np.diag(S_inv)
            col = S_inv[:, reference] if l2 != 0 else None
        if l2 == 0:
            se[free] = np.sqrt(np.clip(d, 0, None))
        else:  # every γ is free
            se = np.sqrt(np.clip(d + d[reference] - 2 * col, 0, None))
        se[reference] = 0.0
        return se
