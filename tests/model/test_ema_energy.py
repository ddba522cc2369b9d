"""EMA traffic and energy: independent totals and monotonicity."""

import pytest

from sw.config import load_config
from sw.model import ema, energy, measure, perf
from sw.model.evaluate import fallback_sas_bits
from sw.model.unet import totals, unet_layers


@pytest.fixture(scope="module")
def paper():
    return load_config(preset="paper")


@pytest.fixture(scope="module")
def layers():
    return unet_layers()


def test_uncompressed_sas_traffic(paper, layers):
    traffic = ema.sum_traffic(ema.layer_traffic(paper, l) for l in layers)
    # One head's matrix fits the 64 KB SAS buffer at 16 x 16 (65,536 entries) and 8 x 8; the
    # 64 x 64 and 32 x 32 ones go to DRAM: written once, read once, one byte per entry.
    off_chip = 5 * 8 * 4096 ** 2 + 5 * 8 * 1024 ** 2
    assert traffic.sas == 2 * off_chip
    assert traffic.weights == totals(layers)["gemm_weights"]


def test_pssa_bits_scale_sas_bytes(paper, layers):
    sas = [ema.sum_traffic(ema.layer_traffic(paper, l, bits) for l in layers).sas
           for bits in (8, 4, 2, 1)]
    assert sas[0] == ema.sum_traffic(ema.layer_traffic(paper, l) for l in layers).sas
    assert sas == [sas[0] / 8 * b for b in (8, 4, 2, 1)]


def test_more_pruning_fewer_sas_bits_fallback(paper):
    bits = [fallback_sas_bits(paper, keep=k) for k in (0.5, 0.2, 0.1, 0.05)]
    assert bits == sorted(bits, reverse=True) and len(set(bits)) == 4


def test_more_pruning_fewer_sas_bits_golden(paper):
    sizes = []
    for threshold in (1, 4, 16, 64):
        details, reason = measure.pssa_compression(paper, size=16, threshold=threshold)
        assert reason is None
        sizes.append(details["bits_per_entry"])
    assert sizes == sorted(sizes, reverse=True) and len(set(sizes)) == 4


def test_pssa_threshold_respects_budget(paper):
    details, _ = measure.pssa_compression(paper, size=16, budget=0.05)
    assert details["relative_error"] <= 0.05
    over, _ = measure.pssa_compression(paper, size=16, threshold=details["threshold"] + 1)
    assert over["relative_error"] > 0.05


def test_tips_share_is_a_fraction(paper):
    details, reason = measure.tips_low_share(paper, size=16)
    assert reason is None and 0.0 < details["low_share"] < 1.0


def test_energy_table_and_layer_energy(paper, layers):
    table = energy.energy_table(paper)
    # 4 x 8 multiply (half an 8 x 8 one) + a 28-bit add, at 45 nm, scaled by 28 / 45.
    assert paper.dbsc.acc_bits == 28
    assert table.slice_mac == pytest.approx((0.2 / 2 + 0.1 * 28 / 32) * 28 / 45)
    assert table.dram_bit == energy.LPDDR4_PJ_PER_BIT
    ffn = next(l for l in layers if l.kind == "ffn")
    high = perf.layer_perf(paper, ffn, 0.0)
    mixed = perf.layer_perf(paper, ffn, 0.5)
    e_high = energy.layer_energy(paper, table, high, 1000.0)
    e_mixed = energy.layer_energy(paper, table, mixed, 1000.0)
    assert e_mixed.mac < e_high.mac
    assert e_high.dram == 1000.0 * 8 * energy.LPDDR4_PJ_PER_BIT


def test_os_avoids_partial_sum_traffic(paper, layers):
    ffn = next(l for l in layers if l.kind == "ffn" and l.k > paper.dbsc.rows)
    cycles = perf.gemm_cycles(paper, "ws", ffn.m, ffn.k, ffn.n, ffn.m, 0)
    ws = perf.LayerPerf(ffn, "ws", cycles, 1, 0.0, paper.dbsc.pes)
    os_ = perf.LayerPerf(ffn, "os", cycles, 1, 0.0, paper.dbsc.pes)
    assert energy.sram_bytes(paper, os_) < energy.sram_bytes(paper, ws)


def test_bit_parallel_mac_costs_less_than_two_slices(paper):
    table = energy.energy_table(paper)
    # One 8 x 8 multiply equals two 4 x 8 ones, but the sliced MAC accumulates twice.
    assert table.slice_mac < table.bit_parallel_mac < 2 * table.slice_mac
