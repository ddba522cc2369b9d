"""The shared pieces' emitted Verilog against the golden model, on every simulator in $SIM."""

import pytest

from hw import registry
from hw.common import Requantizer
from sw.config import load_config
from sw.flows.cocotb_run import run_cocotb

MODULE = "tests.common.cocotb_common"

CONFIGS = {
    "default": [],
    "slice2-act12": ["dbsc.slice_bits=2", "dbsc.act_bits_high=12", "dbsc.act_bits_low=4",
                     "ema.data_width=32"],
}


@pytest.mark.cocotb
@pytest.mark.parametrize("config_name", CONFIGS)
@pytest.mark.parametrize("block", ["common_fifo", "common_skid"])
def test_stream_piece(block, config_name, sim):
    config = load_config(overrides=CONFIGS[config_name])
    run_cocotb(registry.build(block, config), block, MODULE, config, sim,
               test_args={"width": config.ema.data_width, "count": 300},
               testcase="stream_passes_every_beat_in_order")


@pytest.mark.cocotb
@pytest.mark.parametrize("config_name", CONFIGS)
def test_mac(config_name, sim):
    config = load_config(overrides=CONFIGS[config_name])
    mac = registry.build("common_mac", config)
    run_cocotb(mac, "common_mac", MODULE, config, sim,
               test_args={"a_width": mac.a_width, "b_width": mac.b_width,
                          "max_shift": mac.max_shift, "acc_width": mac.acc_width,
                          "latency": mac.latency, "count": 2000},
               testcase="mac_matches_golden")


@pytest.mark.cocotb
@pytest.mark.parametrize("out_signed", [True, False])
def test_requant(out_signed, sim):
    config = load_config()
    acc_bits, out_bits, lanes = config.dbsc.acc_bits, 8, 4
    run_cocotb(Requantizer(acc_bits, out_bits, lanes, out_signed), "requant", MODULE, config, sim,
               test_args={"acc_bits": acc_bits, "out_bits": out_bits, "lanes": lanes,
                          "out_signed": out_signed, "count": 100},
               testcase="requant_matches_golden")
