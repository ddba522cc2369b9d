"""The processor's emitted Verilog running programs from DRAM to DRAM (tests/top/cocotb_top.py),
on every simulator in $SIM."""

import pytest

from hw import registry
from sw.config import load_config
from sw.flows.cocotb_run import run_cocotb

MODULE = "tests.top.cocotb_top"

# "wide": a 128-bit bus with 64-bit addresses (every DRAM address above 4 GB through ADDR_HI),
# short bursts, a 4-entry queue (the host waits for room), an 8 x 2 array (activation beats
# two per word, weight rows eight per word) and a PSSA beat narrower than a word (no
# row-major score GEMMs: the act_source check is exercised as unsupported).
CONFIGS = {
    "default": ([], {}, None),
    "wide": (["ema.data_width=128", "ema.addr_width=64", "ema.max_burst=4", "dbsc.rows=8",
              "dbsc.cols=2", "top.command_queue_depth=4"], {"addr_hi": 1},
             "gemm_programs_match_golden,errors_stop_cleanly_and_the_next_program_runs"),
}


@pytest.mark.cocotb
@pytest.mark.parametrize("config_name", CONFIGS)
def test_top_programs(config_name, sim):
    overrides, args, testcase = CONFIGS[config_name]
    config = load_config(overrides=overrides)
    run_cocotb(registry.build("top", config), "sdproc_top", MODULE, config, sim,
               test_args={"pause": 0.3, **args}, testcase=testcase)
