"""cocotb testbench of TIPS on its emitted Verilog, against the golden model.

Tiles come from :mod:`tests.tips.cases`, generated here from the seed and sizes in the test
arguments (the beats are too large to pass through the environment); commands, probabilities
and both output streams run with random gaps and backpressure; after every tile the bitmap
buffer is read back through its read port.
"""

import warnings

warnings.filterwarnings("error", category=DeprecationWarning)
warnings.filterwarnings("default", category=DeprecationWarning, module=r"cocotbext\.")

import cocotb  # noqa: E402
from amaranth.lib import data  # noqa: E402
from cocotb.triggers import ReadOnly, RisingEdge  # noqa: E402

from hw.tips import Mode, command_layout, status_layout  # noqa: E402
from sw.flows.cocotb_lib import (StreamSink, StreamSource, config_from_env, rng,  # noqa: E402
                                 start, test_args, wait_until)
from tests.tips.cases import tile_sequence  # noqa: E402


def _tiles(cfg, args):
    return tile_sequence(cfg, seed=args["seed"], small_pixels=args["small_pixels"],
                         full_tiles=args["full_tiles"])


async def _read_buffer(dut, words):
    out = []
    for addr in range(words):
        dut.bitmap_read__addr.value = addr
        await RisingEdge(dut.clk)
        await ReadOnly()
        out.append(int(dut.bitmap_read__data.value))
        await RisingEdge(dut.clk)
    return out


@cocotb.test()
async def tiles_match_golden(dut):
    """Every tile's bitmap beats, buffer contents, status and counters equal the golden
    model's, across mode, mask and size changes and refused commands."""
    cfg = config_from_env().tips
    args = test_args()
    tiles = _tiles(cfg, args)
    r = rng()
    cmd_layout = command_layout(cfg)
    st_layout = status_layout(cfg)
    probs_layout = data.ArrayLayout(cfg.prob_bits, cfg.lanes)
    await start(dut)
    dut.bitmap_read__addr.value = 0

    cmd = StreamSource(dut, "cmd", pause=args["pause"], r=r)
    probs = StreamSource(dut, "probs", pause=args["pause"], r=r)
    bitmap = StreamSink(dut, "bitmap", pause=args["pause"], r=r)
    status = StreamSink(dut, "status", pause=args["pause"], r=r)
    tasks = [cocotb.start_soon(bitmap.run()), cocotb.start_soon(status.run())]

    buffer_before = await _read_buffer(dut, cfg.bitmap_words)
    for index, tile in enumerate(tiles):
        dut.token_mask.value = tile["mask"]
        await cmd.send([cmd_layout.const({"mode": Mode(tile["mode"]), "pixels": tile["pixels"],
                                          "tau": tile["tau"], "ratio": tile["ratio"]})
                        .as_bits()])
        dut.token_mask.value = 0  # sampled with the command only
        await probs.send([probs_layout.const(beat).as_bits() for beat in tile["beats"]])
        await status.wait_for(index + 1, timeout_cycles=args["timeout_cycles"])
        what = f"tile {index} ({tile['kind']}, mode {tile['mode']}, {tile['pixels']} pixels)"
        report = st_layout.from_bits(status.items[index])
        assert (bool(report.error), int(report.high), int(report.low)) == (
            tile["error"], tile["high"], tile["low"]), what
        assert (int(dut.error.value), int(dut.high_count.value), int(dut.low_count.value)) == (
            int(tile["error"]), tile["high"], tile["low"]), what
        words = bitmap.items[:]
        del bitmap.items[:]
        assert words == tile["words"], what
        buffer = await _read_buffer(dut, cfg.bitmap_words)
        assert int(dut.busy.value) == 0, what
        if tile["error"]:
            assert buffer == buffer_before, f"{what}: a refused command touched the buffer"
        else:
            assert buffer[:len(words)] == tile["words"], what
        buffer_before = buffer
        for _ in range(3):
            await RisingEdge(dut.clk)
    for task in tasks:
        task.cancel()
    assert not bitmap.items and len(status.items) == len(tiles), "no extra output beats"
    assert int(dut.probs__ready.value) == 0, "no tile may still accept data"


@cocotb.test()
async def accumulation_throughput(dut):
    """With the input always valid, the accumulation pass takes one beat every cycle."""
    cfg = config_from_env().tips
    args = test_args()
    tile = _tiles(cfg, args)[-1]
    await start(dut)
    cmd_layout = command_layout(cfg)
    probs_layout = data.ArrayLayout(cfg.prob_bits, cfg.lanes)
    dut.bitmap__ready.value = 1
    dut.status__ready.value = 1
    dut.token_mask.value = tile["mask"]
    dut.cmd__payload.value = int(cmd_layout.const(
        {"mode": Mode(tile["mode"]), "pixels": tile["pixels"], "tau": tile["tau"],
         "ratio": tile["ratio"]}).as_bits())
    dut.cmd__valid.value = 1
    await wait_until(dut.clk, lambda: int(dut.cmd__ready.value), 10, "cmd ready")
    await RisingEdge(dut.clk)
    dut.cmd__valid.value = 0
    beats = [int(probs_layout.const(b).as_bits()) for b in tile["beats"]]
    dut.probs__valid.value = 1
    stalls = 0
    for beat in beats:
        dut.probs__payload.value = beat
        await RisingEdge(dut.clk)
        while not int(dut.probs__ready.value):
            stalls += 1
            await RisingEdge(dut.clk)
    dut.probs__valid.value = 0
    assert stalls == 0, f"{stalls} stall cycles in {len(beats)} beats"
    await wait_until(dut.clk, lambda: int(dut.status__valid.value), args["timeout_cycles"],
                     "status")
    assert int(dut.high_count.value) == tile["high"]
