"""An IO-free registered wrapper, so that place-and-route times a block register to register.

nextpnr only times paths between flip-flops, and a block with a 64-bit stream on each side
does not fit the pins of any package anyway. :class:`RegisteredHarness` therefore drives every
input of the block from flip-flops fed by a pseudo-random sequence, and folds every output into
a single pin through registered XOR stages. Each input bit is its own flip-flop and the outputs
all reach the pin, so synthesis can neither fold inputs together nor drop logic as unobserved.

The harness adds paths of its own of at most one LUT level (the XOR stages), far shorter than
any real datapath, so the reported Fmax is the block's.
"""

from amaranth import Cat, ClockDomain, ClockSignal, Module, Signal, Value
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

__all__ = ["RegisteredHarness", "DUT_NAME", "port_widths"]

#: Submodule name of the wrapped block; its RTLIL module is ``<harness name>.dut``.
DUT_NAME = "dut"

_LFSR_BITS = 16
# Taps of a maximal-length 16-bit Fibonacci LFSR (x^16 + x^14 + x^13 + x^11 + 1).
_LFSR_TAPS = (15, 13, 12, 10)
# Each XOR stage folds this many bits, so that one stage is one 4-input LUT.
_FOLD = 4


def port_widths(component: wiring.Component) -> tuple[int, int]:
    """Total widths of the component's input and output port bits."""
    inputs, outputs = _ports(component)
    return sum(len(v) for v in inputs), sum(len(v) for v in outputs)


def _ports(component):
    """The component's port values (structs as plain values), inputs and outputs apart."""
    inputs, outputs = [], []
    for _, member, value in component.signature.flatten(component):
        (inputs if member.flow == wiring.In else outputs).append(Value.cast(value))
    return inputs, outputs


class RegisteredHarness(wiring.Component):
    """Wraps ``dut`` so that its only pins are ``clk``, ``rst`` and one output bit.

    Parameters
    ----------
    dut : wiring.Component
        The block; it runs in the harness's clock, its synchronous reset comes from the ``rst``
        pin through one register.

    Members
    -------
    clk : ``In(1)``
        The clock of every flip-flop.
    rst : ``In(1)``
        Reset of the block (registered once before use).
    out : ``Out(1)``
        XOR of every output bit of the block, after ``stages`` register stages.

    Latency and throughput
    ----------------------
    Not a datapath: ``stages`` is the number of XOR register stages between the block's
    outputs and ``out``.
    """

    def __init__(self, dut: wiring.Component):
        self.dut = dut
        self.input_bits, self.output_bits = port_widths(dut)
        stages, width = 1, max(self.output_bits, 1)
        while width > 1:
            width = -(-width // _FOLD)
            stages += 1
        self.stages = stages
        super().__init__({"clk": In(1), "rst": In(1), "out": Out(1)})

    def elaborate(self, platform):
        m = Module()
        # The harness's own flip-flops have no reset (an init value instead), so that the
        # reset pin reaches the block only.
        m.domains.bench = ClockDomain("bench", reset_less=True, local=True)
        m.domains.sync = sync = ClockDomain("sync", local=True)
        m.d.comb += [ClockSignal("bench").eq(self.clk), sync.clk.eq(self.clk)]
        block_reset = Signal(init=1)
        m.d.bench += block_reset.eq(self.rst)
        m.d.comb += sync.rst.eq(block_reset)

        m.submodules[DUT_NAME] = self.dut

        # A non-zero init keeps synthesis from proving the sequence constant.
        lfsr = Signal(_LFSR_BITS, init=1)
        feedback = 0
        for tap in _LFSR_TAPS:
            feedback ^= lfsr[tap]
        m.d.bench += lfsr.eq((lfsr << 1)[:_LFSR_BITS] | feedback)

        inputs, outputs = _ports(self.dut)

        if self.input_bits:
            stimulus = Signal(self.input_bits, init=1)
            m.d.bench += stimulus.eq((stimulus << 1)[:self.input_bits] | lfsr[-1])
            offset = 0
            for value in inputs:
                m.d.comb += value.eq(stimulus[offset:offset + len(value)])
                offset += len(value)

        level = Signal(max(self.output_bits, 1))
        if outputs:
            bits = []
            for value in outputs:
                bits += [value[i] for i in range(len(value))]
            m.d.bench += level.eq(Cat(*bits))
        while len(level) > 1:
            folded = Signal(-(-len(level) // _FOLD))
            for i in range(len(folded)):
                m.d.bench += folded[i].eq(level[i * _FOLD:(i + 1) * _FOLD].xor())
            level = folded
        m.d.comb += self.out.eq(level)
        return m

