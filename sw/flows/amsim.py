"""Amaranth-simulator helpers: run testbenches with a deadline, stream put/get with random gaps."""

import random

from amaranth.sim import Simulator

__all__ = ["run_simulation", "stream_put", "stream_get", "stream_send", "stream_recv"]


def run_simulation(dut, *testbenches, processes=(), deadline_cycles: int = 100_000,
                   vcd: str | None = None):
    """Simulate ``dut`` with a 100 MHz clock until every testbench returns.

    Fails instead of hanging when the testbenches take more than ``deadline_cycles``.
    """
    sim = Simulator(dut)
    sim.add_clock(1e-8)
    finished = []

    def tracked(tb):
        async def wrapper(ctx):
            await tb(ctx)
            finished.append(tb)
        return wrapper

    async def watchdog(ctx):
        for _ in range(deadline_cycles):
            if len(finished) == len(testbenches):
                return
            await ctx.tick()
        raise AssertionError(f"simulation did not finish within {deadline_cycles} cycles")

    for tb in testbenches:
        sim.add_testbench(tracked(tb))
    sim.add_testbench(watchdog)
    for process in processes:
        sim.add_process(process)
    if vcd:
        with sim.write_vcd(vcd):
            sim.run()
    else:
        sim.run()


async def stream_put(ctx, stream, payload):
    ctx.set(stream.valid, 1)
    ctx.set(stream.payload, payload)
    await ctx.tick().until(stream.ready)
    ctx.set(stream.valid, 0)


async def stream_get(ctx, stream):
    ctx.set(stream.ready, 1)
    payload, = await ctx.tick().sample(stream.payload).until(stream.valid)
    ctx.set(stream.ready, 0)
    return payload


async def stream_send(ctx, stream, payloads, r: random.Random | None = None,
                      gap: float = 0.0):
    """Send every payload, idling a random number of cycles (probability ``gap`` each)."""
    r = r or random.Random(0)
    for payload in payloads:
        while gap and r.random() < gap:
            await ctx.tick()
        await stream_put(ctx, stream, payload)


async def stream_recv(ctx, stream, count: int, r: random.Random | None = None,
                      gap: float = 0.0):
    """Receive ``count`` payloads, holding ``ready`` low at random (probability ``gap``)."""
    r = r or random.Random(1)
    items = []
    while len(items) < count:
        while gap and r.random() < gap:
            await ctx.tick()
        items.append(await stream_get(ctx, stream))
    return items
