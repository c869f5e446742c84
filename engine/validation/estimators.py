"""Estimators for consensus: weighted quaternion averaging and Dawid–Skene label aggregation."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt

__all__ = ["average_quaternions", "dawid_skene"]

F64 = npt.NDArray[np.float64]


def average_quaternions(q_wxyz: npt.ArrayLike, weights: npt.ArrayLike | None = None) -> F64:
    """Weighted average rotation of unit quaternions (w, x, y, z), eigenvector method; q and -q agree.

    Parameters
    ----------
    q_wxyz : array_like of shape (N, 4)
    weights : array_like of shape (N,), optional

    Returns
    -------
    ndarray of shape (4,)
        Unit quaternion with w >= 0.
    """
    q = np.asarray(q_wxyz, dtype=np.float64).reshape(-1, 4)
    w = np.ones(q.shape[0]) if weights is None else np.asarray(weights, dtype=np.float64)
    m = (q * w[:, None]).T @ q
    vals, vecs = np.linalg.eigh(m)
    out = vecs[:, int(np.argmax(vals))]
    return out if out[0] >= 0 else -out


def dawid_skene(
    votes: Sequence[Mapping[str, str]], prior_weights: Mapping[str, float] | None = None, iterations: int = 20
) -> list[dict[str, float]]:
    """Posterior over values for every item from annotators' votes (Dawid & Skene 1979, EM).

    Parameters
    ----------
    votes : sequence of mapping annotator -> value
        One mapping per item (annotators that did not vote are absent).
    prior_weights : mapping, optional
        Weights of the initial weighted vote.
    iterations : int
        EM rounds.

    Returns
    -------
    list of dict value -> probability
    """
    values = sorted({v for item in votes for v in item.values()})
    annot = sorted({a for item in votes for a in item})
    if not values:
        return [{} for _ in votes]
    vi, ai = {v: i for i, v in enumerate(values)}, {a: i for i, a in enumerate(annot)}
    nv, na = len(values), len(annot)
    pw = prior_weights or {}
    post = np.zeros((len(votes), nv))
    for n, item in enumerate(votes):
        for a, v in item.items():
            post[n, vi[v]] += pw.get(a, 1.0)
    post /= np.maximum(post.sum(1, keepdims=True), 1e-12)
    for _ in range(iterations):
        conf = np.full((na, nv, nv), 0.01)  # smoothed confusion: true value -> given value
        for n, item in enumerate(votes):
            for a, v in item.items():
                conf[ai[a], :, vi[v]] += post[n]
        conf /= conf.sum(2, keepdims=True)
        prior = post.sum(0) + 1e-3
        prior /= prior.sum()
        logp = np.tile(np.log(prior), (len(votes), 1))
        for n, item in enumerate(votes):
            for a, v in item.items():
                logp[n] += np.log(conf[ai[a], :, vi[v]])
        logp -= logp.max(1, keepdims=True)
        post = np.exp(logp)
        post /= post.sum(1, keepdims=True)
    return [{values[k]: float(post[n, k]) for k in range(nv) if post[n, k] > 1e-6} for n in range(len(votes))]
