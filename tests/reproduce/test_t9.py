"""T9 on the authors' setup: the joint JVP, the reference gradients, the per-sample subspaces and the preconditioned
guess's covariance, each against an independent computation (torch autograd / forward-mode, LAPACK's SVD, the
authors' CW^T2 construction written out literally)."""

from __future__ import annotations

import numpy as np
import pytest

from wavetrain.reproduction import t9_mnist1d as t9

torch = pytest.importorskip("torch")


def small_case(seed: int = 0, sizes: tuple[int, ...] = (7, 9, 8, 6, 4), batch: int = 5):
    net = t9.make_net(sizes, seed)
    rng = np.random.default_rng(seed)
    x, y = rng.normal(size=(batch, sizes[0])), rng.integers(0, sizes[-1], batch)
    return net, x, np.eye(sizes[-1])[y], y


def torch_loss(weights, x, y, shifts=None):
    """Mean cross-entropy of the bias-free ReLU MLP with optional additive shifts on every pre-activation."""
    h = torch.as_tensor(x)
    pres = []
    for l, W in enumerate(weights):
        a = h @ W.T + (shifts[l] if shifts is not None else 0.0)
        pres.append(a)
        h = torch.relu(a) if l < len(weights) - 1 else a
    return torch.nn.functional.cross_entropy(h, torch.as_tensor(y)), pres


@pytest.mark.parametrize("method", ["isotropic", "W^T", "preconditioned", "W-perp k=2", "W-perp k=50"])
def test_joint_jvp_equals_torch_forward_mode(method: str) -> None:
    net, x, t, y = small_case()
    params = net.params()
    m, pre, states = t9.sweep(net, x)
    s = t9.guesses(params, pre, method, np.random.default_rng(1))
    ours = t9.joint_jvp(m, pre, states, t, s)
    weights = [torch.tensor(W) for W, _ in params]
    zeros = tuple(torch.zeros(len(x), W.shape[0], dtype=torch.float64) for W, _ in params)
    tangents = tuple(torch.tensor(v) for v in s)

    def per_sample(*shifts):  # the mean loss is a sum over samples, so each sample's derivative is separate
        logits = torch_loss(weights, x, y, shifts)[1][-1]
        return torch.nn.functional.cross_entropy(logits, torch.as_tensor(y), reduction="none") / len(x)

    _, reference = torch.func.jvp(per_sample, zeros, tangents)
    assert np.max(np.abs(ours - reference.numpy())) <= 1e-12 * max(1.0, np.abs(ours).max())
    if method == "W^T" or method.startswith("W-perp"):  # no guess on a hidden unit that is off
        assert all(np.all(s[l][pre[l] <= 0] == 0) for l in range(net.depth - 1))


def test_reference_gradients_equal_autograd() -> None:
    net, x, t, y = small_case(3)
    params = net.params()
    m, pre, states = t9.sweep(net, x)
    ours = t9.backprop_act_grads(m, pre, states, t)
    weights = [torch.tensor(W, requires_grad=True) for W, _ in params]
    loss, pres = torch_loss(weights, x, y)
    for a in pres:
        a.retain_grad()
    loss.backward()
    for mine, a in zip(ours, pres):
        assert np.max(np.abs(mine - a.grad.numpy())) <= 1e-15


@pytest.mark.parametrize("n_next", [10, 128])
def test_top_right_vectors_span_the_svd_subspace_of_the_masked_jacobian(n_next: int) -> None:
    rng = np.random.default_rng(n_next)
    W = rng.uniform(-0.1, 0.1, size=(n_next, 128))
    mask = rng.random((6, 128)) > rng.uniform(0.2, 0.8, size=(6, 1))
    for k in (1, 5, 10, 50):
        V = t9.top_right_vectors(W, mask, k)
        for b in range(len(mask)):
            _, sv, vt = np.linalg.svd(W * mask[b], full_matrices=False)
            rank = int(np.sum(sv > sv[0] * 1e-10))
            keep = min(k, rank)
            assert np.max(np.abs(V[b, :keep].T @ V[b, :keep] - vt[:keep].T @ vt[:keep])) <= 1e-9
            assert np.all(V[b, keep:] == 0)


@pytest.mark.parametrize("n_next", [4, 9])
def test_preconditioned_guess_has_the_covariance_of_the_authors_construction(n_next: int) -> None:
    """CW^T2 written out: s = eps^T W' C, W' = U sqrt(S^2 + sigma) V^T, C = (J^T J + sigma I)^-1/2; exact covariance
    C W'^T W' C vs the covariance of the guess we draw (I for square J, V V^T for wide J)."""
    rng = np.random.default_rng(n_next)
    n, sigma = 9, 1e-5
    W = rng.normal(size=(n_next, n))
    mask = rng.random(n) > 0.4
    J = W * mask
    U, S, Vt = np.linalg.svd(J, full_matrices=False)
    W_prime = U @ np.diag(np.sqrt(S**2 + sigma)) @ Vt
    evals, Q = np.linalg.eigh(J.T @ J + sigma * np.eye(n))
    C = Q @ np.diag(evals**-0.5) @ Q.T
    authors = C @ W_prime.T @ W_prime @ C
    basis = t9.top_right_vectors(W, mask[None], n_next)[0] if n_next < n else np.eye(n)
    ours = basis.T @ basis
    assert np.max(np.abs(authors - ours)) <= 1e-4  # sigma's share: the two agree as sigma -> 0
    draws = np.stack(
        [
            t9.guesses(
                [(np.zeros((n, 3)), None), (W, None), (np.zeros((2, n_next)), None)],
                [(mask - 0.5)[None], np.zeros((1, n_next)), np.zeros((1, 2))],
                "preconditioned",
                np.random.default_rng(i),
            )[0][0]
            for i in range(2000)
        ]
    )
    assert np.max(np.abs(draws.T @ draws / len(draws) - ours)) < 0.15


def test_signed_cosine_and_intervals() -> None:
    a = np.array([[1.0, 0.0], [0.0, 2.0], [0.0, 0.0]])
    b = np.array([[2.0, 0.0], [0.0, -1.0], [1.0, 1.0]])
    assert t9.signed_cosine(a, b) == 0.0  # +1 and -1; the zero estimate is skipped
    mean, low, high = t9.interval([0.1, 0.2, 0.3])
    assert (
        mean == pytest.approx(0.2)
        and low < 0.2 < high
        and high - low == pytest.approx(2 * 4.302653 * 0.1 / 3**0.5, rel=1e-5)
    )
    assert t9.interval([0.5])[1] == -np.inf


def test_mnist1d_is_generated_offline_and_cached() -> None:
    """The default cache (shared with the report's run, so CI generates MNIST-1D once): written, then read back."""
    import tempfile
    from pathlib import Path

    first = t9.load_mnist1d()
    assert first["x"].shape == (4000, 40) and first["x_test"].shape == (1000, 40)
    assert sorted(np.unique(first["y"])) == list(range(10))
    cached = list((Path(tempfile.gettempdir()) / "wavetrain-cache").glob("mnist1d-default-*.npz"))
    assert len(cached) == 1
    again = t9.load_mnist1d()
    assert all(np.array_equal(first[k], again[k]) for k in first)


@pytest.mark.parametrize("n_next", [10, 128])
def test_float32_subspaces_equal_the_float64_subspaces(n_next: int) -> None:
    """Training's float32 eigensolvers (scipy evr for k <= 5, torch eigh above) against NumPy float64: the same
    subspaces, compared as projectors (eigenvector signs are arbitrary), on samples whose k-th eigenvalue gap is
    not degenerate."""
    rng = np.random.default_rng(7)
    W = rng.uniform(-(128**-0.5), 128**-0.5, size=(n_next, 128))
    mask = rng.random((48, 128)) > rng.uniform(0.3, 0.7, size=(48, 1))
    for k in t9.KS:
        exact, fast = t9.top_right_vectors(W, mask, k, precise=True), t9.top_right_vectors(W, mask, k, precise=False)
        assert fast.shape == exact.shape and fast.dtype == np.float64
        for b in range(len(mask)):
            values = np.linalg.eigvalsh((W * mask[b]).T @ (W * mask[b]))[::-1]
            keep = min(k, int(mask[b].sum()), n_next)
            if keep < len(values) and values[keep - 1] - values[keep] < 1e-3 * values[0]:
                continue  # a near-tie at the cut: float32 may legitimately pick another vector of the cluster
            P, Q = exact[b].T @ exact[b], fast[b].T @ fast[b]
            assert np.max(np.abs(P - Q)) <= 1e-4, (k, b)
            assert np.max(np.abs(Q @ Q - Q)) <= 1e-5  # orthonormal rows: a projector


def test_float32_eigenvectors_are_the_top_ones_in_descending_order() -> None:
    rng = np.random.default_rng(3)
    a = rng.normal(size=(4, 12, 12))
    mats = a @ np.swapaxes(a, 1, 2)
    values, vectors = np.linalg.eigh(mats)
    for keep in (1, 5, 6, 12):  # both float32 paths (k <= 5: evr subset; above: full eigh)
        fast = t9.top_eigenvectors(mats, keep)
        # each returned column is the eigenvector of the matching eigenvalue (up to sign)
        overlap = np.abs(np.einsum("gck,gck->gk", fast, vectors[:, :, ::-1][:, :, :keep]))
        assert np.all(overlap > 1 - 1e-4), keep
