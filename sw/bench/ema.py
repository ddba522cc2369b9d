"""EMA controller figures, measured by simulating its RTL (Amaranth simulator) against an
AXI memory that never stalls.

``read_utilization`` / ``write_utilization``: AXI data beats divided by the cycles from the
descriptor handshake to the status handshake, for one long 2-D transfer (64 KB: 16 rows of
4 KB). The ``*_unaligned`` variants start every row three bytes into a beat, which costs one
flush cycle per row on reads.

``sas_bytes_dense`` / ``sas_bytes_compressed`` (builds with the PSSA codec): one structured
self-attention score tile (16 x 16 latent, 256 x 256 scores, rows in patch visit order,
threshold from :func:`sw.bench.pssa.choose_threshold`) written through the encoder: its dense
size, and the bytes the controller's SAS write counter saw on the bus. ``sas_round_trip_exact``
says whether reading it back through the decoder returned exactly the pruned tile.
"""

import random
from collections import deque

import numpy as np

from hw.ema import EMAController
from hw.ema.layouts import descriptor_layout, window_layout
from sw.flows.amsim import run_simulation, stream_recv, stream_send
from sw.golden import ema as golden

__all__ = ["run", "ideal_memory", "transfer_cycles", "sas_round_trip"]


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


def sas_round_trip(config, tile: np.ndarray, threshold: int, policy: int,
                   memory: bytearray, addr: int = 0x8000) -> dict:
    """Write ``tile`` (rows in visit order) as a SAS tile, read it back; return the coded
    words the status reported, the SAS bytes counted per direction and the decoded beats."""
    from hw.pssa import PSSALayouts

    ema, pssa = config.ema, config.pssa
    dut = EMAController(config)
    layout = descriptor_layout(ema)
    windows = window_layout(ema)
    beat = PSSALayouts(config).beat
    n_rows, n_keys = tile.shape
    per_row = -(-n_keys // pssa.lanes)
    padded = np.zeros((n_rows, per_row * pssa.lanes), dtype=np.int64)
    padded[:, :n_keys] = tile
    beats = [beat.const([int(v) for v in padded[r, k * pssa.lanes:(k + 1) * pssa.lanes]])
             for r in range(n_rows) for k in range(per_row)]
    sas = golden.CLASSES.index("sas")
    result = {}

    def command(direction, words):
        return layout.const({"direction": direction, "tclass": sas, "addr": addr,
                             "rows": n_rows, "row_bytes": n_keys, "stride": words})

    async def drive(ctx):
        ctx.set(dut.window_base, windows.const([0] * 4))
        ctx.set(dut.window_limit, windows.const([(1 << ema.addr_width) - 1] * 4))
        ctx.set(dut.sas_threshold, threshold)
        ctx.set(dut.sas_policy, policy)
        await stream_send(ctx, dut.desc, [command(golden.WRITE, 0)])
        (status,) = await stream_recv(ctx, dut.status, 1)
        result["write_status"] = status.code.value
        result["words"] = status.words
        await stream_send(ctx, dut.desc, [command(golden.READ, status.words)])
        (status,) = await stream_recv(ctx, dut.status, 1)
        result["read_status"] = status.code.value
        counters = ctx.get(dut.counters)
        result["bytes_written"] = counters[sas][golden.WRITE].bytes
        result["bytes_read"] = counters[sas][golden.READ].bytes

    async def scores(ctx):
        await stream_send(ctx, dut.sas_scores_in, beats)

    async def decoded(ctx):
        got = await stream_recv(ctx, dut.sas_scores_out, len(beats))
        result["decoded"] = [[int(v) for v in b] for b in got]

    run_simulation(dut, drive, scores, decoded, processes=[ideal_memory(dut, memory)],
                   deadline_cycles=20 * len(beats) + 10_000)
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
    if ema.sas_codec:
        figures.update(_sas_figures(config, memory))
    return figures


def _sas_figures(config, memory):
    from sw.bench.pssa import choose_threshold
    from sw.data.attention import self_attention
    from sw.golden import pssa as pssa_golden

    pssa = config.pssa
    side = 16
    attention = self_attention(size=side, score_bits=pssa.score_bits)
    order = pssa_golden.patch_order(side, side, pssa.patch_h, pssa.patch_w)
    tile = attention.scores[order][:, :pssa.max_keys]
    threshold, _ = choose_threshold(attention)
    got = sas_round_trip(config, tile, threshold, pssa_golden.CHAIN, memory)
    pruned = pssa_golden.prune(tile, threshold)
    lanes = pssa.lanes
    per_row = -(-tile.shape[1] // lanes)
    padded = np.zeros((tile.shape[0], per_row * lanes), dtype=np.int64)
    padded[:, :tile.shape[1]] = pruned
    want = [list(padded[r, k * lanes:(k + 1) * lanes]) for r in range(tile.shape[0])
            for k in range(per_row)]
    dense = tile.size * pssa.score_bits // 8
    return {
        "sas_tile": f"{tile.shape[0]} x {tile.shape[1]} scores, threshold {threshold}",
        "sas_bytes_dense": dense,
        "sas_bytes_compressed": got["bytes_written"],
        "sas_compression_ratio": round(dense / got["bytes_written"], 3),
        "sas_coded_words": got["words"],
        "sas_coded_words_golden": len(pssa_golden.encode(tile, threshold, pssa_golden.CHAIN,
                                                         config).words),
        "sas_bytes_read_back": got["bytes_read"],
        "sas_round_trip_exact": got["decoded"] == want and got["write_status"] == 0 and
        got["read_status"] == 0,
    }
