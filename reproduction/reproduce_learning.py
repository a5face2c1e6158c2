"""Reproduction targets T8-T13 (spec section 7): forward gradients, MPC horizons, OCNOpt."""

from __future__ import annotations

from math import sqrt
from pathlib import Path

import numpy as np
from scipy import stats

from wavetrain import datasets
from wavetrain.compiler.network import Network
from wavetrain.emulator.forward_gradient import cosine_by_layer, expected_abs_cos, guess_basis
from wavetrain.emulator.mpc import deviation, measure_memory, mpc_gradients, random_heads
from wavetrain.emulator.ocnopt import OCNOpt, backward_sweep
from wavetrain.emulator.train import backprop, train
from wavetrain.reproduction.report_types import NOT_CLAIMED, Row, Scale, Section, check, sci, verdict


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
        "second": float(sq.mean()),
        "second_se": float(sq.std() / sqrt(draws)),
        "cos": float(cos.mean()),
        "cos_se": float(cos.std() / sqrt(draws)),
        "cos_pred": expected_abs_cos(k, captured),
        "iso": float(iso_cos.mean()),
        "iso_se": float(iso_cos.std() / sqrt(draws)),
        "iso_pred": expected_abs_cos(n),
        "iso_approx": sqrt(2 / (np.pi * n)),
    }


def t8(scale: Scale, out: Path) -> Section:
    m = projected_moments(256, 10, scale.mc_draws, 8)
    ok_mean, ok_second = m["mean_z"] < 3.0, abs(m["second"] - 12) < 4 * m["second_se"]
    ok_cos, ok_iso = abs(m["cos"] - m["cos_pred"]) < 4 * m["cos_se"], abs(m["iso"] - m["iso_pred"]) < 4 * m["iso_se"]
    rows = (
        Row(
            f"|mean(g^) - P g| in units of its standard error ({scale.mc_draws} draws, n 256, k 10)",
            f"{m['mean_z']:.2f}",
            "-",
            "E[g^] = P_k g: ~1, bound 3",
            NOT_CLAIMED,
            check(ok_mean),
        ),
        Row(
            "E|g^|^2 / |P g|^2",
            f"{m['second']:.3f} +- {m['second_se']:.3f}",
            "-",
            "k + 2 = 12 (4 s.e.)",
            NOT_CLAIMED,
            check(ok_second),
        ),
        Row(
            "E|cos(g^, g)|, W-perp k 10",
            f"{m['cos']:.4f} +- {m['cos_se']:.4f}",
            "-",
            f"{m['cos_pred']:.4f} (closed form, 4 s.e.)",
            NOT_CLAIMED,
            check(ok_cos),
        ),
        Row(
            "E|cos|, isotropic n 256",
            f"{m['iso']:.4f} +- {m['iso_se']:.4f}",
            "-",
            f"{m['iso_pred']:.4f} exact, {m['iso_approx']:.4f} = sqrt(2/(pi n))",
            NOT_CLAIMED,
            check(ok_iso),
        ),
    )
    return Section("T8", "Projected forward-gradient statistics", rows)


def probe_net(width: int, epochs: int) -> tuple[Network, np.ndarray, np.ndarray]:
    """A 64-w-w-w-10 tanh net briefly trained on digits (gradients of a trained net have low-rank structure)."""
    data = datasets.load("digits")
    net = Network.mlp([64, width, width, width, 10], loss="cross_entropy", seed=width)
    train(net, data, method="backprop", epochs=epochs, lr=0.05, momentum=0.9, seed=0)
    return net, data.x_test[:64], net.targets(data.y_test[:64])


CURVES = [("isotropic", None), ("wt", None), ("preconditioned", None)] + [
    (family, k) for family in ("wperp", "wperp_ns") for k in (1, 10, 32)
]


def t9(scale: Scale, out: Path) -> Section:
    from wavetrain import plots

    table = {}
    for width in scale.widths:
        net, x, t = probe_net(width, 2)
        for family, k in CURVES:
            if k is None or k <= width:
                table[(family, k, width)] = cosine_by_layer(net.machine(), x, t, family, k, scale.t9_draws)
    wide = max(scale.widths)
    net, x, t = probe_net(wide, 2)
    ks = [k for k in (1, 2, 5, 10, 20, 50, 100) if k <= wide]
    sweep = {k: cosine_by_layer(net.machine(), x, t, "wperp", k, scale.t9_draws) for k in ks}
    fig, ax = plots.figure(size=(8, 4))
    drawn = plots.styles([family + (f" k={k}" if k else "") for family, k in CURVES])
    for family, k in CURVES:
        xs = [w for w in scale.widths if (family, k, w) in table]
        label = family + (f" k={k}" if k else "")
        ax.loglog(xs, [table[(family, k, w)] for w in xs], ms=4, label=label,
                  **{**drawn[label], "marker": drawn[label]["marker"] or ("s" if k == 10 else "o")})  # fmt: skip
    ax.set(xlabel="width (units per hidden layer)", ylabel="E|cos(g^, g)| (hidden layers)",
           title="T9: guess quality vs width")  # fmt: skip
    ax.grid(alpha=0.3, which="both")
    plots.legend_outside(ax, fontsize=7)
    plots.save_figure(fig, out / "t9_cosine_vs_width.png")
    gain = [table[("wperp", 10, w)] / table[("isotropic", None, w)] for w in scale.widths if ("wperp", 10, w) in table]
    grows = gain[-1] > gain[0]
    worse = table[("preconditioned", None, wide)] < table[("wperp", 10, wide)]
    rows = (
        Row(
            f"E|cos| of W-perp vs k at width {wide}",
            ", ".join(f"k={k}: {v:.3f}" for k, v in sweep.items()),
            "- (variant)",
            "falls with k once P_k captures the gradient (T8 closed form)",
            NOT_CLAIMED,
            check(sweep[max(sweep)] < sweep[min(sweep)]),
        ),
        Row(
            "W-perp k 10 / isotropic E|cos| by width",
            ", ".join(f"{w}: {g:.2f}" for w, g in zip(scale.widths, gain)),
            "- (variant)",
            "grows: isotropic falls ~ n^-1/2 while W-perp k 10 does not",
            NOT_CLAIMED,
            check(grows),
        ),
        Row(
            f"preconditioned vs W-perp k 10 at width {wide}",
            f"{table[('preconditioned', None, wide)]:.3f} vs {table[('wperp', 10, wide)]:.3f}",
            "- (variant)",
            "worse (variance of (W^T W)^+ on small singular values)",
            NOT_CLAIMED,
            check(worse),
        ),
        Row(
            "W^T and W-perp-NS k 10 at the widest width",
            f"{table[('wt', None, wide)]:.3f} / {table[('wperp_ns', 10, wide)]:.3f}",
            "-",
            "-",
            NOT_CLAIMED,
        ),
    )
    note = (
        "Our earlier construction, kept as a variant because the library's `forward:*` methods use it: the "
        "subspace comes from W_{l+1} alone (one SVD per layer, shared by the batch), one JVP per layer, |cos|, "
        "on the hidden "
        "layers' pre-activation gradients of a 64-w-w-w-10 tanh net after 2 epochs of backprop on digits (see "
        "emulator/forward_gradient.py). It is not the authors' setup (that is T9 above), so its rows carry no "
        "verdict against the paper; the ratio to isotropic grows with width largely because the isotropic "
        "cosine falls as n^-1/2."
    )
    return Section(
        "T9b",
        "W-perp variant: our earlier construction (not the authors' setup)",
        rows,
        ("t9_cosine_vs_width.png",),
        note,
    )


def local_reference(net: Network, heads: dict, x: np.ndarray, t: np.ndarray) -> list:
    """Independent h = 1 gradients: each layer trained on its own head's loss, written without mpc_gradients."""
    s, grads = x, []
    for index, layer in enumerate(net.layers):
        a = s @ layer.weight.T + layer.bias
        out = layer.act.f(a)
        if index < net.depth - 1:
            V, c = heads[net.ids[index]]
            lam = net.loss_fn.grad(out @ V.T + c, t) / len(x) @ V
        else:
            lam = net.loss_fn.grad(out, t) / len(x)
        delta = layer.act.df(a, out) * lam
        grads.append((delta.T @ s, delta.sum(axis=0)))
        s = out
    return grads


def hinge_fit(hs: np.ndarray, m: np.ndarray) -> tuple[int, tuple[float, float], tuple[float, float], float]:
    """M(h) = max(a1 h + b1, a2 h + b2): the break h_k (least squares over the candidates), both lines, R^2."""
    best = None
    for k in range(2, len(hs) - 1):
        lo, hi = np.polyfit(hs[: k + 1], m[: k + 1], 1), np.polyfit(hs[k:], m[k:], 1)
        pred = np.maximum(np.polyval(lo, hs), np.polyval(hi, hs))
        sse = float(((pred - m) ** 2).sum())
        if best is None or sse < best[0]:
            best = (sse, int(hs[k]), tuple(lo), tuple(hi))
    sse, kink, lo, hi = best
    return kink, lo, hi, 1.0 - sse / float(((m - m.mean()) ** 2).sum())


def t10(scale: Scale, out: Path) -> Section:
    from wavetrain import plots

    width, depth, batch = scale.t10_width, 8, 256
    net = Network.mlp([64] + [width] * (depth - 1) + [10], loss="cross_entropy", seed=10)
    rng = np.random.default_rng(10)
    x, t = rng.normal(size=(batch, 64)), net.targets(rng.integers(0, 10, batch))
    heads = random_heads(net, 10)
    ref, _ = backprop(net.machine(), x, t)
    full, _, _ = mpc_gradients(net.machine(), heads, x, t, depth)
    err = max(float(np.abs(a - b).max()) for n in ref for a, b in zip(full[n], ref[n], strict=True))
    one, _, _ = mpc_gradients(net.machine(), heads, x, t, 1)
    local_ref = local_reference(net, heads, x, t)
    local = max(float(np.abs(a - b).max()) for p, q in zip(one.values(), local_ref, strict=True) for a, b in zip(p, q))
    # memory on a deeper net of the same width (12 layers), over h = 1..L-1 (the step to h = L adds the 10-wide
    # output layer's window entry, not a hidden one)
    mem_depth = 12
    mem_net = Network.mlp([64] + [width] * (mem_depth - 1) + [10], loss="cross_entropy", seed=10)
    mem_heads = random_heads(mem_net, 10)
    hs = np.arange(1, mem_depth)
    mem = np.array([measure_memory(mem_net, mem_heads, x, t, int(h)) for h in hs], dtype=float)
    fit = stats.linregress(hs, mem)
    kink, lo, hi, r2 = hinge_fit(hs, mem)
    unit, grad = batch * width * 8, width * width * 8  # one (batch, width) activation, one (width, width) gradient
    want_lo = 2.0 - grad / unit
    hinge_ok = abs(lo[0] / unit - want_lo) < 0.15 and abs(hi[0] / unit - 2.0) < 0.15 and r2 > 0.99
    dev = {h: deviation(mpc_gradients(net.machine(), heads, x, t, h)[0], ref) for h in range(1, depth + 1)}
    falls = all(b <= a for a, b in zip(list(dev.values()), list(dev.values())[1:]))
    fig, ax = plots.figure(size=(7.5, 4))
    ax.plot(hs, mem / 1024, "o", color=plots.COLORS["mpc"], label="measured peak (tracemalloc)")
    ax.plot(hs, np.maximum(np.polyval(lo, hs), np.polyval(hi, hs)) / 1024, "-", color="0.3",
            label=f"hinge fit, break h = {kink}")  # fmt: skip
    ax.set(
        xlabel="horizon h (layers)",
        ylabel="peak memory [KiB]",
        title=f"T10: memory vs horizon (L {mem_depth}, width {width})",
    )
    ax.grid(alpha=0.3)
    plots.legend_outside(ax, fontsize=7)
    plots.save_figure(fig, out / "t10_memory.png")
    rows = (
        Row(
            "h = L: max |g^h - g_bp|",
            sci(err),
            "h = T is BP",
            "0 (<= 1e-12)",
            verdict(err <= 1e-12, True),
            check(err <= 1e-12),
        ),
        Row(
            "h = 1: max |g^h - local-loss gradient| (reference written apart)",
            sci(local),
            "h = 1 is local (FF-like) learning",
            "0",
            verdict(local <= 1e-12, True),
            check(local <= 1e-12),
        ),
        Row(
            f"memory M(h) = a h + b over h = 1..{mem_depth - 1}, L {mem_depth}, width {width}, batch {batch} "
            "(tracemalloc peak)",
            f"a = {fit.slope / 1024:.1f} KiB, b = {fit.intercept / 1024:.1f} KiB, R^2 = {fit.rvalue**2:.4f}",
            "-",
            "R^2 < 1 where the peak changes phase (below)",
            NOT_CLAIMED,
            "",
        ),
        Row(
            "hinge M(h) = max(a1 h + b1, a2 h + b2): slopes in units of one (batch, width) array, break, R^2",
            f"{lo[0] / unit:.2f} / {hi[0] / unit:.2f}, break h = {kink}, R^2 = {r2:.4f}",
            "memory linear in h, M(h) = a h + b (seed summary)",
            f"{want_lo:.2f} (2 arrays per window layer less one finished gradient) / 2.00 (the final sweep), "
            "each within 0.15, R^2 > 0.99",
            verdict(hinge_ok, True),
            check(hinge_ok),
        ),
        Row(
            "D(h) = 1 - cos^2(g^h, g_bp), h = 1..L",
            ", ".join(f"{v:.3f}" for v in dev.values()),
            "-",
            "non-increasing in h (not guaranteed in general)",
            NOT_CLAIMED,
            check(falls),
        ),
    )
    note = (
        "**Memory model.** The streaming MPC keeps, per layer of its h-layer window, the pre-activation a_l "
        "and the output s_l: 2 (batch, width) arrays. tracemalloc reports the PEAK of the whole call. For "
        "small h the peak comes while the window slides, when a wider window has finished one gradient (width"
        " x width) fewer: slope 2 arrays less one gradient; for large h it comes in the final sweep, which "
        "writes every remaining gradient at once: slope 2 arrays. M(h) is the max of the two lines, a hinge; "
        "that is the kink at h = 4 of earlier reports (width 256 = batch 256, where a gradient is exactly one"
        " array, so the slopes are 1 and 2; at width 128 they are 1.5 and 2, and the break moves). Linear in "
        "h holds within each phase."
    )
    return Section("T10", "MPC horizon endpoints and memory (Ren & Li)", rows, ("t10_memory.png",), note)


def t12_t13(scale: Scale, out: Path) -> list[Section]:
    import torch

    from wavetrain.reproduction.t12_ddp import ddp_step, max_param_diff, sgd_step

    net = Network.mlp([8, 12, 9, 4], loss="cross_entropy", seed=12)
    rng = np.random.default_rng(12)
    x, t = rng.normal(size=(16, 8)), net.targets(rng.integers(0, 4, 16))
    full, ref, lib, gn = net.copy(), net.copy(), net.copy(), net.copy()
    for _ in range(10):
        ddp_step(full, x, t, 0.1, terminal_hessian=False)
        sgd_step(ref, x, t, 0.1)
        OCNOpt(alpha=0.1).step(lib.machine(), x, t)
    ddp_step(gn, x, t, 0.1, terminal_hessian=True)
    one = net.copy()
    sgd_step(one, x, t, 0.1)
    sgd = max_param_diff(full, ref)
    library = max_param_diff(lib, full)
    sensitivity = max_param_diff(gn, one)
    sweep = backward_sweep(net.machine(), x, t, "identity", 0.1, 0.0)
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
    OCNOpt(alpha=1.0, quu="kfac", damping=0.0).step(lin.machine(), X, Y)
    design = np.hstack([X, np.ones((50, 1))])
    grad = (design @ np.hstack([before[0], before[1][:, None]]).T - Y).T @ design / 50
    hessian = np.kron(design.T @ design / 50, np.eye(3))  # column-major vec of the (3, 6) parameter matrix
    newton = -np.linalg.solve(hessian, grad.reshape(-1, order="F")).reshape(3, 6, order="F")
    step = np.hstack([lin.layers[0].weight - before[0], (lin.layers[0].bias - before[1])[:, None]])
    newton_diff = float(np.abs(step - newton).max())
    best = np.linalg.lstsq(design, Y, rcond=None)[0]
    gap = float(np.mean(lin.loss_fn.value(lin.forward(X), Y)) - np.mean(0.5 * ((design @ best - Y) ** 2).sum(axis=1)))
    t12 = Section(
        "T12",
        "OCNOpt reduces to SGD / backprop",
        (
            Row(
                "full DDP recursion (explicit Jacobians, Q_uu = I/alpha, V_xx(T) = 0, feedback pass) vs SGD with torch "
                "autograd gradients, 10 steps: max |dtheta|",
                sci(sgd),
                "Theorem 1: BP = first-order DP",
                "rounding (<= 1e-12)",
                verdict(sgd <= 1e-12, True),
                check(sgd <= 1e-12),
            ),
            Row(
                "library OCNOpt(identity) vs the full recursion, 10 steps: max |dtheta|",
                sci(library),
                "-",
                "rounding (<= 1e-12)",
                NOT_CLAIMED,
                check(library <= 1e-12),
            ),
            Row(
                "control: the same recursion with V_xx(T) = loss Hessian (Gauss-Newton DDP), one step, vs SGD",
                sci(sensitivity),
                "-",
                "differs (> 1e-4): the comparison above can fail",
                NOT_CLAIMED,
                check(sensitivity > 1e-4),
            ),
            Row(
                "V_x (library sweep) vs torch autograd costate dLoss/dx_t, all t",
                sci(costate),
                "V_x = backprop costate",
                "rounding",
                verdict(costate < 1e-12, True),
                check(costate < 1e-12),
            ),
        ),
        note="The first row runs every DDP formula (t12_ddp.py: Q matrices, solves, value recursion, the forward pass "
        "with feedback K dx) at the theorem's settings; the earlier row compared OCNOpt's identity mode, which is "
        "written as -alpha g, with SGD, and could not fail.",
    )
    t13 = Section(
        "T13",
        "OCNOpt on linear least squares",
        (
            Row(
                "DDP step vs explicit Newton step (Kronecker-built Hessian): max diff",
                sci(newton_diff),
                "-",
                "equal",
                NOT_CLAIMED,
                check(newton_diff < 1e-10),
            ),
            Row(
                "loss gap to the least-squares minimum after one step",
                sci(gap),
                "-",
                "0",
                NOT_CLAIMED,
                check(abs(gap) < 1e-12),
            ),
        ),
    )
    return [t12, t13]
