"""Where each target's expectation comes from: what the paper printed (only where its text was available to us), what
the seed summary says (summaries written by others; docs/physics.md, "How to read this document", says which seed
holds what), and our own derivation (docs/physics.md section 7).

A verdict is taken against the row's claim column; a claim from a seed summary or from our derivation is labelled so
in the report, never passed off as the paper's.
"""

from __future__ import annotations

NONE = "not available to us (only the abstract / a summary was read)"

SOURCES: dict[str, tuple[str, str, str]] = {
    "T1": (
        "abstract of arXiv 2602.02281 via seed 001: unit-step Euler gives BP 'in exactly 2L steps'",
        "seed 001 (a summary): 2L steps, no approximation error",
        "spec 2.4: the Jacobi recursion is nilpotent; error 0.0 at step 2L, > 1e-3 at 2L - 1",
    ),
    "T2": (NONE, "-", "spec 7: s_l exact from tick l, lam_l from tick 2L + 1 - l"),
    "T3": (
        NONE,
        "-",
        "spec 2.4 / 7: geometric convergence below Courant 1, transient growth in (1, 2), divergence above 2",
    ),
    "T4": (
        "abstract of Pehle & Slotine via seed 000: 'fully unlocked algorithms suitable for training neural "
        "networks' (no numbers)",
        "seed 000 TL;DR: unlocked, local updates",
        "spec 7 T4: trains under timescale separation; the spec's toy numbers are our own",
    ),
    "T5": (NONE, "seed 000: impedance-matched junctions", "spec 1 / 7 T5: junction power balance to 1e-12"),
    "T6": ("abstract via seed 000: finite propagation speed", "-", "spec 7 T6: exact first-change ticks"),
    "T7": (
        "abstract via seed 000: 'parameter dynamics, including gradient descent, ... at parameter ports'",
        "seed 000 TL;DR: gradient descent, Newton and momentum as impedance matching and dissipation",
        "spec 1.7: R port = gradient flow, L-R port = heavy-ball flow, first-order latency error; curvature port = "
        "Newton; energy (emulator/energy.py): residual = stale-readout work + Taylor remainder, the first zero "
        "when locked",
    ),
    "T8": (NONE, "-", "spec 3.3: E[g^] = P_k g, E|g^|^2 = (k+2)|P_k g|^2, closed-form E|cos|"),
    "T9": (
        "abstract of arXiv 2511.03110 via seed 002: reduces bias and variance, 'performing better as the network "
        "width is increased'; the authors' public code (setup, estimator, metric)",
        "sciencestack TL;DR (spec 3.1): k ~ 10 often best; bias-free preconditioning underperforms",
        "spec 3.3 + t9_mnist1d.py: the per-sample cosine's magnitude falls with k by construction",
    ),
    "T9b": (NONE, "-", "spec 3.2-3.3 (our earlier construction)"),
    "T10": (
        NONE,
        "seed 003: h = T is BP, h = 1 is FF, memory M(h) = a h + b",
        "spec 4.2 + T10 note: the window costs 2 arrays per layer; the peak is a hinge",
    ),
    "T11": (
        NONE,
        "seed 003: 1 - cos^2 = O((1 - h/T)^3) on deep linear nets (theorem not retrieved)",
        "t11_residual.py: exponent 3 for depth-smooth layers as T grows, 2 for i.i.d. layers",
    ),
    "T12": (
        NONE,
        "emergentmind summary (spec 5.1): Theorem 1, BP = first-order DP",
        "spec 5.2: Q_uu = I/alpha, V_xx = 0 gives SGD and the backprop costate",
    ),
    "T13": (NONE, "-", "spec 7 T13: exact Q_uu on linear least squares is Newton's step"),
}


def lines(target: str) -> list[str]:
    """Three markdown bullet lines for a section, or none for a target without an entry."""
    if target not in SOURCES:
        return []
    paper, seed, ours = SOURCES[target]
    return [f"- **paper printed:** {paper}", f"- **seed summary:** {seed}", f"- **our derivation:** {ours}", ""]


CLOSING = """## How each check can fail (closing note)

Every `check` compares a measurement with a value derived independently of the code that produced it; none holds
by construction. How each one was confirmed to be able to fail:

- T1/T2/T6: exact tick counts and a 1e-12 bound against textbook backprop (emulator/train.py `backprop`, written
  apart); the tick-2L-1 row asserts the error is still large, so an off-by-one schedule fails both.
- T3/T4/T5: numerical outcomes of the relaxation and of random junctions (T5 against a finite product identity);
  T4 is decided over seeds by an interval, and the eta 0.5 row shows seeds where training fails.
- T7: the compiled circuit (numpy target, ngspice) against scipy's ODE solution; the error must halve when eta*tick
  halves, which a wrong port law, a wrong time constant or a sign error breaks (the ratio would not be 2).
  The energy rows: the ledger's residual against eta^2/2 g^T H g from finite differences of Network.forward's loss
  (a loss read at the wrong tick, a misaligned dissipation or the in-flight loss breaks the ratio 1, shown by
  mutating emulator/energy.py under tests/emulator/test_energy.py); the orders are fitted over eta at equal flow
  time, where an O(1) ledger error would give order 0; the lag row asks the stale work to grow with depth (a
  readout without latency has none: the locked control's stale work is exactly 0).
- T8: Monte Carlo moments against closed forms within 3-4 standard errors.
- T9: paired t-intervals over seeds decide (a per-seed paired bootstrap over test samples is shown, never decides);
  the joint JVP, the reference gradients, the per-sample subspaces (float64 and the float32 solvers training uses)
  and the preconditioned covariance are tested against torch forward mode, torch autograd, LAPACK's SVD and the
  authors' construction written out (tests/reproduce/test_t9.py); the verdict logic against hand-computed
  intervals on made-up runs, including a reversal that must turn a verdict inconclusive (test_t9_paper.py).
- T10: the window slope must equal 2 arrays per layer (a wrong memory model or a window that keeps more fails it).
- T11: exponents against our derivation (3 for smooth, 2 for i.i.d. layers), decided by intervals over nets; the
  closed-form gradients are tested against the emulator's streaming mpc_gradients.
- T12: the full DDP recursion (explicit Jacobians, tested against torch.func) vs SGD with torch autograd; a
  Gauss-Newton control run of the same code must differ from SGD, so the comparison is shown to be able to fail.
- T13: the DDP step against an explicitly built Kronecker Hessian and lstsq.

Removed as true by construction: T7's port-vs-optimizer rows (the ports are written as SGD / heavy ball) and the
inductor ledger's passivity and balance (identities of its own formulas); T12's identity-mode row (written as
-alpha g); T11's budget row (a horizon chosen from M(T/2) is T/2); T10's D(L) = 0 row (a repeat of its h = L row).
"""
