"""A chip: the Monte-Carlo instances of a :class:`HardwareModel` drawn for a graph, and the programming of its devices.

Below both users of it: the emulator's analog substrate (:class:`wavetrain.emulator.analog.AnalogSubstrate`, which
adds the per-read physics on the substrate seam) and the compiler's ``with_hardware`` pass (which writes the weights
a chip stores into a circuit). With ``chips = N`` every per-device array is (N, out, in); each chip instance has its
own device-to-device variation (bounds, pulse steps, drift exponents), stuck devices, line mismatch and timing, drawn
once from its own child of a numpy ``SeedSequence`` (so chip c of seed s is the same chip in every run and whatever
N is). The run's generator (``rng``, from the seed's other child) draws the programming noise, and the emulator's
per-read noise after it.

Programming (:meth:`Chip.program`) writes a whole weight array: programming noise, clip to each device's bound,
conductance levels (weight_bits), stuck devices pinned (stuck-on at its bound, stuck-off at 0).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from wavetrain.circuits import devices
from wavetrain.circuits.hardware import HardwareModel, load_hardware
from wavetrain.compiler.budget import check_memory
from wavetrain.compiler.functions import Array
from wavetrain.compiler.graph import as_graph
from wavetrain.errors import ConfigError

__all__ = ["STUCK_NONE", "STUCK_OFF", "STUCK_ON", "Chip"]

STUCK_NONE, STUCK_ON, STUCK_OFF = 0, 1, 2


class Chip:
    """The devices of ``chips`` instances of a hardware model for ``network``: ``Chip("reram", net.graph, chips=16)``.

    ``network``: the graph (or the Network, or a chain's widths input first, as [64, 128, 10]) whose junctions the
    chip holds: every parametric node gets its devices, one per weight (a convolution's kernel is one crossbar of
    out_channels x in_channels x kernel, read at every position), every node its lines. ``chips`` None: no chip axis
    (arrays (*shape)); an integer N: arrays (N, *shape). ``dtype`` is the dtype of the drawn device arrays. Per-device
    arrays are keyed by node id: ``bound``, ``dw_scale``, ``stuck``, ``nu_drift``; per line ``gamma`` (chips, depth,
    direction) and ``courant`` (chips, depth), rows in ``index``.
    """

    def __init__(
        self,
        hardware: HardwareModel | str,
        network: Any,
        chips: int | None = None,
        seed: int = 0,
        dtype: Any = np.float64,
    ) -> None:
        self.model = load_hardware(hardware)
        self.name = self.model.name
        if chips is not None and (isinstance(chips, bool) or not isinstance(chips, (int, np.integer)) or chips < 1):
            raise ConfigError(f"chips: expected an integer >= 1 or None, got {chips!r}")
        self.chips = None if chips is None else int(chips)
        self.graph = as_graph(network)
        self.index = {n: k for k, n in enumerate(self.graph.order)}  # node id -> its row of the line arrays
        self.seed = seed
        self.dtype = np.dtype(dtype)
        self._stuck_at: dict[str, tuple[Array, Any, Array]] = {}  # flat indices of stuck-on / -off devices, per node
        root = np.random.SeedSequence(seed)
        chip_seeds, run_seed = root.spawn(2)
        # NOTE: PCG64DXSM (numpy's recommended successor of PCG64): its raw words make float32 draws 1.6x faster
        self.rng = np.random.Generator(np.random.PCG64DXSM(run_seed))
        count = 1 if self.chips is None else self.chips
        # NOTE: per chip, each weight has a bound, a step scale, a stuck mask, a drift exponent, its conductances and
        # its copy in the run: refused before a seed is spawned (spawning 10^13 chips' seeds alone never ends)
        weights = sum(int(np.prod(shape)) + int(np.prod(bias)) for shape, bias in self.graph.param_shapes().values())
        check_memory(8.0 * count * weights * 8, f"{count:,} chips of {self.name}", "use fewer chips")
        self._draw([np.random.default_rng(s) for s in chip_seeds.spawn(count)])

    # NOTE: per-chip draws are stacked so that chip c is identical whatever the number of chips
    def _draw(self, chip_rngs: list[np.random.Generator]) -> None:
        dev, circ = self.model.device, self.model.circuit
        depth = len(self.graph.order)  # NOTE: every node drives lines; a chain's nodes are its layers
        self.bound: dict[str, Array | float] = {}
        self.dw_scale: dict[str, Array | float] = {}
        self.stuck: dict[str, Array | None] = {}
        self.nu_drift: dict[str, Array | float] = {}
        for n, (shape, _) in self.graph.param_shapes().items():
            per_chip = [self._draw_layer(rng, shape) for rng in chip_rngs]
            bound, dw_scale, stuck, nu = (self._stack([p[i] for p in per_chip]) for i in range(4))
            self.bound[n] = dev.w_max if bound is None else bound
            self.dw_scale[n] = 1.0 if dw_scale is None else dw_scale
            self.stuck[n] = stuck
            self.nu_drift[n] = dev.drift_nu if nu is None else nu
        gammas, courants = [], []
        for rng in chip_rngs:
            m = circ.mismatch + circ.mismatch_dtod * rng.standard_normal((depth, 2))
            gammas.append(devices.reflection(np.clip(m, -0.9, None)))
            courants.append(np.clip(1.0 - np.abs(circ.jitter * rng.standard_normal(depth)), 0.05, 1.0))
        self.gamma = np.stack(gammas)  # (chips, depth, direction)
        self.courant = np.stack(courants)  # (chips, depth)

    def _draw_layer(self, rng: np.random.Generator, shape: tuple[int, ...]) -> tuple[Any, Any, Any, Any]:
        dev = self.model.device
        bound = dw_scale = stuck = nu = None
        if dev.w_max_dtod and np.isfinite(dev.w_max):
            bound = dev.scale * np.clip(1.0 + dev.w_max_dtod * rng.standard_normal(shape), 0.1, None)
        if dev.dw_min_dtod:
            dw_scale = np.clip(1.0 + dev.dw_min_dtod * rng.standard_normal(shape), 0.05, None)
        if dev.stuck_on or dev.stuck_off:
            u = rng.random(shape)
            stuck = np.where(
                u < dev.stuck_on, STUCK_ON, np.where(u < dev.stuck_on + dev.stuck_off, STUCK_OFF, STUCK_NONE)
            ).astype(np.int8)
        if dev.drift_nu_dtod:
            nu = np.clip(dev.drift_nu + dev.drift_nu_dtod * rng.standard_normal(shape), 0.0, None)
        return bound, dw_scale, stuck, nu

    def _stack(self, arrays: list[Any]) -> Any:
        if arrays[0] is None:
            return None
        if self.chips is None:
            return arrays[0] if arrays[0].dtype == np.int8 else arrays[0].astype(self.dtype)
        stacked = np.stack(arrays)
        return stacked if stacked.dtype == np.int8 else stacked.astype(self.dtype)

    def program(self, W: Array, layer: str) -> None:
        """Write a whole weight array onto the devices at once (the initial transfer), in place: programming noise,
        clip to each device's bound, stuck devices, conductance levels."""
        dev = self.model.device
        if dev.prog_noise:
            W += dev.prog_noise * dev.scale * self.rng.standard_normal(W.shape, dtype=W.dtype)
        self._settle(W, layer)

    def conductances(self, W: Array) -> tuple[Array, Array]:
        """The conductances [uS] that store weights W: (G+, G-) of each pair, or (G, G_ref) without pairs."""
        dev = self.model.device
        span, unit = dev.g_max - dev.g_min, W / dev.scale
        if dev.differential:
            return dev.g_min + span * np.maximum(unit, 0.0), dev.g_min + span * np.maximum(-unit, 0.0)
        reference = dev.g_min + span / 2
        return reference + span / 2 * unit, np.full_like(W, reference)

    def _settle(self, W: Array, layer: str, rows: slice | None = None) -> None:
        """Clip to each device's bound, snap to the conductance levels, pin the stuck devices (``rows``: a block of
        the rows of W flattened to (-1, in), see :meth:`write`: then the caller pins)."""
        dev = self.model.device
        bound = self._rows(self.bound[layer], rows)
        if dev.w_max != np.inf or np.ndim(bound):
            np.clip(W, -bound, bound, out=W)
        if dev.weight_bits is not None:
            W[...] = devices.quantize(W, dev.weight_bits, dev.scale)
        if rows is None:
            self._pin(W, layer)

    def _pin(self, W: Array, layer: str) -> None:
        """Stuck-on devices read their bound (the scale if unbounded), stuck-off devices 0."""
        stuck = self.stuck[layer]
        if stuck is None:
            return
        if layer not in self._stuck_at:
            bound = self.bound[layer] if np.isfinite(self.model.device.w_max) else self.model.device.scale
            on, off = np.flatnonzero(stuck == STUCK_ON), np.flatnonzero(stuck == STUCK_OFF)
            values = np.broadcast_to(bound, stuck.shape).reshape(-1)[on] if np.ndim(bound) else bound
            self._stuck_at[layer] = (on, values, off)
        on, values, off = self._stuck_at[layer]
        if W.shape != stuck.shape or not W.flags.c_contiguous:
            raise ConfigError(
                f"layer {layer}: expected a C-contiguous weight array of shape {stuck.shape} for its "
                f"stuck devices, got shape {W.shape}"
            )
        flat = W.reshape(-1)
        flat[on] = values
        flat[off] = 0.0

    @staticmethod
    def _rows(value: Any, rows: slice | None) -> Any:
        if rows is None or value is None or np.ndim(value) == 0:
            return value
        return value.reshape(-1, value.shape[-1])[rows]

    def drift_factor(self, layer: str, t: float) -> Array | float:
        """G(t) / G(t_programmed) of every device of ``layer``: (t / t0)^-nu_i after drift_t0, 1 before."""
        dev = self.model.device
        if not dev.drift_nu and not dev.drift_nu_dtod:
            return 1.0
        return devices.drift_factor(t, dev.drift_t0, self.nu_drift[layer])
