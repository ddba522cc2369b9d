from amaranth import Module, Signal
from amaranth.lib import wiring, stream
from amaranth.lib.wiring import In, Out

__all__ = ["SkidBuffer"]


class SkidBuffer(wiring.Component):
    """A two-entry pipeline register that cuts every path between its two sides.

    ``o.valid``/``o.payload`` come from flip-flops and ``i.ready`` is a flip-flop too, so a long
    ``ready`` chain can be broken without losing throughput: the second (skid) entry catches the
    beat that arrives in the cycle after the consumer stalls.

    Parameters
    ----------
    shape : shape-like
        Payload shape.

    Members
    -------
    i : ``In(stream.Signature(shape))``
    o : ``Out(stream.Signature(shape))``

    Latency and throughput
    ----------------------
    ``latency`` (1) cycle; one transfer per cycle sustained.
    """

    latency = 1

    def __init__(self, shape):
        self._shape = shape
        super().__init__({
            "i": In(stream.Signature(shape)),
            "o": Out(stream.Signature(shape)),
        })

    def elaborate(self, platform):
        m = Module()
        skid_payload = Signal.like(self.i.payload, name="skid_payload")
        skid_valid = Signal()

        # i.ready is registered: it is low exactly when the skid entry is occupied.
        m.d.comb += self.i.ready.eq(~skid_valid)
        output_free = ~self.o.valid | self.o.ready

        with m.If(output_free):
            with m.If(skid_valid):
                m.d.sync += [self.o.payload.eq(skid_payload), self.o.valid.eq(1),
                             skid_valid.eq(0)]
            with m.Else():
                m.d.sync += self.o.valid.eq(self.i.valid)
                with m.If(self.i.valid):
                    m.d.sync += self.o.payload.eq(self.i.payload)
        with m.Elif(self.i.valid & self.i.ready):
            m.d.sync += [skid_payload.eq(self.i.payload), skid_valid.eq(1)]
        return m
