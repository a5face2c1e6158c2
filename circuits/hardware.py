"""The hardware model: what an imperfect analog learning machine is made of, as a tree of frozen dataclasses.

``HardwareModel(device=DeviceModel, io=IOModel, circuit=CircuitModel)``. Every field documents its physical meaning,
its unit and where its default or preset value comes from (a paper, or the name of the aihwkit preset it follows).
Weights are in the network's own units: a device pair at full range represents ``device.w_max``; relative noises
are fractions of ``w_max`` (device) or of the converter's full scale (io). The array physics of every field is in
:mod:`wavetrain.circuits.devices`; :class:`wavetrain.circuits.chip.Chip` draws and programs its devices, and
:class:`wavetrain.emulator.analog.AnalogSubstrate` runs a model on the seam.

Models are saved as JSON (``to_json``, with ``"version": HARDWARE_VERSION``) and read back with
:func:`load_hardware`, which also takes a preset name (``PRESETS``). Every value is checked when a model is built:
a bad one raises :class:`HardwareError` naming the field, its allowed range and the value given.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Mapping

from wavetrain.compiler.formats import loads_json, read_regular
from wavetrain.errors import ConfigError

HARDWARE_VERSION = 1
HARDWARE_LIMIT = 2**20  # bytes of a hardware JSON file read at most (a model is about 2 KB)
NAME_LIMIT, DESCRIPTION_LIMIT = 64, 2000  # characters of a model's name and description
ROUNDINGS = ("stochastic", "deterministic")
NOISE_MANAGEMENT = ("abs_max", "none")
INF = math.inf


class HardwareError(ConfigError):
    """A hardware model (preset, JSON file or override) has a value outside its valid range."""


def _f(
    default: Any,
    doc: str,
    unit: str = "1",
    lo: float = 0.0,
    hi: float = INF,
    lo_open: bool = False,
    hi_open: bool = False,
    optional: bool = False,
    integer: bool = False,
    choices: tuple[str, ...] | None = None,
    allow_inf: bool = False,
) -> Any:
    """A model field with its documentation and its valid range (checked by ``_check``)."""
    meta = {
        "doc": doc,
        "unit": unit,
        "lo": lo,
        "hi": hi,
        "lo_open": lo_open,
        "hi_open": hi_open or (hi == INF and not allow_inf),
        "optional": optional,
        "integer": integer,
        "choices": choices,
    }
    return field(default=default, metadata=meta)


def _range_text(meta: Mapping[str, Any]) -> str:
    if meta["choices"]:
        text = "one of " + ", ".join(repr(c) for c in meta["choices"])
    else:
        kind = "an integer" if meta["integer"] else "a number"
        left = "(" if meta["lo_open"] else "["
        right = ")" if meta["hi_open"] else "]"
        hi = "inf" if meta["hi"] == INF else f"{meta['hi']:g}"
        text = f"{kind} in {left}{meta['lo']:g}, {hi}{right}"
    return text + (" or null" if meta["optional"] else "")


def _check(obj: Any, prefix: str) -> None:
    for f in fields(obj):
        meta, value = f.metadata, getattr(obj, f.name)
        if not meta:
            continue
        where = f"{prefix}.{f.name}"
        if value is None and meta["optional"]:
            continue
        if meta["choices"]:
            ok = isinstance(value, str) and value in meta["choices"]
        elif isinstance(value, bool) or not isinstance(value, (int, float)):
            ok = False
        elif meta["integer"] and not (isinstance(value, int) or float(value).is_integer()):
            ok = False
        else:
            v = float(value)
            ok = math.isfinite(v) or (v == INF and not meta["hi_open"])
            ok = ok and (v > meta["lo"] if meta["lo_open"] else v >= meta["lo"])
            ok = ok and (v < meta["hi"] if meta["hi_open"] else v <= meta["hi"])
        if not ok:
            raise HardwareError(f"{where}: expected {_range_text(meta)} [{meta['unit']}], got {value!r}")
        if meta["integer"] and not isinstance(value, bool):
            object.__setattr__(obj, f.name, int(value))


@dataclass(frozen=True, kw_only=True)
class DeviceModel:
    """Weights stored as conductances of a device pair, read with noise, updated by pulses (aihwkit's PulsedDevice).

    A weight w is a differential pair G+ - G- (``differential``) in [g_min, g_max]: w = w_max (G+ - G-) / (g_max -
    g_min), the positive part on G+ and the negative on G- (:meth:`AnalogSubstrate.conductances`); without a pair,
    w = 2 w_max (G - G_ref) / (g_max - g_min) against a reference at mid range. Updates follow aihwkit's
    LinearStepDevice: an up pulse moves w by dw_up (1 - gamma_up w / w_max), a down pulse by -dw_down (1 + gamma_down
    w / w_max), with dw_up = dw_min (1 + up_down), dw_down = dw_min (1 - up_down); gamma = 0 is a constant-step
    device, gamma = 1 a soft-bounds device; hard bounds +-w_max_i clip every state.
    """

    w_max: float = _f(
        INF,
        "weight a device pair represents at full range (hard bound +-w_max); inf: an unbounded ideal store",
        "weight",
        lo=0.0,
        lo_open=True,
        allow_inf=True,
    )
    # NOTE: every quantity 'relative to w_max' refers to one weight unit when w_max is inf (see ``scale``)
    g_min: float = _f(0.1, "lowest conductance of one device (aihwkit PCM noise model g range 0..25 uS)", "uS")
    g_max: float = _f(
        25.0, "highest conductance of one device (aihwkit PCMLikeNoiseModel g_max)", "uS", lo=0.0, lo_open=True
    )
    # weight = G+ - G- (True: two noisy devices per weight, read noise sqrt(2) x per device) or G - G_ref (False:
    # one device against a fixed reference column at (g_min + g_max) / 2)
    differential: bool = field(default=True, metadata={})
    weight_bits: int | None = _f(
        None,
        "resolution of the stored conductance: 2^bits - 1 levels over +-w_max; null: a continuum",
        "bit",
        lo=1,
        hi=32,
        optional=True,
        integer=True,
    )
    prog_noise: float = _f(
        0.0,
        "std of the programming error when a weight is written at once (initial "
        "transfer), fraction of w_max (aihwkit PCMLikeNoiseModel prog_noise_scale)",
        "w_max",
    )
    read_noise: float = _f(
        0.0,
        "std of the read (cycle-to-cycle) noise of one device on every read, fraction of "
        "w_max (aihwkit IOParameters.w_noise)",
        "w_max",
    )
    w_max_dtod: float = _f(
        0.0, "device-to-device relative std of each device's bound w_max_i (aihwkit w_max_dtod)", "1", hi=1.0
    )
    dw_min: float | None = _f(
        None,
        "weight step of one pulse, fraction of w_max (aihwkit dw_min); null: the "
        "port's update is written exactly (no pulses)",
        "w_max",
        lo=0.0,
        lo_open=True,
        hi=1.0,
        optional=True,
    )
    dw_min_dtod: float = _f(
        0.0, "device-to-device relative std of each device's step (aihwkit dw_min_dtod)", "1", hi=1.0
    )
    dw_min_std: float = _f(
        0.0, "update (cycle-to-cycle) noise: relative std of each pulse's step (aihwkit dw_min_std)", "dw_min"
    )
    up_down: float = _f(
        0.0,
        "up/down asymmetry: dw_up = dw_min (1 + up_down), dw_down = dw_min (1 - up_down) (aihwkit up_down)",
        "1",
        lo=-1.0,
        hi=1.0,
        lo_open=True,
        hi_open=True,
    )
    gamma_up: float = _f(
        0.0,
        "nonlinearity of up pulses: step dw_up (1 - gamma_up w / w_max); 0 constant "
        "step, 1 soft bounds (aihwkit LinearStepDevice gamma_up)",
        "1",
        hi=10.0,
    )
    gamma_down: float = _f(0.0, "nonlinearity of down pulses: step dw_down (1 + gamma_down w / w_max)", "1", hi=10.0)
    rounding: str = _f(
        "stochastic",
        "how a continuous update becomes a pulse count: stochastic (unbiased) or deterministic (nearest) rounding",
        choices=ROUNDINGS,
    )
    max_pulses: int | None = _f(
        None,
        "most pulses per device per update (aihwkit desired_bl); null: no limit",
        "pulse",
        lo=1,
        hi=2**24,  # NOTE: counts are float32 arrays, exact up to 2^24
        optional=True,
        integer=True,
    )
    stuck_on: float = _f(0.0, "fraction of devices stuck at +w_max_i (a shorted device)", "1", hi=1.0)
    stuck_off: float = _f(
        0.0, "fraction of devices stuck at 0 (an open device; aihwkit corrupt_devices_prob)", "1", hi=1.0
    )
    drift_nu: float = _f(
        0.0,
        "conductance drift exponent: G(t) = G(t0) (t / t0)^-nu (PCM: 0.05, Le Gallo "
        "et al. 2018; aihwkit PCMLikeNoiseModel)",
        "1",
        hi=1.0,
    )
    drift_nu_dtod: float = _f(0.0, "device-to-device std of the drift exponent", "1", hi=1.0)
    drift_t0: float = _f(
        20.0, "time after programming at which drift starts (aihwkit t_0 = 20 s)", "s", lo=0.0, lo_open=True
    )
    t_inference: float = _f(
        0.0,
        "time since programming at which evaluation reads the weights (drift applies for t_inference > drift_t0)",
        "s",
    )

    def __post_init__(self) -> None:
        _check(self, "device")
        if self.g_min >= self.g_max:
            raise HardwareError(
                f"device.g_min: expected a number in [0, g_max = {self.g_max:g}) [uS], got {self.g_min!r}"
            )
        if not isinstance(self.differential, bool):
            raise HardwareError(f"device.differential: expected true or false, got {self.differential!r}")
        if self.stuck_on + self.stuck_off > 1.0:
            raise HardwareError(
                f"device.stuck_on + device.stuck_off: expected a number in [0, 1], got "
                f"{self.stuck_on + self.stuck_off!r}"
            )

    @property
    def pulsed(self) -> bool:
        return self.dw_min is not None

    @property
    def scale(self) -> float:
        """The weight that relative quantities (noises, dw_min, levels, stuck-on) refer to: w_max, or 1 if inf."""
        return self.w_max if math.isfinite(self.w_max) else 1.0


@dataclass(frozen=True, kw_only=True)
class IOModel:
    """The converters and analog noise at the boundaries of a crossbar (aihwkit's IOParameters).

    Forward: x -> DAC -> crossbar (+ forward_noise) -> ADC -> a. Backward: the same with backward_noise. With
    ``noise_management = "abs_max"`` each row is scaled by its largest magnitude before the DAC and back after the
    ADC, so the converters see signals in [-1, 1] whatever the wave's scale.
    """

    dac_bits: int | None = _f(
        None,
        "DAC resolution: 2^bits - 1 levels over [-dac_range, dac_range] (aihwkit inp_res = 1/(2^7 - 2)); null: ideal",
        "bit",
        lo=1,
        hi=32,
        optional=True,
        integer=True,
    )
    dac_range: float = _f(
        1.0, "DAC full scale; inputs beyond it clip (aihwkit inp_bound)", "full scale", lo=0.0, lo_open=True
    )
    adc_bits: int | None = _f(
        None,
        "ADC resolution: 2^bits - 1 levels over [-adc_range, adc_range] (aihwkit out_res = 1/(2^9 - 2)); null: ideal",
        "bit",
        lo=1,
        hi=32,
        optional=True,
        integer=True,
    )
    adc_range: float = _f(
        12.0,
        "ADC full scale; crossbar outputs beyond it clip (aihwkit out_bound = 12)",
        "full scale",
        lo=0.0,
        lo_open=True,
    )
    forward_noise: float = _f(
        0.0, "std of the additive noise on every forward crossbar output (aihwkit out_noise = 0.06)", "full scale"
    )
    backward_noise: float = _f(0.0, "std of the additive noise on every backward crossbar output", "full scale")
    noise_management: str = _f(
        "abs_max", "per-row input scaling before the DAC (aihwkit NoiseManagementType)", choices=NOISE_MANAGEMENT
    )

    def __post_init__(self) -> None:
        _check(self, "io")


@dataclass(frozen=True, kw_only=True)
class CircuitModel:
    """Wave-circuit effects of the lines and integrators (what only a wave machine has).

    A line end terminated in Z0 (1 + mismatch) reflects Gamma = mismatch / (2 + mismatch) of an arriving wave and
    passes (1 + Gamma) of it to the load; the reflection, inverted by the cell that drives the line (an ideal
    voltage source), reaches the load again two ticks later as -Gamma of the amplitude (devices.line_echo). Lossy
    lines keep exp(-line_loss) of a wave per tick. Jitter gives each layer of each chip its own local Courant number
    nu_l = 1 - |jitter N(0,1)|. The integrator holding a = W s + b loses a fraction ``leak`` of its state per tick.

    Wires: every junction with devices is a crossbar of conductance pairs with a bias row (circuits/irdrop.py), each
    row wire r_row and each column wire r_col ohm per segment between neighbouring cells. Against a device at g_max
    (1 / g_max = 40 kohm at 25 uS) a segment of 1 ohm is r g_max = 2.5e-5; a row of n cells loses about r g n^2 / 2
    of its drive at the far end. The cells far from the drivers and sense amplifiers see less voltage, so the array
    reads W_eff, the weights distorted toward the drivers; both waves read it (the transpose read is the transpose
    of the forward map by reciprocity), so the port reads the exact gradient of W_eff. 0 and 0: ideal wires.
    """

    mismatch: float = _f(
        0.0, "relative impedance mismatch at junctions and line ends, Z_load = Z0 (1 + mismatch)", "1", lo=-0.9, hi=10.0
    )
    mismatch_dtod: float = _f(0.0, "line-to-line std of the mismatch (each layer of each chip)", "1", hi=1.0)
    line_loss: float = _f(0.0, "line attenuation per tick: a wave keeps exp(-line_loss)", "Np/tick", hi=5.0)
    jitter: float = _f(0.0, "std of each layer's timing error as a local Courant number 1 - |jitter N|", "1", hi=0.5)
    leak: float = _f(
        0.0,
        "fraction of the integrator state lost per tick (a leak resistor across its capacitor)",
        "1/tick",
        hi=1.0,
        hi_open=True,
    )
    r_row: float = _f(
        0.0, "wire resistance of one row segment between neighbouring cells of a crossbar (IR drop); 0: ideal", "ohm",
        hi=1e4,
    )  # fmt: skip
    r_col: float = _f(
        0.0, "wire resistance of one column segment between neighbouring cells of a crossbar (IR drop); 0: ideal",
        "ohm", hi=1e4,
    )  # fmt: skip

    def __post_init__(self) -> None:
        _check(self, "circuit")

    @property
    def wires(self) -> bool:
        """True when the crossbars have wire resistance (IR drop)."""
        return bool(self.r_row or self.r_col)


@dataclass(frozen=True, kw_only=True)
class HardwareModel:
    """An analog learning machine: devices, converters and wave circuit; ``ideal`` when every effect is off."""

    name: str = "custom"
    description: str = ""
    device: DeviceModel = field(default_factory=DeviceModel)
    io: IOModel = field(default_factory=IOModel)
    circuit: CircuitModel = field(default_factory=CircuitModel)

    def __repr__(self) -> str:
        """One line: the name and the start of the description (``wavetrain hardware show NAME``: every field)."""
        about = self.description if len(self.description) <= 72 else self.description[:69].rstrip() + "..."
        return f"HardwareModel({self.name!r}{': ' + about if about else ''}{', ideal' if self.ideal else ''})"

    def __post_init__(self) -> None:
        for key, limit in (("name", NAME_LIMIT), ("description", DESCRIPTION_LIMIT)):
            value = getattr(self, key)
            if (
                not isinstance(value, str)
                or len(value) > limit
                or not value.isprintable()
                or (key == "name" and not value.strip())
            ):
                raise HardwareError(
                    f"{key}: expected {'a non-empty' if key == 'name' else 'a'} string of at most {limit} printable "
                    f"characters, got {type(value).__name__} {str(value)[:80]!r}"
                )
        for part, kind in (("device", DeviceModel), ("io", IOModel), ("circuit", CircuitModel)):
            if not isinstance(getattr(self, part), kind):
                raise HardwareError(f"{part}: expected a {kind.__name__}, got {type(getattr(self, part)).__name__}")
        if self.circuit.wires:
            # NOTE: a crossbar maps weights onto conductances through w_max, as differential pairs (circuits/irdrop.py)
            which = "circuit.r_row" if self.circuit.r_row else "circuit.r_col"
            if not math.isfinite(self.device.w_max):
                raise HardwareError(
                    f"{which}: wire resistance needs a finite device.w_max (the weight a pair holds at g_max - g_min), "
                    f"got device.w_max {self.device.w_max!r}"
                )
            if not self.device.differential:
                raise HardwareError(
                    f"{which}: wire resistance needs device.differential true (the crossbar's differential pairs), got "
                    "false"
                )

    @property
    def ideal(self) -> bool:
        """True when every effect is off, so the model computes exactly what the ideal substrate does."""
        return self.device == _IDEAL_DEVICE and self.io == IOModel() and self.circuit == CircuitModel()

    def with_overrides(self, overrides: dict[str, Any]) -> HardwareModel:
        """A copy with dotted paths replaced: ``{"device.read_noise": 0.05, "io.adc_bits": 8}``; checked again."""
        parts = {"device": {}, "io": {}, "circuit": {}}  # type: dict[str, dict[str, Any]]
        top: dict[str, Any] = {}
        for path, value in overrides.items():
            head, _, leaf = str(path).partition(".")
            if head in parts and leaf in _names(type(getattr(self, head))):
                parts[head][leaf] = value
            elif head in ("name", "description") and not leaf:
                top[head] = value
            else:
                raise HardwareError(f"hardware override {path!r}: expected one of {', '.join(field_paths())}")
        built = {part: replace(getattr(self, part), **values) for part, values in parts.items() if values}
        return replace(self, **top, **built)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"version": HARDWARE_VERSION, "name": self.name, "description": self.description}
        for part in ("device", "io", "circuit"):
            obj = getattr(self, part)
            out[part] = {f.name: getattr(obj, f.name) for f in fields(obj)}
        return out

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2) + "\n"

    @classmethod
    def from_dict(cls, data: Any, source: str = "hardware model") -> HardwareModel:
        if not isinstance(data, dict):
            raise HardwareError(f"{source}: expected a JSON object, got {type(data).__name__}")
        version = data.get("version")
        if type(version) is not int or version != HARDWARE_VERSION:  # NOTE: true == 1 in Python, not here
            raise HardwareError(f"{source}: version: expected {HARDWARE_VERSION}, got {version!r}")
        unknown = set(data) - {"version", "name", "description", "device", "io", "circuit"}
        if unknown:
            raise HardwareError(
                f"{source}: unknown key {sorted(unknown)[0]!r}: expected version, name, "
                "description, device, io, circuit"
            )
        flat = {
            f"{part}.{k}": v for part in ("device", "io", "circuit") for k, v in _section(data, part, source).items()
        }
        try:
            base = cls(name=data.get("name", "custom"), description=data.get("description", ""))
            return base.with_overrides(flat)
        except HardwareError as err:
            raise HardwareError(f"{source}: {err}") from err

    def table(self) -> list[tuple[str, Any, str, str]]:
        """(dotted path, value, unit, meaning) of every field, for ``wavetrain hardware show``."""
        rows = []
        for part in ("device", "io", "circuit"):
            obj = getattr(self, part)
            for f in fields(obj):
                meta = f.metadata or {"unit": "", "doc": "weight = G+ - G- (true) or G - G_ref (false)"}
                rows.append((f"{part}.{f.name}", getattr(obj, f.name), meta["unit"], meta["doc"]))
        return rows


def _section(data: dict[str, Any], part: str, source: str) -> dict[str, Any]:
    section = data.get(part, {})
    if not isinstance(section, dict):
        raise HardwareError(f"{source}: {part}: expected a JSON object, got {type(section).__name__}")
    return section


def _names(kind: type) -> set[str]:
    return {f.name for f in fields(kind)}


def field_paths() -> list[str]:
    """Every dotted path ``with_overrides`` accepts (the axes of a sweep)."""
    return [
        f"{part}.{f.name}"
        for part, kind in (("device", DeviceModel), ("io", IOModel), ("circuit", CircuitModel))
        for f in fields(kind)
    ]


_IDEAL_DEVICE = DeviceModel()

PRESETS: dict[str, HardwareModel] = {
    "ideal": HardwareModel(name="ideal", description="every effect off: the ideal substrate, bit for bit"),
    "reram": HardwareModel(
        name="reram",
        description="ReRAM-like soft-bounds device (aihwkit ReRamSBPresetDevice, Gong et al. Nat. Commun. 2018), "
        "8-bit DAC / 9-bit ADC with aihwkit's default IO noise",
        device=DeviceModel(
            w_max=1.0,
            dw_min=0.002,
            gamma_up=1.0,
            gamma_down=1.0,
            up_down=0.0,
            dw_min_dtod=0.3,
            dw_min_std=0.3,
            w_max_dtod=0.24,
            read_noise=0.01,
            prog_noise=0.02,
            stuck_off=0.001,
            g_min=0.1,
            g_max=25.0,
        ),
        io=IOModel(dac_bits=8, adc_bits=9, forward_noise=0.02, backward_noise=0.02),
    ),
    "pcm": HardwareModel(
        name="pcm",
        description="PCM-like device: asymmetric nonlinear steps (aihwkit PCMPresetDevice, Nandakumar et al. "
        "2020), drift nu = 0.05 from t0 = 20 s (Le Gallo et al. 2018), read one hour after "
        "programming",
        device=DeviceModel(
            w_max=1.0,
            dw_min=0.005,
            up_down=0.2,
            gamma_up=1.5,
            gamma_down=0.5,
            dw_min_dtod=0.2,
            dw_min_std=0.6,
            w_max_dtod=0.1,
            read_noise=0.02,
            prog_noise=0.03,
            drift_nu=0.05,
            drift_nu_dtod=0.01,
            drift_t0=20.0,
            t_inference=3600.0,
            stuck_on=0.0005,
            stuck_off=0.001,
            g_min=0.0,
            g_max=25.0,
        ),
        io=IOModel(dac_bits=8, adc_bits=9, forward_noise=0.02, backward_noise=0.02),
    ),
    "ecram": HardwareModel(
        name="ecram",
        description="ECRAM-like near-symmetric linear-step device (aihwkit EcRamPresetDevice, Tang et al. IEDM "
        "2018) with many fine states",
        device=DeviceModel(
            w_max=1.0,
            dw_min=0.0005,
            gamma_up=0.1153,
            gamma_down=0.5085,
            dw_min_dtod=0.1,
            dw_min_std=0.3,
            w_max_dtod=0.05,
            read_noise=0.002,
            g_min=0.1,
            g_max=10.0,
        ),
        io=IOModel(dac_bits=8, adc_bits=10, forward_noise=0.005, backward_noise=0.005),
    ),
    "lossy-board": HardwareModel(
        name="lossy-board",
        description="ideal devices on a board of mismatched, lossy lines: 10 % impedance mismatch, 2 % loss per "
        "tick, 5 % timing jitter, 1 % integrator leak per tick",
        circuit=CircuitModel(mismatch=0.1, mismatch_dtod=0.02, line_loss=0.02, jitter=0.05, leak=0.01),
    ),
}


def load_hardware(name_or_path: str | Path | HardwareModel) -> HardwareModel:
    """A preset by name (``PRESETS``), a model saved as JSON (``to_json``), or the model itself."""
    if isinstance(name_or_path, HardwareModel):
        return name_or_path
    text = str(name_or_path)
    if text in PRESETS:
        return PRESETS[text]
    if not text.endswith(".json"):
        raise HardwareError(f"hardware: expected a preset ({', '.join(PRESETS)}) or a .json file, got {text!r}")
    if not Path(text).exists():
        raise HardwareError(f"hardware: file {text!r} does not exist (expected a preset or a .json file)")
    # NOTE: a regular file only (a FIFO or a device would hang the read); no duplicate key, NaN or deep nesting
    data = loads_json(read_regular(text, "hardware", HardwareError, HARDWARE_LIMIT), text, HardwareError, infinity=True)
    return HardwareModel.from_dict(data, source=text)
