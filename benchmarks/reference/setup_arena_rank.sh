#!/usr/bin/env bash
# Create a separate virtualenv holding arena-rank 0.1.1 (PyPI; LMArena's ContextualBradleyTerry,
# JAX) so that benchmarks/arena_rank_check.py and benchmarks/arena_scale.py can run it side by
# side with debias. It is NOT a runtime or dev dependency of debias.
#
#   bash benchmarks/reference/setup_arena_rank.sh        # -> benchmarks/.cache/arena-rank-venv (gitignored)
#   PYTHON=python3.12 bash benchmarks/reference/setup_arena_rank.sh
#
# Environment:
#   PYTHON          interpreter used to create the venv (default: python3; arena-rank needs >= 3.11)
#   ARENA_RANK_VENV venv location (default: <repo>/benchmarks/.cache/arena-rank-venv)
#   FORCE=1         reinstall even if the venv already imports arena_rank 0.1.1
#
# arena-rank 0.1.1 pins jax==0.8.1 and numpy==2.3.3 and needs jaxtyping, optax, pandas, datasets
# (installed by pip from its metadata). Idempotent.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
PY="${PYTHON:-python3}"
VENV="${ARENA_RANK_VENV:-$REPO/benchmarks/.cache/arena-rank-venv}"
SPEC="arena-rank==0.1.1"

check() {
    [ -x "$VENV/bin/python" ] || return 1
    "$VENV/bin/python" - <<'PY' >/dev/null 2>&1
from importlib.metadata import version
assert version("arena-rank") == "0.1.1"
from arena_rank.models.contextual_bradley_terry import ContextualBradleyTerry  # noqa: F401
from arena_rank.utils.data_utils import ContextualPairDataset  # noqa: F401
PY
}

report() {
    "$VENV/bin/python" -c 'from importlib.metadata import version as v; print(" ".join(f"{p}=={v(p)}" for p in ["arena-rank","jax","jaxlib","optax","numpy","pandas"]))'
}

if [ "${FORCE:-0}" != "1" ] && check; then
    echo "arena-rank venv already set up: $VENV"
    report
    exit 0
fi

if [ ! -x "$VENV/bin/python" ]; then
    mkdir -p "$(dirname "$VENV")"
    echo "creating venv $VENV with $("$PY" --version 2>&1) ($PY)"
    "$PY" -m venv "$VENV"
fi

pip_install() {
    # drop the noise from this machine's pip config (extra file:// indexes that may not exist)
    "$VENV/bin/python" -m pip install -q "$@" 2>&1 | { grep -v "is neither a file nor a directory" || true; }
}
pip_install --upgrade pip
pip_install "$SPEC"

if ! check; then
    echo "ERROR: $VENV does not import arena_rank 0.1.1" >&2
    exit 1
fi
echo "arena-rank venv ready: $VENV"
report
