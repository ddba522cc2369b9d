"""Cycles of every U-Net layer on the DBSC array of a :class:`~sw.config.ProcessorConfig`.

The array has ``rows x cols`` PEs; each PE does one slice MAC (``slice_bits`` of activation
times a full weight) per cycle, so a MAC at high precision takes ``slices_high`` cycles and at
low precision ``slices_low`` (paper.md, DBSC). A layer is a GEMM ``[M, K] x [K, N]`` (``batch``
times) run in one of the two dataflows paper.md assigns:

- weight-stationary (WS; convolutions and projections): a ``rows x cols`` tile of the weight
  matrix (``rows`` of K by ``cols`` of N) is held while the ``M`` activation rows stream
  through, each taking its own number of slices:
  ``tiles = ceil(K / rows) * ceil(N / cols)``, ``cycles/tile = sum over rows of slices``;
- output-stationary (OS; QK^T, AV, FFN): a ``rows x cols`` tile of the output (``rows`` tokens
  by ``cols`` outputs) accumulates while K streams:
  ``tiles = ceil(M / rows) * ceil(N / cols)``, ``cycles/tile = K * slices``, the tokens
  ordered by precision (high first) so that only the boundary tile mixes them.

Pipeline fill and drain (``rows + cols`` cycles) are paid once per layer: the model assumes
stationary operands are double-buffered so tiles follow back to back (assumption P1 in
:data:`ASSUMPTIONS`). :func:`gemm_cycles` is this idealised formula; the model uses the DBSC
RTL's own timing model instead whenever ``hw.dbsc`` is in the checkout (:func:`dbsc_formula`),
and the report sets it next to the RTL utilization ``sdproc bench --only dbsc`` measures.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from sw.config import ProcessorConfig

from .unet import Layer

__all__ = ["ASSUMPTIONS", "DATAFLOW", "LayerPerf", "dataflow_of", "gemm_cycles", "layer_perf",
           "dbsc_formula", "peak_ops_per_cycle"]

ASSUMPTIONS = {
    "P1": "Stationary operands are double-buffered: consecutive tiles of a layer follow back to "
          "back, so pipeline fill and drain (rows + cols cycles) are paid once per layer.",
    "P2": "Layers run one after another on the DBSC array; the EMA controller's transfers "
          "overlap compute, so a layer takes the longer of its compute cycles and its DRAM "
          "bytes / (ema.data_width / 8 per cycle x the EMA's bus utilization), the EMA running "
          "at top.clock_mhz; non-GEMM operations (norms, softmax, SiLU, GEGLU gate) run on "
          "side units in parallel.",
    "P3": "Only the FFN uses low precision (TIPS); every other layer runs at high precision.",
    "P4": "The tokens of a layer are reordered by precision (high first), so only the OS "
          "group on the boundary mixes them (and runs at high precision).",
    "P5": "With the RTL's timing model: an OS group shorter than the previous group's "
          "readout (k * slices < rows + cols + 4) waits for it; a reduction longer than "
          "dbsc.max_k is split into commands whose partial sums are added outside the array.",
}

#: Dataflow of each layer kind (paper.md: WS for convolution-as-GEMM and projections, OS for
#: QK^T, AV and FFN).
DATAFLOW = {"conv": "ws", "linear": "ws", "qk": "os", "av": "os", "ffn": "os"}


@dataclass(frozen=True)
class LayerPerf:
    """Cycles and slice-MAC count of one layer."""

    layer: Layer
    dataflow: str
    cycles: int
    slice_macs: int
    low_share: float
    pes: int

    @property
    def utilization(self) -> float:
        """Busy PE-cycles over available PE-cycles."""
        return 0.0 if self.cycles == 0 else self.slice_macs / (self.cycles * self.pes)


def dataflow_of(config: ProcessorConfig, kind: str) -> str:
    """The dataflow a layer kind uses on this build (a build with one mode uses it for all)."""
    preferred = DATAFLOW[kind]
    if config.dbsc.dataflow == "both":
        return preferred
    return config.dbsc.dataflow


def dbsc_formula():
    """The DBSC RTL's own timing model, if the block is in the checkout.

    Returns ``(function, name)`` where ``function`` has the signature of :func:`gemm_cycles`,
    or ``None``. It splits a GEMM into the array's commands (``cols`` outputs each, at most
    ``max_m`` tokens and ``max_k`` reduction steps, tokens ordered high precision first: P4)
    and sums ``DBSCArray.ideal_cycles`` over them. ``ideal_cycles`` is exact for OS only while
    a group's ``k * slices`` covers the readout of the previous group (``rows + cols + 4``
    cycles, hw/dbsc/array.py); shorter groups wait, and that wait is added here (assumption
    P5). Partial sums of a reduction longer than ``max_k`` are added outside the array.
    """
    try:
        from hw.dbsc import DBSCTiming, Mode
    except ImportError:
        return None
    arrays = {}

    def rtl_gemm_cycles(config, mode, m, k, n, high_rows, low_rows):
        d = config.dbsc
        if high_rows + low_rows != m:
            raise ValueError(f"high_rows={high_rows} + low_rows={low_rows} must equal m={m}")
        array = arrays.get(d)
        if array is None:
            array = arrays[d] = DBSCTiming(d)
        tokens = [d.slices_high] * high_rows + [d.slices_low] * low_rows
        k_parts = math.ceil(k / d.max_k)
        k_sizes = [k // k_parts + (1 if i < k % k_parts else 0) for i in range(k_parts)]
        readout = d.rows + d.cols + 4
        total = 0
        for start in range(0, m, d.max_m):
            chunk = tokens[start:start + d.max_m]
            for kk in k_sizes:
                if mode == "ws":
                    total += array.ideal_cycles(Mode.WS, kk, chunk)
                    continue
                total += array.ideal_cycles(Mode.OS, kk, chunk)
                groups = [max(chunk[g:g + d.rows]) for g in range(0, len(chunk), d.rows)]
                total += sum(max(0, readout - kk * g) for g in groups[1:])
        return total * math.ceil(n / d.cols)

    return rtl_gemm_cycles, "hw.dbsc.DBSCArray.ideal_cycles"


def gemm_cycles(config: ProcessorConfig, mode: str, m: int, k: int, n: int,
                high_rows: int, low_rows: int) -> int:
    """Cycles of one ``[M, K] x [K, N]`` GEMM with ``high_rows + low_rows == m`` tokens."""
    if high_rows + low_rows != m:
        raise ValueError(f"high_rows={high_rows} + low_rows={low_rows} must equal m={m}")
    d = config.dbsc
    r, c = d.rows, d.cols
    if mode == "ws":
        tiles = math.ceil(k / r) * math.ceil(n / c)
        per_tile = high_rows * d.slices_high + low_rows * d.slices_low
    elif mode == "os":
        # Tokens ordered high first (P4): the group on the boundary runs at high precision.
        high_groups = math.ceil(high_rows / r)
        low_groups = math.ceil(m / r) - high_groups
        per_column_tile = k * (high_groups * d.slices_high + low_groups * d.slices_low)
        return math.ceil(n / c) * per_column_tile + r + c
    else:
        raise ValueError(f"mode={mode!r} must be 'ws' or 'os'")
    return tiles * per_tile + r + c


def layer_perf(config: ProcessorConfig, layer: Layer, ffn_low_share: float,
               formula=None) -> LayerPerf:
    """Cycles of ``layer``; FFN tokens are low precision in the proportion ``ffn_low_share``."""
    if not layer.is_gemm:
        return LayerPerf(layer, "-", 0, 0, 0.0, config.dbsc.pes)
    mode = dataflow_of(config, layer.kind)
    share = ffn_low_share if layer.kind == "ffn" else 0.0
    low = round(layer.m * share)
    high = layer.m - low
    cycles_of = formula or gemm_cycles
    cycles = layer.batch * int(cycles_of(config, mode, layer.m, layer.k, layer.n, high, low))
    d = config.dbsc
    slice_macs = layer.batch * layer.k * layer.n * (high * d.slices_high + low * d.slices_low)
    return LayerPerf(layer, mode, cycles, slice_macs, low / layer.m if layer.m else 0.0, d.pes)


def peak_ops_per_cycle(config: ProcessorConfig, precision: str = "low") -> float:
    """Operations (2 per MAC) per cycle with every PE busy at the given precision."""
    slices = config.dbsc.slices_low if precision == "low" else config.dbsc.slices_high
    return 2 * config.dbsc.pes / slices
