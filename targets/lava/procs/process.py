"""Lava Processes for the wave machine: the input clamp, one process per layer, and the loss load.

One Lava timestep is one tick (spec section 6). Every layer process holds its own waves s_l, lam_l and its
parameters W_l, b_l (the junction, the nonlinearity and the parameter port of layer l) and talks only to its two
neighbours:

    InputClamp --s--> WaveLayer 1 --s--> ... --s--> WaveLayer L --s--> LossLoad
               <-lam-            <-lam-        <-lam-             <-lam-

Forward ports carry s (batch, n) right, backward ports carry lam (batch, n) left; the clamp absorbs the wave that
reaches the input (a matched termination), the loss load reflects the error wave. ProcessModels are in
:mod:`wavetrain.targets.lava.procs.models` (``floating_pt`` and ``fixed_pt``).

Every schedule setting is a process parameter (read by the models from ``proc_params``):
  mode       "relax" (frozen weights, one window of ``window`` ticks), "dyadic" (windows of 2L ticks from zero
             waves, then the port update) or "wave" (unlocked: the ports move every tick, ``window`` = hold ticks
             per minibatch, waves never reset)
  window     ticks per minibatch; ``batch`` rows per minibatch, ``windows`` minibatches per epoch
  shuffle    each epoch's minibatches follow numpy.random.default_rng(seed).permutation, drawn by the clamp and the
             load themselves exactly as emulator.train draws them (no data crosses the runtime between epochs);
             without it the rows are taken in order
  history    keep every tick's waves and readout in the hist_* Vars (relax only)
  outbox     a folder: at the last timestep of every epoch each process saves its state there (<name>.npz); Lava's
             Var.get moves one element per message, far too slow for weights and histories
No module in this package does anything on import: Lava's compiler executes every module of this folder.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from lava.magma.core.process.ports.ports import InPort, OutPort
from lava.magma.core.process.process import AbstractProcess
from lava.magma.core.process.variable import Var


class InputClamp(AbstractProcess):
    """The input clamp: drives minibatch m's rows of x (all training rows) into layer 1, absorbs the backward wave
    that reaches the input."""

    def __init__(self, x: np.ndarray, **params: Any) -> None:
        super().__init__(**params)
        batch, width = params["batch"], x.shape[1]
        self.s_out = OutPort(shape=(batch, width))
        self.lam_in = InPort(shape=(batch, width))
        self.x = Var(shape=x.shape, init=x)


class WaveLayer(AbstractProcess):
    """Layer l's cells: junction a = W s + b, nonlinearity, sensitivity delta = sigma'(a) lam, backward wave
    W^T delta, and the parameter port (readout G = delta^T s, and the update in training modes)."""

    def __init__(self, weight: np.ndarray, bias: np.ndarray, ticks: int, **params: Any) -> None:
        super().__init__(**params)
        batch = params["batch"]
        n_out, n_in = weight.shape
        self.s_in = InPort(shape=(batch, n_in))
        self.lam_in = InPort(shape=(batch, n_out))
        self.s_out = OutPort(shape=(batch, n_out))
        self.lam_out = OutPort(shape=(batch, n_in))
        self.weight = Var(shape=(n_out, n_in), init=weight)
        self.bias = Var(shape=(n_out,), init=bias)
        self.s = Var(shape=(batch, n_out), init=0)
        self.lam = Var(shape=(batch, n_out), init=0)
        self.grad_w = Var(shape=(n_out, n_in), init=0)
        self.grad_b = Var(shape=(n_out,), init=0)
        slots = ticks + 1 if params.get("history") else 1
        self.hist_s = Var(shape=(slots, batch, n_out), init=0)
        self.hist_lam = Var(shape=(slots, batch, n_out), init=0)
        self.hist_gw = Var(shape=(slots, n_out, n_in), init=0)
        self.hist_gb = Var(shape=(slots, n_out), init=0)


class LossLoad(AbstractProcess):
    """The loss load: reflects the error wave dC/ds_L / batch from the arriving s_L and the target of its tick;
    records the loss at the end of every window."""

    def __init__(self, t: np.ndarray, **params: Any) -> None:
        super().__init__(**params)
        batch, width = params["batch"], t.shape[1]
        self.s_in = InPort(shape=(batch, width))
        self.lam_out = OutPort(shape=(batch, width))
        self.t = Var(shape=t.shape, init=t)
        self.loss = Var(shape=(params["windows"],), init=0)
