"""Lowering graphs: the splitter and delay lines a fan-out and a skip get, one element per node with its node id,
shared convolution weights in the netlist and the learning circuit, the hardware pass, and refused graphs."""

from __future__ import annotations

import numpy as np
import pytest

from wavetrain import to_spice
from wavetrain.circuits import (
    ConvJunction,
    Junction,
    Pool,
    ResistivePort,
    Splitter,
    Sum,
    Termination,
    Transient,
    TransmissionLine,
    Wiring,
    verify,
)
from wavetrain.circuits.hardware import PRESETS
from wavetrain.circuits.spice import port_parameters
from wavetrain.compiler import Network, compile_network
from wavetrain.compiler.builder import GraphBuilder
from wavetrain.compiler.graph import Graph, Linear
from wavetrain.errors import CircuitError, LoweringError


def skip_net() -> Network:
    g = GraphBuilder((3,))
    h = g.linear(g.input, 4, "tanh", id="h")
    i = g.linear(h, 4, id="i")
    j = g.linear(i, 4, "tanh", id="j")
    return g.network(g.linear(g.add(j, h, id="a"), 2, id="o"), seed=0)  # h -> a skips two levels


def conv_net(length: int = 12) -> Network:
    g = GraphBuilder((2, length))
    c = g.conv1d(g.input, 3, kernel=3, stride=2, padding=1, activation="tanh", id="c")
    return g.network(g.linear(g.flatten(g.maxpool(c, 2, id="p"), id="f"), 2, id="o"), seed=0)


def test_a_skip_gets_a_splitter_and_a_matched_delay_line_each_way() -> None:
    net = skip_net()
    assert net.graph.delay[("h", "a")] == 2
    circuit = compile_network(net, x=np.ones((1, 3)))
    k = net.graph.edges.index(("h", "a"))
    forward, backward = circuit.element(f"fd{k}"), circuit.element(f"bd{k}")
    assert isinstance(forward, TransmissionLine) and isinstance(backward, TransmissionLine)
    assert forward.delay == backward.delay == 2 * circuit.tick and forward.edge == backward.edge == ("h", "a")
    assert (forward.wave, backward.wave) == ("forward", "backward")
    split = circuit.element("sph")
    assert isinstance(split, Splitter)
    # forward: i reads the far end of fl_h directly, the buffer drives the delay line; backward: i's wave and the
    # delayed wave from a sum into lam_h
    assert split.a == "shr" and split.taps == (f"u{k}",) and split.back_out == "lamh"
    assert set(split.back_in) == {f"v{net.graph.edges.index(('h', 'i'))}", f"v{k}r"}
    assert circuit.element("ji").a == "shr" and circuit.element("ja").a == ("sjr", f"u{k}r")  # type: ignore[union-attr]
    # every line far end nothing drives is loaded with its own z0: the splitter's taps are high-impedance reads
    ends = {e.a: e.resistance for e in circuit.of_type(Termination)}
    assert ends["shr"] == ends[f"u{k}r"] == ends[f"v{k}r"] == 50.0
    verify(circuit)


def test_a_chain_lowers_without_splitters() -> None:
    circuit = compile_network(Network.mlp([3, 4, 2], seed=0))
    assert not circuit.of_type(Splitter) and not any(line.edge for line in circuit.of_type(TransmissionLine))


def test_every_node_lowers_to_its_element_carrying_its_id() -> None:
    g = GraphBuilder((1, 6, 6))
    c = g.conv2d(g.input, 2, kernel=3, padding=1, activation="tanh", id="c")
    p = g.avgpool(c, 2, id="p")
    q = g.maxpool(c, 2, id="q")
    cat = g.concat(p, q, id="cat")
    f = g.flatten(cat, id="f")
    s = g.add(g.linear(f, 3, id="u"), g.act(g.linear(f, 3, id="v"), "tanh", id="t"), id="s")
    net = g.network(g.linear(s, 2, id="o"), seed=0)
    circuit = compile_network(net, x=np.zeros((1, 1, 6, 6)), gradients=True)
    kinds = {"c": ConvJunction, "p": Pool, "q": Pool, "cat": Wiring, "f": Wiring, "u": Junction, "t": Wiring, "s": Sum}
    for n, kind in kinds.items():
        assert isinstance(circuit.element(f"j{n}"), kind) and circuit.element(f"j{n}").node == n
    assert (circuit.element("jp").mode, circuit.element("jq").mode) == ("avg", "max")  # type: ignore[union-attr]
    assert circuit.element("jcat").widths == (2 * 9, 2 * 9)  # type: ignore[union-attr]
    assert [p.junction for p in circuit.ports()] == ["jc", "ju", "jv", "jo"]
    # c and f fan out; u reaches s a tick before t does, so it waits on a delay line behind its own splitter
    assert {s.name for s in circuit.of_type(Splitter)} == {"spc", "spf", "spu"}


def test_a_convolution_is_written_once_per_channel_and_charges_one_capacitor_per_weight() -> None:
    net = conv_net(length=40)
    circuit = compile_network(net, x=np.ones((1, 2, 40)))
    analysis = Transient(stop=1e-8, step=1e-10)
    shared, inline = to_spice(circuit, analysis), to_spice(circuit, analysis, kernels="inline")
    assert shared.count(".func fk") == 3 and ".func" not in inline
    # the 18 weights of an output channel are written once, not in each of its 20 positions' sources
    forward = [line for line in shared.splitlines() if line.startswith("B0_") and line.split()[0].endswith("_jc")]
    assert len(forward) == 3 * 20 and all("fk" in line and "e-" not in line for line in forward)
    assert len(shared) < len(inline)
    learning = compile_network(net, x=np.ones((2, 2, 40)), learning="resistor")
    rows = port_parameters(learning.element("pc"), learning.element("jc"), batch=2)  # type: ignore[arg-type]
    assert len(rows) == 3 * 2 * 3 + 3  # one capacitor per shared weight, then per bias
    # W[0, 0, 0] reads the input at t * 2 - 1 for the 20 output positions t; t = 0 falls in the padding
    assert rows[0][0] == "w0_0_0" and rows[0][2].count("*") == 2 * 19
    text = to_spice(learning, analysis)
    capacitors = [line for line in text.splitlines() if line.startswith("C") and line.split()[0].endswith("_pc")]
    assert "V(w0_0_0_pc)" in text and len(capacitors) == len(rows)


def test_hardware_reaches_a_convolution_and_leaves_a_skip_ideal() -> None:
    model = PRESETS["reram"].with_overrides({"circuit.line_loss": 0.1, "circuit.leak": 0.05})
    net = skip_net()
    chip = compile_network(net, x=np.ones((1, 3)), hardware=model)
    lines = chip.of_type(TransmissionLine)
    assert {line.loss for line in lines if line.edge is None} == {0.1}
    assert {line.loss for line in lines if line.edge is not None} == {0.0}
    conv = compile_network(conv_net(), x=np.ones((1, 2, 12)), hardware=model).element("jc")
    assert isinstance(conv, ConvJunction) and conv.leak == 0.05
    assert not np.array_equal(conv.weight, conv_net().parameters("c").weight)


def test_node_ids_whose_circuit_names_collide_are_refused() -> None:
    graph = Graph.chain((2,), [Linear(id="1", features=2), Linear(id="1r", features=2)])  # s_far("1") == s("1r")
    with pytest.raises(LoweringError, match=r"nodes '1' and '1r' would both name 's1r'"):
        compile_network(Network.from_graph(graph))


@pytest.mark.parametrize(
    "make, message",
    [
        (
            lambda: ConvJunction(
                name="j",
                a="a",
                b="b",
                back_in="d",
                back_out=None,
                weight=np.ones((2, 3, 3)),
                bias=np.zeros(2),
                in_shape=(2, 5),
                stride=(1,),
                padding=(0,),
            ),  # fmt: skip
            r"conv junction 'j': weight takes 3 input channels, in_shape has 2",
        ),
        (
            lambda: ConvJunction(
                name="j",
                a="a",
                b="b",
                back_in="d",
                back_out=None,
                weight=np.ones((2, 2, 3)),
                bias=np.zeros(2),
                in_shape=(2, 5),
                stride=(1,),
                padding=(-1,),
            ),  # fmt: skip
            r"conv junction 'j': padding must be 1 integers >= 0, got \(-1,\)",
        ),
        (
            lambda: Sum(name="s", a=("a",), b="b", back_in="d", back_out=(None,), width=2),
            r"sum 's': expected at least 2 inputs and one back_out per input, got 1 and 1",
        ),
        (
            lambda: Wiring(name="w", a=("a", "c"), widths=(2,), b="b", back_in="d", back_out=(None, None)),
            r"wiring 'w': expected one width and one back_out per input, got 2 inputs, 1 widths, 2 back_out",
        ),
        (
            lambda: Splitter(name="sp", a="a", width=2, back_in=("v",)),
            r"splitter 'sp': back_in and back_out come together",
        ),
        (
            lambda: Pool(
                name="p", a="a", b="b", back_in="d", back_out=None, mode="min", in_shape=(1, 4), kernel=2, stride=2
            ),  # fmt: skip
            r"mode",
        ),
    ],
)
def test_bad_graph_junctions_are_refused_naming_the_element(make, message: str) -> None:
    with pytest.raises(CircuitError, match=message):
        make()


def test_learning_ports_hold_every_parametric_node() -> None:
    circuit = compile_network(conv_net(), x=np.ones((1, 2, 12)), learning="resistor")
    assert {p.junction for p in circuit.of_type(ResistivePort)} == {"jc", "jo"}


def test_the_numpy_target_refuses_a_junction_that_differs_from_its_node() -> None:
    from dataclasses import replace

    from wavetrain.circuits import Circuit
    from wavetrain.errors import SimulationError
    from wavetrain.targets import get_target

    circuit = compile_network(conv_net(), x=np.ones((1, 2, 12)))
    # NOTE: stride 3 and padding 4 give the same 6 positions: a circuit that verifies, but not the node's convolution
    edited = tuple(replace(e, stride=(3,), padding=(4,)) if e.name == "jc" else e for e in circuit.elements)
    with pytest.raises(SimulationError, match=r"junction 'jc' does not fit node 'c': \(in_shape, stride, padding\)"):
        get_target("numpy").run(Circuit(**{**circuit.__dict__, "elements": edited}), Transient(stop=1e-8))
