"""Amaranth-simulator tests of the requantizer against the golden model."""

import random

import numpy as np
import pytest
from amaranth.lib import data

from hw.common import Requantizer
from sw.flows.amsim import run_simulation
from sw.golden.common import requantize


@pytest.mark.parametrize("out_signed", [True, False])
@pytest.mark.parametrize("acc_bits,out_bits", [(6, 3), (10, 8)])
def test_every_value_at_every_shift(acc_bits, out_bits, out_signed):
    """Exhaustive over accumulator values and shifts, with random gaps on both sides."""
    lanes = 4
    dut = Requantizer(acc_bits, out_bits, lanes, out_signed)
    values = list(range(-(1 << (acc_bits - 1)), 1 << (acc_bits - 1)))
    values += [0] * (-len(values) % lanes)
    layout = data.ArrayLayout(data.Shape.cast(dut.i.payload.shape().elem_shape), lanes)
    beats = [values[i:i + lanes] for i in range(0, len(values), lanes)]
    results = {}

    async def tb(ctx):
        r = random.Random(acc_bits)
        for shift in range(acc_bits):
            ctx.set(dut.shift, shift)
            got = []
            sent = 0
            offering = False
            while len(got) < len(beats):
                # Random valid and ready gaps; once offered, a beat holds until it is taken.
                offering = sent < len(beats) and (offering or r.random() > 0.3)
                ctx.set(dut.i.valid, offering)
                if sent < len(beats):
                    ctx.set(dut.i.payload, layout.const(beats[sent]))
                ctx.set(dut.o.ready, r.random() > 0.3)
                _, _, i_valid, i_ready, o_valid, o_ready, o_payload = await ctx.tick().sample(
                    dut.i.valid, dut.i.ready, dut.o.valid, dut.o.ready, dut.o.payload)
                if i_valid and i_ready:
                    sent += 1
                    offering = False
                if o_valid and o_ready:
                    got.append([int(v) for v in o_payload])
            ctx.set(dut.i.valid, 0)
            ctx.set(dut.o.ready, 0)
            results[shift] = got

    run_simulation(dut, tb, deadline_cycles=acc_bits * len(beats) * 8 + 100)
    for shift, got in results.items():
        expected = requantize(np.array(beats), shift, out_bits, out_signed).tolist()
        assert got == expected, f"shift {shift}"


def test_shift_changes_every_beat_and_full_throughput():
    """Each beat is requantized with the shift it entered with, while the output stalls at
    random; without stalls, N beats take N + ``latency`` cycles."""
    acc_bits, out_bits, lanes = 24, 8, 2
    dut = Requantizer(acc_bits, out_bits, lanes)
    layout = data.ArrayLayout(data.Shape.cast(dut.i.payload.shape().elem_shape), lanes)
    r = random.Random(7)
    beats = [[r.randint(-(1 << 23), (1 << 23) - 1) >> r.randrange(acc_bits)
              for _ in range(lanes)] for _ in range(300)]
    shifts = [r.randrange(acc_bits) for _ in beats]
    runs = {}

    async def tb(ctx):
        for stall in (0.4, 0.0):
            got = []
            sent = 0
            cycles = 0
            while len(got) < len(beats):
                ctx.set(dut.i.valid, sent < len(beats))
                if sent < len(beats):
                    ctx.set(dut.i.payload, layout.const(beats[sent]))
                    ctx.set(dut.shift, shifts[sent])
                ctx.set(dut.o.ready, r.random() >= stall)
                _, _, i_valid, i_ready, o_valid, o_ready, o_payload = await ctx.tick().sample(
                    dut.i.valid, dut.i.ready, dut.o.valid, dut.o.ready, dut.o.payload)
                cycles += 1
                if i_valid and i_ready:
                    sent += 1
                if o_valid and o_ready:
                    got.append([int(v) for v in o_payload])
            ctx.set(dut.i.valid, 0)
            runs[stall] = got, cycles

    run_simulation(dut, tb, deadline_cycles=len(beats) * 10 + 100)
    expected = [requantize(np.array(b), s, out_bits).tolist() for b, s in zip(beats, shifts)]
    for stall, (got, cycles) in runs.items():
        assert got == expected, f"stall {stall}"
    assert runs[0.0][1] == len(beats) + dut.latency


def test_golden_rounds_half_up_and_saturates():
    assert requantize([5, 6, 7, -5, -6, -7], 1, 8).tolist() == [3, 3, 4, -2, -3, -3]
    assert requantize([1000, -1000], 0, 8).tolist() == [127, -128]
    assert requantize([-3, 600], 1, 8, out_signed=False).tolist() == [0, 255]


def test_rejects_bad_widths():
    with pytest.raises(ValueError, match="out_bits=40 must be in"):
        Requantizer(acc_bits=24, out_bits=40)
