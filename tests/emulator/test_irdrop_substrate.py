"""Training through crossbars with wire resistance (IR drop): the analog substrate reads each junction's array.

The reference is independent of the emulator's waves: the array's effective weights from circuits/irdrop.py's forward
reads of unit drives (not the substrate's cached effective matrix), and PyTorch autograd on a network with those
weights. By reciprocity the backward wave reads the transpose of the forward map, so the port's readout is the exact
gradient of the network the array implements (W_eff, b_eff), to 1e-12 in float64.
"""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import make_batch
from wavetrain import Network, train
from wavetrain.circuits.hardware import PRESETS, HardwareError, load_hardware
from wavetrain.circuits.irdrop import Crossbar, conductances
from wavetrain.emulator.analog import AnalogSubstrate
from wavetrain.emulator.kernel import light_cone
from wavetrain.emulator.substrate import IDEAL
from wavetrain.errors import ConfigError

SIZES = (5, 7, 4, 3)
# NOTE: clean devices (no noise, no pulses) of the default range 0.1..25 uS; 120 and 90 ohm per segment on arrays of
# 6-8 rows and 8-14 columns distort W by a few per cent (r g_max n^2 / 2 ~ 0.1 at the far corner)
WIRED = PRESETS["ideal"].with_overrides({"device.w_max": 2.0, "circuit.r_row": 120.0, "circuit.r_col": 90.0})


def _net(loss: str = "mse") -> Network:
    return Network.mlp(list(SIZES), activation="tanh", output_activation="identity", loss=loss, seed=3)


def _effective(W: np.ndarray, b: np.ndarray, model=WIRED) -> tuple[np.ndarray, np.ndarray]:
    """(W_eff, b_eff) of the array holding (W, b): the forward reads of each row's unit drive, solved anew."""
    dev, circ = model.device, model.circuit
    g_min, g_max = dev.g_min * 1e-6, dev.g_max * 1e-6
    G = conductances(W, b, g_min, g_max, dev.w_max)
    bar = Crossbar(G, circ.r_row, circ.r_col)
    M = np.stack([bar.forward(unit) for unit in np.eye(G.shape[0])], axis=1)  # (ncol, nrow), one solve per row
    signed = (M[0::2] - M[1::2]) / ((g_max - g_min) / dev.w_max)
    return signed[:, :-1], signed[:, -1]


def _autograd(net: Network, x: np.ndarray, y: np.ndarray, model=WIRED) -> list[tuple[np.ndarray, np.ndarray]]:
    """Autograd's gradient of the mean batch loss with respect to W_eff and b_eff of every layer."""
    torch = pytest.importorskip("torch")
    leaves = []
    h = torch.from_numpy(x)
    for k, layer in enumerate(net.layers):
        W_eff, b_eff = (torch.tensor(a, requires_grad=True) for a in _effective(layer.weight, layer.bias, model))
        leaves.append((W_eff, b_eff))
        a = h @ W_eff.T + b_eff
        h = torch.tanh(a) if k < len(net.layers) - 1 else a
    target = torch.from_numpy(net.targets(y, len(x)))
    if net.loss == "mse":
        loss = 0.5 * ((h - target) ** 2).sum(dim=1).mean()
    else:
        loss = -(target * torch.log_softmax(h, dim=1)).sum(dim=1).mean()
    loss.backward()
    return [(W.grad.numpy(), b.grad.numpy()) for W, b in leaves]


def _relative(got: np.ndarray, expected: np.ndarray) -> float:
    return float(np.max(np.abs(got - expected)) / np.max(np.abs(expected)))


@pytest.mark.parametrize("loss", ["mse", "cross_entropy"])
def test_the_port_reads_the_exact_gradient_of_the_effective_weights(loss: str) -> None:
    net = _net(loss)
    x, y = make_batch(net, batch=6, seed=1)
    substrate = AnalogSubstrate(WIRED, net.graph)
    grads, _, _ = light_cone(net.machine(substrate), x, net.targets(y, len(x)))
    expected = _autograd(net, x, y)
    for n, (dW, db) in zip(net.ids, expected):
        assert _relative(grads[n][0], dW) <= 1e-12, n
        assert _relative(grads[n][1], db) <= 1e-12, n
    # NOTE: the distortion is real: the ideal gradient of the stored weights differs by far more than 1e-12
    ideal, _, _ = light_cone(net.machine(IDEAL), x, net.targets(y, len(x)))
    assert max(_relative(grads[n][0], ideal[n][0]) for n in net.ids) > 1e-3


@pytest.mark.parametrize("schedule", ["light_cone", "ticks"])
def test_one_step_through_the_wires_is_sgd_on_the_effective_gradient(schedule: str) -> None:
    """train() with the wired substrate, the dyadic rule on both schedules: one step moves W by -lr dC/dW_eff."""
    net = _net()
    x, y = make_batch(net, batch=6, seed=2)
    expected = _autograd(net, x, y)
    before = [(layer.weight.copy(), layer.bias.copy()) for layer in net.layers]
    lr = 0.1
    train(net, (x, y), method="dyadic", schedule=schedule, epochs=1, batch_size=6, lr=lr, momentum=0.0,
          substrate=AnalogSubstrate(WIRED, net.graph), dtype="float64")  # fmt: skip
    for layer, (W, b), (dW, db) in zip(net.layers, before, expected):
        assert _relative((W - layer.weight) / lr, dW) <= 1e-12
        assert _relative((b - layer.bias) / lr, db) <= 1e-12


def test_zero_wire_resistance_is_the_ideal_substrate_bit_for_bit() -> None:
    x, y = make_batch(_net("cross_entropy"), batch=16, seed=3)
    zero = PRESETS["ideal"].with_overrides({"circuit.r_row": 0.0, "circuit.r_col": 0.0})
    a, b = _net("cross_entropy"), _net("cross_entropy")
    ra = train(a, (x, y, x, y), epochs=2, batch_size=8, hardware=zero, dtype="float64")
    rb = train(b, (x, y, x, y), epochs=2, batch_size=8, dtype="float64")
    assert ra.loss == rb.loss and ra.test_loss == rb.test_loss
    for p, q in zip(a.layers, b.layers):
        assert np.array_equal(p.weight, q.weight) and np.array_equal(p.bias, q.bias)


def test_each_chip_reads_its_own_array() -> None:
    """With a chip axis every chip's devices (here each its own programming noise) are solved as their own array."""
    model = WIRED.with_overrides({"device.prog_noise": 0.05})
    net = _net()
    x, y = make_batch(net, batch=4, seed=4)
    substrate = AnalogSubstrate(model, net.graph, chips=2, seed=5)
    params = {}
    for n, (W, b) in net.param_dict().items():
        stored = np.broadcast_to(W, (2, *W.shape)).copy()
        substrate.program(stored, n)
        params[n] = (stored, np.broadcast_to(b, (2, *b.shape)).copy())
    machine = net.machine(substrate, params)
    grads, _, _ = light_cone(machine, np.broadcast_to(x, (2, *x.shape)), net.targets(y, len(x)))
    for chip in range(2):
        one = _net()
        for layer, n in zip(one.layers, net.ids):
            layer.weight[...], layer.bias[...] = params[n][0][chip], params[n][1][chip]
        for n, (dW, db) in zip(net.ids, _autograd(one, x, y, model)):
            assert _relative(grads[n][0][chip], dW) <= 1e-12 and _relative(grads[n][1][chip], db) <= 1e-12


def test_the_array_is_solved_once_per_weight_state() -> None:
    net = _net()
    x, y = make_batch(net, batch=4, seed=6)
    substrate = AnalogSubstrate(WIRED, net.graph)
    machine = net.machine(substrate)
    light_cone(machine, x, net.targets(y, len(x)))
    kept = dict(substrate._arrays)
    light_cone(machine, x, net.targets(y, len(x)))
    assert all(substrate._arrays[n] is kept[n] for n in net.ids)  # NOTE: the same state: no new solve
    W, b = machine.params[net.ids[0]]
    substrate.write(W, np.full_like(W, 1e-3), net.ids[0], "W")
    assert net.ids[0] not in substrate._arrays  # NOTE: a write drops the solved state
    light_cone(machine, x, net.targets(y, len(x)))
    assert substrate._arrays[net.ids[0]] is not kept[net.ids[0]] and substrate._arrays[net.ids[1]] is kept[net.ids[1]]


def test_every_learning_rule_trains_through_the_wires() -> None:
    from wavetrain.emulator.train import METHODS

    wide = (4, 12, 12, 3)  # NOTE: the forward-gradient default guesses k = 10 directions per hidden layer
    x, y = make_batch(Network.mlp(list(wide), seed=3), batch=8, seed=5)
    for method in METHODS:
        if method == "backprop":
            continue  # NOTE: the reference refuses every substrate (tests/emulator/test_substrate.py)
        momentum = 0.0 if method in ("ocnopt", "curvature") else 0.9
        a, b = Network.mlp(list(wide), seed=3), Network.mlp(list(wide), seed=3)
        common = {"method": method, "epochs": 2, "batch_size": 4, "momentum": momentum, "dtype": "float64"}
        ra = train(a, (x, y), substrate=AnalogSubstrate(WIRED, a.graph), **common)
        train(b, (x, y), substrate=AnalogSubstrate(WIRED.with_overrides({"circuit.r_row": 0.0,
              "circuit.r_col": 0.0}), b.graph), **common)  # fmt: skip
        assert np.isfinite(ra.loss[-1]), method
        gap = max(float(np.abs(p.weight - q.weight).max()) for p, q in zip(a.layers, b.layers))
        assert gap > 1e-9, method  # NOTE: the two runs differ only in the wires: any gap is their read


def test_wires_are_validated_and_saved(tmp_path) -> None:
    for bad, match in [
        ({"circuit.r_row": -1.0}, r"circuit.r_row: expected a number in \[0, 10000\] \[ohm\], got -1.0"),
        ({"circuit.r_col": float("nan")}, "circuit.r_col"),
        ({"circuit.r_col": 5.0, "device.w_max": float("inf")}, "finite device.w_max"),
        ({"circuit.r_row": 5.0, "device.differential": False}, "differential"),
    ]:
        with pytest.raises(HardwareError, match=match):
            PRESETS["reram"].with_overrides(bad)
    model = PRESETS["reram"].with_overrides({"circuit.r_row": 2.5, "circuit.r_col": 1.5})
    path = tmp_path / "wired.json"
    path.write_text(model.to_json())
    assert load_hardware(str(path)) == model and load_hardware(str(path)).circuit.wires
    assert not PRESETS["reram"].circuit.wires


def test_a_drift_compensation_through_wires_is_refused() -> None:
    from wavetrain.emulator.lifetime import lifetime

    net = _net("cross_entropy")
    x, y = make_batch(net, batch=8, seed=7)
    with pytest.raises(ConfigError, match="calibration read"):
        lifetime(net, (x, y), WIRED, times=[1.0], chips=1, compensation=["global"])
    life = lifetime(net, (x, y), WIRED, times=[1.0], chips=1, compensation=["none"])
    assert np.isfinite(life.accuracy["none"][0][0])


def test_a_convolution_reads_its_kernel_as_one_array_at_every_position() -> None:
    """A Conv1d kernel is one crossbar of out x (k C_in) read per position (im2col): autograd on W_eff of that array."""
    torch = pytest.importorskip("torch")
    from wavetrain import GraphBuilder

    g = GraphBuilder((2, 9))
    h = g.conv1d(g.input, 3, kernel=3, stride=2, padding=1, activation="tanh", id="conv")
    net = g.network(g.linear(g.flatten(h), 4, id="out"), loss="mse", seed=2)
    x, y = make_batch(net, batch=5, seed=8)
    grads, _, _ = light_cone(net.machine(AnalogSubstrate(WIRED, net.graph)), x, net.targets(y, len(x)))
    (Wc, bc), (Wo, bo) = net.param_dict()["conv"], net.param_dict()["out"]
    matrix = np.moveaxis(Wc, 1, -1).reshape(Wc.shape[0], -1)  # (C_out, k C_in), the patches' order
    Mc, bc_eff = _effective(matrix, bc)
    Wc_eff = np.moveaxis(Mc.reshape(Wc.shape[0], Wc.shape[2], Wc.shape[1]), -1, 1)  # back to (C_out, C_in, k)
    leaves = [torch.tensor(a, requires_grad=True) for a in (Wc_eff, bc_eff, *_effective(Wo, bo))]
    a = torch.nn.functional.conv1d(torch.from_numpy(x), leaves[0], leaves[1], stride=2, padding=1)
    out = torch.tanh(a).flatten(1) @ leaves[2].T + leaves[3]
    loss = 0.5 * ((out - torch.from_numpy(net.targets(y, len(x)))) ** 2).sum(dim=1).mean()
    loss.backward()
    assert _relative(grads["conv"][0], leaves[0].grad.numpy()) <= 1e-12
    assert _relative(grads["conv"][1], leaves[1].grad.numpy()) <= 1e-12
    assert _relative(grads["out"][0], leaves[2].grad.numpy()) <= 1e-12
