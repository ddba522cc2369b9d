"""Testbench pieces shared by every cocotb test: config, clock/reset, stream driver and monitor.

Signals follow Amaranth's Verilog naming: a stream member ``i`` becomes ``i__valid``,
``i__ready`` and ``i__payload``. Handshakes are sampled right after the rising edge, when the
signals still hold the values they had at the edge (as cocotbext-axi does).
"""

import json
import os
import random

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import RisingEdge

from sw.config import ProcessorConfig

__all__ = ["config_from_env", "test_args", "rng", "start", "pause_generator", "StreamSource",
           "StreamSink", "signed_value", "wait_until"]


def config_from_env() -> ProcessorConfig:
    return ProcessorConfig.from_json(os.environ["SDPROC_CONFIG"])


def test_args() -> dict:
    return json.loads(os.environ.get("SDPROC_TEST_ARGS", "{}"))


def rng() -> random.Random:
    """A generator seeded from cocotb's seed, so a failing run is reproducible."""
    return random.Random(cocotb.RANDOM_SEED)


async def start(dut, reset_cycles: int = 3, period_ns: int = 10):
    """Start ``dut.clk`` and hold ``dut.rst`` for ``reset_cycles``.

    Create the stream drivers (or set every input) before calling this: Icarus leaves an input
    that was never written at Z, and a register that samples it at the end of reset keeps X/Z.
    """
    Clock(dut.clk, period_ns, unit="ns").start()
    dut.rst.value = 1
    for _ in range(reset_cycles):
        await RisingEdge(dut.clk)
    dut.rst.value = 0
    await RisingEdge(dut.clk)


def pause_generator(r: random.Random, probability: float):
    """Yields True (pause this cycle) with ``probability``; 0 means never."""
    while True:
        yield probability > 0 and r.random() < probability


def signed_value(raw: int, width: int) -> int:
    return raw - (1 << width) if raw >> (width - 1) & 1 else raw


class _StreamPort:
    """The ``valid``/``ready``/``payload`` handles of one stream port and its pause pattern."""

    def __init__(self, dut, prefix: str, pause: float, r: random.Random | None):
        self.clk = dut.clk
        self.valid = getattr(dut, f"{prefix}__valid")
        self.payload = getattr(dut, f"{prefix}__payload")
        self.ready = getattr(dut, f"{prefix}__ready", None)
        self._rng = r or rng()
        self.set_pause(pause)

    def set_pause(self, probability: float):
        self._pauses = pause_generator(self._rng, probability)


class StreamSource(_StreamPort):
    """Drives ``<prefix>__valid``/``__payload`` and waits for ``__ready``, with random gaps."""

    def __init__(self, dut, prefix: str, pause: float = 0.0, r: random.Random | None = None):
        super().__init__(dut, prefix, pause, r)
        self.valid.value = 0

    async def send(self, payloads):
        for payload in payloads:
            while next(self._pauses):
                self.valid.value = 0
                await RisingEdge(self.clk)
            self.valid.value = 1
            self.payload.value = int(payload)
            while True:
                await RisingEdge(self.clk)
                if self.ready is None or self.ready.value:
                    break
        self.valid.value = 0


class StreamSink(_StreamPort):
    """Collects payloads from ``<prefix>__valid``/``__payload``, driving ``__ready`` with random
    gaps. Start it with ``cocotb.start_soon(sink.run())``; read ``sink.items``."""

    def __init__(self, dut, prefix: str, pause: float = 0.0, r: random.Random | None = None):
        super().__init__(dut, prefix, pause, r)
        self.items = []
        if self.ready is not None:
            self.ready.value = 0

    async def run(self):
        while True:
            accept = not next(self._pauses)
            if self.ready is not None:
                self.ready.value = int(accept)
            await RisingEdge(self.clk)
            if accept and self.valid.value:
                self.items.append(int(self.payload.value))

    async def wait_for(self, count: int, timeout_cycles: int):
        await wait_until(self.clk, lambda: len(self.items) >= count, timeout_cycles,
                         f"{count} items (got {len(self.items)})")


async def wait_until(clk, condition, timeout_cycles: int, what: str = "condition"):
    """Wait for ``condition()`` on rising edges; fail (no hang) after ``timeout_cycles``."""
    for _ in range(timeout_cycles):
        if condition():
            return
        await RisingEdge(clk)
    if not condition():
        raise AssertionError(f"timed out after {timeout_cycles} cycles waiting for {what}")
