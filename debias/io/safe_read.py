"""Bounded reading of input files: regular files only, decompression streamed and capped.

Every reader of :mod:`debias.io` gets its bytes through :func:`read_bytes`, so one
rule holds everywhere:

- only a regular file is opened (checked with :func:`os.stat` first): a FIFO, a
  socket or a device would block or never end, a folder is not a file, and a
  dangling symlink is named as such;
- gzip data (recognised by its magic bytes, whatever the suffix) is inflated in
  chunks and refused as soon as it passes the cap, or as soon as it has inflated
  more than :data:`MAX_RATIO` times the compressed bytes read (past 64 MiB), so a
  small "zip bomb" fails within a fraction of a second and 64 MiB of memory;
- the cap is :data:`DEFAULT_MAX_BYTES` (2 GiB per file), or the environment
  variable ``DEBIAS_MAX_FILE_BYTES``, or the ``max_bytes=`` argument.
"""

from __future__ import annotations

import io
import os
import stat
import zlib
from pathlib import Path

from debias.errors import InputError

#: Default cap on the (decompressed) size of one input file, in bytes.
DEFAULT_MAX_BYTES = 2 * 1024**3
MAX_BYTES_ENV = "DEBIAS_MAX_FILE_BYTES"
GZIP_MAGIC = b"\x1f\x8b"
REDO = "re-download or regenerate the file."
#: A gzip stream inflating more than this many times its size (once past RATIO_FLOOR
#: bytes) is refused as a decompression bomb: text and JSON compress ~5-20-fold.
MAX_RATIO = 200
RATIO_FLOOR = 64 << 20
_CHUNK = 1 << 20  # compressed bytes read at a time
_OUT_CHUNK = 16 << 20  # most bytes inflated per zlib call (between cap checks)


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (its type name if empty)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def max_bytes(value: int | None = None) -> int:
    """The cap in force: ``value`` if given, else ``$DEBIAS_MAX_FILE_BYTES``, else 2 GiB.

    Examples
    --------
    >>> max_bytes(1000)
    1000
    """
    if value is None:
        env = os.environ.get(MAX_BYTES_ENV, "").strip()
        if not env:
            return DEFAULT_MAX_BYTES
        try:
            value = int(float(env))
        except ValueError:
            raise InputError(
                f"{MAX_BYTES_ENV}={env!r}: expected a number of bytes, e.g. 2147483648."
            ) from None
    if value <= 0:
        raise InputError(f"The file size cap must be a positive number of bytes, got {value}.")
    return int(value)


def _size(n: int) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)  # pragma: no cover


def _too_big(path, cap: int, what: str) -> InputError:
    return InputError(
        f"{path}: {what} more than the cap of {_size(cap)} per file; raise it with "
        f"{MAX_BYTES_ENV}=<bytes> if the file is genuine."
    )


def check_regular_file(path: str | os.PathLike, what: str = "file") -> os.stat_result:
    """Stat ``path`` and refuse anything but a regular file (one line naming the path).

    Examples
    --------
    >>> import tempfile
    >>> check_regular_file(tempfile.mkdtemp())
    Traceback (most recent call last):
    ...
    debias.errors.InputError: ...: is a folder, expected a file.
    """
    p = Path(path)
    try:
        st = os.stat(p)
    except FileNotFoundError:
        if p.is_symlink():
            raise InputError(
                f"{p}: dangling symbolic link (its target {os.readlink(p)!r} does not exist)."
            ) from None
        raise InputError(f"{p}: {what} not found (no such file).") from None
    except OSError as exc:  # permission, symlink loop, name too long...
        raise InputError(f"{p}: cannot be read ({first_line(exc)}).") from None
    mode = st.st_mode
    if stat.S_ISDIR(mode):
        raise InputError(f"{p}: is a folder, expected a file.")
    if not stat.S_ISREG(mode):
        kind = (
            "a named pipe (FIFO)"
            if stat.S_ISFIFO(mode)
            else "a socket"
            if stat.S_ISSOCK(mode)
            else "a device"
            if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
            else "not a regular file"
        )
        raise InputError(f"{p}: is {kind}; only regular files are read.")
    return st


def gunzip_capped(data: bytes, name, cap: int | None = None) -> bytes:
    """Inflate gzip ``data`` (magic bytes) in chunks, refusing output beyond the cap.

    Data that is not gzip is returned as it is (its own size is checked).

    Examples
    --------
    >>> import gzip
    >>> gunzip_capped(gzip.compress(b"abc"), "x.gz")
    b'abc'
    """
    cap = max_bytes(cap)
    if data[:2] != GZIP_MAGIC:
        if len(data) > cap:
            raise _too_big(name, cap, "holds")
        return data
    return _inflate(io.BytesIO(data), name, cap)


def _inflate(raw: io.BufferedIOBase, name, cap: int) -> bytes:
    """Inflate a gzip stream (every member, as ``gzip`` does), checking the caps as it goes.

    ``zlib`` is called directly on large blocks: each call releases the GIL for its whole
    block, so a reading thread keeps inflating while another thread parses JSON (the
    ``gzip`` module's small reads stall behind the parser's hold on the GIL). ``wbits=31``
    checks the gzip header and the CRC-32 and length trailer of each member.
    """
    out = bytearray()
    inflater = zlib.decompressobj(wbits=31)
    pending = b""
    try:
        while True:
            if not pending:
                pending = raw.read(_CHUNK)
                if not pending:
                    break
            block = inflater.decompress(pending, _OUT_CHUNK)
            pending = inflater.unconsumed_tail
            out += block
            if len(out) > cap:
                raise _too_big(name, cap, "decompresses to")
            if len(out) > RATIO_FLOOR and len(out) > MAX_RATIO * max(raw.tell(), 1):
                raise InputError(
                    f"{name}: inflates more than {MAX_RATIO}-fold ({_size(len(out))} from "
                    f"{_size(raw.tell())} read; ratio cap {MAX_RATIO}:1 past "
                    f"{_size(RATIO_FLOOR)}, size cap {_size(cap)}): a decompression bomb, "
                    "not judgments."
                )
            if inflater.eof:  # end of a member: another may follow; zero padding is skipped
                pending = inflater.unused_data.lstrip(b"\0")
                while not pending:
                    more = raw.read(_CHUNK)
                    if not more:
                        return bytes(out)
                    pending = more.lstrip(b"\0")
                inflater = zlib.decompressobj(wbits=31)
        out += inflater.flush()  # output held back by the last call's length limit
        if len(out) > cap:
            raise _too_big(name, cap, "decompresses to")
        if not inflater.eof:
            raise EOFError("compressed file ended before the end-of-stream marker was reached")
    except (EOFError, OSError, zlib.error) as exc:
        raise InputError(
            f"{name}: not a readable gzip file ({first_line(exc)}), probably cut short: {REDO}"
        ) from None
    return bytes(out)


def read_bytes(path: str | os.PathLike, cap: int | None = None, what: str = "file") -> bytes:
    """Read a regular file, gunzipping it when it is gzip, within the size cap.

    Parameters
    ----------
    path : str or path-like
    cap : int, optional
        Most bytes accepted after decompression (default :func:`max_bytes`).
    what : str
        What the file is, for the "not found" message.

    Raises
    ------
    InputError
        Missing file, dangling symlink, a folder, FIFO, socket or device, an
        unreadable or truncated file, or more than ``cap`` bytes.

    Examples
    --------
    >>> import gzip, tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "x.json.gz"
    >>> _ = f.write_bytes(gzip.compress(b"[]"))
    >>> read_bytes(f)
    b'[]'
    """
    cap = max_bytes(cap)
    p = Path(path)
    st = check_regular_file(p, what)
    try:
        with open(p, "rb") as fh:
            head = fh.read(2)
            if head == GZIP_MAGIC:
                fh.seek(0)
                return _inflate(fh, p, cap)
            if st.st_size > cap:
                raise _too_big(p, cap, "holds")
            rest = fh.read(cap + 1 - len(head))
    except InputError:
        raise
    except OSError as exc:
        raise InputError(f"{p}: cannot be read ({first_line(exc)}).") from None
    data = head + rest
    if len(data) > cap:  # grew while reading
        raise _too_big(p, cap, "holds")
    return data
