from amaranth import Module, Mux, Signal
from amaranth.lib import wiring, stream
from amaranth.lib.wiring import In, Out

__all__ = ["SkidBuffer"]


class SkidBuffer(wiring.Component):
    """A two-entry pipeline register that cuts every path between its two sides.

    ``i.ready`` is a flip-flop and ``o.valid`` comes from one, so a long ``ready`` chain can be
    broken without losing throughput: the second entry catches the beat that arrives in the
    cycle after the consumer stalls.

    Two ways to hold the two entries:

    - ``steered=False`` (default): ``o.payload`` is a flip-flop, and the consumer's
      ``o.ready`` decides which of the two payload registers loads.
    - ``steered=True``: the entries form a ring written from the producer's side only (each
      loads when a beat arrives for it, so its enable depends on ``i.valid`` and flip-flops),
      and ``o.payload`` is a 2:1 select of them by a read pointer. Use it in front of a
      consumer whose ``ready`` is a long decision, so that the decision enables a few pointer
      and count flip-flops instead of every payload bit; the select costs one gate in front of
      the consumer.

    Parameters
    ----------
    shape : shape-like
        Payload shape.
    steered : bool
        Hold the entries in a producer-written ring (see above).

    Members
    -------
    i : ``In(stream.Signature(shape))``
    o : ``Out(stream.Signature(shape))``

    Latency and throughput
    ----------------------
    ``latency`` (1) cycle; one transfer per cycle sustained. Both ways behave the same on
    both streams, cycle for cycle.
    """

    latency = 1

    def __init__(self, shape, *, steered=False):
        self._shape = shape
        self._steered = steered
        super().__init__({
            "i": In(stream.Signature(shape)),
            "o": Out(stream.Signature(shape)),
        })

    def elaborate(self, platform):
        if self._steered:
            return self._elaborate_steered()
        m = Module()
        # The payloads carry no reset: they are read only under the valid flags, and a reset
        # would only add loads to the chip-wide reset net.
        skid_payload = Signal.like(self.i.payload, name="skid_payload", reset_less=True)
        payload = Signal.like(self.o.payload, name="payload", reset_less=True)
        m.d.comb += self.o.payload.eq(payload)
        skid_valid = Signal()
        # i.ready is registered: it is low exactly when the skid entry is occupied.
        m.d.comb += self.i.ready.eq(~skid_valid)
        output_free = ~self.o.valid | self.o.ready
        with m.If(output_free):
            with m.If(skid_valid):
                m.d.sync += [payload.eq(skid_payload), self.o.valid.eq(1),
                             skid_valid.eq(0)]
            with m.Else():
                m.d.sync += self.o.valid.eq(self.i.valid)
                with m.If(self.i.valid):
                    m.d.sync += payload.eq(self.i.payload)
        with m.Elif(self.i.valid & self.i.ready):
            m.d.sync += [skid_payload.eq(self.i.payload), skid_valid.eq(1)]
        return m

    def _elaborate_steered(self):
        m = Module()
        entries = [Signal.like(self.i.payload, name=f"entry_{k}", reset_less=True)
                   for k in range(2)]
        write_at = Signal()
        read_at = Signal()
        # ``full`` (both entries held) and ``held`` (at least one) are kept as flip-flops:
        # ``i.ready`` and ``o.valid`` come straight from them.
        full = Signal()
        held = Signal()
        push = self.i.valid & ~full
        pop = held & self.o.ready
        m.d.comb += [
            self.i.ready.eq(~full),
            self.o.valid.eq(held),
            self.o.payload.eq(Mux(read_at, entries[1], entries[0])),
        ]
        for k, entry in enumerate(entries):
            with m.If(push & (write_at == k)):
                m.d.sync += entry.eq(self.i.payload)
        with m.If(push):
            m.d.sync += write_at.eq(~write_at)
        with m.If(pop):
            m.d.sync += read_at.eq(~read_at)
        with m.If(push & ~pop):
            m.d.sync += [held.eq(1), full.eq(held)]
        with m.Elif(pop & ~push):
            m.d.sync += [full.eq(0), held.eq(full)]
        return m
