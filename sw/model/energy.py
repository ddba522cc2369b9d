"""Energy per operation at a 28 nm-class node, from published tables, and energy per layer.

Sources (quoted in docs/model.md):

- [H14] M. Horowitz, "Computing's energy problem (and what we can do about it)", ISSCC 2014,
  pp. 10-14, doi:10.1109/ISSCC.2014.6757323. 45 nm, 0.9 V: 8-bit add 0.03 pJ, 32-bit add
  0.1 pJ, 8-bit multiply 0.2 pJ, 32-bit multiply 3.1 pJ; 64-bit SRAM read 10 pJ (8 KB),
  20 pJ (32 KB), 100 pJ (1 MB); DRAM 1.3-2.6 nJ per 64 bits.
- [HA] H. Ha, PhD thesis, Stanford University (purl stacks.stanford.edu/file/yp843xn4828),
  LPDDR4 energy from the DramDSE model at 3.2 Gb/s/pin: 14.0 pJ/bit (32 Gb single die),
  13.0 pJ/bit (4 x 8 Gb); tabulated with other published DRAM figures in
  github.com/Dongyunkam/DRAM_info.

Scaling 45 nm -> 28 nm: dynamic energy ``C V^2`` with capacitance proportional to feature size
and the same 0.9 V supply gives a factor ``28 / 45 = 0.622`` for logic and SRAM (assumption
N1). DRAM energy is a property of the DRAM and its interface, not of the processor's node, and
is not scaled.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from sw.config import ProcessorConfig

from .perf import LayerPerf

__all__ = ["ASSUMPTIONS", "HOROWITZ_45NM", "LPDDR4_PJ_PER_BIT", "NODE_SCALE", "EnergyTable",
           "energy_table", "sram_bytes", "LayerEnergy", "layer_energy"]

#: [H14], 45 nm, 0.9 V, in pJ.
HOROWITZ_45NM = {
    "add8": 0.03,
    "add32": 0.1,
    "mul8": 0.2,
    "mul32": 3.1,
    "sram64_8KB": 10.0,
    "sram64_32KB": 20.0,
    "sram64_1MB": 100.0,
    "dram64_low": 1300.0,
    "dram64_high": 2600.0,
}

#: [HA] LPDDR4 32 Gb die at 3.2 Gb/s/pin.
LPDDR4_PJ_PER_BIT = 14.0

#: 45 nm -> 28 nm, capacitance proportional to feature size, same supply (assumption N1).
NODE_SCALE = 28 / 45

ASSUMPTIONS = {
    "N1": "45 nm -> 28 nm: energy scales with capacitance, i.e. with feature size "
          "(x 28/45 = 0.622), at the same 0.9 V supply. DRAM energy is not scaled.",
    "N2": "A slice MAC is a slice_bits x weight_bits multiply plus an acc_bits-wide add. "
          "Multiplier energy is proportional to the partial-product count (8-bit multiply "
          "x slice_bits*weight_bits/64), adder energy to its width (32-bit add x acc_bits/32).",
    "N3": "On-chip buffers are built of 32 KB banks: one 64-bit access costs [H14]'s 32 KB "
          "figure, i.e. 2.5 pJ/byte at 45 nm.",
    "N4": "Operand movement inside the array (register to register), control, clock tree, "
          "leakage and the non-GEMM operations (norms, softmax, SiLU, GEGLU gate) are not "
          "counted: the energy figures are a lower bound of the chip's energy.",
    "N5": "Partial sums that leave the array (WS with K > rows) are acc_bits wide and are "
          "read and written once per extra K tile; final outputs are act_bits_high wide.",
    "N6": "A bit-parallel MAC (the alternative FFN baseline) is an act_bits_high x "
          "weight_bits multiply plus the same acc_bits-wide add, priced as in N2.",
}


@dataclass(frozen=True)
class EnergyTable:
    """Energy per event at the target node, in pJ."""

    slice_mac: float
    sram_byte: float
    dram_bit: float
    bit_parallel_mac: float

    def to_dict(self) -> dict:
        return {"slice_mac_pj": self.slice_mac, "sram_byte_pj": self.sram_byte,
                "dram_bit_pj": self.dram_bit, "bit_parallel_mac_pj": self.bit_parallel_mac}


def energy_table(config: ProcessorConfig) -> EnergyTable:
    d = config.dbsc
    multiply = HOROWITZ_45NM["mul8"] * d.slice_bits * d.weight_bits / 64
    accumulate = HOROWITZ_45NM["add32"] * d.acc_bits / 32
    full_multiply = HOROWITZ_45NM["mul8"] * d.act_bits_high * d.weight_bits / 64
    return EnergyTable(slice_mac=(multiply + accumulate) * NODE_SCALE,
                       sram_byte=HOROWITZ_45NM["sram64_32KB"] / 8 * NODE_SCALE,
                       dram_bit=LPDDR4_PJ_PER_BIT,
                       bit_parallel_mac=(full_multiply + accumulate) * NODE_SCALE)


def sram_bytes(config: ProcessorConfig, perf: LayerPerf) -> float:
    """Buffer bytes read and written by one layer in its dataflow (see module docs)."""
    layer = perf.layer
    if not layer.is_gemm:
        return 0.0
    d = config.dbsc
    m, k, n = layer.m, layer.k, layer.n
    act = d.act_bits_high / 8
    wgt = d.weight_bits / 8
    psum = d.acc_bits / 8
    col_tiles = math.ceil(n / d.cols)
    if perf.dataflow == "ws":
        k_tiles = math.ceil(k / d.rows)
        total = (k * n * wgt + m * k * col_tiles * act + m * n * act
                 + 2 * m * n * (k_tiles - 1) * psum)
    else:
        row_tiles = math.ceil(m / d.rows)
        total = m * k * col_tiles * act + k * n * row_tiles * wgt + m * n * act
    return layer.batch * total


@dataclass(frozen=True)
class LayerEnergy:
    """Energy of one layer in pJ, by component."""

    mac: float
    sram: float
    dram: float

    @property
    def total(self) -> float:
        return self.mac + self.sram + self.dram


def layer_energy(config: ProcessorConfig, table: EnergyTable, perf: LayerPerf,
                 dram_bytes: float) -> LayerEnergy:
    return LayerEnergy(mac=perf.slice_macs * table.slice_mac,
                       sram=sram_bytes(config, perf) * table.sram_byte,
                       dram=dram_bytes * 8 * table.dram_bit)
