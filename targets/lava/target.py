"""The ``lava`` entry of the target registry: a lowered network's Circuit run on Lava, read back as a Trace.

Lava runs the wave machine itself (one process per layer, one timestep per tick), not a netlist: :class:`LavaTarget`
reads the network back out of a Circuit made by :func:`wavetrain.compiler.lower` (junctions j1..jL with their W
and b, nonlinearities act1..actL, the input Source and the LossLoad), relaxes it on Lava and returns the Trace the
other targets return (nets s{l}r, lam{l}r, x; ports p{l}.grad_w, p{l}.grad_b), sampled at the analysis' mid-tick
times: sample time t reads tick floor(t / tick). ``simulate(net, x, y, target="lava")`` therefore returns the same
Relaxation as ``target="numpy"`` and ``"spice"``.
"""

from __future__ import annotations

from typing import Any, ClassVar, Sequence

import numpy as np

from wavetrain.compiler.network import Dense, Network
from wavetrain.emulator.loihi import LoihiFixedPoint, calibrate
from wavetrain.errors import ConfigError, LoweringError
from wavetrain.targets import Trace, default_samples
from wavetrain.targets.lava._compat import require_lava
from wavetrain.targets.lava.runner import TIMEOUT, relax_on_lava


class LavaTarget:
    """Lava's CPU simulator (Loihi2SimCfg): ``fixed_point`` False (floating_pt), True (fixed_pt, exponents
    calibrated on the circuit's own drive) or a LoihiFixedPoint (fixed_pt with those formats)."""

    name: ClassVar[str] = "lava"

    def __init__(self, fixed_point: bool | LoihiFixedPoint = False, timeout: float = TIMEOUT) -> None:
        if not isinstance(fixed_point, (bool, LoihiFixedPoint)):
            raise ConfigError(
                f"target 'lava': fixed_point must be True, False or a LoihiFixedPoint, got {type(fixed_point).__name__}"
            )
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
            raise ConfigError(f"target 'lava': timeout must be a number of seconds > 0, got {timeout!r}")
        require_lava()
        self.fixed_point = fixed_point
        self.timeout = float(timeout)

    def substrate(self, net: Network, x: np.ndarray, t: np.ndarray) -> LoihiFixedPoint | None:
        """The fixed-point formats this target runs ``net`` in (None: floating point)."""
        if self.fixed_point is True:
            return calibrate(net, x, t)[0]
        return self.fixed_point or None

    def run(
        self,
        circuit: Any,
        analysis: Any,
        samples: np.ndarray | None = None,
        probes: Sequence[str] | None = None,
    ) -> Trace:
        """Relax the circuit's network on Lava and sample every net and port at ``samples`` [s]."""
        net, x, t, courant = network_of(circuit)
        samples = default_samples(circuit, analysis) if samples is None else np.asarray(samples, dtype=np.float64)
        ticks = np.floor(samples / circuit.tick + 1e-9).astype(int)
        if samples.ndim != 1 or samples.size == 0 or ticks.min() < 0:
            raise ConfigError(f"target 'lava': samples must be a non-empty 1-D array of times >= 0 s, got {samples!r}")
        last = max(int(ticks.max()), 1)
        fixed = self.substrate(net, x, t)
        relaxation = relax_on_lava(
            net, x, t, ticks=last, courant=courant, history=True, fixed=fixed, timeout=self.timeout
        )
        log = relaxation.history
        assert log is not None  # history=True above
        signals: dict[str, np.ndarray] = {"x": np.stack([x] * len(ticks))}
        for l in range(net.depth):
            signals[f"s{l + 1}r"] = np.stack([log.s[k][l] for k in ticks])
            signals[f"lam{l + 1}r"] = np.stack([log.lam[k][l] for k in ticks])
            signals[f"p{l + 1}.grad_w"] = np.stack([log.grads[k][l][0] for k in ticks])
            signals[f"p{l + 1}.grad_b"] = np.stack([log.grads[k][l][1] for k in ticks])
        if probes is not None:
            missing = sorted(set(probes) - set(signals))
            if missing:
                raise ConfigError(
                    f"target 'lava': no probe named {missing[0]!r}; expected one of {', '.join(sorted(signals))}"
                )
            signals = {name: signals[name] for name in probes}
        return Trace(samples, signals, target="lava")


def network_of(circuit: Any) -> tuple[Network, np.ndarray, np.ndarray, float]:
    """(network, x, target, courant) of a Circuit lowered from a network; LoweringError for any other circuit."""
    from wavetrain.circuits import Junction, LossLoad, Nonlinearity, ParameterPort, Source

    meta = getattr(circuit, "meta", {}) or {}
    depth = meta.get("depth")
    if not isinstance(depth, int) or depth < 1 or meta.get("learning") is not None:
        raise LoweringError(
            f"target 'lava' runs circuits lowered from a network with frozen weights (compile_network(net, x, y)); "
            f"circuit {getattr(circuit, 'name', '?')!r} has meta depth={depth!r}, learning={meta.get('learning')!r}"
        )
    try:
        layers = []
        for l in range(1, depth + 1):
            junction, act = circuit.element(f"j{l}"), circuit.element(f"act{l}")
            if not isinstance(junction, Junction) or not isinstance(act, Nonlinearity):
                raise LoweringError(f"target 'lava': element j{l} / act{l} is not a junction / nonlinearity")
            layers.append(
                Dense(
                    np.array(junction.weight, dtype=np.float64),
                    np.array(junction.bias, dtype=np.float64),
                    act.activation,
                )
            )
        source = circuit.element("input")
        loads = circuit.of_type(LossLoad)
    except LoweringError:
        raise
    except Exception as err:  # a CircuitError for a missing element
        raise LoweringError(f"target 'lava': circuit {circuit.name!r} is not a lowered network: {err}") from err
    if not isinstance(source, Source) or len(loads) != 1:
        raise LoweringError(f"target 'lava': circuit {circuit.name!r} needs one input Source and one LossLoad")
    if any(port.kind != "probe" for port in circuit.of_type(ParameterPort)):
        raise LoweringError("target 'lava': learning ports are not run as circuits; train with target='lava'")
    net = Network(layers, loss=loads[0].loss, name=circuit.name)
    return (
        net,
        np.array(source.values, dtype=np.float64),
        np.array(loads[0].target, dtype=np.float64),
        float(meta.get("courant", 1.0)),
    )
