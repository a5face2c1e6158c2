"""The learning rules of the source papers as named training methods, accepted by name in ``train.make_method``.

Each entry builds a Method with its default setting for a network; pass a configured object to ``train`` for others:
  pipelined         a new minibatch every tick, no activation stash (spec section 1.8 streaming caveat)
  pipelined+stash   the same with matched delay lines of 2(L - i) ticks (emulator.pipeline); sigma'(a) recomputed
  pipelined+stash-forward   the same lines also carry the forward pass's outputs: sigma'(a) as the forward wave saw
                    it, three matrix products a layer instead of four (emulator.pipeline, recompute=False)
  mpc               horizon h = ceil(L / 2) truncated sensitivities with local heads (emulator.mpc)
  forward           forward-gradient W-perp guesses, k = 10 (emulator.forward_gradient)
  ocnopt            DDP with Q_uu = I / alpha: SGD on backprop, the Theorem-1 limit (emulator.ocnopt)
  curvature         exact gradients into a damped Kronecker Newton port (emulator.ports)
"""

from __future__ import annotations

from typing import Any, Callable

from wavetrain.compiler.network import Network
from wavetrain.emulator.forward_gradient import ForwardGradient
from wavetrain.emulator.mpc import Mpc
from wavetrain.emulator.ocnopt import OCNOpt
from wavetrain.emulator.pipeline import Pipelined
from wavetrain.emulator.ports import CurvatureMatched

# NOTE: each factory gets (net, lr). Methods that step through train()'s port use lr and momentum there; ocnopt
# steps itself (alpha = lr is its Q_uu = I / alpha, the SGD limit, and it has no momentum); curvature's Newton port
# keeps its own step length 0.5, a different quantity from an SGD rate, so train() refuses a momentum it would drop
EXTRA_METHODS: dict[str, Callable[[Network, float], Any]] = {
    "pipelined": lambda net, lr: Pipelined(stash=False),
    "pipelined+stash": lambda net, lr: Pipelined(stash=True),
    "pipelined+stash-forward": lambda net, lr: Pipelined(stash=True, recompute=False),
    "mpc": lambda net, lr: Mpc(h=(net.depth + 1) // 2),
    "forward": lambda net, lr: ForwardGradient("wperp", 10),
    "ocnopt": lambda net, lr: OCNOpt(alpha=lr),
    "curvature": lambda net, lr: CurvatureMatched(),
}
SELF_STEPPING = ("ocnopt", "curvature")  # methods that move the parameters without train()'s heavy-ball port
