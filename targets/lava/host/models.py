"""The ProcessModel of the host-side port (``fixed_pt``, on the CPU): see process.py for what it does.

The update itself is :func:`wavetrain.emulator.loihi2.port_step`, the function the emulator's stream schedule calls,
on the same formats and generators; what is independent of the emulator here is everything the port is fed: the
inputs and sensitivities come from Lava's library processes.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
from lava.magma.core.decorator import implements, requires, tag
from lava.magma.core.model.py.model import PyLoihiProcessModel
from lava.magma.core.model.py.ports import PyInPort, PyRefPort
from lava.magma.core.model.py.type import LavaPyType
from lava.magma.core.resources import CPU
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol

from wavetrain.compiler.graph import Graph
from wavetrain.emulator import ops
from wavetrain.emulator.loihi2 import LoihiLibrary, port_step
from wavetrain.targets.lava.host.process import HostPort


@implements(proc=HostPort, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PyHostPortModel(PyLoihiProcessModel):
    s_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int32, precision=24)
    delta_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int32, precision=24)
    w_ref: PyRefPort = LavaPyType(PyRefPort.VEC_DENSE, np.int32, precision=8)
    b_ref: PyRefPort = LavaPyType(PyRefPort.VEC_DENSE, np.int32, precision=8)
    wt_ref: PyRefPort = LavaPyType(PyRefPort.VEC_DENSE, np.int32, precision=8)

    def __init__(self, proc_params: Any) -> None:
        super().__init__(proc_params)
        p = self.proc_params
        self.node = p["node"]
        graph = Graph.from_dict(p["graph"])
        self.op, self.kind = ops.OPS[type(graph.node(self.node))], graph.node(self.node)
        self.in_shape = ops.internal_shape(graph.shape[graph.preds[self.node][0]])
        self.out_shape = ops.internal_shape(graph.shape[self.node])
        self.sub = LoihiLibrary(**p["settings"])
        self.k = np.asarray(p["k"], dtype=np.int64).copy()
        self.kb = np.asarray(p["kb"], dtype=np.int64).copy()
        self.G, self.gb = np.zeros(self.k.shape, np.int64), np.zeros(self.kb.shape, np.int64)
        self.stash: dict[int, np.ndarray] = {}
        self.velocity: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self.back_lag = 2 * p["depth"] + 3 - p["level"]  # NOTE: stream.backward_lag

    def _local(self) -> int:
        return (int(self.time_step) - 1) % self.proc_params["length"] + 1

    def run_spk(self) -> None:
        p, tau = self.proc_params, self._local()
        s, delta = self.s_in.recv(), self.delta_in.recv()
        i = tau - 1 - p["in_level"]
        if 0 <= i < p["samples"]:
            self.stash[i] = np.asarray(s, dtype=np.int64).reshape(1, *self.in_shape)
        j = tau - 1 - self.back_lag
        if 0 <= j < p["samples"]:
            d = np.asarray(delta, dtype=np.int64).reshape(1, *self.out_shape)
            G, gb = self.op.readout(self.kind, d, [self.stash.pop(j)])
            self.G += G
            self.gb += gb

    def post_guard(self) -> bool:
        p, tau = self.proc_params, self._local()
        learns = p["batch"] is not None and p["lr"] > 0
        return tau == p["length"] or (learns and tau % p["batch"] == 0)

    def run_post_mgmt(self) -> None:
        p, tau = self.proc_params, self._local()
        f = self.sub.formats[self.node]
        if p["batch"] is not None and p["lr"] > 0:
            G = np.ldexp(self.G.astype(np.float64), f.lam + self.sub.in_exp[self.node])
            gb = np.ldexp(self.gb.astype(np.float64), f.lam)
            self.k, self.kb = port_step(self.sub, self.node, self.k, self.kb, G, gb, self.velocity, p["lr"],
                                        p["momentum"], p["batch"])  # fmt: skip
            matrix = 2 * self.k.reshape(len(self.k), -1) if self.k.ndim == 2 else None
            if matrix is not None:  # NOTE: a dense node: the port writes both copies of W and the bias
                self.w_ref.write(matrix.astype(np.int32))
                if p["transpose"]:
                    self.wt_ref.write(matrix.T.astype(np.int32))
                self.b_ref.write((2 * self.kb).reshape(-1, 1).astype(np.int32))
                self.w_ref.wait()
                self.b_ref.wait()
                if p["transpose"]:
                    self.wt_ref.wait()
        if tau == p["length"]:
            self._save(G=self.G, gb=self.gb)
        if p["batch"] is not None and p["lr"] > 0:
            self.G[...] = 0
            self.gb[...] = 0

    def _save(self, **extra: np.ndarray) -> None:
        folder = self.proc_params.get("outbox")
        if folder is None:
            return
        path = os.path.join(folder, f"{self.proc_params['name']}.npz")
        with open(path + ".tmp", "wb") as handle:
            np.savez(handle, k=self.k, kb=self.kb, **extra)
        os.replace(path + ".tmp", path)
