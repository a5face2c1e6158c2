"""Reproduction targets T8-T13 (spec section 7): forward gradients, MPC horizons, OCNOpt."""

from __future__ import annotations

from math import sqrt
from pathlib import Path

import numpy as np
from scipy import stats

from wavetrain import datasets
from wavetrain.compiler.network import Network
from wavetrain.emulator.forward_gradient import cosine_by_layer, expected_abs_cos, guess_basis
from wavetrain.emulator.mpc import (deviation, fit_horizon_model, measure_memory, mpc_gradients, random_heads,
                                    select_horizon)
from wavetrain.emulator.ocnopt import OCNOpt, backward_sweep
from wavetrain.emulator.train import backprop, train
from wavetrain.reproduction.report_types import (NOT_CLAIMED, Row, Scale, Section, check, sci,
                                                 verdict)


def projected_moments(n: int, k: int, draws: int, seed: int) -> dict[str, float]:
    """Monte Carlo of g^ = (g.u) u with u = V_k eps (W-perp guesses of a random W): moments and standard errors."""
    rng = np.random.default_rng(seed)
    W, g = rng.normal(size=(64, n)), rng.normal(size=n)
    basis, _ = guess_basis(W, "wperp", k, rng)
    pg = basis @ (basis.T @ g)
    u = rng.standard_normal((draws, basis.shape[1])) @ basis.T
    ghat = (u @ g)[:, None] * u
    sq = (ghat * ghat).sum(axis=1) / (pg @ pg)
    cos = np.abs(ghat @ g) / (np.linalg.norm(ghat, axis=1) * np.linalg.norm(g))
    iso = rng.standard_normal((draws, n))
    iso_cos = np.abs(iso @ g) / (np.linalg.norm(iso, axis=1) * np.linalg.norm(g))
    captured = float(np.linalg.norm(pg) / np.linalg.norm(g))
    return {
        "mean_z": float(np.linalg.norm(ghat.mean(axis=0) - pg) / (sqrt((k + 1) / draws) * np.linalg.norm(pg))),
        "second": float(sq.mean()), "second_se": float(sq.std() / sqrt(draws)),
        "cos": float(cos.mean()), "cos_se": float(cos.std() / sqrt(draws)), "cos_pred": expected_abs_cos(k, captured),
        "iso": float(iso_cos.mean()), "iso_se": float(iso_cos.std() / sqrt(draws)),
        "iso_pred": expected_abs_cos(n), "iso_approx": sqrt(2 / (np.pi * n)),
    }


def t8(scale: Scale, out: Path) -> Section:
    m = projected_moments(256, 10, scale.mc_draws, 8)
    ok_mean, ok_second = m["mean_z"] < 3.0, abs(m["second"] - 12) < 4 * m["second_se"]
    ok_cos, ok_iso = abs(m["cos"] - m["cos_pred"]) < 4 * m["cos_se"], abs(m["iso"] - m["iso_pred"]) < 4 * m["iso_se"]
    rows = (
        Row(f"|mean(g^) - P g| in units of its standard error ({scale.mc_draws} draws, n 256, k 10)",
            f"{m['mean_z']:.2f}", "-", "E[g^] = P_k g: ~1, bound 3", NOT_CLAIMED, check(ok_mean)),
        Row("E|g^|^2 / |P g|^2", f"{m['second']:.3f} +- {m['second_se']:.3f}", "-", "k + 2 = 12 (4 s.e.)",
            NOT_CLAIMED, check(ok_second)),
        Row("E|cos(g^, g)|, W-perp k 10", f"{m['cos']:.4f} +- {m['cos_se']:.4f}", "-",
            f"{m['cos_pred']:.4f} (closed form, 4 s.e.)", NOT_CLAIMED, check(ok_cos)),
        Row("E|cos|, isotropic n 256", f"{m['iso']:.4f} +- {m['iso_se']:.4f}", "-",
            f"{m['iso_pred']:.4f} exact, {m['iso_approx']:.4f} = sqrt(2/(pi n))", NOT_CLAIMED, check(ok_iso)),
    )
    return Section("T8", "Projected forward-gradient statistics", rows)


def probe_net(width: int, epochs: int) -> tuple[Network, np.ndarray, np.ndarray]:
    """A 64-w-w-w-10 tanh net briefly trained on digits (gradients of a trained net have low-rank structure)."""
    data = datasets.load("digits")
    net = Network.mlp([64, width, width, width, 10], loss="cross_entropy", seed=width)
    train(net, data, method="backprop", epochs=epochs, lr=0.05, momentum=0.9, seed=0)
    return net, data.x_test[:64], net.targets(data.y_test[:64])


CURVES = [("isotropic", None), ("wt", None), ("preconditioned", None)] + [
    (family, k) for family in ("wperp", "wperp_ns") for k in (1, 10, 32)]


def t9(scale: Scale, out: Path) -> Section:
    import matplotlib.pyplot as plt

    table = {}
    for width in scale.widths:
        net, x, t = probe_net(width, 2)
        for family, k in CURVES:
            if k is None or k <= width:
                table[(family, k, width)] = cosine_by_layer(net.params(), net, x, t, family, k, scale.t9_draws)
    wide = max(scale.widths)
    net, x, t = probe_net(wide, 2)
    ks = [k for k in (1, 2, 5, 10, 20, 50, 100) if k <= wide]
    sweep = {k: cosine_by_layer(net.params(), net, x, t, "wperp", k, scale.t9_draws) for k in ks}
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for family, k in CURVES:
        xs = [w for w in scale.widths if (family, k, w) in table]
        ax.loglog(xs, [table[(family, k, w)] for w in xs], "o-" if k != 10 else "s-",
                  label=family + (f" k={k}" if k else ""))
    ax.set(xlabel="width", ylabel="E|cos(g^, g)| (hidden layers)", title="T9: guess quality vs width")
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(out / "t9_cosine_vs_width.png", dpi=110)
    plt.close(fig)
    gain = [table[("wperp", 10, w)] / table[("isotropic", None, w)] for w in scale.widths if ("wperp", 10, w) in table]
    grows = gain[-1] > gain[0]
    worse = table[("preconditioned", None, wide)] < table[("wperp", 10, wide)]
    rows = (
        Row(f"E|cos| of W-perp vs k at width {wide}", ", ".join(f"k={k}: {v:.3f}" for k, v in sweep.items()),
            "- (variant)", "falls with k once P_k captures the gradient (T8 closed form)", NOT_CLAIMED,
            check(sweep[max(sweep)] < sweep[min(sweep)])),
        Row("W-perp k 10 / isotropic E|cos| by width",
            ", ".join(f"{w}: {g:.2f}" for w, g in zip(scale.widths, gain)), "- (variant)",
            "grows: isotropic falls ~ n^-1/2 while W-perp k 10 does not", NOT_CLAIMED, check(grows)),
        Row(f"preconditioned vs W-perp k 10 at width {wide}",
            f"{table[('preconditioned', None, wide)]:.3f} vs {table[('wperp', 10, wide)]:.3f}", "- (variant)",
            "worse (variance of (W^T W)^+ on small singular values)", NOT_CLAIMED, check(worse)),
        Row("W^T and W-perp-NS k 10 at the widest width",
            f"{table[('wt', None, wide)]:.3f} / {table[('wperp_ns', 10, wide)]:.3f}", "-", "-", NOT_CLAIMED),
    )
    note = ("Our earlier construction, kept as a variant because the library's `forward:*` methods use it: the subspace "
            "comes from W_{l+1} alone (one SVD per layer, shared by the batch), one JVP per layer, |cos|, on the hidden "
            "layers' pre-activation gradients of a 64-w-w-w-10 tanh net after 2 epochs of backprop on digits (see "
            "emulator/forward_gradient.py). It is not the authors' setup (that is T9 above), so its rows carry no "
            "verdict against the paper; the ratio to isotropic grows with width largely because the isotropic "
            "cosine falls as n^-1/2.")
    return Section("T9b", "W-perp variant: our earlier construction (not the authors' setup)", rows,
                   ("t9_cosine_vs_width.png",), note)


def local_reference(net: Network, heads: list, x: np.ndarray, t: np.ndarray) -> list:
    """Independent h = 1 gradients: each layer trained on its own head's loss, written without mpc_gradients."""
    s, grads = x, []
    for index, layer in enumerate(net.layers):
        a = s @ layer.weight.T + layer.bias
        out = layer.act.f(a)
        if index < net.depth - 1:
            V, c = heads[index]
            lam = net.loss_fn.grad(out @ V.T + c, t) / len(x) @ V
        else:
            lam = net.loss_fn.grad(out, t) / len(x)
        delta = layer.act.df(a, out) * lam
        grads.append((delta.T @ s, delta.sum(axis=0)))
        s = out
    return grads


def t10(scale: Scale, out: Path) -> tuple[Section, dict[int, int]]:
    width, depth = scale.t10_width, 8
    net = Network.mlp([64] + [width] * (depth - 1) + [10], loss="cross_entropy", seed=10)
    rng = np.random.default_rng(10)
    x, t = rng.normal(size=(256, 64)), net.targets(rng.integers(0, 10, 256))
    heads = random_heads(net, 10)
    ref, _ = backprop(net.params(), net, x, t)
    full, _, _ = mpc_gradients(net.params(), net, heads, x, t, depth)
    err = max(float(np.abs(a - b).max()) for p, q in zip(full, ref) for a, b in zip(p, q))
    one, _, _ = mpc_gradients(net.params(), net, heads, x, t, 1)
    local = max(float(np.abs(a - b).max()) for p, q in zip(one, local_reference(net, heads, x, t)) for a, b in zip(p, q))
    memory = {h: measure_memory(net, heads, x, t, h) for h in range(1, depth + 1)}
    fit = stats.linregress(list(memory), list(memory.values()))
    dev = {h: deviation(mpc_gradients(net.params(), net, heads, x, t, h)[0], ref) for h in range(1, depth + 1)}
    rows = (
        Row("h = L: max |g^h - g_bp|", sci(err), "h = T is BP", "0 (<= 1e-12)", verdict(err <= 1e-12, True),
            check(err <= 1e-12)),
        Row("h = 1: max |g^h - local-loss gradient|", sci(local), "h = 1 is local (FF-like) learning", "0",
            verdict(local <= 1e-12, True), check(local <= 1e-12)),
        Row(f"memory M(h) = a h + b, L {depth}, width {width}, batch 256 (tracemalloc)",
            f"a = {fit.slope / 1024:.1f} KiB, b = {fit.intercept / 1024:.1f} KiB, R^2 = {fit.rvalue ** 2:.4f}",
            "linear in h", "R^2 > 0.99", verdict(fit.rvalue ** 2 > 0.99, True), check(fit.rvalue ** 2 > 0.99)),
        Row("D(h) = 1 - cos^2(g^h, g_bp), h = 1..L", ", ".join(f"{v:.3f}" for v in dev.values()), "-",
            "falls to 0 at h = L", NOT_CLAIMED, check(dev[depth] < 1e-12)),
    )
    return Section("T10", "MPC horizon endpoints and memory (Ren & Li)", rows), memory


def deep_linear(depth: int, seed: int) -> tuple[Network, list, np.ndarray, np.ndarray]:
    """Spec section 4.3: width-32 linear chain, heads l_s = 1/2 |A_s x - y|^2 with random A_s, A_T = I."""
    rng = np.random.default_rng(seed)
    net = Network.mlp([32] * (depth + 1), activation="identity", output_activation="identity", seed=seed)
    for layer in net.layers:
        layer.weight = rng.normal(0.0, 1.0 / sqrt(32), size=(32, 32))
    heads = [(rng.normal(0.0, 1.0 / sqrt(32), size=(32, 32)), np.zeros(32)) for _ in range(depth - 1)]
    return net, heads, rng.normal(size=(64, 32)), rng.normal(size=(64, 32))


def t11(scale: Scale, out: Path, memory: dict[int, int]) -> Section:
    import matplotlib.pyplot as plt

    depth = scale.t11_depth
    hs = np.arange(1, depth)
    curves = []
    for seed in range(3):
        net, heads, x, y = deep_linear(depth, seed)
        ref, _ = backprop(net.params(), net, x, y)
        curves.append([deviation(mpc_gradients(net.params(), net, heads, x, y, int(h))[0], ref) for h in hs])
    d = np.exp(np.mean(np.log(np.array(curves)), axis=0))  # geometric mean over 3 nets
    gap = 1 - hs / depth
    fits = {}
    for label, mask in (("all h < T", hs > 0), ("h >= T/2", hs >= depth / 2)):
        fit = stats.linregress(np.log(gap[mask]), np.log(d[mask]))
        half = stats.t.ppf(0.975, mask.sum() - 2) * fit.stderr
        fits[label] = (fit.slope, fit.slope - half, fit.slope + half, fit.intercept)
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    axes[0].loglog(gap, d, "o", label="measured (geometric mean, 3 nets)")
    slope, lo, hi, icpt = fits["all h < T"]
    axes[0].loglog(gap, np.exp(icpt) * gap**slope, "-", label=f"fit slope {slope:.2f} [{lo:.2f}, {hi:.2f}]")
    axes[0].loglog(gap, d[-1] * (gap / gap[-1]) ** 3, ":", label="slope 3 (claim)")
    axes[0].set(xlabel="1 - h/T", ylabel="1 - cos^2", title=f"T11: deep linear, T = {depth}")
    axes[0].legend(fontsize=7)
    axes[1].plot(list(memory), [m / 1024 for m in memory.values()], "o-")
    axes[1].set(xlabel="horizon h", ylabel="peak memory (KiB)", title="T10: memory vs horizon")
    fig.tight_layout()
    fig.savefig(out / "t10_t11_horizon.png", dpi=110)
    plt.close(fig)
    model = fit_horizon_model(depth, {1: memory_of(depth, 1), depth: memory_of(depth, depth)},
                              (depth // 2, float(d[depth // 2 - 1])))
    budget_h = select_horizon(model, budget=model.memory(depth // 2))
    tol_h = select_horizon(model, tolerance=1e-3)
    weight_h = select_horizon(model, weight=model.c / (model.a * depth) * 0.3)
    measured_tol = float(d[tol_h - 1]) if tol_h < depth else 0.0
    rows = tuple(
        Row(f"slope of log(1 - cos^2) vs log(1 - h/T), {label}", f"{s:.2f}, 95% CI [{a:.2f}, {b:.2f}]",
            "3 (seed summary, unverified)", "~3", verdict(a <= 3 <= b, True), check(a <= 3 <= b))
        for label, (s, a, b, _) in fits.items()
    ) + (
        Row("horizon selection: budget M(T/2) / tolerance 1e-3 / weighted", f"h = {budget_h} / {tol_h} / {weight_h}",
            "a selection algorithm exists", "fits M(h) = a h + b and D(h) = C (1 - h/T)^3",
            NOT_CLAIMED, check(budget_h == depth // 2)),
        Row("measured D at the tolerance-selected h", sci(measured_tol), "-", "<= 1e-3 if the cubic model holds",
            NOT_CLAIMED, check(measured_tol <= 1e-3)),
    )
    return Section("T11", "MPC deep-linear scaling and horizon selection", rows, ("t10_t11_horizon.png",),
                   "Local heads are random linear maps A_s (the paper's choice is unknown; the exponent may depend on it).")


def memory_of(depth: int, h: int) -> int:
    net, heads, x, y = deep_linear(depth, 0)
    return measure_memory(net, heads, x, y, h)


def t12_t13(scale: Scale, out: Path) -> list[Section]:
    import torch

    net = Network.mlp([8, 12, 9, 4], loss="cross_entropy", seed=12)
    rng = np.random.default_rng(12)
    x, t = rng.normal(size=(16, 8)), net.targets(rng.integers(0, 4, 16))
    a, b = net.copy(), net.copy()
    for _ in range(10):
        OCNOpt(alpha=0.1).step(a.params(), a, x, t)
        for (W, bias), (dW, db) in zip(b.params(), backprop(b.params(), b, x, t)[0]):
            W[...] = W - 0.1 * dW
            bias[...] = bias - 0.1 * db
    sgd = max(float(np.abs(p - q).max()) for pa, pb in zip(a.params(), b.params()) for p, q in zip(pa, pb))
    sweep = backward_sweep(net.params(), net, x, t, "identity", 0.1, 0.0)
    states = [torch.tensor(x, requires_grad=True)]
    for layer in net.layers:
        a_t = states[-1] @ torch.tensor(layer.weight).T + torch.tensor(layer.bias)
        states.append({"tanh": torch.tanh, "identity": lambda v: v}[layer.activation](a_t))
        states[-1].retain_grad()
    torch.nn.functional.cross_entropy(states[-1], torch.tensor(t.argmax(axis=1))).backward()
    costate = max(float(np.abs(sweep.costate[i] - states[i].grad.numpy()).max()) for i in range(net.depth + 1))
    X, Y = rng.normal(size=(50, 5)), rng.normal(size=(50, 3))
    lin = Network.mlp([5, 3], output_activation="identity", seed=13)
    before = [p.copy() for pair in lin.params() for p in pair]
    OCNOpt(alpha=1.0, quu="kfac", damping=0.0).step(lin.params(), lin, X, Y)
    design = np.hstack([X, np.ones((50, 1))])
    grad = (design @ np.hstack([before[0], before[1][:, None]]).T - Y).T @ design / 50
    hessian = np.kron(design.T @ design / 50, np.eye(3))  # column-major vec of the (3, 6) parameter matrix
    newton = -np.linalg.solve(hessian, grad.reshape(-1, order="F")).reshape(3, 6, order="F")
    step = np.hstack([lin.layers[0].weight - before[0], (lin.layers[0].bias - before[1])[:, None]])
    newton_diff = float(np.abs(step - newton).max())
    best = np.linalg.lstsq(design, Y, rcond=None)[0]
    gap = float(np.mean(lin.loss_fn.value(lin.forward(X), Y)) - np.mean(0.5 * ((design @ best - Y) ** 2).sum(axis=1)))
    t12 = Section("T12", "OCNOpt reduces to SGD / backprop", (
        Row("Q_uu = I/alpha, Q_ux = 0, V_xx = 0 vs SGD loop, 10 steps: max |dtheta|", sci(sgd), "Theorem 1: BP = "
            "first-order DP", "0 (bitwise)", verdict(sgd == 0.0, True), check(sgd == 0.0)),
        Row("V_x vs torch autograd costate dLoss/dx_t, all t", sci(costate), "V_x = backprop costate",
            "rounding", verdict(costate < 1e-12, True), check(costate < 1e-12)),
    ))
    t13 = Section("T13", "OCNOpt on linear least squares", (
        Row("DDP step vs explicit Newton step (Kronecker-built Hessian): max diff", sci(newton_diff), "-",
            "equal", NOT_CLAIMED, check(newton_diff < 1e-10)),
        Row("loss gap to the least-squares minimum after one step", sci(gap), "-", "0", NOT_CLAIMED,
            check(abs(gap) < 1e-12)),
    ))
    return [t12, t13]
