"""Write files and folders so that a reader never sees them half-written.

Every write goes to a temporary name in the destination's own folder and is renamed
into place (:func:`os.replace`, atomic on POSIX and Windows within one file system):
a write killed midway leaves the previous file intact and, at worst, a hidden
``.<name>.*.tmp`` beside it. A folder is built under a temporary name and swapped in
with two renames, so a reader sees the old folder, no folder for an instant, or the
new one, never a mix of two runs.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from debias.errors import InputError

__all__ = ["atomic_dir", "atomic_open", "check_not_input", "write_bytes", "write_text"]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "w", **kwargs) -> Iterator:
    """Open a temporary file beside ``path``; on success rename it to ``path``.

    Parameters
    ----------
    path : str or path-like
        The destination; its folder is created if needed.
    mode : {"w", "wb"}
        Text or binary.
    **kwargs
        Passed to :func:`open` (e.g. ``encoding``, ``newline``).

    Examples
    --------
    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "t.txt"
    >>> with atomic_open(p) as f:
    ...     _ = f.write("hello")
    >>> p.read_text()
    'hello'
    >>> try:
    ...     with atomic_open(p) as f:
    ...         _ = f.write("half")
    ...         raise RuntimeError("killed")
    ... except RuntimeError:
    ...     pass
    >>> p.read_text(), sorted(x.name for x in p.parent.iterdir())
    ('hello', ['t.txt'])
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"mode must be 'w' or 'wb', got {mode!r}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        if mode == "w":
            kwargs.setdefault("encoding", "utf-8")
        with os.fdopen(fd, mode, **kwargs) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give a normal file's mode
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically; returns the path."""
    with atomic_open(path, "w", newline="") as f:
        f.write(text)
    return Path(path)


def write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically; returns the path."""
    with atomic_open(path, "wb") as f:
        f.write(data)
    return Path(path)


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike, *, replace: bool = True) -> Iterator[Path]:
    """Yield a fresh temporary folder beside ``path``; on success it becomes ``path``.

    An existing ``path`` is swapped out (renamed aside, then deleted) only after the new
    folder is complete; on any error the temporary folder is deleted and ``path`` is
    untouched. The caller decides beforehand whether an existing ``path`` may be replaced.

    Parameters
    ----------
    path : str or path-like
        The destination folder.
    replace : bool, default True
        Replace an existing ``path`` (else :class:`FileExistsError` if it exists and is
        not empty).

    Examples
    --------
    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp()) / "out"
    >>> with atomic_dir(d) as tmp:
    ...     _ = (tmp / "a.txt").write_text("run 1")
    >>> with atomic_dir(d) as tmp:
    ...     _ = (tmp / "b.txt").write_text("run 2")
    >>> sorted(x.name for x in d.iterdir())
    ['b.txt']
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"))
    try:
        yield tmp
        os.chmod(tmp, 0o777 & ~_umask())
        if path.is_dir() and not path.is_symlink() and any(path.iterdir()):
            if not replace:
                raise FileExistsError(f"{path}: exists and is not empty")
            old = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=".old"))
            os.replace(path, old / path.name)
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            if path.is_dir() and not path.is_symlink():
                path.rmdir()  # empty
            os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _resolved(p) -> Path:
    try:
        return Path(p).expanduser().resolve()
    except (OSError, RuntimeError):
        return Path(os.path.abspath(p))


def check_not_input(out: str | os.PathLike, inputs: Iterable, what: str = "--out") -> None:
    """Refuse an output path that is one of the inputs, or a data file inside an input folder.

    Raises
    ------
    InputError
        Writing there would overwrite judgments the run reads.

    Examples
    --------
    >>> import tempfile
    >>> f = Path(tempfile.mkdtemp()) / "judgments.csv"
    >>> _ = f.write_text("x")
    >>> check_not_input(f.parent / "table.csv", [f])
    >>> check_not_input(f, [f])
    Traceback (most recent call last):
    ...
    debias.errors.InputError: --out ... is an input of this run; write the output elsewhere.
    """
    o = _resolved(out)
    for inp in inputs:
        if inp is None or not isinstance(inp, (str, os.PathLike)):
            continue
        i = _resolved(inp)
        if o == i or (o.exists() and i.exists() and _samefile(o, i)):
            raise InputError(f"{what} {out} is an input of this run; write the output elsewhere.")
        if i.is_dir() and o.is_relative_to(i):
            rel = o.relative_to(i).parts
            data_like = o.name.startswith(("annotations", "model_outputs")) or "results" in rel
            if data_like or (i.name == "results"):
                raise InputError(
                    f"{what} {out} is inside the input tree {inp}; write the output elsewhere."
                )


def _samefile(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False
