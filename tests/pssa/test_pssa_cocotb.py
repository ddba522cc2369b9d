"""The PSSA codec's emitted Verilog against the golden codec, on every simulator in $SIM."""

import pytest

from hw import registry
from sw.flows.cocotb_run import run_cocotb
from tests.pssa.tiles import CONFIGS, config

MODULE = "tests.pssa.cocotb_pssa"


@pytest.mark.cocotb
@pytest.mark.parametrize("config_name", CONFIGS)
@pytest.mark.parametrize("testcase", ["encoder_matches_golden", "decoder_matches_golden",
                                      "encoder_decoder_loop"])
def test_pssa_codec(testcase, config_name, sim):
    cfg = config(config_name)
    run_cocotb(registry.build("pssa_codec", cfg), "pssa_codec", MODULE, cfg, sim,
               testcase=testcase)
