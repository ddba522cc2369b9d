from amaranth import Module, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

__all__ = ["Requantizer"]


class Requantizer(wiring.Component):
    """Wide accumulators to narrow activations: arithmetic shift, round half up, saturate.

    For each lane, ``out = clamp((acc + 2^(shift-1)) >> shift)`` (plain ``clamp(acc)`` when
    ``shift`` is 0), clamped to the signed or unsigned ``out_bits`` range. ``shift`` is set per
    tile at run time; each beat is shifted by the value it entered with. The golden model is
    :func:`sw.golden.common.requantize`.

    Parameters
    ----------
    acc_bits : int
        Width of the signed accumulator values.
    out_bits : int
        Width of the results.
    lanes : int
        Values per beat.
    out_signed : bool
        Two's-complement results (activations) or unsigned (scores).

    Members
    -------
    shift : ``In(range(acc_bits))``
    i : ``In(stream.Signature(ArrayLayout(signed(acc_bits), lanes)))``
    o : ``Out(stream.Signature(ArrayLayout(out_shape, lanes)))``

    Latency and throughput
    ----------------------
    ``latency`` (3) cycles (round, shift, saturate); one beat per cycle.
    """

    latency = 3

    def __init__(self, acc_bits, out_bits, lanes=1, out_signed=True):
        errors = []
        if not 2 <= acc_bits <= 128:
            errors.append(f"acc_bits={acc_bits} must be in [2, 128]")
        if not 1 <= out_bits <= acc_bits:
            errors.append(f"out_bits={out_bits} must be in [1, acc_bits]")
        if not 1 <= lanes <= 256:
            errors.append(f"lanes={lanes} must be in [1, 256]")
        if errors:
            self._MustUse__silence = True
            raise ValueError("Requantizer: " + "; ".join(errors))
        self.acc_bits = acc_bits
        self.out_bits = out_bits
        self.lanes = lanes
        self.out_signed = out_signed
        out_shape = signed(out_bits) if out_signed else unsigned(out_bits)
        super().__init__({
            "shift": In(range(acc_bits)),
            "i": In(stream.Signature(data.ArrayLayout(signed(acc_bits), lanes))),
            "o": Out(stream.Signature(data.ArrayLayout(out_shape, lanes))),
        })

    def elaborate(self, platform):
        m = Module()
        if self.out_signed:
            lo, hi = -(1 << (self.out_bits - 1)), (1 << (self.out_bits - 1)) - 1
        else:
            lo, hi = 0, (1 << self.out_bits) - 1

        def saturation(value):
            """(above ``hi``, below ``lo``) from the bits above the output range: a reduction
            tree is shallower than two magnitude compares along a carry chain."""
            negative = value[-1]
            if self.out_signed:
                # In range exactly when the sign fills every bit from the output's top one.
                upper = value[self.out_bits - 1:]
                return ~negative & upper.any(), negative & ~upper.all()
            return ~negative & value[self.out_bits:].any(), negative

        # Three stages (round, shift, saturate), so that the rounding carry chain, the barrel
        # shifter and the saturation compare each have a cycle; they advance together, and a
        # stalled output freezes all of them, so nothing is lost and one beat per cycle flows
        # otherwise.
        advance = ~self.o.valid | self.o.ready
        m.d.comb += self.i.ready.eq(advance)
        rounded_valid = Signal()
        shifted_valid = Signal()
        with m.If(advance):
            m.d.sync += [rounded_valid.eq(self.i.valid), shifted_valid.eq(rounded_valid),
                         self.o.valid.eq(shifted_valid)]

        # The shift travels with its beat to the shifter.
        # The data registers carry no reset: the valid flags beside them do.
        rounded_shift = Signal.like(self.shift, reset_less=True)
        with m.If(advance):
            m.d.sync += rounded_shift.eq(self.shift)
        # Half of the last dropped bit's weight, added before the shift: round half up.
        half = Signal(unsigned(self.acc_bits), name="half")
        m.d.comb += half.eq((1 << self.shift) >> 1)
        for lane in range(self.lanes):
            rounded = Signal(signed(self.acc_bits + 1), name=f"rounded_{lane}", reset_less=True)
            shifted = Signal(signed(self.acc_bits + 1), name=f"shifted_{lane}", reset_less=True)
            with m.If(advance):
                m.d.sync += [rounded.eq(self.i.payload[lane] + half),
                             shifted.eq(rounded >> rounded_shift)]
                above, below = saturation(shifted)
                with m.If(above):
                    m.d.sync += self.o.payload[lane].eq(hi)
                with m.Elif(below):
                    m.d.sync += self.o.payload[lane].eq(lo)
                with m.Else():
                    m.d.sync += self.o.payload[lane].eq(shifted)
        return m
