"""The single source of truth for every generator parameter.

``ProcessorConfig`` is a frozen dataclass with one sub-config per block. Hardware, golden models,
tests, benchmarks and the emitted ``params.json`` / ``params.h`` all read their parameters from
it. Validation collects every violation and raises one ``ValueError`` naming each bad field, its
value and what is allowed.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

__all__ = [
    "DBSCConfig", "PSSAConfig", "TIPSConfig", "EMAConfig", "TopConfig", "ProcessorConfig",
    "CONFIG_DIR", "preset_path", "load_config", "parse_override", "clog2",
]

CONFIG_DIR = Path(__file__).resolve().parent.parent / "configs"


class _Checker:
    """Collects violations so that one error can name all of them."""

    def __init__(self, prefix):
        self.prefix = prefix
        self.errors = []

    def range(self, cfg, name, lo, hi):
        value = getattr(cfg, name)
        if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
            self.errors.append(f"{self.prefix}.{name}={value!r} must be an integer in [{lo}, {hi}]")
            return False
        return True

    def choice(self, cfg, name, allowed):
        value = getattr(cfg, name)
        if value not in allowed:
            names = ", ".join(repr(a) for a in allowed)
            self.errors.append(f"{self.prefix}.{name}={value!r} must be one of {names}")
            return False
        return True

    def boolean(self, cfg, name):
        value = getattr(cfg, name)
        if not isinstance(value, bool):
            self.errors.append(f"{self.prefix}.{name}={value!r} must be true or false")
            return False
        return True

    def require(self, condition, message):
        if not condition:
            self.errors.append(message)


@dataclass(frozen=True)
class DBSCConfig:
    """Dual-mode bit-slice PE array (paper.md, section DBSC).

    ``rows x cols`` PEs; activations are split into ``slice_bits``-wide slices, the top one
    signed. High precision uses ``act_bits_high / slice_bits`` slices, low precision the top
    ``act_bits_low / slice_bits``. ``max_k`` is the longest reduction a tile may have and sets the
    accumulator width; ``max_m`` the most activation rows (tokens) in one tile.
    """

    rows: int = 4
    cols: int = 4
    slice_bits: int = 4
    weight_bits: int = 8
    act_bits_high: int = 8
    act_bits_low: int = 4
    dataflow: str = "both"
    max_k: int = 256
    max_m: int = 64

    def _check(self, c: _Checker):
        c.range(self, "rows", 1, 256)
        c.range(self, "cols", 1, 256)
        slice_ok = c.choice(self, "slice_bits", (2, 4))
        c.range(self, "weight_bits", 2, 16)
        high_ok = c.range(self, "act_bits_high", 2, 16)
        low_ok = c.range(self, "act_bits_low", 1, 16)
        c.choice(self, "dataflow", ("ws", "os", "both"))
        c.range(self, "max_k", 1, 65536)
        c.range(self, "max_m", 1, 65536)
        if slice_ok and high_ok:
            c.require(self.act_bits_high % self.slice_bits == 0,
                      f"dbsc.act_bits_high={self.act_bits_high} must be a multiple of "
                      f"dbsc.slice_bits={self.slice_bits}")
        if slice_ok and low_ok:
            c.require(self.act_bits_low % self.slice_bits == 0,
                      f"dbsc.act_bits_low={self.act_bits_low} must be a multiple of "
                      f"dbsc.slice_bits={self.slice_bits}")
        if high_ok and low_ok:
            c.require(self.act_bits_low <= self.act_bits_high,
                      f"dbsc.act_bits_low={self.act_bits_low} must be at most "
                      f"dbsc.act_bits_high={self.act_bits_high}")

    @property
    def slices_high(self) -> int:
        return self.act_bits_high // self.slice_bits

    @property
    def slices_low(self) -> int:
        return self.act_bits_low // self.slice_bits

    @property
    def acc_bits(self) -> int:
        """Signed accumulator width that no sum of ``max_k`` products can overflow.

        The largest product magnitude is ``2^(wb-1) * 2^(ab-1)``; ``max_k`` of them need
        ``ceil(log2(max_k + 1))`` more bits on top of the ``wb + ab - 1`` a single one needs.
        """
        return self.weight_bits + self.act_bits_high - 1 + self.max_k.bit_length()

    @property
    def pes(self) -> int:
        return self.rows * self.cols

    @property
    def supports_ws(self) -> bool:
        return self.dataflow in ("ws", "both")

    @property
    def supports_os(self) -> bool:
        return self.dataflow in ("os", "both")


@dataclass(frozen=True)
class PSSAConfig:
    """Patch-similarity sparsity augmentation unit (paper.md, section PSSA).

    Scores are ``score_bits`` wide (two's complement when ``signed_scores``), ``lanes`` per
    stream beat; a tile has at most ``max_rows`` query rows of at most ``max_keys`` keys.
    Consecutive groups of ``patch_h * patch_w`` rows form one patch (docs/formats/pssa.md).
    """

    score_bits: int = 8
    signed_scores: bool = False
    patch_h: int = 4
    patch_w: int = 4
    lanes: int = 8
    max_keys: int = 256
    max_rows: int = 4096

    def _check(self, c: _Checker):
        c.range(self, "score_bits", 2, 16)
        c.boolean(self, "signed_scores")
        c.range(self, "patch_h", 1, 64)
        c.range(self, "patch_w", 1, 64)
        lanes_ok = c.range(self, "lanes", 1, 64)
        keys_ok = c.range(self, "max_keys", 1, 65536)
        c.range(self, "max_rows", 1, 65536)
        if lanes_ok and keys_ok:
            c.require(self.max_keys >= self.lanes,
                      f"pssa.max_keys={self.max_keys} must be at least pssa.lanes={self.lanes}")

    @property
    def patch_rows(self) -> int:
        return self.patch_h * self.patch_w

    @property
    def max_beats_per_row(self) -> int:
        return -(-self.max_keys // self.lanes)

    @property
    def max_chunk_bits(self) -> int:
        """Longest coded beat: flag bit, ``lanes`` XOR bits, ``lanes`` kept values."""
        return 1 + self.lanes + self.lanes * self.score_bits

    @property
    def max_tile_bits(self) -> int:
        return self.max_rows * self.max_beats_per_row * self.max_chunk_bits


@dataclass(frozen=True)
class TIPSConfig:
    """Text-based important-pixel selector (paper.md, section TIPS; docs/tips.md).

    ``lanes`` probabilities arrive per beat; ``max_pixels`` bounds the query pixels of one tile
    (the importance and bitmap buffers' depth). In ratio mode the run-time ratio is the
    fraction ``ratio / 2^ratio_bits`` (``ratio_bits`` fractional bits, 0 to 1 inclusive), and
    the cut search settles ``search_bits`` bits of the cut value per pass over the importances
    (``2^search_bits - 1`` comparators and counters).
    """

    heads: int = 8
    tokens: int = 77
    prob_bits: int = 8
    max_pixels: int = 256
    lanes: int = 8
    ratio_bits: int = 16
    search_bits: int = 2

    def _check(self, c: _Checker):
        c.range(self, "heads", 1, 64)
        c.range(self, "tokens", 1, 512)
        c.range(self, "prob_bits", 2, 16)
        c.range(self, "max_pixels", 1, 65536)
        c.range(self, "lanes", 1, 64)
        c.range(self, "ratio_bits", 1, 24)
        c.range(self, "search_bits", 1, 4)

    @property
    def importance_bits(self) -> int:
        """Unsigned width of ``r_i``: heads * tokens values of at most ``2^prob_bits - 1``."""
        return ((2 ** self.prob_bits - 1) * self.heads * self.tokens).bit_length()

    @property
    def values_per_pixel(self) -> int:
        """Probabilities of one query pixel: every head's every token."""
        return self.heads * self.tokens

    @property
    def beats_per_pixel(self) -> int:
        """Input beats per pixel; the last one is zero-padded when ``lanes`` does not divide
        ``heads * tokens``."""
        return -(-self.values_per_pixel // self.lanes)

    @property
    def bitmap_words(self) -> int:
        """``lanes``-bit words of the precision-bitmap buffer."""
        return -(-self.max_pixels // self.lanes)

    @property
    def ratio_one(self) -> int:
        """The ratio code of rho = 1 (every pixel high precision)."""
        return 1 << self.ratio_bits

    @property
    def search_passes(self) -> int:
        """Passes of the ratio-mode cut search: ``search_bits`` importance bits each."""
        return -(-self.importance_bits // self.search_bits)


@dataclass(frozen=True)
class EMAConfig:
    """External-memory-access controller, an AXI4 master (paper.md, section EMA controller).

    ``max_burst`` beats per INCR burst (further limited by the 4 KB boundary), ``outstanding``
    bursts in flight per direction. A descriptor moves up to ``2^rows_bits - 1`` rows of up to
    ``2^row_bytes_bits - 1`` bytes; the traffic counters are ``counter_bits`` wide and wrap.
    ``sas_codec`` builds the PSSA encoder and decoder into the SAS class's path.
    """

    data_width: int = 64
    addr_width: int = 32
    id_width: int = 4
    max_burst: int = 16
    outstanding: int = 4
    rows_bits: int = 16
    row_bytes_bits: int = 16
    counter_bits: int = 32
    sas_codec: bool = True

    def _check(self, c: _Checker):
        c.choice(self, "data_width", (32, 64, 128))
        c.choice(self, "addr_width", (32, 64))
        c.range(self, "id_width", 1, 8)
        c.range(self, "max_burst", 1, 256)
        c.range(self, "outstanding", 1, 16)
        c.range(self, "rows_bits", 1, 32)
        c.range(self, "row_bytes_bits", 1, 32)
        c.range(self, "counter_bits", 8, 64)
        c.boolean(self, "sas_codec")

    @property
    def data_bytes(self) -> int:
        return self.data_width // 8

    @property
    def beat_shift(self) -> int:
        """log2 of the bytes per data beat (the AXI ``AxSIZE``)."""
        return (self.data_width // 8).bit_length() - 1

    @property
    def max_rows(self) -> int:
        return 2 ** self.rows_bits - 1

    @property
    def max_row_bytes(self) -> int:
        return 2 ** self.row_bytes_bits - 1


@dataclass(frozen=True)
class TopConfig:
    """Integration-level parameters: clock target, on-chip buffer sizes (in bytes) and the
    depth of the command queue (docs/top.md).

    Buffers hold ``ema.data_width``-bit words; the ISA addresses them with 18-bit word
    addresses, so a buffer holds at most 1 MiB.
    """

    clock_mhz: float = 100.0
    weight_buffer_bytes: int = 4096
    act_buffer_bytes: int = 16384
    out_buffer_bytes: int = 4096
    sas_buffer_bytes: int = 4096
    bitmap_buffer_bytes: int = 256
    command_queue_depth: int = 16

    #: Names of the sized buffers, in buffer-id order (docs/isa.md).
    BUFFERS = ("weight", "act", "out", "bitmap", "sas")

    def _check(self, c: _Checker):
        value = self.clock_mhz
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 1 <= value <= 2000:
            c.errors.append(f"top.clock_mhz={value!r} must be a number in [1, 2000]")
        for name in ("weight_buffer_bytes", "act_buffer_bytes", "out_buffer_bytes",
                     "sas_buffer_bytes", "bitmap_buffer_bytes"):
            if c.range(self, name, 64, 1 << 20):
                size = getattr(self, name)
                c.require(size & (size - 1) == 0, f"top.{name}={size} must be a power of two")
        c.range(self, "command_queue_depth", 2, 1024)

    def buffer_bytes(self, name: str) -> int:
        """Size in bytes of buffer ``name`` (one of :attr:`BUFFERS`)."""
        return getattr(self, f"{name}_buffer_bytes")


_SECTIONS = {"dbsc": DBSCConfig, "pssa": PSSAConfig, "tips": TIPSConfig, "ema": EMAConfig,
             "top": TopConfig}


@dataclass(frozen=True)
class ProcessorConfig:
    """Every parameter of one sdproc build.

    Parameters
    ----------
    dbsc, pssa, tips, ema, top
        The per-block sub-configs. Construct with keyword arguments, :meth:`from_dict`,
        :meth:`from_toml` or :func:`load_config`; construction validates.

    Raises
    ------
    ValueError
        Naming every invalid field, its value and the allowed range.
    """

    name: str = "custom"
    dbsc: DBSCConfig = field(default_factory=DBSCConfig)
    pssa: PSSAConfig = field(default_factory=PSSAConfig)
    tips: TIPSConfig = field(default_factory=TIPSConfig)
    ema: EMAConfig = field(default_factory=EMAConfig)
    top: TopConfig = field(default_factory=TopConfig)

    def __post_init__(self):
        errors = []
        for section in _SECTIONS:
            checker = _Checker(section)
            getattr(self, section)._check(checker)
            errors += checker.errors
        if errors:
            raise ValueError("invalid sdproc configuration:\n  " + "\n  ".join(errors))

    # Serialisation ---------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ProcessorConfig":
        """Build from a nested dict; unknown sections and fields are errors, like bad values."""
        errors = []
        kwargs = {}
        for key, value in data.items():
            if key == "name":
                kwargs["name"] = str(value)
            elif key not in _SECTIONS:
                errors.append(f"{key}: unknown section (allowed: {', '.join(_SECTIONS)})")
            elif not isinstance(value, dict):
                errors.append(f"{key}: must be a table of fields")
            else:
                known = {f.name for f in fields(_SECTIONS[key])}
                for name in value:
                    if name not in known:
                        errors.append(f"{key}.{name}: unknown field "
                                      f"(allowed: {', '.join(sorted(known))})")
                kwargs[key] = {k: v for k, v in value.items() if k in known}
        sections = {key: _SECTIONS[key](**value) for key, value in kwargs.items() if key != "name"}
        try:
            config = cls(name=kwargs.get("name", "custom"), **sections)
        except ValueError as e:
            errors += str(e).split("\n  ")[1:]
        if errors:
            raise ValueError("invalid sdproc configuration:\n  " + "\n  ".join(errors))
        return config

    @classmethod
    def from_toml(cls, path: str | Path) -> "ProcessorConfig":
        path = Path(path)
        with path.open("rb") as f:
            data = tomllib.load(f)
        data.setdefault("name", path.stem)
        return cls.from_dict(data)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "ProcessorConfig":
        return cls.from_dict(json.loads(text))

    def replace(self, **overrides: Any) -> "ProcessorConfig":
        """A copy with dotted-key overrides, e.g. ``cfg.replace(**{"dbsc.rows": 8})``."""
        data = self.to_dict()
        for key, value in overrides.items():
            _set_dotted(data, key, value)
        return ProcessorConfig.from_dict(data)

    @property
    def hash(self) -> str:
        """Short, stable digest of the parameters (the name is not part of it)."""
        data = self.to_dict()
        del data["name"]
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:8]

    @property
    def build_name(self) -> str:
        return f"{self.name}-{self.hash}"

    # Derived, whole-processor figures --------------------------------------------------------

    @property
    def peak_ops_per_cycle_low(self) -> int:
        """Operations (2 per MAC) per cycle with every token at low precision."""
        return 2 * self.dbsc.pes // self.dbsc.slices_low

    @property
    def peak_ops_per_cycle_high(self) -> float:
        return 2 * self.dbsc.pes / self.dbsc.slices_high

    @property
    def peak_tops_low(self) -> float:
        return self.peak_ops_per_cycle_low * self.top.clock_mhz * 1e6 / 1e12

    def flat(self) -> dict[str, Any]:
        """Every field and derived value as ``section.field`` keys (for params.h and CSV rows)."""
        out = {}
        for section, cls in _SECTIONS.items():
            sub = getattr(self, section)
            for f in fields(cls):
                out[f"{section}.{f.name}"] = getattr(sub, f.name)
            for name, attr in vars(cls).items():
                if isinstance(attr, property):
                    out[f"{section}.{name}"] = getattr(sub, name)
        return out


def _set_dotted(data: dict, key: str, value: Any):
    section, _, name = key.partition(".")
    if not name:
        if key == "name":
            data["name"] = value
            return
        raise ValueError(f"invalid sdproc configuration:\n  {key}: expected section.field")
    data.setdefault(section, {})[name] = value


def parse_override(text: str) -> tuple[str, Any]:
    """Parse ``key=value`` from the command line; the value is read as a TOML value where it
    can be (``8``, ``true``, ``"ws"``) and as a bare string otherwise (``ws``)."""
    key, sep, raw = text.partition("=")
    if not sep or not key:
        raise ValueError(f"invalid sdproc configuration:\n  --set {text!r}: expected key=value")
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    return key.strip(), value


def preset_path(name: str) -> Path:
    path = CONFIG_DIR / f"{name}.toml"
    if not path.exists():
        known = ", ".join(sorted(p.stem for p in CONFIG_DIR.glob("*.toml")))
        raise ValueError(f"invalid sdproc configuration:\n  preset {name!r} does not exist "
                         f"(allowed: {known})")
    return path


def load_config(config: str | Path | None = None, preset: str | None = None,
                overrides: list[str] | tuple[str, ...] = ()) -> ProcessorConfig:
    """The config a command line names: a TOML file or a preset (``default`` when neither),
    then ``--set key=value`` overrides. All errors come as one ``ValueError``."""
    if config is not None and preset is not None:
        raise ValueError("invalid sdproc configuration:\n  give --config or --preset, not both")
    path = Path(config) if config is not None else preset_path(preset or "default")
    with path.open("rb") as f:
        data = tomllib.load(f)
    data.setdefault("name", path.stem)
    errors = []
    for text in overrides:
        try:
            key, value = parse_override(text)
            _set_dotted(data, key, value)
        except ValueError as e:
            errors.append(str(e).split("\n  ", 1)[1])
    if errors:
        raise ValueError("invalid sdproc configuration:\n  " + "\n  ".join(errors))
    return ProcessorConfig.from_dict(data)


def clog2(n: int) -> int:
    """Bits needed to index ``n`` items (at least 1)."""
    return max(1, math.ceil(math.log2(n))) if n > 1 else 1
