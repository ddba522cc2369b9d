from dataclasses import dataclass

from amaranth import Cat, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from hw.ema.axi import AXI4LiteSignature, AXIResp

__all__ = ["CSR", "CSRBank"]

_ACCESS = ("rw", "ro", "pulse", "w1c")
# Registers per first-step read mux: 8:1 is three ECP5 cells (four LUTs, two PFUMX, one L6MUX).
_READ_GROUP = 8


@dataclass(frozen=True)
class CSR:
    """One 32-bit-aligned register of a :class:`CSRBank`.

    ``access`` is one of

    - ``"rw"``: software writes (byte strobes honoured) and reads; hardware sees the value.
    - ``"ro"``: hardware drives the value; software writes are ignored.
    - ``"pulse"``: a software write presents the written value with a one-cycle strobe (e.g. a
      command push or a start bit); reads return 0.
    - ``"w1c"``: sticky status bits that hardware sets and software clears by writing 1s.
    """

    name: str
    access: str
    width: int = 32
    init: int = 0
    doc: str = ""


class CSRBank(wiring.Component):
    """A bank of 32-bit control/status registers behind an AXI4-Lite subordinate port.

    Register ``i`` of ``registers`` sits at byte offset ``4 * i``; the two low address bits are
    ignored, as AXI4-Lite subordinates do (a sub-word write says which bytes through ``wstrb``).
    An access to an offset with no register is answered with SLVERR (reads return 0) and
    changes nothing. Write address and data may arrive in either order.

    Parameters
    ----------
    registers : sequence of :class:`CSR`
    addr_width : int
        Byte address width of the port (the bank decodes the low bits it needs and answers
        SLVERR above them).

    Members
    -------
    bus : ``In(AXI4LiteSignature(addr_width=addr_width, data_width=32))``
        The subordinate port.
    <name> : per register
        ``rw``: ``Out(width)``; ``ro``: ``In(width)``; ``pulse``: ``Out(width)`` and
        ``<name>_stb`` ``Out(1)``; ``w1c``: ``Out(width)`` (current bits) and ``<name>_set``
        ``In(width)`` (bits to set this cycle; a set wins over a simultaneous clear).

    Latency and throughput
    ----------------------
    A write takes effect ``write_latency`` (1) cycle after both its address and data were
    accepted, when ``bvalid`` rises; a read returns ``read_latency`` (3) cycles after its address
    was accepted (the address, then one value per group of eight registers, then the group's
    value, each registered). One write and one read in
    flight at a time.
    """

    write_latency = 1
    read_latency = 3

    def __init__(self, registers, addr_width=12):
        registers = tuple(registers)
        errors = []
        names = set()
        for reg in registers:
            if reg.access not in _ACCESS:
                errors.append(f"{reg.name}.access={reg.access!r} must be one of {_ACCESS}")
            if not 1 <= reg.width <= 32:
                errors.append(f"{reg.name}.width={reg.width} must be in [1, 32]")
            if reg.name in names or not reg.name.isidentifier() or reg.name == "bus":
                errors.append(f"register name {reg.name!r} must be a unique identifier")
            names.add(reg.name)
        if (4 * len(registers) - 1).bit_length() > addr_width:
            errors.append(f"{len(registers)} registers do not fit addr_width={addr_width}")
        if errors:
            self._MustUse__silence = True
            raise ValueError("CSRBank: " + "; ".join(errors))
        self.registers = registers
        members = {"bus": In(AXI4LiteSignature(addr_width=addr_width, data_width=32))}
        for reg in registers:
            if reg.access == "ro":
                members[reg.name] = In(reg.width)
            else:
                members[reg.name] = Out(reg.width, init=reg.init if reg.access != "pulse" else 0)
            if reg.access == "pulse":
                members[f"{reg.name}_stb"] = Out(1)
            if reg.access == "w1c":
                members[f"{reg.name}_set"] = In(reg.width)
        super().__init__(members)

    def offset(self, name):
        """Byte offset of register ``name``."""
        for index, reg in enumerate(self.registers):
            if reg.name == name:
                return 4 * index
        raise KeyError(name)

    def elaborate(self, platform):
        m = Module()
        bus = self.bus

        # Write: hold address and data until both are present, then answer on B.
        aw_held, w_held = Signal(), Signal()
        w_data, w_strb = Signal(32), Signal(4)
        bvalid = Signal()
        bresp = Signal(AXIResp)
        m.d.comb += [
            bus.awready.eq(~aw_held & ~bvalid),
            bus.wready.eq(~w_held & ~bvalid),
            bus.bvalid.eq(bvalid),
            bus.bresp.eq(bresp),
        ]
        # The address is decoded as it is accepted, one flip-flop per register: each
        # register's write enable is then one gate of flip-flops, wherever its consumer pulls
        # it on the chip.
        aw_select = Signal(len(self.registers))
        aw_known = Signal()
        with m.If(bus.awvalid & bus.awready):
            m.d.sync += [aw_held.eq(1), aw_known.eq(bus.awaddr[2:] < len(self.registers)),
                         aw_select.eq(Cat(bus.awaddr[2:] == index
                                          for index in range(len(self.registers))))]
        with m.If(bus.wvalid & bus.wready):
            m.d.sync += [w_held.eq(1), w_data.eq(bus.wdata), w_strb.eq(bus.wstrb)]
        with m.If(bvalid & bus.bready):
            m.d.sync += bvalid.eq(0)

        write_now = aw_held & w_held & ~bvalid
        byte_mask = Signal(32)
        for byte in range(4):
            m.d.comb += byte_mask[8 * byte:8 * byte + 8].eq(w_strb[byte].replicate(8))

        for reg in self.registers:
            if reg.access == "pulse":
                m.d.sync += getattr(self, f"{reg.name}_stb").eq(0)
            if reg.access == "w1c":
                port = getattr(self, reg.name)
                m.d.sync += port.eq(port | getattr(self, f"{reg.name}_set"))

        with m.If(write_now):
            m.d.sync += [aw_held.eq(0), w_held.eq(0), bvalid.eq(1),
                         bresp.eq(Mux(aw_known, AXIResp.OKAY, AXIResp.SLVERR))]
            for index, reg in enumerate(self.registers):
                with m.If(aw_select[index]):
                    port = getattr(self, reg.name)
                    merged = (port & ~byte_mask) | (w_data & byte_mask)
                    if reg.access == "rw":
                        m.d.sync += port.eq(merged[:reg.width])
                    elif reg.access == "pulse":
                        m.d.sync += [port.eq(w_data[:reg.width]),
                                     getattr(self, f"{reg.name}_stb").eq(1)]
                    elif reg.access == "w1c":
                        cleared = port & ~(w_data & byte_mask)[:reg.width]
                        m.d.sync += port.eq(cleared | getattr(self, f"{reg.name}_set"))

        # Read: one outstanding read, in three registered steps: the address; one value out of
        # each group of ``_READ_GROUP`` registers; the group. The bus's address and the
        # registers' sources are far apart on the chip and a single mux over every register is
        # too deep for the clock.
        rvalid = Signal()
        read_pending = Signal()
        group_pending = Signal()
        read_index = Signal.like(bus.araddr[2:])
        groups = [self.registers[start:start + _READ_GROUP]
                  for start in range(0, len(self.registers), _READ_GROUP)]
        # Qualified by ``group_pending``: no reset needed.
        group_values = [Signal(32, name=f"read_group_{g}", reset_less=True)
                        for g in range(len(groups))]
        group_index = Signal(range(len(groups)))
        index_known = Signal()
        m.d.comb += [bus.arready.eq(~rvalid & ~read_pending & ~group_pending),
                     bus.rvalid.eq(rvalid)]
        with m.If(rvalid & bus.rready):
            m.d.sync += rvalid.eq(0)
        m.d.sync += [read_pending.eq(bus.arvalid & bus.arready), group_pending.eq(read_pending)]
        with m.If(bus.arvalid & bus.arready):
            m.d.sync += read_index.eq(bus.araddr[2:])
        with m.If(read_pending):
            m.d.sync += [group_index.eq(read_index // _READ_GROUP),
                         index_known.eq(read_index < len(self.registers))]
            for value, group in zip(group_values, groups):
                m.d.sync += value.eq(0)
                with m.Switch(read_index % _READ_GROUP):
                    for position, reg in enumerate(group):
                        if reg.access != "pulse":
                            with m.Case(position):
                                m.d.sync += value.eq(getattr(self, reg.name))
        with m.If(group_pending):
            m.d.sync += [rvalid.eq(1), bus.rdata.eq(0),
                         bus.rresp.eq(Mux(index_known, AXIResp.OKAY, AXIResp.SLVERR))]
            with m.If(index_known):
                with m.Switch(group_index):
                    for g, value in enumerate(group_values):
                        with m.Case(g):
                            m.d.sync += bus.rdata.eq(value)
        return m
