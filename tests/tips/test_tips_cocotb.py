"""TIPS's emitted Verilog against the golden model, on every simulator in $SIM."""

import pytest

from hw import registry
from sw.config import load_config
from sw.flows.cocotb_run import run_cocotb

MODULE = "tests.tips.cocotb_tips"

# The default build (2-bit search digits); a small one where nothing divides evenly: 3 x 10
# values per pixel in 4 lanes (padded last beat), 37 pixels in 4-bit bitmap words, 5-bit
# probabilities, 8-bit ratio, a bit-by-bit cut search; and the paper preset's 16 lanes (8 x 77
# values in 39 beats, the last half padding) with 10-bit probabilities, 20-bit importances
# searched 4 bits per pass.
CONFIGS = {
    "default": [],
    "odd": ["tips.heads=3", "tips.tokens=10", "tips.prob_bits=5", "tips.max_pixels=37",
            "tips.lanes=4", "tips.ratio_bits=8", "tips.search_bits=1"],
    "wide": ["tips.lanes=16", "tips.prob_bits=10", "tips.max_pixels=48", "tips.search_bits=4"],
}


@pytest.mark.cocotb
@pytest.mark.parametrize("config_name", CONFIGS)
def test_tips(config_name, sim):
    config = load_config(overrides=CONFIGS[config_name])
    tips = registry.build("tips", config)
    cfg = config.tips
    small = min(cfg.max_pixels, 3 * cfg.lanes + 1)
    pause = 0.3
    # Generous: every tile at the largest size, slowed down by the pauses on all four streams.
    worst = tips.tile_cycles(1, cfg.max_pixels)
    run_cocotb(tips, "tips", MODULE, config, sim,
               test_args={"seed": 5, "small_pixels": small, "full_tiles": 1, "pause": pause,
                          "timeout_cycles": int(4 * worst / (1 - pause))})
