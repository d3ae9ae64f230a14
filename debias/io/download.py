"""Fetch AlpacaEval annotations over HTTP(S) into a local cache (on request only)."""

from __future__ import annotations

import http.client
import os
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import warnings
from collections.abc import Iterable
from pathlib import Path

from tqdm import tqdm

from debias.errors import DataWarning, InputError
from debias.io.annotations import load_json_list, parse_json_list
from debias.io.safe_read import REDO, check_regular_file, first_line, max_bytes, read_bytes
from debias.io.tree import ANNOTATION_FILES, MODEL_OUTPUT_FILES

DEFAULT_BASE_URL = "https://raw.githubusercontent.com/tatsu-lab/alpaca_eval/main"
DEFAULT_JUDGE = "weighted_alpaca_eval_gpt4_turbo"
TIMEOUT = 60.0  # seconds for connecting and for each read
DEADLINE = 600.0  # seconds in all for one file, however the server trickles it
_CHUNK = 1 << 16
_LOCAL = (
    "check the network and the names, or download the files yourself and pass the local "
    "folder (results/<model>/<judge>/annotations.json) instead."
)


def default_cache_dir() -> Path:
    """``$DEBIAS_CACHE_DIR/alpaca_eval`` if the variable is set, else ``~/.cache/debias/alpaca_eval``."""
    base = os.environ.get("DEBIAS_CACHE_DIR")
    root = Path(base).expanduser() if base else Path.home() / ".cache" / "debias"
    return root / "alpaca_eval"


def _safe_name(name: object) -> bool:
    """Model, judge and baseline names become path parts: nothing that could leave the cache."""
    return (
        isinstance(name, str)
        and name not in ("", ".", "..")
        and not any(c in name for c in "/\\\0")
    )


def _check_name(kind: str, name: object) -> str:
    if not _safe_name(name):
        raise InputError(f"download_alpaca_eval: invalid {kind} name {name!r}.")
    return name


def _url(base_url: str, *parts: str) -> str:
    return "/".join([base_url.rstrip("/"), *(urllib.parse.quote(p) for p in parts)])


class _NotFound(InputError):
    """HTTP 404: the file is not on the server (another name may be)."""


def _socket_of(response):
    """The socket under an HTTP response (to bound each read by the time left), if any."""
    raw = getattr(getattr(response, "fp", None), "raw", None)
    return getattr(raw, "_sock", None)


def _fetch(url: str, dest: Path, *, deadline: float, cap: int, seconds: float = DEADLINE) -> None:
    """GET ``url`` into the file ``dest``, streamed: at most ``cap`` bytes and done by
    ``deadline`` (a ``time.monotonic()`` value) however slowly the server sends.

    Any failure becomes a one-line InputError naming the URL (``_NotFound`` for 404).
    """
    from debias import __version__

    if url.startswith("file:"):  # a local tree: regular files only (a FIFO would block)
        local = Path(urllib.request.url2pathname(urllib.parse.urlparse(url).path))
        if not local.exists() and not local.is_symlink():
            raise _NotFound(f"could not download {url} (no such file); {_LOCAL}")
        check_regular_file(local)
    request = urllib.request.Request(url, headers={"User-Agent": f"debias/{__version__}"})
    error: type[InputError] = InputError
    try:
        left = deadline - time.monotonic()
        with urllib.request.urlopen(request, timeout=max(0.01, min(TIMEOUT, left))) as response:
            length = response.headers.get("Content-Length") if response.headers else None
            if length and length.isdigit() and int(length) > cap:
                raise InputError(
                    f"could not download {url} (the server announces {int(length)} bytes, more "
                    f"than the cap of {cap}); {_LOCAL}"
                )
            sock = _socket_of(response)
            read = getattr(response, "read1", response.read)
            total = 0
            with open(dest, "wb") as out:
                while True:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise TimeoutError
                    if sock is not None:
                        sock.settimeout(min(TIMEOUT, left))
                    chunk = read(_CHUNK)
                    if not chunk:
                        return
                    total += len(chunk)
                    if total > cap:
                        raise InputError(
                            f"could not download {url} (more than the cap of {cap} bytes); {_LOCAL}"
                        )
                    out.write(chunk)
    except InputError:
        raise
    except urllib.error.HTTPError as exc:
        exc.close()
        reason = f"HTTP {exc.code} {exc.reason}"
        error = _NotFound if exc.code == 404 else InputError
    except urllib.error.URLError as exc:
        reason = exc.reason
        reason = first_line(reason) if isinstance(reason, BaseException) else str(reason)
    except TimeoutError:
        late = time.monotonic() >= deadline - 0.05
        reason = (
            f"not complete by the total deadline of {seconds:g} s"
            if late
            else f"no data for {TIMEOUT:g} s"
        )
    except (OSError, http.client.HTTPException, ValueError) as exc:
        reason = first_line(exc)
    raise error(f"could not download {url} ({reason}); {_LOCAL}")


def _download(
    base_url: str,
    folder: Path,
    names: tuple[str, ...],
    parts: tuple[str, ...],
    *,
    deadline: float = DEADLINE,
    cap: int | None = None,
) -> Path:
    """Fetch ``<base_url>/<parts>/<name>`` for the first name the server has, into
    ``folder/<name>``: streamed to a temporary file in ``folder``, checked to parse as
    a JSON list, then renamed into place (nothing half-written is ever left)."""
    cap = max_bytes(cap)
    first_error = None
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        url = _url(base_url, *parts, name)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".part")
        os.close(fd)
        tmp_path = Path(tmp)
        try:
            try:
                _fetch(
                    url, tmp_path, deadline=time.monotonic() + deadline, cap=cap, seconds=deadline
                )
            except _NotFound as exc:
                first_error = first_error or exc
                continue
            try:
                parse_json_list(read_bytes(tmp_path, cap), url)
            except InputError as exc:
                raise InputError(
                    str(exc).replace(str(tmp_path), url).replace(REDO, _LOCAL)
                ) from None
            os.replace(tmp_path, folder / name)
            return folder / name
        finally:
            tmp_path.unlink(missing_ok=True)
    raise InputError(str(first_error)) from None


def _cached(folder: Path, names: tuple[str, ...]) -> Path | None:
    return next((folder / n for n in names if (folder / n).is_file()), None)


def download_alpaca_eval(
    models: str | Iterable[str],
    *,
    judge: str = DEFAULT_JUDGE,
    base_url: str = DEFAULT_BASE_URL,
    cache_dir: str | os.PathLike | None = None,
    progress: bool = True,
    deadline: float = DEADLINE,
    max_bytes: int | None = None,
) -> Path:
    """Download AlpacaEval annotations into a local cache and return the cache root.

    Fetches ``results/<model>/<judge>/annotations.json`` for each model and the
    baseline's ``results/<baseline>/model_outputs.json`` (for the instruction
    order); when the server answers 404 the ``.json.gz`` name is tried too.
    Downloads are streamed to a temporary file (size cap, total deadline), checked
    to be JSON lists and renamed into place. Files already in the cache are not fetched again. Nothing is
    downloaded at import time.

    Parameters
    ----------
    models : str or iterable of str
        AlpacaEval model names (folder names under ``results/``).
    judge : str
        The annotator folder, default ``weighted_alpaca_eval_gpt4_turbo``.
    base_url : str
        Root of an AlpacaEval results tree (``http(s)://`` or ``file://``), default
        :data:`DEFAULT_BASE_URL` (the tatsu-lab/alpaca_eval repository on GitHub).
    cache_dir : str or path-like, optional
        Where to keep the files. Default :func:`default_cache_dir`. Use one cache
        per ``base_url``: cached files are not compared with the remote ones.
    progress : bool
        Show a progress bar (on stderr).
    deadline : float
        Seconds allowed for each file in all (default 600), however slowly the
        server sends; each read also times out after 60 s.
    max_bytes : int, optional
        Most bytes accepted per file, downloaded and after decompression (default
        the reading cap, 2 GiB, or ``$DEBIAS_MAX_FILE_BYTES``).

    Returns
    -------
    pathlib.Path
        The cache root; pass it to :func:`~debias.io.read_alpaca_eval` (with
        ``judge=`` and ``models=`` if the cache holds more than you want).

    Raises
    ------
    InputError
        Offline, HTTP error (a missing model gives 404) or a download that is not
        a JSON list: the message names the URL and suggests passing a local copy.
        A missing baseline ``model_outputs.json`` only warns (:class:`DataWarning`).

    Examples
    --------
    >>> root = download_alpaca_eval(["gpt4_gamed"])  # doctest: +SKIP
    >>> comps = read_alpaca_eval(root, models=["gpt4_gamed"])  # doctest: +SKIP
    """
    names = [models] if isinstance(models, str) else list(models)
    if not names:
        raise InputError("download_alpaca_eval: no models given.")
    names = [_check_name("model", m) for m in dict.fromkeys(names)]
    judge = _check_name("judge", judge)
    root = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    results = root / "results"

    annotation_files = []
    for model in tqdm(
        names, desc="Downloading AlpacaEval", unit="file", file=sys.stderr, disable=not progress
    ):
        folder = results / model / judge
        found = _cached(folder, ANNOTATION_FILES)
        if found is None:
            found = _download(
                base_url, folder, ANNOTATION_FILES, ("results", model, judge),
                deadline=deadline, cap=max_bytes,
            )  # fmt: skip
        annotation_files.append(found)

    baselines = dict.fromkeys(
        str(r["generator_1"])
        for f in annotation_files
        for r in load_json_list(f)
        if "generator_1" in r
    )
    for base in baselines:
        folder = results / base
        if not _safe_name(base) or _cached(folder, MODEL_OUTPUT_FILES) is not None:
            continue
        try:
            _download(
                base_url, folder, MODEL_OUTPUT_FILES, ("results", base),
                deadline=deadline, cap=max_bytes,
            )  # fmt: skip
        except InputError as exc:
            warnings.warn(
                f"{exc} Without the baseline's outputs the instruction order comes from the "
                "annotations.",
                DataWarning,
                stacklevel=2,
            )
    return root
