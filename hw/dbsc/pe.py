"""One processing element of the DBSC array: a :class:`hw.common.SignedMAC` shared by both
dataflows, plus the registers that move operands and partial sums through the array."""

from amaranth import Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from hw.common import SignedMAC

__all__ = ["slice_layout", "SlicePE"]


def slice_layout(lane_bits, max_shift):
    """What travels along a PE row each cycle: one activation slice and its control bits.

    ``valid``: a slice is present (otherwise a bubble); ``top``: the signed top slice;
    ``shift``: the slice's bit weight; ``first``: the first slice of a new sum (clears the
    accumulator); ``last``: the last slice of the sum; ``swap``: the first slice of a new
    weight-stationary chunk (switch to the freshly loaded weights).
    """
    return data.StructLayout({
        "value": unsigned(lane_bits),
        # At least one bit, like SignedMAC.shift: a zero-width field would be emitted as an
        # ill-formed ``[-1:0]`` wire.
        "shift": range(max(max_shift, 1) + 1),
        "top": 1,
        "first": 1,
        "last": 1,
        "swap": 1,
        "valid": 1,
    })


class SlicePE(wiring.Component):
    """A bit-slice processing element for the weight-stationary and output-stationary
    dataflows.

    Every slice goes through the one :class:`~hw.common.SignedMAC` (``mac``), whichever the
    dataflow, so synthesis keeps a single multiplier-accumulator per PE. Only the operand
    source differs: in WS the PE's stationary weight (``w_active``, with ``w_shadow`` loaded in
    the background), in OS the weight streaming down the column (``w_in``). ``latency - 1``
    cycles after a ``last`` slice, ``psum_out`` takes ``acc + psum_in`` (WS: the column's
    partial sum) or ``acc`` (OS: the finished output), and ``psum_valid`` pulses.

    Every register advances only while ``advance`` is high, so the whole array stalls as one.

    Parameters
    ----------
    lane_bits : int
        Width of an activation slice.
    weight_bits : int
    acc_bits : int
        Width of the accumulator and of the partial sums.
    max_shift : int
        Bit weight of the top slice.
    has_ws, has_os : bool
        Which dataflows the PE is built for (at least one).

    Members
    -------
    act_in : ``In(slice_layout)``
        This cycle's slice, from the left neighbour or the row skew.
    act_out : ``Out(slice_layout)``
        ``act_in`` delayed one cycle, to the right neighbour.
    os_mode : ``In(1)``
        1 selects the output-stationary operand (only with both dataflows).
    advance : ``In(1)``
    w_in : ``In(signed(weight_bits))``, ``w_out`` : ``Out(signed(weight_bits))``
        OS only: the column's weight stream and its one-cycle-delayed copy.
    load : ``In(1)``, ``load_data`` : ``In(signed(weight_bits))``
        WS only: write ``load_data`` into ``w_shadow``.
    psum_in : ``In(signed(acc_bits))``
        WS only: the partial sum from the PE above.
    psum_out : ``Out(signed(acc_bits))``, ``psum_valid`` : ``Out(1)``

    Latency and throughput
    ----------------------
    One slice per cycle. ``act_out``/``w_out`` lag by one cycle; ``psum_out`` is written
    ``latency`` (4) advancing cycles after the ``last`` slice enters
    (``SignedMAC.latency`` for the MAC, 1 for the sum), and ``psum_in`` is read one cycle
    before that.
    """

    latency = SignedMAC.latency + 1

    def __init__(self, lane_bits, weight_bits, acc_bits, max_shift, has_ws=True, has_os=True):
        if not (has_ws or has_os):
            # A rejected component is never elaborated; do not warn that it was unused.
            self._MustUse__silence = True
            raise ValueError("SlicePE needs has_ws or has_os")
        self.lane_bits = lane_bits
        self.weight_bits = weight_bits
        self.acc_bits = acc_bits
        self.max_shift = max_shift
        self.has_ws = has_ws
        self.has_os = has_os
        layout = slice_layout(lane_bits, max_shift)
        ports = {
            "act_in": In(layout),
            "act_out": Out(layout),
            "os_mode": In(1),
            "advance": In(1),
            "psum_out": Out(signed(acc_bits)),
            "psum_valid": Out(1),
        }
        if has_os:
            ports |= {"w_in": In(signed(weight_bits)), "w_out": Out(signed(weight_bits))}
        if has_ws:
            ports |= {"load": In(1), "load_data": In(signed(weight_bits)),
                      "psum_in": In(signed(acc_bits))}
        super().__init__(ports)

    def elaborate(self, platform):
        m = Module()
        m.submodules.mac = mac = SignedMAC(a_width=self.lane_bits, b_width=self.weight_bits,
                                           acc_width=self.acc_bits, max_shift=self.max_shift)
        act = self.act_in
        step = self.advance
        if self.has_ws and self.has_os:
            os_mode = self.os_mode
        else:
            os_mode = int(self.has_os)

        if self.has_ws:
            # Weights carry no reset: the loader fills the shadow before a chunk's first token
            # swaps it in.
            w_shadow = Signal(signed(self.weight_bits), reset_less=True)
            w_active = Signal(signed(self.weight_bits), reset_less=True)
            with m.If(step & self.load):
                m.d.sync += w_shadow.eq(self.load_data)
            with m.If(step & act.valid & act.swap):
                m.d.sync += w_active.eq(w_shadow)
            # The first slice of a new chunk already multiplies by the new weight.
            ws_weight = Mux(act.swap, w_shadow, w_active)
        if self.has_os:
            with m.If(step):
                m.d.sync += self.w_out.eq(self.w_in)
        if self.has_ws and self.has_os:
            weight = Mux(os_mode, self.w_in, ws_weight)
        elif self.has_os:
            weight = self.w_in
        else:
            weight = ws_weight

        m.d.comb += [
            mac.a.eq(act.value),
            mac.a_signed.eq(act.top),
            mac.b.eq(weight),
            mac.shift.eq(act.shift),
            mac.clear.eq(act.first),
            mac.en.eq(act.valid),
            mac.advance.eq(step),
        ]

        # ``mac.acc`` holds the finished sum ``mac.latency`` advancing cycles after the last
        # slice and may take the next sum's first product one cycle later: the flag travels
        # beside the slice's product to pick the sum up in that one cycle.
        finishing = [Signal(name=f"finishing_{i}") for i in range(mac.latency)]
        # Read only under ``psum_valid``: no reset.
        psum = Signal.like(self.psum_out, reset_less=True)
        m.d.comb += self.psum_out.eq(psum)
        finished = finishing[-1]
        with m.If(step):
            m.d.sync += [
                self.act_out.eq(act),
                finishing[0].eq(act.valid & act.last),
                self.psum_valid.eq(finished),
            ]
            m.d.sync += [later.eq(earlier) for earlier, later in zip(finishing, finishing[1:])]
            with m.If(finished):
                if self.has_ws:
                    chained = Mux(os_mode, 0, self.psum_in)
                    m.d.sync += psum.eq(mac.acc + chained)
                else:
                    m.d.sync += psum.eq(mac.acc)
        return m
