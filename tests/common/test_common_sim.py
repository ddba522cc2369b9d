"""Amaranth-simulator unit tests of the shared pieces (FIFO, skid buffer, signed MAC)."""

import itertools
import random

import numpy as np
import pytest
from amaranth import Module
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In

from hw.common import SignedMAC, SkidBuffer, StreamFIFO
from sw.flows.amsim import run_simulation, stream_recv, stream_send
from sw.golden.common import mac_sequence

PAYLOAD = data.StructLayout({"value": 12, "last": 1})


def _stream_roundtrip(dut, count, in_gap, out_gap, seed):
    r = random.Random(seed)
    sent = [PAYLOAD.const({"value": r.randrange(1 << 12), "last": r.randrange(2)})
            for _ in range(count)]
    received = []

    async def producer(ctx):
        await stream_send(ctx, dut.i, sent, random.Random(seed + 1), in_gap)

    async def consumer(ctx):
        received.extend(await stream_recv(ctx, dut.o, count, random.Random(seed + 2), out_gap))

    run_simulation(dut, producer, consumer, deadline_cycles=20 * count + 100)
    assert [p.as_bits() for p in received] == [p.as_bits() for p in sent]


@pytest.mark.parametrize("in_gap,out_gap", [(0.0, 0.0), (0.5, 0.0), (0.0, 0.6), (0.4, 0.4)])
@pytest.mark.parametrize("make", [lambda: StreamFIFO(PAYLOAD, depth=4),
                                  lambda: StreamFIFO(PAYLOAD, depth=2),
                                  lambda: SkidBuffer(PAYLOAD),
                                  lambda: SkidBuffer(PAYLOAD, steered=True)],
                         ids=["fifo4", "fifo2", "skid", "skid_steered"])
def test_stream_order_under_backpressure(make, in_gap, out_gap):
    _stream_roundtrip(make(), 200, in_gap, out_gap, seed=hash((in_gap, out_gap)) & 0xffff)


@pytest.mark.parametrize("make", [lambda: StreamFIFO(8, depth=4), lambda: SkidBuffer(8),
                                  lambda: SkidBuffer(8, steered=True)],
                         ids=["fifo", "skid", "skid_steered"])
def test_full_throughput(make):
    """With neither side stalling, N beats pass in N + latency cycles."""
    dut = make()
    count = 64
    cycles = []

    async def tb(ctx):
        ctx.set(dut.o.ready, 1)
        ctx.set(dut.i.valid, 1)
        got = 0
        sent = 0
        cycle = 0
        while got < count:
            ctx.set(dut.i.payload, sent & 0xff)
            ctx.set(dut.i.valid, sent < count)
            _, _, i_ready, o_valid, o_payload = await ctx.tick().sample(
                dut.i.ready, dut.o.valid, dut.o.payload)
            if sent < count and i_ready:
                sent += 1
            if o_valid:
                assert o_payload == got & 0xff
                got += 1
            cycle += 1
        cycles.append(cycle)

    run_simulation(dut, tb, deadline_cycles=1000)
    assert cycles[0] == count + dut.latency


class _SkidPair(wiring.Component):
    """Both kinds of skid buffer fed the same stimulus."""

    def __init__(self):
        self.plain = SkidBuffer(8)
        self.steered = SkidBuffer(8, steered=True)
        super().__init__({"valid": In(1), "payload": In(8), "ready": In(1)})

    def elaborate(self, platform):
        m = Module()
        m.submodules.plain = self.plain
        m.submodules.steered = self.steered
        for skid in (self.plain, self.steered):
            m.d.comb += [skid.i.valid.eq(self.valid), skid.i.payload.eq(self.payload),
                         skid.o.ready.eq(self.ready)]
        return m


def test_steered_skid_matches_plain_cycle_for_cycle():
    """The producer-written ring is a drop-in replacement: the same ``i.ready``, ``o.valid``
    and (while valid) ``o.payload`` in every cycle, under random gaps on both sides."""
    dut = _SkidPair()
    r = random.Random(7)

    async def tb(ctx):
        for _ in range(2000):
            ctx.set(dut.valid, r.random() < 0.7)
            ctx.set(dut.payload, r.randrange(256))
            ctx.set(dut.ready, r.random() < 0.6)
            plain = (ctx.get(dut.plain.i.ready), ctx.get(dut.plain.o.valid))
            steered = (ctx.get(dut.steered.i.ready), ctx.get(dut.steered.o.valid))
            assert plain == steered
            if plain[1]:
                assert ctx.get(dut.plain.o.payload) == ctx.get(dut.steered.o.payload)
            await ctx.tick()

    run_simulation(dut, tb, deadline_cycles=3000)


def test_fifo_rejects_depth_below_two():
    with pytest.raises(ValueError, match="depth=1"):
        StreamFIFO(8, depth=1)


def test_mac_rejects_narrow_accumulator():
    with pytest.raises(ValueError, match="acc_width"):
        SignedMAC(a_width=4, b_width=8, acc_width=8)


@pytest.mark.parametrize("stall", [0.0, 0.3])
@pytest.mark.parametrize("a_width,b_width,max_shift", [(4, 8, 4), (2, 8, 10), (8, 8, 0)])
def test_mac_every_operand_corner(a_width, b_width, max_shift, stall):
    """Every a (both readings) against the extreme and unit weights at every shift, with
    clears and bubbles interleaved, one operand set per advancing cycle (and random stalls of
    the whole pipeline), against the golden model: each sum appears ``latency`` advancing
    cycles after its operands."""
    acc_width = a_width + b_width + max_shift + 8
    dut = SignedMAC(a_width, b_width, acc_width, max_shift)
    weights = [-(1 << (b_width - 1)), (1 << (b_width - 1)) - 1, -1, 0, 1]
    steps = list(itertools.product(range(1 << a_width), (0, 1), weights,
                                   sorted({0, max_shift // 2, max_shift})))
    r = random.Random(a_width * 100 + max_shift)
    r.shuffle(steps)
    clears = [i % 7 == 0 for i in range(len(steps))]
    enables = [i == 0 or r.random() > 0.2 for i in range(len(steps))]
    a, a_signed, b, shift = (list(col) for col in zip(*steps))
    on = [i for i in range(len(steps)) if enables[i]]
    sums = mac_sequence([a[i] for i in on], [a_signed[i] for i in on], [b[i] for i in on],
                        [shift[i] for i in on], [clears[i] for i in on], a_width)
    # Wrap the golden values to the accumulator width: long chains may exceed it by design.
    sums = ((sums + (1 << (acc_width - 1))) % (1 << acc_width)) - (1 << (acc_width - 1))
    # The accumulator after operand set i has landed: the last enabled sum up to i.
    expected = []
    done = 0
    for i in range(len(steps)):
        done += enables[i]
        expected.append(int(sums[done - 1]))
    checked = []

    async def tb(ctx):
        i = 0
        cycle = 0
        landed = 0
        issued = []
        while landed < len(steps):
            step = r.random() >= stall
            ctx.set(dut.advance, step)
            if i < len(steps):
                ctx.set(dut.a, a[i])
                ctx.set(dut.a_signed, a_signed[i])
                ctx.set(dut.b, b[i])
                ctx.set(dut.shift, shift[i])
                ctx.set(dut.clear, clears[i])
                ctx.set(dut.en, enables[i])
            else:
                ctx.set(dut.en, 0)
            await ctx.tick()
            cycle += 1
            if step:
                issued.append(i)
                i += 1
                if len(issued) >= dut.latency:
                    index = issued[-dut.latency]
                    if index < len(steps):
                        assert ctx.get(dut.acc) == expected[index], f"step {index}: {steps[index]}"
                        checked.append(index)
                        landed = index + 1

    run_simulation(dut, tb, deadline_cycles=len(steps) * 4 + 100)
    assert checked == list(range(len(steps)))


def test_mac_holds_without_enable():
    """A product lands ``latency`` cycles after its operands; bubbles and stalls after it
    leave the sum alone, and a stall freezes a product in flight."""
    dut = SignedMAC(4, 8, 16, 4)

    async def tb(ctx):
        ctx.set(dut.advance, 1)
        ctx.set(dut.en, 1)
        ctx.set(dut.clear, 1)
        ctx.set(dut.a, 0b1000)
        ctx.set(dut.a_signed, 1)
        ctx.set(dut.b, -128)
        ctx.set(dut.shift, 4)
        await ctx.tick()
        ctx.set(dut.en, 0)
        ctx.set(dut.clear, 0)
        for _ in range(dut.latency - 1):
            assert ctx.get(dut.acc) == 0
            await ctx.tick()
        held = ctx.get(dut.acc)
        assert held == (-8 * -128) << 4
        for _ in range(5):
            await ctx.tick()
            assert ctx.get(dut.acc) == held
        # One more product, stalled in the middle of the pipeline.
        ctx.set(dut.en, 1)
        ctx.set(dut.a, 3)
        ctx.set(dut.a_signed, 0)
        ctx.set(dut.b, 2)
        ctx.set(dut.shift, 0)
        await ctx.tick()
        ctx.set(dut.en, 0)
        ctx.set(dut.advance, 0)
        for _ in range(5):
            await ctx.tick()
            assert ctx.get(dut.acc) == held
        ctx.set(dut.advance, 1)
        for _ in range(dut.latency - 1):
            await ctx.tick()
        assert ctx.get(dut.acc) == held + 6

    run_simulation(dut, tb, deadline_cycles=40)


def test_golden_mac_matches_int64_dot_product():
    r = np.random.default_rng(0)
    a = r.integers(-128, 128, 1000)
    b = r.integers(-128, 128, 1000)
    acc = mac_sequence(a & 0xff, np.ones(1000, dtype=bool), b, np.zeros(1000, dtype=int),
                       [i == 0 for i in range(1000)], 8)
    assert acc[-1] == int(np.dot(a, b))
