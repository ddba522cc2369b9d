"""EMA controller throughput, measured by simulating its RTL (Amaranth simulator) against an
AXI memory that never stalls.

``read_utilization`` / ``write_utilization``: AXI data beats divided by the cycles from the
descriptor handshake to the status handshake, for one long 2-D transfer (64 KB: 16 rows of
4 KB). The ``*_unaligned`` variants start every row three bytes into a beat, which costs one
flush cycle per row on reads.
"""

import random
from collections import deque

import numpy as np

from hw.ema import EMAController
from hw.ema.layouts import descriptor_layout, window_layout
from sw.flows.amsim import run_simulation
from sw.golden import ema as golden

__all__ = ["run", "ideal_memory", "transfer_cycles"]


def ideal_memory(dut, memory: bytearray, read_latency: int = 2):
    """An Amaranth-simulator testbench acting as an AXI4 memory that is always ready and
    returns read data ``read_latency`` cycles after the address, one beat per cycle."""
    axi = dut.m_axi
    lanes = len(axi.wstrb)

    async def serve(ctx):
        for port in (axi.arready, axi.awready, axi.wready):
            ctx.set(port, 1)
        reads = deque()      # (cycle ready, beat address, last)
        writes = deque()     # (beat address, closes its burst) of accepted AW bursts
        responses = 0
        cycle = 0
        while True:
            if reads and reads[0][0] <= cycle:
                _, addr, last = reads[0]
                ctx.set(axi.rvalid, 1)
                ctx.set(axi.rdata, int.from_bytes(memory[addr:addr + lanes], "little"))
                ctx.set(axi.rlast, last)
            else:
                ctx.set(axi.rvalid, 0)
            ctx.set(axi.bvalid, responses > 0)
            (_, _, arvalid, araddr, arlen, rvalid, rready, awvalid, awaddr, awlen, wvalid,
             wdata, wstrb, bvalid, bready) = await ctx.tick().sample(
                axi.arvalid, axi.araddr, axi.arlen, axi.rvalid, axi.rready, axi.awvalid,
                axi.awaddr, axi.awlen, axi.wvalid, axi.wdata, axi.wstrb, axi.bvalid, axi.bready)
            cycle += 1
            if arvalid:
                for k in range(arlen + 1):
                    reads.append((cycle + read_latency, araddr + k * lanes, k == arlen))
            if rvalid and rready:
                reads.popleft()
            if awvalid:
                writes.extend((awaddr + k * lanes, k == awlen) for k in range(awlen + 1))
            if wvalid:
                addr, last = writes.popleft()
                for lane in range(lanes):
                    if wstrb >> lane & 1:
                        memory[addr + lane] = wdata >> (8 * lane) & 0xFF
                responses += last
            if bvalid and bready:
                responses -= 1

    return serve


def transfer_cycles(config, desc: golden.Descriptor, memory: bytearray,
                    write_beats: list[int] | None = None) -> dict:
    """Simulate one descriptor; return its cycles, AXI data beats and read beats."""
    ema = config.ema
    dut = EMAController(config)
    layout = descriptor_layout(ema)
    windows = window_layout(ema)
    result = {}

    async def drive(ctx):
        ctx.set(dut.window_base, windows.const([0] * 4))
        ctx.set(dut.window_limit, windows.const([(1 << ema.addr_width) - 1] * 4))
        ctx.set(dut.rd_data.ready, 1)
        ctx.set(dut.status.ready, 1)
        ctx.set(dut.desc.payload, layout.const({
            "direction": desc.direction, "tclass": desc.tclass, "addr": desc.addr,
            "rows": desc.rows, "row_bytes": desc.row_bytes, "stride": desc.stride}))
        ctx.set(dut.desc.valid, 1)
        pending = deque(write_beats or [])
        cycles = beats = reads = 0
        started = False
        while True:
            ctx.set(dut.wr_data.valid, bool(pending))
            if pending:
                ctx.set(dut.wr_data.payload, pending[0])
            (_, _, desc_ready, status_valid, r_fire, w_fire, rd_valid, wr_ready) = \
                await ctx.tick().sample(dut.desc.ready, dut.status.valid,
                                        dut.m_axi.rvalid & dut.m_axi.rready,
                                        dut.m_axi.wvalid & dut.m_axi.wready,
                                        dut.rd_data.valid, dut.wr_data.ready)
            if started:
                cycles += 1
            if desc_ready and not started:
                started = True
                ctx.set(dut.desc.valid, 0)
            beats += r_fire + w_fire
            reads += rd_valid
            if pending and wr_ready:
                pending.popleft()
            if status_valid:
                break
        result.update(cycles=cycles, bus_beats=beats, read_beats=reads)

    run_simulation(dut, drive, processes=[ideal_memory(dut, memory)],
                   deadline_cycles=200_000)
    return result


def run(config) -> dict:
    ema = config.ema
    r = random.Random(0)
    memory = bytearray(r.randbytes(1 << 18))
    figures = {"source": "RTL simulation (Amaranth simulator), ideal AXI memory"}
    rows, row_bytes = 16, 4096
    for name, offset in (("", 0), ("_unaligned", 3)):
        read = golden.Descriptor(golden.READ, 1, 0x1000 + offset, rows, row_bytes, row_bytes)
        got = transfer_cycles(config, read, memory)
        figures[f"read_utilization{name}"] = round(got["bus_beats"] / got["cycles"], 4)
        figures[f"read_cycles{name}"] = got["cycles"]
        write = golden.Descriptor(golden.WRITE, 1, 0x20000 + offset, rows, row_bytes,
                                  row_bytes)
        data = np.frombuffer(r.randbytes(rows * row_bytes), dtype=np.uint8)
        beats = golden.rows_to_beats(data.reshape(rows, row_bytes), ema.data_bytes)
        got = transfer_cycles(config, write, memory, beats)
        figures[f"write_utilization{name}"] = round(got["bus_beats"] / got["cycles"], 4)
        figures[f"write_cycles{name}"] = got["cycles"]
    figures["transfer_bytes"] = rows * row_bytes
    return figures
