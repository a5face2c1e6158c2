"""ProcessModels of the wave machine: ``floating_pt`` (the emulator's cells, float64) and ``fixed_pt`` (int64).

One Lava timestep is one tick. Each tick has a forward phase (every process first sends its s, then receives its left
neighbour's) and a backward phase (every process first sends its lam message, then receives its right neighbour's):
each process sends before it receives, so no ring of processes waits on itself. In a timestep that computes tick k
-> k+1 the messages carry tick-k values, as in the emulator's Jacobi tick.

  relax, dyadic   the waves start from zero at every window (one window in relax, one per minibatch in dyadic); the
                  first timestep of a window also exchanges the zero state once. Timestep p of a window runs the
                  backward phase of tick p-1 and then the forward phase of tick p, so at the end of timestep p the
                  ports hold G(p): after 2L timesteps they hold the exact gradient G(2L). In dyadic the port update
                  follows the readout of the window's last timestep.
  wave            no reset: timestep k runs the forward phase of tick k (readout G(k), port update scaled 1/hold)
                  and then its backward phase, as emulator.train.Wave does.

The floating_pt models call :mod:`wavetrain.emulator.cells` with the ideal substrate; the fixed_pt models compute
the same cells on integer mantissas with the formats, tables and rounding of
:class:`wavetrain.emulator.loihi.LoihiFixedPoint` (built from the ``fixed`` process parameter).
"""

from __future__ import annotations

from collections import deque
from typing import Any

import numpy as np
from lava.magma.core.decorator import implements, requires, tag
from lava.magma.core.model.py.model import PyLoihiProcessModel
from lava.magma.core.model.py.ports import PyInPort, PyOutPort
from lava.magma.core.model.py.type import LavaPyType
from lava.magma.core.resources import CPU
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol

from wavetrain.compiler.functions import ACTIVATIONS, LOSSES
from wavetrain.emulator import cells
from wavetrain.emulator.loihi import (
    LoihiFixedPoint,
    activate_int,
    derivative_int,
    limits,
    overflow,
    quantize,
    shift_floor,
    update_int,
)
from wavetrain.emulator.ports import heavy_ball
from wavetrain.emulator.substrate import IDEAL
from wavetrain.targets.lava.procs.process import InputClamp, LossLoad, WaveLayer


class _Schedule:
    """Where a timestep sits: the tick k it computes, its window m in the epoch and the position p in the window;
    the rows of each window; and the outbox every process saves its state to at the end of an epoch."""

    proc_params: Any
    time_step: int

    def where(self) -> tuple[str, int, int, int]:
        params = self.proc_params
        mode, window = params["mode"], params["window"]
        k = int(self.time_step) - 1
        epoch, rest = divmod(k, params["windows"] * window)
        m, p = divmod(rest, window)
        self._epoch_end = rest == params["windows"] * window - 1
        if not hasattr(self, "_order") or (rest == 0 and getattr(self, "_drawn", None) != epoch):
            self._order = self.order(epoch)
            self._drawn = epoch
        return mode, k, m, p

    def order(self, epoch: int) -> np.ndarray:
        """The training rows of this epoch, minibatch after minibatch (emulator.train's permutation)."""
        params = self.proc_params
        rows = params["rows"]
        if not params["shuffle"]:
            return np.arange(params["windows"] * params["batch"])
        if not hasattr(self, "_rng"):
            self._rng = np.random.default_rng(params["seed"])
        return self._rng.permutation(rows)[: params["windows"] * params["batch"]]

    def rows(self, m: int) -> np.ndarray:
        batch = self.proc_params["batch"]
        return self._order[m * batch : (m + 1) * batch]

    def save(self, **arrays: Any) -> None:
        """At the end of an epoch, write this process's state to the outbox (atomically: a rename)."""
        if not self._epoch_end or self.proc_params.get("outbox") is None:
            return
        import os

        path = os.path.join(self.proc_params["outbox"], f"{self.proc_params['name']}.npz")
        with open(path + ".tmp", "wb") as handle:
            np.savez(handle, **{key: np.asarray(value) for key, value in arrays.items()})
        os.replace(path + ".tmp", path)

    def machine(self, weight: np.ndarray | None = None, bias: np.ndarray | None = None) -> cells.Machine:
        """The cells of this process's layer: one dense node, id "l" (1-based, as the chain's), on the ideal
        substrate (the fixed_pt models compute the Loihi formats in int64 themselves)."""
        l = int(self.proc_params.get("index", len(self.proc_params["acts"]) - 1))
        act = ACTIVATIONS[self.proc_params["acts"][l]]
        if weight is None:
            n = int(self.proc_params.get("width", 1))
            weight, bias = np.zeros((n, 1)), np.zeros(n)
        return cells.bare([(weight, bias)], [act], LOSSES[self.proc_params["loss"]], IDEAL)

    def fixed(self) -> LoihiFixedPoint:
        if not hasattr(self, "_fixed"):
            self._fixed = LoihiFixedPoint(**self.proc_params["fixed"])
        return self._fixed


# --- the input clamp -----------------------------------------------------------------------------------------------


class _ClampModel(_Schedule, PyLoihiProcessModel):
    s_out: PyOutPort
    lam_in: PyInPort
    x: np.ndarray

    def run_spk(self) -> None:
        mode, k, m, p = self.where()
        x = self.x[self.rows(m)]
        if mode == "wave":
            self.s_out.send(x)
            self.lam_in.recv()  # NOTE: the input end absorbs the arriving backward wave (a matched termination)
            return
        if p == 0:
            self.s_out.send(x)
        self.lam_in.recv()
        self.s_out.send(x)


@implements(proc=InputClamp, protocol=LoihiProtocol)
@requires(CPU)
@tag("floating_pt")
class PyInputClampModelFloat(_ClampModel):
    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, float)
    lam_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, float)
    x: np.ndarray = LavaPyType(np.ndarray, float)


@implements(proc=InputClamp, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PyInputClampModelFixed(_ClampModel):
    """x arrives already quantized to the input format (host -> chip messages, nearest rounding)."""

    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int64, precision=24)
    lam_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int64, precision=24)
    x: np.ndarray = LavaPyType(np.ndarray, np.int64, precision=24)


# --- the loss load -------------------------------------------------------------------------------------------------


class _LossModel(_Schedule, PyLoihiProcessModel):
    s_in: PyInPort
    lam_out: PyOutPort
    t: np.ndarray
    loss: np.ndarray

    def run_spk(self) -> None:
        mode, k, m, p = self.where()
        window = self.proc_params["window"]
        t = self.t[self.rows(m)]
        if mode == "wave":
            if not hasattr(self, "_targets"):
                # NOTE: the target is delayed by L ticks, the forward wave's travel time (emulator.train.Wave)
                self._targets = deque([t] * self.proc_params["depth"])
            self._y = self.s_in.recv()
            self._targets.append(t)
            target = self._targets.popleft()
            self.lam_out.send(self.error(self._y, target))
            if p == window - 1:
                self.loss[m] = float(np.mean(self.cost(self._y, target)))
        else:
            if p == 0:
                self._y = self.s_in.recv()
            self.lam_out.send(self.error(self._y, t))
            self._y = self.s_in.recv()
            if p == window - 1:
                self.loss[m] = float(np.mean(self.cost(self._y, t)))
        self.save(loss=self.loss)

    def error(self, y: np.ndarray, t: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def cost(self, y: np.ndarray, t: np.ndarray) -> np.ndarray:
        raise NotImplementedError


@implements(proc=LossLoad, protocol=LoihiProtocol)
@requires(CPU)
@tag("floating_pt")
class PyLossLoadModelFloat(_LossModel):
    s_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, float)
    lam_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, float)
    t: np.ndarray = LavaPyType(np.ndarray, float)
    loss: np.ndarray = LavaPyType(np.ndarray, float)

    def error(self, y: np.ndarray, t: np.ndarray) -> np.ndarray:
        return LOSSES[self.proc_params["loss"]].grad(y, t) / y.shape[-2]  # NOTE: the ideal loss load (cells.load)

    def cost(self, y: np.ndarray, t: np.ndarray) -> np.ndarray:
        return LOSSES[self.proc_params["loss"]].value(y, t)


@implements(proc=LossLoad, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PyLossLoadModelFixed(_LossModel):
    """The load reads s_L's mantissas, computes dC/ds_L / batch in float (as an embedded core or the host would)
    and sends it as an error message rounded to the nearest step of layer L's lam format."""

    s_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int64, precision=24)
    lam_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int64, precision=24)
    t: np.ndarray = LavaPyType(np.ndarray, float)
    loss: np.ndarray = LavaPyType(np.ndarray, float)

    def _float(self, y: np.ndarray) -> np.ndarray:
        return np.ldexp(np.asarray(y, dtype=np.float64), self.fixed().nth(-1).s)

    def error(self, y: np.ndarray, t: np.ndarray) -> np.ndarray:
        sub = self.fixed()
        grad = LOSSES[self.proc_params["loss"]].grad(self._float(y), t) / y.shape[-2]
        return quantize(grad, sub.nth(-1).lam, sub.message_bits, "nearest")

    def cost(self, y: np.ndarray, t: np.ndarray) -> np.ndarray:
        return LOSSES[self.proc_params["loss"]].value(self._float(y), t)


# --- a layer -------------------------------------------------------------------------------------------------------


class _LayerModel(_Schedule, PyLoihiProcessModel):
    """The schedule of a layer; subclasses compute the forward cells (:meth:`cells`) and the port update."""

    s_in: PyInPort
    lam_in: PyInPort
    s_out: PyOutPort
    lam_out: PyOutPort
    weight: np.ndarray
    bias: np.ndarray
    s: np.ndarray
    lam: np.ndarray
    grad_w: np.ndarray
    grad_b: np.ndarray
    hist_s: np.ndarray
    hist_lam: np.ndarray
    hist_gw: np.ndarray
    hist_gb: np.ndarray

    def run_spk(self) -> None:
        mode, k, m, p = self.where()
        params = self.proc_params
        if mode == "wave":
            self.forward_phase(k)
            self.update(1.0 / params["window"])
            self.backward_phase()
        else:
            if p == 0:
                self.s[...] = 0
                self.lam[...] = 0
                self.forward_phase(0)
            self.backward_phase()
            self.forward_phase(p + 1)
            if mode == "dyadic" and p == params["window"] - 1:
                self.update(1.0)
        history = (
            {"hist_s": self.hist_s, "hist_lam": self.hist_lam, "hist_gw": self.hist_gw, "hist_gb": self.hist_gb}
            if params["history"]
            else {}
        )
        self.save(
            weight=self.weight,
            bias=self.bias,
            s=self.s,
            lam=self.lam,
            grad_w=self.grad_w,
            grad_b=self.grad_b,
            **history,
        )

    def forward_phase(self, tick: int) -> None:
        """Send s(k) right, receive s_{l-1}(k), then compute a(k), sigma, delta(k), the readout G(k) and the
        backward message W^T delta(k) for the next backward phase."""
        last = self.proc_params["index"] == len(self.proc_params["acts"]) - 1
        self.s_out.send(self.s if last else self.send_s(self.s))
        ins = self.s_in.recv()
        self._out, self._back, gw, gb = self.cells(ins)
        self.grad_w[...] = gw
        self.grad_b[...] = gb
        if self.proc_params["history"]:
            self.hist_s[tick] = self.s
            self.hist_lam[tick] = self.lam
            self.hist_gw[tick] = gw
            self.hist_gb[tick] = gb

    def backward_phase(self) -> None:
        """Send the backward message left, receive lam_l(k+1), move both waves one tick along their lines."""
        self.lam_out.send(self._back)
        arriving = self.lam_in.recv()
        self.s, self.lam = self.lines(self._out, arriving)

    def send_s(self, s: np.ndarray) -> np.ndarray:
        return s

    def cells(self, ins: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        raise NotImplementedError

    def lines(self, out: np.ndarray, arriving: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    def update(self, scale: float) -> None:
        raise NotImplementedError

    def steps(self, gw: np.ndarray, gb: np.ndarray, scale: float) -> tuple[np.ndarray, np.ndarray]:
        """The port's motion, as emulator.train.HeavyBall computes it: -lr g, or the heavy-ball velocity."""
        lr, momentum = self.proc_params["lr"], self.proc_params["momentum"]
        grads = {"1": (gw * scale, gb * scale)} if scale != 1.0 else {"1": (gw, gb)}
        if momentum == 0.0:
            return -lr * grads["1"][0], -lr * grads["1"][1]
        if not hasattr(self, "_velocity"):
            self._velocity = {"1": (np.zeros_like(gw), np.zeros_like(gb))}
        heavy_ball(self._velocity, grads, lr, momentum)
        return self._velocity["1"]


@implements(proc=WaveLayer, protocol=LoihiProtocol)
@requires(CPU)
@tag("floating_pt")
class PyWaveLayerModelFloat(_LayerModel):
    """The emulator's cells (wavetrain.emulator.cells) on the ideal substrate, in float64."""

    s_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, float)
    lam_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, float)
    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, float)
    lam_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, float)
    weight: np.ndarray = LavaPyType(np.ndarray, float)
    bias: np.ndarray = LavaPyType(np.ndarray, float)
    s: np.ndarray = LavaPyType(np.ndarray, float)
    lam: np.ndarray = LavaPyType(np.ndarray, float)
    grad_w: np.ndarray = LavaPyType(np.ndarray, float)
    grad_b: np.ndarray = LavaPyType(np.ndarray, float)
    hist_s: np.ndarray = LavaPyType(np.ndarray, float)
    hist_lam: np.ndarray = LavaPyType(np.ndarray, float)
    hist_gw: np.ndarray = LavaPyType(np.ndarray, float)
    hist_gb: np.ndarray = LavaPyType(np.ndarray, float)

    def send_s(self, s: np.ndarray) -> np.ndarray:
        return cells.send(self.machine(self.weight, self.bias), "1", s)

    def cells(self, ins: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        m, l = self.machine(self.weight, self.bias), self.proc_params["index"]
        if l == 0:
            ins = cells.clamp(m, ins)
        wb = cells.read(m)
        pre = cells.junction(m, "1", [ins], wb)
        out = cells.nonlinearity(m, "1", pre)
        delta = cells.sensitivity(m, "1", pre, out, self.lam)
        gw, gb = cells.readout(m, "1", delta, [ins])
        back = cells.backward_product(wb["1"][0], delta) if l > 0 else np.zeros(ins.shape)
        return out, back, gw, gb

    def lines(self, out: np.ndarray, arriving: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        m, nu = self.machine(self.weight, self.bias), self.proc_params["courant"]
        return (cells.line(m, "1", self.s, out, nu, "forward"), cells.line(m, "1", self.lam, arriving, nu, "backward"))

    def update(self, scale: float) -> None:
        sW, sb = self.steps(self.grad_w, self.grad_b, scale)
        l = self.proc_params["index"]
        IDEAL.write(self.weight, sW, str(l + 1), "W")
        IDEAL.write(self.bias, sb, str(l + 1), "b")


@implements(proc=WaveLayer, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PyWaveLayerModelFixed(_LayerModel):
    """The cells in int64 on the Loihi formats: weight mantissas k (W = k 2^w_exp; Lava Dense's W_int = 2k for
    8 bits), state a = floor(W s 2^shift) + bias with the state's overflow rule, sigma and sigma' from the tables,
    messages and readouts shifted down (floor) and saturated, updates rounded to mantissa steps."""

    s_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int64, precision=24)
    lam_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int64, precision=24)
    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int64, precision=24)
    lam_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int64, precision=24)
    weight: np.ndarray = LavaPyType(np.ndarray, np.int64, precision=16)
    bias: np.ndarray = LavaPyType(np.ndarray, np.int64, precision=24)
    s: np.ndarray = LavaPyType(np.ndarray, np.int64, precision=24)
    lam: np.ndarray = LavaPyType(np.ndarray, np.int64, precision=24)
    grad_w: np.ndarray = LavaPyType(np.ndarray, np.int64, precision=32)
    grad_b: np.ndarray = LavaPyType(np.ndarray, np.int64, precision=32)
    hist_s: np.ndarray = LavaPyType(np.ndarray, np.int64, precision=24)
    hist_lam: np.ndarray = LavaPyType(np.ndarray, np.int64, precision=24)
    hist_gw: np.ndarray = LavaPyType(np.ndarray, np.int64, precision=32)
    hist_gb: np.ndarray = LavaPyType(np.ndarray, np.int64, precision=32)

    def cells(self, ins: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        sub, l = self.fixed(), self.proc_params["index"]
        name = self.proc_params["acts"][l]
        ins = np.asarray(ins, dtype=np.int64)
        k, b = self.weight.astype(np.int64), self.bias.astype(np.int64)
        f = sub.nth(l)
        in_exp = sub.x_exp if l == 0 else sub.nth(l - 1).s
        a = shift_floor(ins @ k.T, f.w + in_exp - f.a) + shift_floor(b, f.b - f.a)
        a = overflow(a, sub.state_bits, sub.overflow, f"layer {l + 1} state a = W s + b")
        out = activate_int(sub, name, a, str(l + 1))
        delta = derivative_int(sub, name, a, str(l + 1)) * self.lam.astype(np.int64)
        delta_exp = f.lam - sub.derivative_bits
        gw = np.clip(shift_floor(delta.T @ ins, delta_exp + in_exp - f.g), *limits(sub.grad_bits))
        gb = np.clip(shift_floor(delta.sum(axis=0), delta_exp - f.gb), *limits(sub.grad_bits))
        if l > 0:
            back = shift_floor(delta @ k, delta_exp + f.w - sub.nth(l - 1).lam)
            back = np.clip(back, *limits(sub.message_bits))
        else:
            back = np.zeros(ins.shape, dtype=np.int64)
        return out, back, gw, gb

    def lines(self, out: np.ndarray, arriving: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return out, np.asarray(arriving, dtype=np.int64)

    def update(self, scale: float) -> None:
        sub, l = self.fixed(), self.proc_params["index"]
        gw = np.ldexp(self.grad_w.astype(np.float64), sub.nth(l).g)
        gb = np.ldexp(self.grad_b.astype(np.float64), sub.nth(l).gb)
        sW, sb = self.steps(gw, gb, scale)
        self.weight = update_int(
            self.weight.astype(np.int64),
            sW,
            sub.nth(l).w,
            sub.weight_bits,
            sub.rounding,
            sub.generators[(str(l + 1), "W")],
        )
        self.bias = update_int(
            self.bias.astype(np.int64), sb, sub.nth(l).b, sub.bias_bits, sub.rounding, sub.generators[(str(l + 1), "b")]
        )
