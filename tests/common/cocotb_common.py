"""cocotb testbenches for the shared pieces, run on their emitted Verilog."""

import warnings

warnings.filterwarnings("error", category=DeprecationWarning)
warnings.filterwarnings("default", category=DeprecationWarning, module=r"cocotbext\.")

import cocotb  # noqa: E402
from amaranth import signed, unsigned  # noqa: E402
from amaranth.lib import data  # noqa: E402
from cocotb.triggers import FallingEdge, ReadOnly, RisingEdge  # noqa: E402

from sw.flows.cocotb_lib import (StreamSink, StreamSource, rng, signed_value, start,  # noqa: E402
                                 test_args)
from sw.golden.common import mac_sequence, requantize  # noqa: E402


@cocotb.test()
async def stream_passes_every_beat_in_order(dut):
    """Random payloads (full width, with all-zero and all-one beats) through the stream
    component under random gaps on both sides: every beat arrives once, in order."""
    args = test_args()
    width, count = args["width"], args["count"]
    r = rng()
    # Drivers first, so that no input is undriven (X/Z on Icarus) when reset is released.
    source = StreamSource(dut, "i", r=r)
    sink = StreamSink(dut, "o", r=r)
    await start(dut)
    payloads = [0, (1 << width) - 1, 1 << (width - 1)]
    payloads += [r.getrandbits(width) for _ in range(count - len(payloads))]
    for in_pause, out_pause in [(0.0, 0.0), (0.5, 0.0), (0.0, 0.5), (0.3, 0.6)]:
        source.set_pause(in_pause)
        sink.set_pause(out_pause)
        sink.items.clear()
        task = cocotb.start_soon(sink.run())
        await source.send(payloads)
        await sink.wait_for(len(payloads), timeout_cycles=20 * count)
        for _ in range(5):  # nothing extra may come out
            await RisingEdge(dut.clk)
        task.cancel()
        assert sink.items == payloads, f"pauses {in_pause}/{out_pause}"


@cocotb.test()
async def mac_matches_golden(dut):
    """Full-range random operands, extremes, run-time signedness/shift switches, clears,
    enable gaps and pipeline stalls, compared with the golden model every cycle: a sum lands
    ``latency`` advancing cycles after its operands."""
    args = test_args()
    a_width, b_width, max_shift, acc_width, latency = (
        args[k] for k in ("a_width", "b_width", "max_shift", "acc_width", "latency"))
    r = rng()
    for port in (dut.a, dut.a_signed, dut.b, dut.shift, dut.clear, dut.en, dut.advance):
        port.value = 0
    await start(dut)
    b_min, b_max = -(1 << (b_width - 1)), (1 << (b_width - 1)) - 1
    a_max = (1 << a_width) - 1
    steps = []
    # Extremes first: the most negative/positive slice against both extreme weights.
    for a in (1 << (a_width - 1), a_max >> 1, a_max, 0):
        for b in (b_min, b_max):
            steps.append((a, 1, b, max_shift, False, True))
            steps.append((a, 0, b, max_shift, False, True))
    steps += [(r.randrange(a_max + 1), r.randrange(2), r.randint(b_min, b_max),
               r.randint(0, max_shift), r.random() < 0.05, r.random() < 0.8)
              for _ in range(args["count"])]
    steps[0] = steps[0][:4] + (True, True)
    # Bubbles at the end flush the pipeline, so that every sum is checked.
    steps += [(0, 0, 0, 0, False, False)] * latency

    enabled = [s for s in steps if s[5]]
    expected = iter(mac_sequence(*(list(col) for col in zip(*[s[:5] for s in enabled])),
                                 a_width=a_width))
    in_flight = []  # operand sets taken but not landed yet
    current = None
    index = 0
    while index < len(steps):
        a, a_signed, b, shift, clear, en = steps[index]
        advance = r.random() < 0.85
        await FallingEdge(dut.clk)
        dut.a.value = a
        dut.a_signed.value = a_signed
        dut.b.value = b & ((1 << b_width) - 1)
        dut.shift.value = shift
        dut.clear.value = clear
        dut.en.value = en
        dut.advance.value = advance
        await RisingEdge(dut.clk)
        await ReadOnly()
        if advance:
            in_flight.append(steps[index])
            index += 1
            if len(in_flight) >= latency and in_flight.pop(0)[5]:
                current = int(next(expected))
        if current is not None:
            got = signed_value(int(dut.acc.value), acc_width)
            assert got == current, f"step {index}: {got} != {current}"


@cocotb.test()
async def requant_matches_golden(dut):
    """Full-range and extreme accumulators, every shift switched at run time between batches,
    random gaps on both sides, against the golden model."""
    args = test_args()
    acc_bits, out_bits, lanes, out_signed = (args[k] for k in
                                             ("acc_bits", "out_bits", "lanes", "out_signed"))
    in_layout = data.ArrayLayout(signed(acc_bits), lanes)
    out_layout = data.ArrayLayout(signed(out_bits) if out_signed else unsigned(out_bits), lanes)
    r = rng()
    source = StreamSource(dut, "i", pause=0.3, r=r)
    sink = StreamSink(dut, "o", pause=0.3, r=r)
    dut.shift.value = 0
    await start(dut)
    cocotb.start_soon(sink.run())
    lo, hi = -(1 << (acc_bits - 1)), (1 << (acc_bits - 1)) - 1
    expected = []
    for shift in [0, acc_bits - 1, 1, out_bits, r.randrange(acc_bits)] + list(range(2, 8)):
        beats = [[lo] * lanes, [hi] * lanes]
        beats += [[r.randint(lo, hi) >> r.randrange(acc_bits) for _ in range(lanes)]
                  for _ in range(args["count"])]
        dut.shift.value = shift
        await source.send(in_layout.const(b).as_bits() for b in beats)
        expected += requantize(beats, shift, out_bits, out_signed).tolist()
        # The shift is per tile: let the tile drain before the next one changes it.
        await sink.wait_for(len(expected), timeout_cycles=50 * len(beats))
    got = [[int(v) for v in out_layout.from_bits(raw)] for raw in sink.items]
    assert got == expected
