"""The whole model for one :class:`~sw.config.ProcessorConfig`: inputs from their best
available source, then per-layer cycles, traffic and energy, then the paper's metrics."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from sw.config import ProcessorConfig

from . import ema, energy, measure, perf
from .sources import Figure, Sources
from .unet import Layer, UNetSpec, totals, unet_layers

__all__ = ["ASSUMPTIONS", "PAPER", "FALLBACK_KEEP", "FALLBACK_XOR", "ModelInputs", "ModelResult",
           "fallback_sas_bits", "model_inputs", "evaluate"]

#: The paper's headline figures (paper.md, "What the paper states").
PAPER = {
    "peak_tops": 3.84,
    "power_mw": 225.6,
    "mj_per_iter": 28.6,
    "sas_ema_reduction_pct": 60.3,
    "total_ema_reduction_pct": 37.8,
    "ffn_low_precision_share_pct": 44.8,
    "ffn_efficiency_gain_pct": 43.0,
}

ASSUMPTIONS = {
    "W1": "One iteration is one U-Net pass at batch 1 (no classifier-free-guidance second "
          "pass); the text encoder and VAE are not part of it.",
    "W2": "The FFN energy-efficiency baseline is the same bit-slice array with every FFN token "
          "at high precision in the weight-stationary dataflow; DBSC runs the FFN "
          "output-stationary with the TIPS share at low precision. Only on-chip energy (MACs "
          "and buffers) is compared: the FFN's DRAM traffic is the same in both.",
    "A1": "Fallback when no PSSA source exists: pruning keeps 10 % of the SAS entries and "
          "neighbouring rows' bitmaps differ in 20 % of the kept positions; a differing "
          "position costs ceil(log2(keys)) bits and a kept value score_bits.",
    "A2": "Fallback when no TIPS source exists: the FFN low-precision share is the paper's "
          "44.8 % (not an independent figure).",
    "A3": "Fallback when no EMA benchmark exists: the AXI data bus carries data every cycle.",
}

#: Fallback PSSA model parameters (assumption A1).
FALLBACK_KEEP = 0.10
FALLBACK_XOR = 0.20


@dataclass(frozen=True)
class ModelInputs:
    """Figures the model takes from elsewhere, each with its provenance."""

    sas_bits_per_entry: Figure
    ffn_low_share: Figure
    ema_utilization: Figure
    cycle_formula: str
    details: dict = field(default_factory=dict)


@dataclass
class ModelResult:
    """Everything :func:`evaluate` computed: per-layer lists in layer order, the paper's
    metrics (``metrics``, keyed like :data:`PAPER`), further figures (``extra``) and which
    benchmark and synthesis outputs were found (``found``)."""

    config: ProcessorConfig
    spec: UNetSpec
    layers: list[Layer]
    inputs: ModelInputs
    perf: list
    traffic_base: list
    traffic_pssa: list
    energy: list
    table: energy.EnergyTable
    metrics: dict[str, Figure]
    extra: dict
    found: dict

    @property
    def totals(self) -> dict:
        return totals(self.layers)


def fallback_sas_bits(config: ProcessorConfig, keys: int = 4096,
                      keep: float = FALLBACK_KEEP, xor: float = FALLBACK_XOR) -> float:
    """Bits per SAS entry under assumption A1 (more pruning -> fewer bits)."""
    index_bits = max(1, (keys - 1).bit_length())
    return keep * xor * index_bits + keep * config.pssa.score_bits


def model_inputs(config: ProcessorConfig, sources: Sources, measure_size: int = 64,
                 run_golden: bool = True) -> ModelInputs:
    """Each input from its best source: RTL benchmark, golden model, assumption."""
    details = {}
    # The PSSA benchmark's reduction is its owner's threshold policy on the same proxy data,
    # coded tile by tile as the hardware does.
    found = sources.bench_value("pssa", "sas_ema_reduction")
    golden, reason = (measure.pssa_compression(config, measure_size) if run_golden and not found
                      else (None, "golden models not run"))
    if found:
        sas = Figure(config.pssa.score_bits * (1 - found[0]), "modeled", found[1],
                     "PSSA golden codec, chain policy, threshold chosen by the PSSA benchmark "
                     f"(benchmark on config {sources.bench_config_hash('pssa')})")
    elif golden:
        details["pssa"] = golden
        sas = Figure(golden["bits_per_entry"], "modeled", "sw.golden.pssa.encoded_bits",
                     f"golden codec on one {golden['size']}x{golden['size']} structured head, "
                     f"threshold {golden['threshold']} (M1), keeps "
                     f"{golden['kept_fraction']:.1%} of entries, relative squared A V error "
                     f"{golden['relative_error']:.2%}")
    else:
        sas = Figure(fallback_sas_bits(config), "modeled", "assumption A1",
                     f"no PSSA source ({reason})")

    # The TIPS benchmark's threshold-mode share is its owner's policy on the proxy data,
    # weighted by FFN work over the four resolutions (its ratio-mode share is the paper's
    # 44.8 % by construction, so it is not used).
    found = sources.bench_value("tips", "low_precision_share_threshold")
    golden, reason = (measure.tips_low_share(config, measure_size) if run_golden and not found
                      else (None, "golden models not run"))
    if found:
        share = Figure(found[0], "modeled", found[1],
                       "TIPS golden selector, threshold mode, FFN-work-weighted over the four "
                       f"resolutions (TIPS benchmark on config "
                       f"{sources.bench_config_hash('tips')})")
    elif golden:
        details["tips"] = golden
        share = Figure(golden["low_share"], "modeled", "sw.golden.tips.select_threshold",
                       f"golden selector on {golden['size']}x{golden['size']} structured "
                       f"cross-attention, tau = mean importance = {golden['tau']} (M2)")
    else:
        share = Figure(PAPER["ffn_low_precision_share_pct"] / 100, "modeled", "assumption A2",
                       f"no TIPS source ({reason})")

    found = sources.bench_value("ema", "read_utilization")
    if found:
        bus = Figure(found[0], "measured", found[1], "EMA RTL read-burst bus utilization, ideal "
                     f"AXI memory (benchmark on config {sources.bench_config_hash('ema')})")
    else:
        bus = Figure(1.0, "modeled", "assumption A3", "no build/bench/ema.json yet")

    formula = perf.dbsc_formula()
    return ModelInputs(sas_bits_per_entry=sas, ffn_low_share=share, ema_utilization=bus,
                       cycle_formula=formula[1] if formula else "sw.model.perf.gemm_cycles",
                       details=details)


def _ffn_onchip_energy(config, table, layers, mode, low_share) -> float:
    """MAC and buffer energy (pJ) of every FFN layer run in ``mode`` with ``low_share`` of its
    tokens at low precision (energy does not depend on cycles, N4)."""
    d = config.dbsc
    total = 0.0
    for layer in layers:
        if layer.kind == "ffn":
            low = round(layer.m * low_share)
            slice_macs = layer.k * layer.n * ((layer.m - low) * d.slices_high
                                              + low * d.slices_low)
            run = perf.LayerPerf(layer, mode, 0, slice_macs, low_share, d.pes)
            e = energy.layer_energy(config, table, run, 0.0)
            total += e.mac + e.sram
    return total


def _utilization_by_kind(perfs, pes) -> dict:
    busy, cycles = {}, {}
    for p in perfs:
        if p.layer.is_gemm:
            busy[p.layer.kind] = busy.get(p.layer.kind, 0) + p.slice_macs
            cycles[p.layer.kind] = cycles.get(p.layer.kind, 0) + p.cycles
    return {kind: round(busy[kind] / (cycles[kind] * pes), 4) for kind in busy}


def evaluate(config: ProcessorConfig, sources: Sources | None = None,
             spec: UNetSpec | None = None, measure_size: int = 64,
             run_golden: bool = True) -> ModelResult:
    """Run the model on ``config`` with the inputs ``sources`` provides (default: ``build/``);
    ``run_golden=False`` skips the golden-model measurements (their fallbacks apply)."""
    sources = sources if sources is not None else Sources()
    spec = spec or UNetSpec()
    layers = unet_layers(spec)
    inputs = model_inputs(config, sources, measure_size, run_golden)
    formula = perf.dbsc_formula()
    share = inputs.ffn_low_share.value
    perfs = [perf.layer_perf(config, l, share, formula[0] if formula else None)
             for l in layers]
    base = [ema.layer_traffic(config, l) for l in layers]
    with_pssa = [ema.layer_traffic(config, l, inputs.sas_bits_per_entry.value)
                 for l in layers]
    table = energy.energy_table(config)
    energies = [energy.layer_energy(config, table, p, t.total)
                for p, t in zip(perfs, with_pssa)]

    clock_hz = config.top.clock_mhz * 1e6
    bus = inputs.ema_utilization.value * config.ema.data_bytes
    ema_cycles = [math.ceil(t.total / bus) for t in with_pssa]
    cycles = sum(max(p.cycles, e) for p, e in zip(perfs, ema_cycles))
    compute_cycles = sum(p.cycles for p in perfs)
    seconds = cycles / clock_hz
    joules = sum(e.total for e in energies) * 1e-12
    macs = totals(layers)["macs"]
    base_total = ema.sum_traffic(base)
    pssa_total = ema.sum_traffic(with_pssa)
    dram_pj_base = base_total.total * 8 * table.dram_bit
    dram_pj_pssa = pssa_total.total * 8 * table.dram_bit

    sas_kind = inputs.sas_bits_per_entry.kind
    rtl_checks = {}
    for key in ("utilization_ws", "utilization_os", "low_to_high_cycle_ratio",
                "mixed_cycle_ratio_44_8"):
        found = sources.bench_value("dbsc", key)
        if found:
            rtl_checks[key] = {"value": found[0], "kind": "measured", "source": found[1]}
    for mode in ("ws", "os"):
        rtl = sources.bench_value("dbsc", f"cycles_{mode}_low_share_0.0")
        model = sources.bench_value("dbsc", f"ideal_cycles_{mode}")
        if rtl and model:
            rtl_checks[f"rtl_over_timing_model_{mode}"] = {
                "value": rtl[0] / model[0], "kind": "measured",
                "source": f"{rtl[1]} / {model[1].rsplit(': ', 1)[-1]}"}
    found = sources.bench_value("top", "array_utilization")
    if found:
        rtl_checks["top_array_utilization"] = {
            "value": found[0], "kind": "measured", "source": found[1],
            "tile": sources.bench_entry("top", "tile")}
    dense = sources.bench_value("ema", "sas_bytes_dense")
    compressed = sources.bench_value("ema", "sas_bytes_compressed")
    if dense and compressed:
        rtl_checks["ema_sas_reduction_rtl"] = {
            "value": 1 - compressed[0] / dense[0], "kind": "measured",
            "source": f"{compressed[1]} / {dense[1].rsplit(': ', 1)[-1]}",
            "tile": sources.bench_entry("ema", "sas_tile"),
            "round_trip_exact": sources.bench_entry("ema", "sas_round_trip_exact")}
    utilization = ", ".join(f"{k} {v['value']:.3f}" for k, v in rtl_checks.items()
                            if k.startswith("utilization"))
    peak_fig = Figure(perf.peak_ops_per_cycle(config, "low") * clock_hz / 1e12, "modeled",
                      "sw.model.perf.peak_ops_per_cycle",
                      f"2 x {config.dbsc.rows} x {config.dbsc.cols} PEs / "
                      f"{config.dbsc.slices_low} slice x {config.top.clock_mhz:g} MHz, every "
                      f"token at low precision; one slice per PE per cycle, which the DBSC RTL "
                      + (f"sustains in simulation ({utilization} on a full tile)" if utilization
                         else "benchmark will measure (no build/bench/dbsc.json yet)"))
    ffn_base = _ffn_onchip_energy(config, table, layers, "ws", 0.0)
    ffn_mode = perf.dataflow_of(config, "ffn")
    ffn_dbsc = _ffn_onchip_energy(config, table, layers, ffn_mode, share)
    ffn_os_high = _ffn_onchip_energy(config, table, layers, ffn_mode, 0.0)
    # Same buffers, one bit-parallel MAC per multiply-accumulate instead of slice MACs.
    ffn_macs = sum(l.macs for l in layers if l.kind == "ffn")
    ffn_bit_parallel = (ffn_os_high - ffn_macs * config.dbsc.slices_high * table.slice_mac
                        + ffn_macs * table.bit_parallel_mac)
    metrics = {
        "peak_tops": peak_fig,
        "power_mw": Figure(joules / seconds * 1e3, "modeled", "sw.model.energy + sw.model.perf",
                           "energy per iteration / time per iteration"),
        "mj_per_iter": Figure(joules * 1e3, "modeled", "sw.model.energy",
                              f"MACs {sum(e.mac for e in energies) * 1e-9:.1f} mJ + buffers "
                              f"{sum(e.sram for e in energies) * 1e-9:.1f} mJ + DRAM "
                              f"{sum(e.dram for e in energies) * 1e-9:.1f} mJ"),
        "sas_ema_reduction_pct": Figure(100 * (1 - pssa_total.sas / base_total.sas)
                                        if base_total.sas else 0.0, sas_kind,
                                        inputs.sas_bits_per_entry.source,
                                        f"{inputs.sas_bits_per_entry.value:.3f} bits per entry "
                                        f"vs {config.pssa.score_bits} uncompressed"),
        "total_ema_reduction_pct": Figure(100 * (1 - dram_pj_pssa / dram_pj_base), sas_kind,
                                          "sw.model.ema", "DRAM energy with vs without PSSA"),
        "ffn_low_precision_share_pct": Figure(100 * share, inputs.ffn_low_share.kind,
                                              inputs.ffn_low_share.source,
                                              inputs.ffn_low_share.note),
        "ffn_efficiency_gain_pct": Figure(100 * (ffn_base / ffn_dbsc - 1), "modeled",
                                          "sw.model.energy (assumption W2)",
                                          "on-chip FFN energy, WS all-high vs OS with TIPS"),
    }
    extra = {
        "synthesized": sources.synth_rows(config.hash),
        "rtl_bench": rtl_checks,
        "model_utilization_by_kind": _utilization_by_kind(perfs, config.dbsc.pes),
        "cycles_per_iter": cycles,
        "compute_cycles_per_iter": compute_cycles,
        "memory_bound_layers": sum(1 for p, e in zip(perfs, ema_cycles) if e > p.cycles),
        "memory_stall_ms": (cycles - compute_cycles) / clock_hz * 1e3,
        "ema_bandwidth_needed_gbs": pssa_total.total / seconds / 1e9,
        "ema_bandwidth_available_gbs": bus * clock_hz / 1e9,
        "ms_per_iter": seconds * 1e3,
        "effective_tops": 2 * macs / seconds / 1e12,
        "utilization": sum(p.slice_macs for p in perfs) / (cycles * config.dbsc.pes),
        "cycle_formula": inputs.cycle_formula,
        "ema_bytes_base": base_total.to_dict(),
        "ema_bytes_pssa": pssa_total.to_dict(),
        "sas_share_of_base_ema_pct": 100 * base_total.sas / base_total.total,
        "energy_mj": {"mac": sum(e.mac for e in energies) * 1e-9,
                      "sram": sum(e.sram for e in energies) * 1e-9,
                      "dram": sum(e.dram for e in energies) * 1e-9},
        "ffn_onchip_mj": {"baseline_ws_high": ffn_base * 1e-9, "dbsc": ffn_dbsc * 1e-9,
                          "os_all_high": ffn_os_high * 1e-9},
        "ffn_gain_from_dataflow_pct": 100 * (ffn_base / ffn_os_high - 1),
        "ffn_gain_from_precision_pct": 100 * (ffn_os_high / ffn_dbsc - 1),
        "ffn_gain_vs_bit_parallel_os_pct": 100 * (ffn_bit_parallel / ffn_dbsc - 1),
        "weights_dram_mj": base_total.weights * 8 * table.dram_bit * 1e-9,
        "min_ms_at_peak": 2 * macs / (peak_fig.value * 1e12) * 1e3,
    }
    return ModelResult(config, spec, layers, inputs, perfs, base, with_pssa, energies, table,
                       metrics, extra, sources.listing())
