"""Build the documentation site into ``docs/_build/`` (``make docs``).

- ``api/``: the API reference of every module of :mod:`debias`, by pdoc (numpydoc
  docstrings);
- ``notebooks/``: each notebook of ``notebooks/`` executed (matplotlib's inline backend,
  so the figures are in the page) and rendered to HTML;
- ``index.html``: links to both and the plot gallery.

No network: pdoc and nbconvert write self-contained pages (figures embedded). The site is
built in a temporary folder beside ``docs/_build`` and renamed into place, so a failed
build (a notebook cell raising, say) leaves the previous site and exits non-zero.

Usage (from the project root)::

    python docs/build.py [--skip-notebooks] [--timeout SECONDS]
"""

from __future__ import annotations

import argparse
import html
import os
import pkgutil
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
GALLERY = ROOT / "docs" / "gallery"
OUT = ROOT / "docs" / "_build"


def public_modules() -> list[str]:
    """The modules to give pdoc so that every module gets a page: the package, and each
    module whose parent package has ``__all__`` (pdoc recurses into the others itself)."""
    import importlib

    import debias

    names = [m.name for m in pkgutil.walk_packages(debias.__path__, "debias.")]
    names = [n for n in names if not n.rsplit(".", 1)[-1].startswith("_")]
    hides = {n for n in ["debias", *names] if hasattr(importlib.import_module(n), "__all__")}
    return ["debias", *sorted(n for n in names if n.rsplit(".", 1)[0] in hides)]


def build_api(out: Path) -> None:
    env = {**os.environ, "MPLBACKEND": "Agg"}
    # a module reached twice (a spec and its parent package) is documented once: no warning
    quiet = ["-W", "ignore:The module specification:UserWarning"]
    cmd = [sys.executable, *quiet, "-m", "pdoc", "--docformat", "numpy", "-o", str(out)]
    subprocess.run([*cmd, *public_modules()], check=True, env=env, cwd=ROOT)


def build_notebook(path: Path, out: Path, timeout: int) -> str:
    """Execute one notebook (inline backend, run in its folder) and write its HTML; its title."""
    import nbformat
    from nbconvert import HTMLExporter
    from nbconvert.preprocessors import ExecutePreprocessor

    nb = nbformat.read(path, as_version=4)
    ExecutePreprocessor(timeout=timeout, kernel_name="python3").preprocess(
        nb, {"metadata": {"path": str(path.parent)}}
    )
    body, _ = HTMLExporter().from_notebook_node(nb)
    (out / f"{path.stem}.html").write_text(body, encoding="utf-8")
    n_png = sum(
        "image/png" in o.get("data", {})
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.outputs
    )
    print(f"  {path.name}: {n_png} figure(s)", flush=True)
    draws = any(
        "plots." in c.source or "plt." in c.source for c in nb.cells if c.cell_type == "code"
    )
    if draws and n_png == 0:  # e.g. MPLBACKEND=Agg reached the kernel: the figures are lost
        raise SystemExit(
            f"{path.name} draws plots but its executed copy holds no figure: run it with "
            "matplotlib's inline backend (%matplotlib inline, MPLBACKEND unset)."
        )
    heading = next(
        (
            line.lstrip("# ").strip()
            for c in nb.cells
            if c.cell_type == "markdown"
            for line in c.source.splitlines()
            if line.startswith("# ")
        ),
        path.stem,
    )
    return heading


def write_index(out: Path, notebooks: list[tuple[str, str]]) -> None:
    items = "\n".join(
        f'<li><a href="notebooks/{stem}.html">{html.escape(title)}</a> '
        f"(<code>notebooks/{stem}.ipynb</code>)</li>"
        for stem, title in notebooks
    )
    figures = "\n".join(
        f'<figure><img src="gallery/{p.name}" alt="{p.stem}"><figcaption>{p.stem}</figcaption>'
        "</figure>"
        for p in sorted(GALLERY.glob("*.png"))
    )
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>debias documentation</title>
<style>body{{font-family:sans-serif;max-width:60em;margin:2em auto;line-height:1.5}}
figure{{display:inline-block;margin:0.5em}}img{{max-width:28em}}</style></head>
<body>
<h1>debias</h1>
<p>Remove known biases (length, markdown, style) from LLM-judge evaluations.</p>
<h2>API reference</h2>
<p><a href="api/debias.html">The <code>debias</code> package</a>: every module, with runnable examples.</p>
<h2>Notebooks (executed)</h2>
<ul>
{items or "<li>not built (--skip-notebooks)</li>"}
</ul>
<h2>Plot gallery</h2>
{figures}
</body></html>
"""
    (out / "index.html").write_text(page, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-notebooks", action="store_true", help="API reference only")
    parser.add_argument(
        "--timeout", type=int, default=600, help="seconds per notebook cell (default 600)"
    )
    args = parser.parse_args(argv)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="_build.", dir=OUT.parent))
    try:
        start = time.perf_counter()
        print("API reference (pdoc)…", flush=True)
        build_api(tmp / "api")
        done = []
        if not args.skip_notebooks:
            print("notebooks (executed with the inline backend)…", flush=True)
            os.environ.pop("MPLBACKEND", None)  # the kernels inherit it: Agg would drop figures
            (tmp / "notebooks").mkdir()
            for path in sorted(NOTEBOOKS.glob("*.ipynb")):
                done.append((path.stem, build_notebook(path, tmp / "notebooks", args.timeout)))
        if GALLERY.is_dir():
            shutil.copytree(GALLERY, tmp / "gallery")
        write_index(tmp, done)
        if OUT.exists():
            shutil.rmtree(OUT)
        tmp.rename(OUT)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    print(f"wrote {OUT.relative_to(ROOT)}/index.html in {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
