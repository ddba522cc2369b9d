from amaranth import Module, Mux, Signal, signed, unsigned
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

__all__ = ["SignedMAC"]


class SignedMAC(wiring.Component):
    """A pipelined multiply-accumulate unit with run-time operand signedness and product
    shift.

    This is the one datapath every PE array shares. The bit-slice array feeds it one
    activation slice per cycle (``a_signed`` set only for the top slice, ``shift`` the slice's
    weight ``k * i``); the bit-parallel baseline feeds it whole activations with ``shift = 0``.

    For the operands presented on each cycle with ``advance`` and ``en`` set,
    ``acc <= (clear ? 0 : acc) + (a * b) << shift``, where ``a`` is read as two's complement
    when ``a_signed`` is set and as unsigned otherwise. The sum lands ``latency`` advancing
    cycles later; operands presented with ``en`` low leave ``acc`` as it is.

    Three stages, so that neither the multiplier nor the accumulator carry chain shares a
    cycle with the other or with the caller's operand selection: the operands are registered,
    then the product, then the shifted product is added.

    Parameters
    ----------
    a_width : int
        Width of the ``a`` operand (an activation or an activation slice).
    b_width : int
        Width of the signed ``b`` operand (a weight).
    acc_width : int
        Width of the signed accumulator. The caller sizes it so that it cannot overflow.
    max_shift : int
        Largest product shift.

    Members
    -------
    a : ``In(a_width)``
    a_signed : ``In(1)``
    b : ``In(signed(b_width))``
    shift : ``In(range(max(max_shift, 1) + 1))``
        Ignored when ``max_shift`` is 0.
    clear : ``In(1)``
        Start a new sum with this product instead of adding to ``acc``.
    en : ``In(1)``
        The operands are a product to accumulate (otherwise a bubble).
    advance : ``In(1)``
        Every stage, ``acc`` included, moves only while it is set: a stalled caller freezes
        the products in flight with it.
    acc : ``Out(signed(acc_width))``

    Latency and throughput
    ----------------------
    ``latency`` (3) advancing cycles from operands to ``acc``; one MAC per cycle.
    """

    latency = 3

    def __init__(self, a_width, b_width, acc_width, max_shift=0):
        if min(a_width, b_width) < 1 or acc_width < a_width + b_width or max_shift < 0:
            # A rejected component is never elaborated; do not warn that it was unused.
            self._MustUse__silence = True
            raise ValueError(
                f"SignedMAC needs a_width, b_width >= 1 (got {a_width}, {b_width}), "
                f"acc_width >= a_width + b_width (got {acc_width}) and max_shift >= 0 "
                f"(got {max_shift})")
        self.a_width = a_width
        self.b_width = b_width
        self.acc_width = acc_width
        self.max_shift = max_shift
        super().__init__({
            "a": In(unsigned(a_width)),
            "a_signed": In(1),
            "b": In(signed(b_width)),
            # At least one bit: a zero-width port becomes an ill-formed ``[-1:0]`` Verilog wire.
            "shift": In(range(max(max_shift, 1) + 1)),
            "clear": In(1),
            "en": In(1),
            "advance": In(1),
            "acc": Out(signed(acc_width)),
        })

    def elaborate(self, platform):
        m = Module()
        step = self.advance

        # Operand stage. One extra bit lets a single signed multiplier serve both readings
        # of ``a``.
        # The operands and products carry no reset: each sum starts with ``clear``, and the
        # flags that say so have one.
        a_ext = Signal(signed(self.a_width + 1), reset_less=True)
        b = Signal(signed(self.b_width), reset_less=True)
        shift_1 = Signal.like(self.shift, reset_less=True)
        clear_1 = Signal()
        en_1 = Signal()
        sign = self.a[-1] & self.a_signed
        with m.If(step):
            m.d.sync += [
                a_ext.eq(Mux(sign, self.a.as_signed(), self.a)),
                b.eq(self.b),
                shift_1.eq(self.shift),
                clear_1.eq(self.clear),
                en_1.eq(self.en),
            ]

        # Product stage.
        product = Signal(signed(self.a_width + 1 + self.b_width), reset_less=True)
        shift_2 = Signal.like(self.shift, reset_less=True)
        clear_2 = Signal()
        en_2 = Signal()
        with m.If(step):
            m.d.sync += [
                product.eq(a_ext * b),
                shift_2.eq(shift_1),
                clear_2.eq(clear_1),
                en_2.eq(en_1),
            ]

        # Accumulate stage.
        if self.max_shift:
            addend = product << shift_2
        else:
            addend = product
        acc = Signal.like(self.acc, reset_less=True)   # every sum starts with ``clear``
        m.d.comb += self.acc.eq(acc)
        base = Mux(clear_2, 0, acc)
        with m.If(step & en_2):
            m.d.sync += acc.eq(base + addend)
        return m
