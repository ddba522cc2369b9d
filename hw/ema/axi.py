"""AXI4 and AXI4-Lite signatures written in Amaranth (amaranth-soc is not installable).

Members are flat and named as in the AMBA specification (``awaddr``, ``wvalid``, ...), so that an
interface member ``m_axi`` emits Verilog ports ``m_axi__awaddr`` etc., which cocotbext-axi binds
with ``AxiBus.from_prefix(dut, "m_axi", bus_separator="__")``. Directions are those of the
manager (master); ``.flip()`` gives the subordinate (slave) side.
"""

from amaranth.lib import enum, wiring
from amaranth.lib.wiring import In, Out

__all__ = ["AXIResp", "AXIBurst", "AXI4Signature", "AXI4LiteSignature"]


class AXIResp(enum.Enum, shape=2):
    """``xRESP`` codes."""
    OKAY = 0
    EXOKAY = 1
    SLVERR = 2
    DECERR = 3


class AXIBurst(enum.Enum, shape=2):
    """``AxBURST`` codes."""
    FIXED = 0
    INCR = 1
    WRAP = 2


def _check_widths(kind, addr_width, data_width, id_width=None):
    errors = []
    if addr_width not in range(12, 65):
        errors.append(f"addr_width={addr_width!r} must be an integer in [12, 64]")
    allowed = (32, 64) if kind == "AXI4-Lite" else (8, 16, 32, 64, 128, 256, 512, 1024)
    if data_width not in allowed:
        errors.append(f"data_width={data_width!r} must be one of {', '.join(map(str, allowed))}")
    if id_width is not None and id_width not in range(1, 33):
        errors.append(f"id_width={id_width!r} must be an integer in [1, 32]")
    if errors:
        raise ValueError(f"invalid {kind} signature: " + "; ".join(errors))


class AXI4Signature(wiring.Signature):
    """An AXI4 manager port: five channels, INCR/WRAP/FIXED bursts, byte strobes, IDs.

    The ID signals are present even when one ID is used, because AXI subordinate models
    (cocotbext-axi) require them. ``AxLOCK``, ``AxCACHE`` and ``AxPROT`` are included with
    their usual widths; QoS, region and user signals are omitted (they default to zero).

    Parameters
    ----------
    addr_width : int
        Byte address width, 12 to 64.
    data_width : int
        Data width in bits, a power of two from 8 to 1024.
    id_width : int
        Transaction ID width, at least 1.

    Members
    -------
    aw* : ``Out`` except ``awready`` (``In``)
        Write address channel: ``awid``, ``awaddr``, ``awlen`` (beats - 1), ``awsize``
        (log2 bytes per beat), ``awburst``, ``awlock``, ``awcache``, ``awprot``.
    w* : ``Out`` except ``wready`` (``In``)
        Write data channel: ``wdata``, ``wstrb``, ``wlast``.
    b* : ``In`` except ``bready`` (``Out``)
        Write response channel: ``bid``, ``bresp``.
    ar* : ``Out`` except ``arready`` (``In``)
        Read address channel, as ``aw*``.
    r* : ``In`` except ``rready`` (``Out``)
        Read data channel: ``rid``, ``rdata``, ``rresp``, ``rlast``.
    """

    def __init__(self, *, addr_width, data_width, id_width=1):
        _check_widths("AXI4", addr_width, data_width, id_width)
        self.addr_width = addr_width
        self.data_width = data_width
        self.id_width = id_width
        members = {}
        for ch in ("aw", "ar"):
            members.update({
                f"{ch}id": Out(id_width),
                f"{ch}addr": Out(addr_width),
                f"{ch}len": Out(8),
                f"{ch}size": Out(3),
                f"{ch}burst": Out(AXIBurst),
                f"{ch}lock": Out(1),
                f"{ch}cache": Out(4),
                f"{ch}prot": Out(3),
                f"{ch}valid": Out(1),
                f"{ch}ready": In(1),
            })
        members.update({
            "wdata": Out(data_width),
            "wstrb": Out(data_width // 8),
            "wlast": Out(1),
            "wvalid": Out(1),
            "wready": In(1),
            "bid": In(id_width),
            "bresp": In(AXIResp),
            "bvalid": In(1),
            "bready": Out(1),
            "rid": In(id_width),
            "rdata": In(data_width),
            "rresp": In(AXIResp),
            "rlast": In(1),
            "rvalid": In(1),
            "rready": Out(1),
        })
        super().__init__(members)

    def __eq__(self, other):
        return (isinstance(other, AXI4Signature) and
                (self.addr_width, self.data_width, self.id_width) ==
                (other.addr_width, other.data_width, other.id_width))

    def __repr__(self):
        return (f"AXI4Signature(addr_width={self.addr_width}, data_width={self.data_width}, "
                f"id_width={self.id_width})")


class AXI4LiteSignature(wiring.Signature):
    """An AXI4-Lite manager port (single-beat transfers, no IDs), for CSR buses.

    Parameters
    ----------
    addr_width : int
        Byte address width, 12 to 64.
    data_width : int
        32 or 64.

    Members
    -------
    awaddr, awprot, awvalid / awready; wdata, wstrb, wvalid / wready; bresp, bvalid / bready;
    araddr, arprot, arvalid / arready; rdata, rresp, rvalid / rready
        As in AXI4, with the manager driving ``*valid`` of the address and write channels.
    """

    def __init__(self, *, addr_width, data_width=32):
        _check_widths("AXI4-Lite", addr_width, data_width)
        self.addr_width = addr_width
        self.data_width = data_width
        super().__init__({
            "awaddr": Out(addr_width),
            "awprot": Out(3),
            "awvalid": Out(1),
            "awready": In(1),
            "wdata": Out(data_width),
            "wstrb": Out(data_width // 8),
            "wvalid": Out(1),
            "wready": In(1),
            "bresp": In(AXIResp),
            "bvalid": In(1),
            "bready": Out(1),
            "araddr": Out(addr_width),
            "arprot": Out(3),
            "arvalid": Out(1),
            "arready": In(1),
            "rdata": In(data_width),
            "rresp": In(AXIResp),
            "rvalid": In(1),
            "rready": Out(1),
        })

    def __eq__(self, other):
        return (isinstance(other, AXI4LiteSignature) and
                (self.addr_width, self.data_width) == (other.addr_width, other.data_width))

    def __repr__(self):
        return f"AXI4LiteSignature(addr_width={self.addr_width}, data_width={self.data_width})"
