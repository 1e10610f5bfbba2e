"""Softmax regression, fitted with numpy and scipy (imported on first use, in a job worker or a
benchmark: never in the daemon). It makes the cross-repo prior (bench/git_prior.py, from zero)
and tunes it to one repository (`prior.tuned`, from the prior's weights).

The fit minimises the weighted cross-entropy of the classes plus, per feature, `l2` times half
the squared distance of its weights from where they started (`start`, zero without one), and
`l2_bias` the same for the biases, by L-BFGS. Rows are lists of feature indices, each present
once; the answer is the same for the same rows in the same order.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def fit(rows: Sequence[Sequence[int]], labels: Sequence[int], n_features: int, n_classes: int, *,
        weights: Sequence[float] | None = None, start: tuple[Any, Any] | None = None, l2: Any = 1.0,
        l2_bias: float = 0.0, maxiter: int = 300) -> tuple[Any, Any]:
    """(W, b): an (n_features, n_classes) array of weights and the classes' biases. `l2`: one
    number, or one per feature (a sequence of n_features); `start`: (W0, b0) arrays."""
    import numpy as np
    import scipy.sparse as sp  # type: ignore[import-untyped]
    from scipy.optimize import minimize  # type: ignore[import-untyped]

    V, K, n = n_features, n_classes, len(rows)
    ri = [i for i, row in enumerate(rows) for _ in row]
    ci = [j for row in rows for j in row]
    X = sp.csr_matrix((np.ones(len(ci)), (ri, ci)), shape=(n, V))
    y = np.asarray(labels, dtype=np.int64)
    Y = np.eye(K)[y]
    sw = np.ones(n) if weights is None else np.asarray(weights, dtype=float)
    W0, b0 = (np.zeros((V, K)), np.zeros(K)) if start is None else (
        np.asarray(start[0], dtype=float).reshape(V, K), np.asarray(start[1], dtype=float))  # V may be 0
    lam = np.asarray(l2, dtype=float).reshape(-1, 1) if np.ndim(l2) else float(l2)

    def loss(wb: Any) -> tuple[float, Any]:
        W, b = wb[:V * K].reshape(V, K), wb[V * K:]
        Z = X @ W + b
        Z -= Z.max(1, keepdims=True)
        P = np.exp(Z)
        P /= P.sum(1, keepdims=True)
        G = (P - Y) * sw[:, None]
        D, E = W - W0, b - b0
        # One pull for every weight: summed as bench/git_prior.py always did (the same prior).
        pull = 0.5 * lam * (D * D).sum() if isinstance(lam, float) else 0.5 * (lam * D * D).sum()
        value = -(np.log(P[np.arange(n), y] + 1e-12) * sw).sum() + pull + 0.5 * l2_bias * (E * E).sum()
        return value, np.concatenate([(X.T @ G + lam * D).ravel(), G.sum(0) + l2_bias * E])

    out = minimize(loss, np.concatenate([W0.ravel(), b0]), jac=True, method="L-BFGS-B",
                   options={"maxiter": maxiter})
    return out.x[:V * K].reshape(V, K), out.x[V * K:]
