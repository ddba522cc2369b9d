"""Cycle formulas by hand, and monotonicity of the performance model."""

import math

import pytest

from sw.config import load_config
from sw.model import perf
from sw.model.unet import unet_layers


@pytest.fixture(scope="module")
def paper():
    return load_config(preset="paper")


@pytest.fixture(scope="module")
def layers():
    return unet_layers()


def total_cycles(config, layers, share=0.0):
    return sum(perf.layer_perf(config, layer, share).cycles for layer in layers)


def test_ws_cycles_by_hand(default_config):
    # 4 x 4 array, K = 8 -> 2 row tiles, N = 8 -> 2 column tiles; 10 tokens of 2 slices stream
    # through each tile; fill + drain once: 4 + 4.
    assert perf.gemm_cycles(default_config, "ws", 10, 8, 8, 10, 0) == 4 * 10 * 2 + 8
    # Three of the tokens at low precision (1 slice) save three cycles per tile.
    assert perf.gemm_cycles(default_config, "ws", 10, 8, 8, 7, 3) == 4 * (7 * 2 + 3) + 8


def test_os_cycles_by_hand(default_config):
    # 10 high tokens -> 3 row tiles, N = 6 -> 2 column tiles, K = 5 at 2 slices.
    assert perf.gemm_cycles(default_config, "os", 10, 5, 6, 10, 0) == 3 * 2 * 5 * 2 + 8
    # 6 high (2 row tiles) + 4 low (1 row tile at 1 slice).
    assert perf.gemm_cycles(default_config, "os", 10, 5, 6, 6, 4) == (2 * 2 * 10 + 2 * 5) + 8


def test_bad_arguments(default_config):
    with pytest.raises(ValueError, match="must equal m"):
        perf.gemm_cycles(default_config, "ws", 10, 8, 8, 5, 4)
    with pytest.raises(ValueError, match="'ws' or 'os'"):
        perf.gemm_cycles(default_config, "xs", 10, 8, 8, 10, 0)


def test_paper_peak_is_3_84_tops(paper):
    assert perf.peak_ops_per_cycle(paper, "low") * paper.top.clock_mhz * 1e6 == 3.84e12
    assert perf.peak_ops_per_cycle(paper, "high") == perf.peak_ops_per_cycle(paper, "low") / 2


@pytest.mark.parametrize("rows, cols", [(8, 8), (16, 16), (32, 64), (64, 120)])
def test_more_pes_fewer_cycles(paper, layers, rows, cols):
    smaller = paper.replace(**{"dbsc.rows": rows, "dbsc.cols": cols})
    bigger = paper.replace(**{"dbsc.rows": rows * 2, "dbsc.cols": cols * 2})
    assert total_cycles(bigger, layers) < total_cycles(smaller, layers)


def test_more_low_precision_fewer_cycles(paper, layers):
    cycles = [total_cycles(paper, layers, share) for share in (0.0, 0.25, 0.5, 0.75, 1.0)]
    assert cycles == sorted(cycles, reverse=True) and len(set(cycles)) == len(cycles)


def test_utilization_and_dataflows(paper, layers):
    for layer in layers:
        p = perf.layer_perf(paper, layer, 0.5)
        if layer.is_gemm:
            assert 0 < p.utilization <= 1
            assert p.dataflow == perf.DATAFLOW[layer.kind]
            # A layer never beats its slice-MAC count spread over every PE.
            assert p.cycles >= math.ceil(p.slice_macs / paper.dbsc.pes)
    ws_only = paper.replace(**{"dbsc.dataflow": "ws"})
    assert {perf.layer_perf(ws_only, l, 0.5).dataflow for l in layers if l.is_gemm} == {"ws"}


@pytest.fixture(scope="module")
def rtl_formula():
    found = perf.dbsc_formula()
    assert found is not None, "hw.dbsc must be in the checkout"
    assert found[1] == "hw.dbsc.DBSCArray.ideal_cycles"
    return found[0]


def test_rtl_timing_model_never_beats_the_idealised_one(paper, layers, rtl_formula):
    for share in (0.0, 0.448):
        for layer in layers:
            if layer.is_gemm:
                ideal = perf.layer_perf(paper, layer, share).cycles
                rtl = perf.layer_perf(paper, layer, share, rtl_formula).cycles
                assert ideal <= rtl, layer.name
                # Fill and drain per command dominate only tiny layers (one time-step token).
                if layer.m >= 256:
                    assert rtl <= 3 * ideal, layer.name


def test_rtl_timing_model_splits_long_reductions(paper, rtl_formula):
    # K = 3 * max_k: three commands per column tile, each with its own fill and drain.
    d = paper.dbsc
    one = rtl_formula(paper, "ws", 64, d.max_k, d.cols, 64, 0)
    three = rtl_formula(paper, "ws", 64, 3 * d.max_k, d.cols, 64, 0)
    assert three == 3 * one
    assert rtl_formula(paper, "ws", 64, d.max_k, 2 * d.cols, 64, 0) == 2 * one


@pytest.mark.parametrize("rows, cols", [(8, 8), (32, 64)])
def test_rtl_model_more_pes_fewer_cycles(paper, layers, rtl_formula, rows, cols):
    cycles = []
    for scale in (1, 2):
        cfg = paper.replace(**{"dbsc.rows": rows * scale, "dbsc.cols": cols * scale})
        cycles.append(sum(perf.layer_perf(cfg, l, 0.448, rtl_formula).cycles for l in layers))
    assert cycles[1] < cycles[0]
