#!/usr/bin/env python
"""Print the fold assignments of scikit-learn 1.4's GroupKFold, for tests/test_compat_trust.py.

Run with a scikit-learn 1.4 / numpy 1.26 interpreter, with numpy's AVX-512 sort disabled (numpy
1.26 sorts with AVX-512 where the CPU has it; the published AlpacaEval numbers match its portable
introsort, the path of every CPU without AVX-512):

    python3 -m venv /tmp/sk14 && /tmp/sk14/bin/pip install scikit-learn==1.4.2 numpy==1.26.4
    NPY_DISABLE_CPU_FEATURES="AVX512F AVX512CD AVX512_KNL AVX512_KNM AVX512_SKX AVX512_CLX \
AVX512_CNL AVX512_ICL" /tmp/sk14/bin/python benchmarks/reference/sklearn14_folds.py

Prints, per layout, the fold of each sample (a digit string) and, for the reference's own layout
sizes (N rows duplicated into 2N samples), the SHA-256 of the per-row fold string.
"""

import hashlib

import numpy as np
import sklearn
from sklearn.model_selection import GroupKFold


def folds(groups, n_splits=5):
    out = np.full(len(groups), -1)
    for f, (_, test) in enumerate(GroupKFold(n_splits).split(groups, groups=groups)):
        out[test] = f
    return "".join(map(str, out))


def main():
    print(f"# scikit-learn {sklearn.__version__}, numpy {np.__version__}")
    rng = np.random.default_rng(2024)
    layouts = {
        "pairs_23": np.r_[np.arange(23), np.arange(23)],  # the reference: rows x 2 copies
        "equal_40": np.repeat(np.arange(40), 3),
        "mixed_30": np.repeat(np.arange(30), rng.integers(1, 4, size=30)),
        "ties_over_16": np.repeat(np.arange(40), np.r_[np.ones(20, int), 2 * np.ones(20, int)]),
        "labels_shuffled": rng.permutation(np.repeat(np.arange(25), 2)) * 7 + 3,
    }
    for name, groups in layouts.items():
        print(f"{name}: {folds(groups)}")
    for n in (1615, 2415):  # 1610 gamed rows + 5 / + 805 model rows
        groups = np.r_[np.arange(n), np.arange(n)]
        per_row = folds(groups)[:n]
        print(f"sha256 pairs_{n}: {hashlib.sha256(per_row.encode()).hexdigest()}")


if __name__ == "__main__":
    main()
