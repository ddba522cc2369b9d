"""A small design whose synthesis figures are known in advance, for the flow tests."""

from amaranth import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

__all__ = ["Probe", "PROBE_MEMORY_BITS", "PROBE_COUNTER_BITS"]

PROBE_DEPTH = 32
PROBE_WIDTH = 8
PROBE_MEMORY_BITS = PROBE_DEPTH * PROBE_WIDTH
PROBE_COUNTER_BITS = 8


class Probe(wiring.Component):
    """A 32 x ``width`` memory and a ``width``-bit accumulator: with the default width exactly
    ``PROBE_MEMORY_BITS`` memory bits and at least ``PROBE_COUNTER_BITS`` flip-flops, one carry
    chain of logic.

    Parameters
    ----------
    width : int
        Data width.
    memory_attrs : dict, optional
        Attributes of the memory (e.g. a ``ram_style`` hint).

    Members
    -------
    we, addr, data : ``In``
        Write enable, address and data of the memory; ``data`` is also added to ``total``.
    q : ``Out(width)``
        Synchronous read of ``addr``.
    total : ``Out(width)``
        Running sum of ``data`` over the cycles with ``we`` set.

    Latency and throughput
    ----------------------
    One cycle from ``addr`` to ``q`` and from ``data`` to ``total``.
    """

    latency = 1

    def __init__(self, width=PROBE_WIDTH, memory_attrs=None):
        self.width = width
        self.memory_attrs = dict(memory_attrs or {})
        super().__init__({
            "we": In(1), "addr": In(range(PROBE_DEPTH)), "data": In(width),
            "q": Out(width), "total": Out(width),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.storage = storage = Memory(shape=self.width, depth=PROBE_DEPTH, init=[],
                                                  attrs=self.memory_attrs)
        write = storage.write_port()
        read = storage.read_port()
        m.d.comb += [write.addr.eq(self.addr), write.data.eq(self.data), write.en.eq(self.we),
                     read.addr.eq(self.addr), self.q.eq(read.data)]
        total = Signal(self.width)
        with m.If(self.we):
            m.d.sync += total.eq(total + self.data)
        m.d.comb += self.total.eq(total)
        return m
