"""The DBSC array's emitted Verilog against the golden model, on every simulator in $SIM."""

import pytest

from hw import registry
from sw.config import load_config
from sw.flows.cocotb_run import run_cocotb

MODULE = "tests.dbsc.cocotb_dbsc"

# The three shapes plus the default build. ``max_k``/``max_m`` are lowered where the
# default would make the tile at the maximum k needlessly long to simulate; two builds lack a
# dataflow, so that requesting it is tested.
CONFIGS = {
    "2x2_slice2": ["dbsc.rows=2", "dbsc.cols=2", "dbsc.slice_bits=2", "dbsc.max_k=24",
                   "dbsc.max_m=6"],
    "4x4_slice4_os": ["dbsc.rows=4", "dbsc.cols=4", "dbsc.slice_bits=4", "dbsc.dataflow=os",
                      "dbsc.max_k=40", "dbsc.max_m=10"],
    "4x8_high12_low4_ws": ["dbsc.rows=4", "dbsc.cols=8", "dbsc.act_bits_high=12",
                           "dbsc.act_bits_low=4", "dbsc.dataflow=ws", "dbsc.max_k=40",
                           "dbsc.max_m=9"],
    "default": [],
}


@pytest.mark.cocotb
@pytest.mark.parametrize("config_name", CONFIGS)
def test_dbsc_verilog(config_name, sim):
    config = load_config(overrides=CONFIGS[config_name])
    run_cocotb(registry.build("dbsc", config), "dbsc", MODULE, config, sim,
               test_args={"pauses": [[0.0, 0.0], [0.3, 0.4]]})


@pytest.mark.cocotb
def test_dbsc_baseline_verilog(sim):
    """The registered bit-parallel baseline (its own, narrower column count) through the same
    testbench: same interfaces, same numbers."""
    config = load_config(overrides=["dbsc.max_k=40", "dbsc.max_m=9"])
    baseline = registry.build("dbsc_baseline", config)
    own_config = config.replace(**{"dbsc.cols": baseline.config.cols})
    run_cocotb(baseline, "dbsc_baseline", MODULE, own_config, sim,
               test_args={"pauses": [[0.3, 0.4]]})
