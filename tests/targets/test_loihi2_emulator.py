"""The library-process arithmetic without Lava: LoihiLibrary relaxations are exact at tick 2D and not before, the
pipelined stream reads the sum of the per-sample gradients, and what the chip cannot hold is refused naming it."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from wavetrain import Network
from wavetrain.compiler.graph import Act, Add, AvgPool, Concat, Conv1d, Flatten, Graph, Linear, MaxPool
from wavetrain.emulator.kernel import light_cone
from wavetrain.emulator.loihi2 import LIMITS, LoihiLibrary, calibrate_library, check_library
from wavetrain.emulator.relax import relax
from wavetrain.emulator.stream import epoch_length, run_stream
from wavetrain.emulator.train import backprop
from wavetrain.errors import ChipError, ConfigError, FixedPointOverflow


def skip_net(seed: int = 2) -> Network:
    """A residual block: b's output and a's (two ticks shorter: a matched delay line) meet at an Add."""
    g = Graph((4,), (Linear(id="a", features=5, activation="relu"), Linear(id="b", features=5, activation="relu"),
                     Add(id="s"), Linear(id="o", features=3)),
              (("input", "a"), ("a", "b"), ("b", "s"), ("a", "s"), ("s", "o")), "o")  # fmt: skip
    return Network.from_graph(g, seed=seed)


def fanout_net(seed: int = 3) -> Network:
    """a feeds two nodes (their backward waves add at a), joined again by a Concat."""
    g = Graph((4,), (Linear(id="a", features=5, activation="relu"), Linear(id="b", features=3, activation="relu"),
                     Linear(id="c", features=2), Concat(id="j"), Act(id="r", activation="relu"),
                     Linear(id="o", features=3)),
              (("input", "a"), ("a", "b"), ("a", "c"), ("b", "j"), ("c", "j"), ("j", "r"), ("r", "o")),
              "o")  # fmt: skip
    return Network.from_graph(g, seed=seed)


def conv_net(seed: int = 4) -> Network:
    g = Graph((2, 12), (Conv1d(id="c1", channels=3, kernel=3, padding=1, activation="relu"), AvgPool(id="p", kernel=2),
                        Conv1d(id="c2", channels=2, kernel=3, stride=2, activation="relu"), Flatten(id="f"),
                        Linear(id="o", features=3)),
              (("input", "c1"), ("c1", "p"), ("p", "c2"), ("c2", "f"), ("f", "o")), "o")  # fmt: skip
    return Network.from_graph(g, seed=seed)


GRAPHS = {"skip": skip_net, "fanout": fanout_net, "conv1d": conv_net}


def data(net: Network, rows: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.normal(size=(rows, *net.input_shape)), rng.integers(0, net.n_outputs, rows)


def worst(a, b) -> float:
    if isinstance(a, dict):
        a, b = list(a.values()), list(b.values())
    if isinstance(a, (list, tuple)):
        return max((worst(p, q) for p, q in zip(a, b, strict=True)), default=0.0)
    return float(np.max(np.abs(np.asarray(a) - np.asarray(b))))


def check_light_cone(net: Network, x: np.ndarray, y: np.ndarray, live=assume) -> None:
    sub = calibrate_library(net, x, y)
    got = relax(net, x[:1], y[:1], history=True, substrate=sub)
    exact = list(light_cone(net.machine(sub), net.check_input(x[:1]), net.targets(y[:1], 1))[0].values())
    live(all(np.any(W != 0) for W, _ in exact))  # NOTE: a dead relu layer reads a zero gradient at every tick
    errors = [worst(g, exact) for g in got.history.grads]
    assert errors[-1] == 0.0 and errors[-2] > 0.0, errors


@settings(max_examples=6, deadline=None)
@given(sizes=st.lists(st.integers(1, 6), min_size=2, max_size=5), seed=st.integers(0, 2**16))
def test_random_relu_chains_read_the_exact_fixed_point_gradient_at_2D_and_not_before(sizes, seed) -> None:
    net = Network.mlp(sizes, activation="relu", output_activation="identity", loss="mse", seed=seed)
    x, y = data(net, 6, seed)
    check_light_cone(net, x, y)


@pytest.mark.parametrize("name", GRAPHS)
def test_graphs_read_the_exact_fixed_point_gradient_at_2D_and_not_before(name) -> None:
    net = GRAPHS[name]()
    x, y = data(net, 6, 1)

    def live(ok: bool) -> None:
        assert ok, "a dead ReLU layer"

    check_light_cone(net, x, y, live)


@pytest.mark.parametrize("name", ["chain", *GRAPHS])
def test_frozen_stream_reads_the_sum_of_per_sample_gradients(name) -> None:
    net = Network.mlp([5, 7, 3], activation="relu", loss="mse", seed=1) if name == "chain" else GRAPHS[name]()
    x, y = data(net, 7, 1)
    sub = calibrate_library(net, x, y)
    got = run_stream(net, sub, x, y)
    total = None
    for i in range(len(x)):
        g, _, _ = light_cone(net.machine(sub), net.check_input(x[i : i + 1]), net.targets(y[i : i + 1], 1))
        total = g if total is None else {n: (total[n][0] + a, total[n][1] + b) for n, (a, b) in g.items()}
    assert worst(got.grads, total) == 0.0
    assert got.timesteps == epoch_length(net.depth, len(x)) == len(x) + 2 * net.depth + 2
    # NOTE: and points where float backprop does (8-bit weights on a network of a few units: cosine > 0.95)
    ref = backprop(net.machine(), net.check_input(x), net.targets(y, len(x)))[0]
    a = np.concatenate([np.ravel(v) for n in ref for v in got.grads[n]])
    b = np.concatenate([np.ravel(v) for pair in ref.values() for v in pair])
    assert a @ b / np.linalg.norm(a) / np.linalg.norm(b) > 0.95


def test_stream_training_moves_the_weights_in_mantissa_steps_and_is_reproducible() -> None:
    net = Network.mlp([5, 7, 3], activation="relu", loss="mse", seed=1)
    x, y = data(net, 12, 2)
    sub = calibrate_library(net, x, y)
    a, b = net.copy(), net.copy()
    first = run_stream(a, sub, x, y, epochs=2, batch=4, lr=0.05, momentum=0.9, seed=0)
    second = run_stream(b, sub, x, y, epochs=2, batch=4, lr=0.05, momentum=0.9, seed=0)
    # NOTE: 18 timesteps an epoch: updates after 4, 8, 12, 16, 18
    assert worst(first.params, second.params) == 0.0 and first.updates == 2 * 5
    W, _ = a.param_dict()["1"]
    k = np.ldexp(W, -sub.formats["1"].w)
    assert np.array_equal(k, np.rint(k)) and worst(a.param_dict(), net.param_dict()) > 0


def test_refused_before_any_work_naming_the_node_and_the_limit() -> None:
    tanh = Network.mlp([4, 3, 2], activation="tanh", loss="mse")
    with pytest.raises(ChipError, match=r"node '1': activation 'tanh' has no graded neuron"):
        check_library(tanh)
    with pytest.raises(ChipError, match=r"loss 'cross_entropy': no Lava library process computes it"):
        check_library(Network.mlp([4, 3, 2], activation="relu", loss="cross_entropy"))
    pool = Graph((1, 8), (MaxPool(id="m", kernel=2), Flatten(id="f"), Linear(id="o", features=2)),
                 (("input", "m"), ("m", "f"), ("f", "o")), "o")  # fmt: skip
    with pytest.raises(ChipError, match=r"node 'm' \(MaxPool\)"):
        check_library(Network.from_graph(pool))
    avg = Graph((1, 9), (AvgPool(id="p", kernel=3), Flatten(id="f"), Linear(id="o", features=2)),
                (("input", "p"), ("p", "f"), ("f", "o")), "o")  # fmt: skip
    with pytest.raises(ChipError, match=r"node 'p' \(AvgPool\): .* 1/3, expected a power of two"):
        check_library(Network.from_graph(avg))
    wide = Graph((LIMITS["synapse_bytes_per_core"],), (Linear(id="o", features=1),), (("input", "o"),), "o")
    with pytest.raises(ChipError, match=r"node 'o': fan-in 131073 synapses .* expected at most 131072"):
        check_library(Network.from_graph(wide))
    deep = Network.mlp([2] * 34, activation="relu", loss="mse")
    check_library(deep)
    held = r"node '1': the pipelined machine holds sigma'\(a\) for 66 ticks .* at most 63"
    with pytest.raises(ChipError, match=held):
        check_library(deep, stream=True)


def test_formats_and_overflow_are_checked() -> None:
    net = Network.mlp([4, 3, 2], activation="relu", loss="mse", seed=0)
    x, y = data(net, 4, 0)
    sub = calibrate_library(net, x, y)
    with pytest.raises(ConfigError, match=r"node 1: a graded neuron sends its state unshifted.*got s -3 != a"):
        LoihiLibrary({**sub.formats, "1": replace(sub.formats["1"], s=-3)}, sub.x_exp, in_exp=sub.in_exp)
    with pytest.raises(ConfigError, match="weight_bits is 8 on Lava's library processes"):
        LoihiLibrary(sub.formats, sub.x_exp, in_exp=sub.in_exp, weight_bits=6)
    f = sub.formats["1"]
    # NOTE: 14 bits finer: the first sample's largest state mantissa (about 2^10 here) passes 2^23
    fine = LoihiLibrary({**sub.formats, "1": replace(f, a=f.a - 14, s=f.s - 14)}, sub.x_exp,
                        in_exp={**sub.in_exp, "2": f.s - 14})  # fmt: skip
    with pytest.raises(FixedPointOverflow, match=r"node 1 state a .* leave the 24-bit graded spike"):
        relax(net, x[:1], y[:1], substrate=fine)


def test_the_resource_report_counts_renner_et_al_s_network_in_closed_form() -> None:
    from wavetrain.targets.lava.resources import COSTS, report

    net = Network.mlp([784, 400, 400, 10], activation="relu", loss="mse", seed=0)
    r = report(net)
    # F and S per node, the error neurons E, the bias unit; the input and target RingBuffers are on the host
    assert r.neurons == 2 * (400 + 400 + 10) + 10 + 1
    forward, backward = 784 * 400 + 400 * 400 + 400 * 10, 400 * 400 + 10 * 400  # no transpose into the input
    assert r.synapses == forward + backward + (400 + 400 + 10) + (400 + 400) + 3 * 10  # + bias, sigma', loss
    assert r.synops_per_sample == r.synapses  # every neuron sending every timestep
    assert r.energy_per_sample == pytest.approx(
        r.synapses * COSTS["synop_energy"] + r.neurons * (COSTS["neuron_energy"] + COSTS["spike_energy"])
    )
    assert r.timesteps_per_sample == 1 and r.latency_timesteps == 2 * 3 + 4
    assert r.host_writes_per_update == 2 * (784 * 400 + 400 * 400 + 400 * 10) - 784 * 400 + 810 + 784 * 400
    assert r.cores == sum(r.per_core.values()) and r.per_core["F_1"] == 3  # 313,600 8-bit synapses > 128 KiB


def test_a_network_beyond_one_chip_is_refused_naming_the_node() -> None:
    from wavetrain.targets.lava.library import check

    net = Network.mlp([2, *[60_000, 2] * 9], activation="relu", loss="mse", seed=0)  # every fan-in within a core
    too_many = r"1,080,0\d\d neurons on chip \(the largest node '1'\), expected at most 1,048,576 on one Loihi 2"
    with pytest.raises(ChipError, match=too_many):
        check(net)


def test_the_float_minibatch_stream_is_train_s_dyadic_float64_run() -> None:
    """The diagnosis's float baseline: run_stream on the ideal substrate, minibatch schedule, is textbook minibatch
    backprop with the heavy-ball port, train()'s run of the same order, seed, lr and momentum."""
    from dataclasses import replace as swap

    from wavetrain import datasets
    from wavetrain.emulator.train import train

    digits = datasets.load("digits")
    d = swap(digits, x_train=digits.x_train[:96], y_train=digits.y_train[:96])
    net = Network.mlp([64, 12, 10], activation="relu", loss="mse", seed=0)
    a, b = net.copy(), net.copy()
    got = run_stream(a, None, d.x_train, d.y_train, epochs=2, batch=32, lr=0.1, momentum=0.9, seed=0,
                     schedule="minibatch")  # fmt: skip
    train(b, d, epochs=2, batch_size=32, lr=0.1, momentum=0.9, seed=0, dtype="float64")
    assert worst(a.param_dict(), b.param_dict()) < 1e-12 and worst(a.param_dict(), net.param_dict()) > 1e-3
    assert got.updates == 2 * 3 and got.timesteps == 2 * 96


@pytest.mark.parametrize("name", ["chain", "conv1d"])
def test_frozen_schedules_read_the_same_gradient(name) -> None:
    """Frozen weights: the pipelined and minibatch schedules read the same sum of per-sample gradients (library:
    to the bit; float: float backprop's, to rounding), so the schedules differ only by staleness."""
    net = Network.mlp([5, 7, 3], activation="relu", loss="mse", seed=1) if name == "chain" else conv_net()
    x, y = data(net, 7, 1)
    sub = calibrate_library(net, x, y)
    assert worst(run_stream(net, sub, x, y).grads, run_stream(net, sub, x, y, schedule="minibatch").grads) == 0.0
    ref = backprop(net.machine(), net.check_input(x), net.targets(y, len(x)))[0]
    summed = {n: (len(x) * W, len(x) * b) for n, (W, b) in ref.items()}  # NOTE: backprop's mean over the batch
    for schedule in ("pipelined", "minibatch"):
        assert worst(run_stream(net, None, x, y, schedule=schedule).grads, summed) < 1e-12
    with pytest.raises(ConfigError, match="schedule must be one of"):
        run_stream(net, sub, x, y, schedule="tick")


def test_shift_sites_round_as_their_closed_forms() -> None:
    net = Network.mlp([5, 7, 3], activation="relu", loss="mse", seed=1)
    x, y = data(net, 7, 1)
    v = np.random.default_rng(0).normal(size=(4000, 7)) * 0.01
    exp = calibrate_library(net, x, y).formats["1"].lam
    scaled = np.ldexp(v, -exp)
    forms = {"floor": np.floor(scaled), "nearest": np.floor(scaled + 0.5)}
    for mode, expected in forms.items():
        sub = calibrate_library(net, x, y, shifts={"backward": mode})
        assert np.array_equal(sub.signal(v, "backward", "1"), np.ldexp(expected, exp))
        assert sub.shifts == {"state": "floor", "backward": mode, "error": "floor"}
    dithered = calibrate_library(net, x, y, shifts={"backward": "stochastic"}).signal(v, "backward", "1")
    steps = np.ldexp(dithered, -exp) - np.floor(scaled)
    assert set(np.unique(steps)) <= {0.0, 1.0}  # NOTE: one of the two neighbours, unbiased: mean error ~ 0
    assert abs(float(np.mean(np.ldexp(dithered, -exp) - scaled))) < 0.02
    assert abs(float(np.mean(np.ldexp(sub.signal(v, "backward", "1"), -exp) - scaled))) < 0.02  # nearest
    assert float(np.mean(np.floor(scaled) - scaled)) < -0.45  # NOTE: Lava's floor: half a step low on average
    with pytest.raises(ConfigError, match="shifts maps a site"):
        calibrate_library(net, x, y, shifts={"forward": "nearest"})
    from wavetrain.targets.lava.library import check

    with pytest.raises(ConfigError, match="floor every shift"):
        check(net, calibrate_library(net, x, y, shifts={"backward": "nearest"}))


def test_recalibration_moves_the_parameters_onto_the_new_grids() -> None:
    net = Network.mlp([5, 7, 3], activation="relu", loss="mse", seed=1)
    x, y = data(net, 24, 2)
    sub = calibrate_library(net, x, y)
    seen: list[LoihiLibrary] = []

    def again(trained: Network) -> LoihiLibrary:
        seen.append(calibrate_library(trained, x, y, headroom=0))
        return seen[-1]

    run_stream(net, sub, x, y, epochs=3, batch=4, lr=0.1, momentum=0.9, seed=0, recalibrate=again)
    assert len(seen) == 2 and sub.formats == seen[-1].formats and sub.in_exp == seen[-1].in_exp
    for n, (W, b) in net.param_dict().items():
        for value, exp in ((W, sub.formats[n].w), (b, sub.formats[n].b)):
            k = np.ldexp(value, -exp)
            assert np.array_equal(k, np.rint(k)) and np.max(np.abs(k)) <= 128


def test_two_bias_synapses_hold_a_16_bit_bias_the_lava_plan_refuses() -> None:
    net = Network.mlp([5, 7, 3], activation="relu", loss="mse", seed=1)
    x, y = data(net, 7, 1)
    one, two = calibrate_library(net, x, y), calibrate_library(net, x, y, bias_synapses=2)
    for n in one.formats:
        f1, f2 = one.formats[n], two.formats[n]
        assert f2.b == max(f2.a, f1.b - 8) and two.bias_bits == 16 and one.bias_bits == 8
    b = np.linspace(-1.0, 1.0, 7)
    k = np.ldexp(two.bias(b, "1"), -two.formats["1"].b)
    hi = np.floor((k + 128) / 256)  # NOTE: k = 256 k_hi + k_lo, both 8-bit: what two Dense of the bias unit hold
    assert np.all(np.abs(hi) <= 128) and np.all((k - 256 * hi >= -128) & (k - 256 * hi <= 127))
    with pytest.raises(ConfigError, match="bias_synapses must be 1 or 2"):
        LoihiLibrary(one.formats, one.x_exp, in_exp=one.in_exp, bias_synapses=3)
    from wavetrain.targets.lava.library import check

    with pytest.raises(ConfigError, match="one 8-bit bias Dense"):
        check(net, two)
