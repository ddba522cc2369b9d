"""External-memory traffic of every U-Net layer, per class (weights, activations, SAS).

The classes are those the EMA controller counts (paper.md, EMA controller). The self-attention
score matrix (SAS) is stored as ``score_bits``-wide entries without PSSA, or at the measured
compressed size (bits per entry) with PSSA. See :data:`ASSUMPTIONS` for what the model takes as
given; every one of them is printed in the reproduce report.
"""

from __future__ import annotations

from dataclasses import dataclass

from sw.config import ProcessorConfig

from .unet import Layer

__all__ = ["ASSUMPTIONS", "CLASSES", "Traffic", "layer_traffic", "sum_traffic"]

CLASSES = ("weights", "activations", "sas")

ASSUMPTIONS = {
    "E1": "Weights (dbsc.weight_bits each) are read from DRAM once per U-Net pass: the 859 M "
          "parameters do not fit on chip and each is used by one layer only.",
    "E2": "Activations are dbsc.act_bits_high wide. A layer whose activation input and output "
          "together fit in top.act_buffer_bytes + top.out_buffer_bytes keeps them on chip; any "
          "other layer reads its input from DRAM once and writes its output once (ideal "
          "tiling, no re-fetch, no fusion across layers).",
    "E3": "As in the paper, the self-attention score matrix goes off chip unless one head's "
          "matrix fits in top.sas_buffer_bytes: QK^T + softmax write it once, AV reads it once.",
    "E4": "Cross-attention (77 keys) is fused per row tile: its probabilities stay on chip, "
          "where TIPS also reads them.",
    "E5": "PSSA's compressed size per SAS entry is the same at every resolution (measured on "
          "one latent size).",
}


@dataclass(frozen=True)
class Traffic:
    """Bytes moved between DRAM and the chip, per class."""

    weights: float = 0.0
    activations: float = 0.0
    sas: float = 0.0

    @property
    def total(self) -> float:
        return self.weights + self.activations + self.sas

    def __add__(self, other: "Traffic") -> "Traffic":
        return Traffic(self.weights + other.weights, self.activations + other.activations,
                       self.sas + other.sas)

    def to_dict(self) -> dict:
        return {"weights": self.weights, "activations": self.activations, "sas": self.sas,
                "total": self.total}


def layer_traffic(config: ProcessorConfig, layer: Layer,
                  sas_bits_per_entry: float | None = None) -> Traffic:
    """DRAM bytes of ``layer``; ``sas_bits_per_entry=None`` means uncompressed SAS."""
    if not layer.is_gemm:
        return Traffic()
    act_bytes = config.dbsc.act_bits_high / 8
    weights = layer.weight_elems * config.dbsc.weight_bits / 8
    sas_entry_bits = config.pssa.score_bits if sas_bits_per_entry is None else sas_bits_per_entry
    head_sas_bytes = layer.m * layer.n * config.pssa.score_bits / 8
    sas_on_chip = head_sas_bytes <= config.top.sas_buffer_bytes
    sas = 0.0
    in_elems, out_elems = layer.in_elems, layer.out_elems
    if layer.kind == "qk":
        out_elems = 0
        if "self" in layer.tags and not sas_on_chip:
            sas = layer.sas_entries * sas_entry_bits / 8
    elif layer.kind == "av":
        score_elems = layer.batch * layer.m * layer.k
        in_elems -= score_elems
        if "self" in layer.tags and not sas_on_chip:
            sas = score_elems * sas_entry_bits / 8
    activations = (in_elems + out_elems) * act_bytes
    if activations <= config.top.act_buffer_bytes + config.top.out_buffer_bytes:
        activations = 0.0
    return Traffic(weights=weights, activations=activations, sas=sas)


def sum_traffic(traffics) -> Traffic:
    total = Traffic()
    for traffic in traffics:
        total = total + traffic
    return total
