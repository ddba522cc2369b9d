from amaranth import Shape, Module
from amaranth.lib import wiring, stream
from amaranth.lib.fifo import SyncFIFOBuffered
from amaranth.lib.wiring import In, Out

__all__ = ["StreamFIFO"]


class StreamFIFO(wiring.Component):
    """A synchronous stream FIFO with registered outputs.

    Thin stream wrapper around :class:`amaranth.lib.fifo.SyncFIFOBuffered`, so that blocks
    connect FIFOs with :func:`amaranth.lib.wiring.connect` and any payload shape (including
    :mod:`amaranth.lib.data` layouts) passes through unchanged.

    Parameters
    ----------
    shape : shape-like
        Payload shape.
    depth : int
        Number of entries, at least 2 (one of them is the output register).

    Members
    -------
    i : ``In(stream.Signature(shape))``
        Write side.
    o : ``Out(stream.Signature(shape))``
        Read side.
    level : ``Out(range(depth + 1))``
        Entries held.

    Latency and throughput
    ----------------------
    ``latency`` (2) cycles from an accepted write to ``o.valid`` (through the storage, then
    the output register); one transfer per cycle on each side, sustained.
    """

    latency = 2

    def __init__(self, shape, depth):
        if depth < 2:
            # A rejected component is never elaborated; do not warn that it was unused.
            self._MustUse__silence = True
            raise ValueError(f"StreamFIFO depth={depth} must be at least 2")
        self._shape = shape
        self._depth = depth
        super().__init__({
            "i": In(stream.Signature(shape)),
            "o": Out(stream.Signature(shape)),
            "level": Out(range(depth + 1)),
        })

    @property
    def depth(self):
        return self._depth

    def elaborate(self, platform):
        m = Module()
        m.submodules.storage = fifo = SyncFIFOBuffered(
            width=Shape.cast(self._shape).width, depth=self._depth)
        m.d.comb += [
            fifo.w_data.eq(self.i.payload),
            fifo.w_en.eq(self.i.valid),
            self.i.ready.eq(fifo.w_rdy),
            self.o.payload.eq(fifo.r_data),
            self.o.valid.eq(fifo.r_rdy),
            fifo.r_en.eq(self.o.ready),
            self.level.eq(fifo.level),
        ]
        return m
