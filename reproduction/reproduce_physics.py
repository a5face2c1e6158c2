"""Reproduction targets T1-T7 (spec section 7): relaxation, light cone, junction power, parameter ports, energy."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np

from wavetrain.compiler.network import Network
from wavetrain.emulator.energy import junction_effort, junction_flow
from wavetrain.emulator.kernel import WaveState, tick
from wavetrain.emulator.pipeline import Pipelined
from wavetrain.emulator.ports import CurvaturePort, ResistorPort
from wavetrain.emulator.relax import run_ticks
from wavetrain.emulator.train import HeavyBall, backprop
from wavetrain.reproduction.report_types import (
    NOT_CLAIMED,
    Row,
    Scale,
    Section,
    check,
    interval,
    sci,
    verdict,
    verdict_ci,
)


def spec_net(seed: int = 0) -> tuple[Network, np.ndarray, np.ndarray]:
    """The spec's section 2.4 check: widths 4-7-6-5-8-3, tanh, mse, L = 5, with a batch of 6."""
    net = Network.mlp([4, 7, 6, 5, 8, 3], activation="tanh", output_activation="tanh", loss="mse", seed=seed)
    rng = np.random.default_rng(seed)
    return net, rng.normal(size=(6, 4)), rng.normal(size=(6, 3))


def error_curve(net: Network, x: np.ndarray, t: np.ndarray, courant: float, ticks: int) -> np.ndarray:
    reference, _ = backprop(net.machine(), x, t)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with np.errstate(over="ignore", invalid="ignore"):
            run = run_ticks(net.machine(), x, t, ticks, courant, history=True)
            return run.error_by_tick(reference)


def t1_t2(scale: Scale, out: Path) -> list[Section]:
    net, x, t = spec_net()
    L = net.depth
    errors = error_curve(net, x, t, 1.0, 2 * L + 2)
    run = run_ticks(net.machine(), x, t, 2 * L + 2, 1.0, history=True)
    s_exact = [
        min(
            k
            for k in range(2 * L + 3)
            if all(np.array_equal(run.history.s[j][l], run.s[l]) for j in range(k, 2 * L + 3))
        )
        for l in range(L)
    ]
    lam_exact = [
        min(
            k
            for k in range(2 * L + 3)
            if all(np.array_equal(run.history.lam[j][l], run.lam[l]) for j in range(k, 2 * L + 3))
        )
        for l in range(L)
    ]
    ok1 = errors[2 * L] <= 1e-12 and errors[2 * L - 1] > 1e-3
    want_s, want_lam = list(range(1, L + 1)), [2 * L + 1 - l for l in range(1, L + 1)]
    t1 = Section(
        "T1",
        "Exact gradient at tick 2L (Scurria)",
        (
            Row(
                "max abs error at tick 2L = 10",
                sci(errors[2 * L]),
                "exact in 2L steps",
                "<= 1e-12 (got 0.0)",
                verdict(errors[2 * L] <= 1e-12, True),
                check(ok1),
            ),
            Row(
                "max abs error at tick 2L - 1",
                sci(errors[2 * L - 1]),
                "-",
                "> 1e-3 (got 1.4e-1)",
                NOT_CLAIMED,
                check(errors[2 * L - 1] > 1e-3),
            ),
        ),
    )
    t2 = Section(
        "T2",
        "Intermediate exactness ticks",
        (
            Row("first exact tick of s_1..s_L", str(s_exact), "-", str(want_s), NOT_CLAIMED, check(s_exact == want_s)),
            Row(
                "first exact tick of lam_1..lam_L",
                str(lam_exact),
                "-",
                str(want_lam),
                NOT_CLAIMED,
                check(lam_exact == want_lam),
            ),
        ),
    )
    return [t1, t2]


def t3(scale: Scale, out: Path) -> Section:
    from wavetrain import plots

    net, x, t = spec_net()
    curves = {nu: error_curve(net, x, t, nu, scale.t3_ticks) for nu in (0.5, 1.0, 1.5, 1.9, 2.1)}
    fig, ax = plots.figure(size=(8, 4))
    for index, nu in enumerate((0.5, 1.0, 1.5, 1.9)):
        ax.semilogy(np.maximum(curves[nu], 1e-17), color=plots.color_for(f"courant {nu}", index), label=f"courant {nu}")
    ax.set(
        xlabel="tick k", ylabel="max |G(k) - G(backprop)|", title="T3: gradient error vs tick (zeros drawn at 1e-17)"
    )
    ax.grid(alpha=0.3)
    plots.legend_outside(ax)
    plots.save_figure(fig, out / "t3_error_vs_tick.png")
    half, fast, over = curves[0.5], curves[1.5], curves[1.9]
    geometric = half[20] > half[40] > half[60] and half[60] < 1e-6
    transient = over.max() > 1e3 * over[0] and over[-1] < over.max() * 1e-6
    diverged = not np.isfinite(curves[2.1][-1]) or curves[2.1][-1] > 1e10
    end = len(over) - 1
    rows = (
        Row(
            "courant 0.5: error at ticks 20 / 40 / 60",
            " / ".join(sci(half[k]) for k in (20, 40, 60)),
            "- (left to future work)",
            "1.4e-2 / 2.4e-5 / 1.7e-9: geometric",
            NOT_CLAIMED,
            check(geometric),
        ),
        Row(
            "courant 1: error at tick 2L", sci(curves[1.0][10]), "-", "exact", NOT_CLAIMED, check(curves[1.0][10] == 0)
        ),
        Row(
            "courant 1.5: final error",
            f"{sci(fast[-1])} at tick {end}",
            "-",
            "converges (1e-13)",
            NOT_CLAIMED,
            check(fast[-1] < 1e-9),
        ),
        Row(
            "courant 1.9: error at 100 / 200 / max / final",
            " / ".join(sci(v) for v in (over[100], over[200], over.max(), over[-1])) + f" (tick {end})",
            "-",
            "2e5 @100, 1.5e7 @200, 3.7e-5 @3000: transient, then converges",
            NOT_CLAIMED,
            check(transient),
        ),
        Row("courant 2.1: final error", sci(float(curves[2.1][-1])), "-", "diverges", NOT_CLAIMED, check(diverged)),
    )
    return Section(
        "T3",
        "Courant regimes",
        rows,
        ("t3_error_vs_tick.png",),
        "The paper leaves discrete stability to future work; the regimes are the spec's derivation.",
    )


def toy(seed: int = 0) -> tuple[Network, np.ndarray, np.ndarray]:
    """T4's toy: 3-16-16-16-2 tanh MLP, 64 samples of a smooth 2-output target (our choice of data)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(64, 3))
    y = np.stack([np.sin(x[:, 0] + x[:, 1]), np.cos(x[:, 2]) * x[:, 0]], axis=1) * 0.8
    return Network.mlp([3, 16, 16, 16, 2], output_activation="tanh", seed=seed), x, y


def unlocked_loss(ticks: int, courant: float, eta: float, seed: int = 0) -> tuple[float, float]:
    net, x, y = toy(seed)
    m = net.machine()
    start = float(np.mean(net.loss_fn.value(net.forward(x), y)))
    state, port = WaveState.zeros(net.sizes, len(x), x), ResistorPort(eta)
    for _ in range(ticks):
        state, grads = tick(m, x, y, state, courant)
        port.step(m, grads)
    return start, float(np.mean(net.loss_fn.value(net.forward(x), y)))


def pipeline_mismatch(ticks: int = 40) -> dict[str, float]:
    """Mean cosine between the pipelined port readout and the true gradient of the sample it should serve, for no
    stash, the delay lines with sigma'(a) recomputed, and the delay lines carrying the forward pass."""
    net = Network.mlp([64, 32, 32, 10], loss="cross_entropy", seed=0)
    rng = np.random.default_rng(1)
    xs = [rng.normal(size=(16, 64)) for _ in range(ticks)]
    ts = [net.targets(rng.integers(0, 10, 16)) for _ in range(ticks)]
    L, result = net.depth, {}

    class Frozen:
        def step(self, m, grads):  # noqa: ANN001 - a port that never moves: frozen weights
            return None

    variants = {"none": Pipelined(False), "recompute": Pipelined(True), "forward": Pipelined(True, recompute=False)}
    for name, method in variants.items():
        cosines = []
        for k in range(ticks):
            method.step(net.machine(), xs[k], ts[k], Frozen())
            if k < 2 * L + 1:
                continue
            for i, (n, (gW, _)) in enumerate(method.last_grads.items()):
                ref, _ = backprop(net.machine(), xs[k - 2 * L + i], ts[k - 2 * L + i])
                cosines.append(float((gW * ref[n][0]).sum() / (np.linalg.norm(gW) * np.linalg.norm(ref[n][0]))))
        result[name] = float(np.mean(cosines))
    return result


def t4(scale: Scale, out: Path) -> Section:
    seeds, n = scale.t4_seeds, scale.t4_ticks

    def ratios(courant: float, eta: float) -> list[float]:
        runs = [unlocked_loss(n, courant, eta, seed) for seed in seeds]
        return [end / start if np.isfinite(end) else float("inf") for start, end in runs]

    with np.errstate(over="ignore", invalid="ignore"):
        edge, one, half = ratios(1.0, 0.5), ratios(1.0, 0.2), ratios(0.5, 0.2)
    locked = []
    for seed in seeds:
        net, x, y = toy(seed)
        start = float(np.mean(net.loss_fn.value(net.forward(x), y)))
        port, m = HeavyBall(0.2), net.machine()
        for _ in range(n // 8):
            grads, _ = backprop(m, x, net.targets(y))
            port.step(m, grads)
        locked.append(float(np.mean(net.loss_fn.value(net.forward(x), y))) / start)
    ci_one, ci_half, ci_locked = interval(one), interval(half), interval(locked)

    def show(m: tuple[float, float, float]) -> str:
        return f"{m[0]:.4f} [{m[1]:.4f}, {m[2]:.4f}]"

    cos = pipeline_mismatch()
    n = scale.t4_ticks
    trained = sum(r < 0.2 for r in edge)
    rows = (
        Row(
            f"unlocked, courant 1, eta 0.2, {n} ticks: final / initial loss, mean [95% CI] over {len(seeds)} seeds "
            "(toy data and nets per seed)",
            show(ci_one),
            "trains (no numbers)",
            "< 0.2 on every seed (timescale separation eta lambda 2L / nu < 1)",
            verdict_ci(ci_one[2] < 0.2, ci_one[1] > 0.2),
            check(max(one) < 0.2),
        ),
        Row(
            f"unlocked, courant 1, eta 0.5 (the spec's toy setting), {n} ticks: final / initial per seed",
            ", ".join("diverged" if not np.isfinite(r) else f"{r:.3f}" for r in edge) + f" ({trained} of "
            f"{len(seeds)} below 0.2)",
            "-",
            "0.0093 on the spec's one toy (0.875 -> 0.0081): a stability edge",
            NOT_CLAIMED,
        ),
        Row(
            f"unlocked, courant 0.5, eta 0.2, {n} ticks: final / initial",
            show(ci_half),
            "-",
            "< 0.2",
            NOT_CLAIMED,
            check(max(half) < 0.2),
        ),
        Row(
            f"locked BP heavy ball (lr 0.2), {n // 8} updates (same latency): final / initial",
            show(ci_locked),
            "-",
            "below the unlocked run at equal latency",
            NOT_CLAIMED,
            check(ci_locked[0] < ci_one[0]),
        ),
        Row(
            "pipelined, frozen weights: cos(port readout, own-sample gradient), no stash",
            f"{cos['none']:.3f}",
            "-",
            "< 1 (sensitivity of one sample x activation of another)",
            NOT_CLAIMED,
            check(cos["none"] < 0.99),
        ),
        Row(
            "pipelined, frozen weights: same with matched delay lines (sigma'(a) recomputed)",
            f"{cos['recompute']:.6f}",
            "-",
            "1 (exact)",
            NOT_CLAIMED,
            check(cos["recompute"] > 1 - 1e-12),
        ),
        Row(
            "pipelined, frozen weights: same with the delay lines carrying the forward pass (stash-forward)",
            f"{cos['forward']:.6f}",
            "-",
            "1 (exact)",
            NOT_CLAIMED,
            check(cos["forward"] > 1 - 1e-12),
        ),
    )
    return Section(
        "T4",
        "Unlocked training (Pehle & Slotine)",
        rows,
        (),
        "The toy data are ours (the spec does not give them), so losses are comparable in regime only; "
        "the verdict rests on eta 0.2, where the spec's timescale separation holds, over seeds. "
        "Digits results for wave / pipelined training are in the accuracy table.",
    )


def t5(scale: Scale, out: Path) -> Section:
    rng = np.random.default_rng(5)
    worst_lossless, worst_three = 0.0, 0.0
    for trial in range(200):
        n_in, n_out = rng.integers(1, 9, size=2)
        net = Network.mlp(
            [n_in, n_out], activation="tanh", output_activation=["tanh", "sigmoid"][trial % 2], seed=trial
        )
        layer = net.layers[0]
        x, dx, p = rng.normal(size=(3, n_in)), rng.normal(size=(3, n_in)), rng.normal(size=(3, n_out))
        dW, db = rng.normal(size=(n_out, n_in)), rng.normal(size=n_out)
        p_prev, gW, gb = junction_effort(layer, x, p)
        left = (p_prev * dx).sum()
        right = (p * junction_flow(layer, x, dx, 0 * dW, 0 * db)).sum()
        worst_lossless = max(worst_lossless, abs(left - right) / max(abs(left), abs(right), 1e-300))
        full = (p * junction_flow(layer, x, dx, dW, db)).sum()
        three = left + (gW * dW).sum() + (gb * db).sum()
        worst_three = max(worst_three, abs(full - three) / max(abs(full), 1e-300))
    rows = (
        Row(
            "max relative error p_{l-1}.dx_{l-1} - p_l.dx_l (200 random layers)",
            sci(worst_lossless),
            "-",
            "<= 1e-12",
            NOT_CLAIMED,
            check(worst_lossless <= 1e-12),
        ),
        Row(
            "max relative error of the three-port balance with g.dtheta",
            sci(worst_three),
            "-",
            "<= 1e-12",
            NOT_CLAIMED,
            check(worst_three <= 1e-12),
        ),
    )
    return Section("T5", "Junction power conservation", rows)


def t6(scale: Scale, out: Path) -> Section:
    net, x, y = spec_net()
    L, n0, ticks = net.depth, 12, 12 + 2 * 5 + 4
    runs = []
    for change in (False, True):
        copy, state, port = net.copy(), WaveState.zeros(net.sizes, len(x), x), ResistorPort(0.01)
        m, params, trace = copy.machine(), copy.params(), []
        for k in range(ticks):
            target = y + (1.0 if change and k >= n0 else 0.0)
            state, grads = tick(m, x, target, state, 1.0)
            port.step(m, grads)
            trace.append(([lam.copy() for lam in state.lam.values()], [W.copy() for W, _ in params]))
        runs.append(trace)
    # NOTE: trace[k] is the state after tick k, i.e. at tick k + 1
    first_p = [
        min(k + 1 for k in range(ticks) if not np.array_equal(runs[0][k][0][l], runs[1][k][0][l])) for l in range(L)
    ]
    first_w = [
        min(k + 1 for k in range(ticks) if not np.array_equal(runs[0][k][1][l], runs[1][k][1][l])) for l in range(L)
    ]
    want_p = [n0 + 1 + (L - l) for l in range(1, L + 1)]
    want_w = [n0 + 2 + (L - l) for l in range(1, L + 1)]
    rows = (
        Row(
            f"first tick p_1..p_L changes (target step at n0 = {n0})",
            str(first_p),
            "finite speed c (no ticks)",
            str(want_p),
            verdict(first_p == want_p, True),
            check(first_p == want_p),
        ),
        Row(
            "first tick theta_1..theta_L changes", str(first_w), "-", str(want_w), NOT_CLAIMED, check(first_w == want_w)
        ),
    )
    return Section("T6", "Light cone", rows)


XOR_X = np.array([[-1.0, -1.0], [-1.0, 1.0], [1.0, -1.0], [1.0, 1.0]])
XOR_Y = np.array([[-1.0], [1.0], [1.0], [-1.0]])
TICK = 1e-9


def _flat(params: list | dict) -> np.ndarray:
    """(W, b) pairs (a list in node order, or keyed by node id) as one vector."""
    pairs = params.values() if isinstance(params, dict) else params
    return np.concatenate([np.concatenate([np.ravel(W), b]) for W, b in pairs])


def _unflat(net: Network, v: np.ndarray) -> list:
    out, i = [], 0
    for layer in net.layers:
        n, m = layer.weight.size, layer.bias.size
        out.append((v[i : i + n].reshape(layer.weight.shape), v[i + n : i + n + m]))
        i += n + m
    return out


def learning_circuit(
    target: str, kind: str, eta: float, tau_m: float, ticks: int, **options: Any
) -> tuple[Network, np.ndarray, np.ndarray]:
    """XOR in the compiled learning circuit (ports as circuit elements): sample times and the weights (capacitors)."""
    from wavetrain.circuits import Transient
    from wavetrain.compiler import compile_network
    from wavetrain.targets import get_target

    net = Network.mlp([2, 4, 1], activation="tanh", output_activation="tanh", seed=0, name="xor")
    circuit = compile_network(net, x=XOR_X, y=XOR_Y, learning=kind, eta=eta, tick=TICK, tau_m=tau_m)
    samples = (np.linspace(0, ticks - 1, 21).round() + 0.5) * TICK
    trace = get_target(target, **options).run(
        circuit, Transient(stop=ticks * TICK, step=TICK / 4), samples, ["p1", "p2"]
    )
    theta = np.concatenate(
        [
            np.concatenate([trace[f"p{l}.weight"].reshape(len(samples), -1), trace[f"p{l}.bias"]], axis=1)
            for l in (1, 2)
        ],
        axis=1,
    )
    return net, samples, theta


def reference_flow(net: Network, kind: str, eta: float, tau_m: float, samples: np.ndarray) -> np.ndarray:
    """Gradient flow theta' = -eta g (resistor) or heavy-ball flow tau_m theta'' + theta' = -eta g (L-R), solved by
    scipy's DOP853 at rtol 1e-10 with textbook backprop gradients: the reference, written apart from the circuit."""
    from scipy.integrate import solve_ivp

    theta0 = _flat(net.params())
    n = len(theta0)

    def grad(v: np.ndarray) -> np.ndarray:
        return _flat(backprop(net.machine(params=_unflat(net, v)), XOR_X, XOR_Y)[0])

    if kind == "resistor":
        rhs, start = (lambda t, v: -eta * grad(v)), theta0
    else:
        rhs = lambda t, z: np.concatenate([z[n:], (-eta * grad(z[:n]) - z[n:]) / tau_m])  # noqa: E731
        start = np.concatenate([theta0, np.zeros(n)])
    sol = solve_ivp(rhs, (0.0, float(samples[-1])), start, t_eval=samples, rtol=1e-10, atol=1e-12, method="DOP853")
    return sol.y[:n].T


def flow_error(target: str, kind: str, eta: float, tau_m: float, ticks: int, **options: Any) -> float:
    """max over the run of |theta_circuit - theta_flow|, relative to the largest excursion of theta_flow."""
    net, samples, theta = learning_circuit(target, kind, eta, tau_m, ticks, **options)
    ref = reference_flow(net, kind, eta, tau_m, samples)
    return float(np.abs(theta - ref).max() / np.abs(ref - ref[0]).max())


def t7(scale: Scale, out: Path) -> Section:
    import shutil

    from wavetrain.reproduction import t7_energy

    ticks = scale.t7_ticks
    # the same flow time eta t (and tau_m eta) at half the tick per unit of flow time: the error must halve if the
    # circuit is the flow up to its first-order latency error (eta x 2L ticks)
    res = [
        flow_error("numpy", "resistor", eta, 1e-8, n, steps_per_tick=8) for eta, n in ((5e7, ticks), (2.5e7, 2 * ticks))
    ]
    mom = [
        flow_error("numpy", "momentum", eta, tau, n, steps_per_tick=8)
        for eta, tau, n in ((2e7, 1e-8, ticks // 2), (1e7, 2e-8, ticks))
    ]
    ratio_r, ratio_m = res[0] / res[1], mom[0] / mom[1]
    first_r, first_m = 1.7 <= ratio_r <= 2.3, 1.7 <= ratio_m <= 2.3
    rows = [
        Row(
            f"resistor port in the numpy circuit target (8 sub-steps per tick) vs gradient flow (DOP853): max "
            f"relative |dtheta| at eta tick = 0.05 / 0.025 (same flow time, {ticks} / {2 * ticks} ticks)",
            f"{res[0]:.2e} / {res[1]:.2e} (ratio {ratio_r:.2f})",
            "GD = resistor port",
            "first order in eta x tick (the waves' 2L-tick latency): ratio 2 (1.7-2.3), < 5e-2 at 0.025",
            verdict(first_r and res[1] < 5e-2, True),
            check(first_r and res[1] < 5e-2),
        ),
        Row(
            "L-R port (tau_m eta = 0.2) in the numpy circuit target vs heavy-ball flow tau_m theta'' + theta' = "
            "-eta g: max relative |dtheta| at eta tick = 0.02 / 0.01",
            f"{mom[0]:.2e} / {mom[1]:.2e} (ratio {ratio_m:.2f})",
            "momentum = inductor + resistor",
            "ratio 2 (1.7-2.3), < 5e-2 at 0.01",
            verdict(first_m and mom[1] < 5e-2, True),
            check(first_m and mom[1] < 5e-2),
        ),
    ]
    if shutil.which("ngspice"):
        spice = flow_error("spice", "resistor", 5e7, 1e-8, ticks)
        rows.append(
            Row(
                "resistor port in ngspice (the same netlist) vs gradient flow, eta tick = 0.05",
                f"{spice:.2e} (numpy circuit target: {res[0]:.2e})",
                "GD = resistor port",
                "the same latency error as the numpy circuit target (within a factor 1.5)",
                verdict(abs(np.log(spice / res[0])) < np.log(1.5), True),
                check(abs(np.log(spice / res[0])) < np.log(1.5)),
            )
        )
    else:
        rows.append(
            Row("resistor port in ngspice vs gradient flow", "ngspice not installed: not run", "-", "-", NOT_CLAIMED)
        )
    rng = np.random.default_rng(3)
    X, Y = rng.normal(size=(40, 6)), rng.normal(size=(40, 2))
    lin = Network.mlp([6, 2], output_activation="identity", seed=3)
    port = CurvaturePort(lr=1.0, damping=0.0)
    port.observe(lin.machine(), X)
    port.step(lin.machine(), backprop(lin.machine(), X, Y)[0])
    design = np.hstack([X, np.ones((40, 1))])
    best = np.linalg.lstsq(design, Y, rcond=None)[0]
    best_loss = float(np.mean(0.5 * ((design @ best - Y) ** 2).sum(axis=1)))
    gap = float(np.mean(lin.loss_fn.value(lin.forward(X), Y))) - best_loss
    rows += [
        Row(
            "curvature port on least squares: loss gap to the minimum (lstsq) after 1 step",
            sci(gap),
            "Newton = curvature match",
            "0 (one step)",
            verdict(abs(gap) < 1e-12, True),
            check(abs(gap) < 1e-12),
        ),
    ]
    energy, plot, spread = t7_energy.rows(scale, out)
    rows += energy
    note = (
        "The ports are the compiled circuit elements (compile_network(..., learning='resistor' | 'momentum')), "
        "run by the numpy circuit target and by ngspice on XOR; the reference is the ODE they should follow, "
        "solved by scipy with backprop gradients. The circuit reads a gradient the waves computed over the last "
        "2L ticks while the weights move, so it follows the flow up to an error first order in eta x tick; the "
        "check halves eta x tick at equal flow time and asks the error to halve. Dropped: the earlier rows that "
        "compared ResistorPort / InductorPort with SGD / heavy ball (the ports are written as those updates) and "
        "the inductor ledger's passivity and balance (algebraic identities of the ledger's own formulas). "
        "Energy: the residual of Loss + stored + dissipated splits exactly into the stale readout's work "
        "(grad L(theta_k) - g_k) . dtheta_k and the Taylor remainder of the loss along the step "
        "(emulator/energy.py). Locked, only the remainder is left (eta^2/2 g^T H g per step); unlocked, the "
        "readout lags the parameters by up to 2L ticks and the stale work dominates, still second order per "
        "step, so residual / dissipated = c eta + O(eta^2) at equal flow time with c many times the locked "
        "one (the split row). The earlier row ('0.178 / 0.548; order 0.70') compared 400 ticks at eta 0.02 and "
        "0.1, i.e. flow times 8 and 40: different stretches of the trajectory, not a ledger error; its '< 0.1 at "
        "eta 0.02' assumed the locked coefficient. " + spread
    )
    return Section(
        "T7",
        "Parameter ports (circuit elements) follow gradient flow and heavy ball; energy",
        tuple(rows),
        (plot,),
        note,
    )
