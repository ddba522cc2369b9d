from amaranth import Module, Mux, Shape, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

__all__ = ["StreamFIFO"]


class StreamFIFO(wiring.Component):
    """A synchronous stream FIFO with registered outputs and a registered ``i.ready``.

    The entries sit in a memory of ``depth - 1`` words whose synchronous read port is the
    output register, the same structure as :class:`amaranth.lib.fifo.SyncFIFOBuffered`; on top
    of it, whether the memory has room and whether it holds an entry are kept as flip-flops,
    so that the producer sees ``i.ready`` straight from a register and the consumer's
    ``o.ready`` passes one gate before the read enable, instead of a compare of the fill
    level in front of each. Any payload shape (including :mod:`amaranth.lib.data` layouts)
    passes through unchanged.

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
        inner_depth = self._depth - 1
        m.submodules.storage = storage = Memory(
            shape=Shape.cast(self._shape).width, depth=inner_depth, init=[])
        w_port = storage.write_port()
        r_port = storage.read_port(domain="sync")

        produce = Signal(range(inner_depth))
        consume = Signal(range(inner_depth))
        inner_level = Signal(range(inner_depth + 1))
        # ``inner_level != inner_depth`` and ``inner_level != 0``.
        has_room = Signal(init=1)
        has_entry = Signal()

        def incr(pointer):
            return Mux(pointer == inner_depth - 1, 0, pointer + 1)

        write = self.i.valid & has_room
        read = has_entry & (~self.o.valid | self.o.ready)
        m.d.comb += [
            self.i.ready.eq(has_room),
            w_port.addr.eq(produce),
            w_port.data.eq(self.i.payload),
            w_port.en.eq(write),
            r_port.addr.eq(consume),
            r_port.en.eq(read),
            self.o.payload.eq(r_port.data),
            self.level.eq(inner_level + self.o.valid),
        ]
        with m.If(write):
            m.d.sync += produce.eq(incr(produce))
        with m.If(read):
            m.d.sync += [consume.eq(incr(consume)), self.o.valid.eq(1)]
        with m.Elif(self.o.ready):
            m.d.sync += self.o.valid.eq(0)
        with m.If(write & ~read):
            m.d.sync += [inner_level.eq(inner_level + 1), has_entry.eq(1),
                         has_room.eq(inner_level != inner_depth - 1)]
        with m.Elif(read & ~write):
            m.d.sync += [inner_level.eq(inner_level - 1), has_room.eq(1),
                         has_entry.eq(inner_level != 1)]
        return m
