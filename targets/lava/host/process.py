"""The host-side parameter port of one parametric node of the library-process machine (targets/lava/library.py).

Every timestep it receives the node's input messages (what its forward synapse reads) and its sensitivity delta_n
(the ProdNeuron's or GradedVec's graded spikes), pairs each delta with the input of the same sample (held on the
host for the 2 (D - level) + 3 timesteps between them), sums the readout delta s^T in int64, and at the end of every
learning epoch moves the weights through RefPorts into the forward Dense, its transpose and the bias Dense. Every
setting is a process parameter (read by the model from ``proc_params``):

  node, graph        the node id and the network graph (Graph.to_dict), for its readout
  settings           the LoihiLibrary's describe() (formats, rounding, seed: the same generators as the emulator)
  in_level, level    level of the node's input and of the node; depth D
  samples, length    real samples per epoch and timesteps per epoch (samples, then the drain)
  batch              timesteps per learning epoch (None: no update, the readout is summed over the epoch)
  lr, momentum       the heavy-ball port (wavetrain.emulator.loihi2.port_step)
  outbox             a folder: at the end of every epoch the port saves its mantissas and readout (<name>.npz)
"""

from __future__ import annotations

from typing import Any

from lava.magma.core.process.ports.ports import InPort, RefPort
from lava.magma.core.process.process import AbstractProcess


class HostPort(AbstractProcess):
    """The port of one parametric node: inputs ``s_in`` (n_in,), ``delta_in`` (n_out,); RefPorts to the weights of
    the forward synapse ``w_ref`` (n_out, n_in), the bias synapse ``b_ref`` (n_out, 1) and, when the node's input is
    a node, the backward synapse ``wt_ref`` (n_in, n_out)."""

    def __init__(self, n_in: int, n_out: int, **params: Any) -> None:
        super().__init__(**params)
        self.s_in = InPort(shape=(n_in,))
        self.delta_in = InPort(shape=(n_out,))
        self.w_ref = RefPort(shape=(n_out, n_in))
        self.b_ref = RefPort(shape=(n_out, 1))
        self.wt_ref = RefPort(shape=(n_in, n_out))
