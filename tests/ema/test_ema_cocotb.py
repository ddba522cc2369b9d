"""The EMA controller's emitted Verilog against the golden model, with cocotbext-axi's AxiRam
as the DRAM, on every simulator in $SIM and three bus configurations."""

import pytest

from hw import registry
from sw.config import load_config
from sw.flows.cocotb_run import run_cocotb

MODULE = "tests.ema.cocotb_ema"

CONFIGS = {
    "default": [],
    # Narrow bus, the longest bursts, a single read in flight.
    "32bit": ["ema.data_width=32", "ema.max_burst=256", "ema.outstanding=1",
              "ema.id_width=1", "ema.counter_bits=16"],
    # Wide bus: one maximum burst is a whole 4 KB page; 64-bit addresses; no PSSA codec, so
    # SAS descriptors move plain bytes like the other classes.
    "128bit": ["ema.data_width=128", "ema.max_burst=256", "ema.outstanding=8",
               "ema.addr_width=64", "ema.rows_bits=8", "ema.row_bytes_bits=14",
               "ema.sas_codec=false"],
}


@pytest.mark.cocotb
@pytest.mark.parametrize("config_name", CONFIGS)
def test_ema(config_name, sim):
    config = load_config(overrides=CONFIGS[config_name])
    run_cocotb(registry.build("ema", config), "ema", MODULE, config, sim,
               test_args={"pause": 0.3, "descriptors": 30, "max_row_bytes": 300,
                          "error_trials": 8})
