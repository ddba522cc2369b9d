"""Payload layouts and codes shared by the EMA controller, its golden model and its tests."""

from amaranth import unsigned
from amaranth.lib import data, enum

__all__ = ["TrafficClass", "Direction", "Status", "COUNTER_KINDS", "descriptor_layout",
           "burst_layout", "status_layout", "counters_layout", "window_layout"]


class TrafficClass(enum.Enum, shape=2):
    """What a descriptor moves; the traffic counters and address windows are per class."""
    WEIGHT = 0
    ACTIVATION = 1
    SAS = 2
    OTHER = 3


class Direction(enum.Enum, shape=1):
    """``READ``: DRAM to chip (AXI reads). ``WRITE``: chip to DRAM (AXI writes)."""
    READ = 0
    WRITE = 1


class Status(enum.Enum, shape=3):
    """Completion code of a descriptor.

    The bus codes equal the AXI ``xRESP`` of the first failing response, so software can read
    them as such; ``EXOKAY`` is an error too, because the controller never asks for exclusive
    access. ``SHAPE`` and ``CODEC`` concern SAS descriptors of builds with the PSSA codec.
    """
    OK = 0
    EXOKAY = 1       #: an exclusive-access response to a normal access
    SLVERR = 2       #: the memory answered SLVERR
    DECERR = 3       #: the interconnect answered DECERR
    WINDOW = 4       #: the descriptor reaches outside its class's window; refused
    EMPTY = 5        #: no rows or no bytes (or no coded words); nothing moved
    SHAPE = 6        #: SAS tile beyond the codec's limits, or a misaligned SAS address; refused
    CODEC = 7        #: the decoder found the coded SAS tile malformed


#: Order of the four counters of each class and direction (and of their register offsets).
COUNTER_KINDS = ("bytes", "beats", "bursts", "stalls")


def descriptor_layout(ema):
    """One transfer: ``rows`` rows of ``row_bytes`` bytes, ``stride`` bytes apart in DRAM."""
    return data.StructLayout({
        "direction": Direction,
        "tclass": TrafficClass,
        "addr": unsigned(ema.addr_width),
        "rows": unsigned(ema.rows_bits),
        "row_bytes": unsigned(ema.row_bytes_bits),
        "stride": unsigned(ema.addr_width),
    })


def burst_layout(ema):
    """One INCR burst as planned: its beat-aligned address and length, and where it sits in
    its row (``offset`` is the row's first byte within the first beat, valid with
    ``row_first``)."""
    return data.StructLayout({
        "addr": unsigned(ema.addr_width),
        "len": unsigned(8),
        "offset": unsigned(max(1, ema.beat_shift)),
        "row_first": unsigned(1),
        "row_last": unsigned(1),
        "last": unsigned(1),
    })


def status_layout(words_bits=0):
    """``code``, ``direction``, ``tclass``; with ``words_bits``, also ``words``: the coded
    length of a SAS tile just written (zero for other descriptors)."""
    fields = {"code": Status, "direction": Direction, "tclass": TrafficClass}
    if words_bits:
        fields["words"] = unsigned(words_bits)
    return data.StructLayout(fields)


def counters_layout(ema):
    """``counters[tclass][direction].<kind>``, each ``counter_bits`` wide."""
    kinds = data.StructLayout({kind: unsigned(ema.counter_bits) for kind in COUNTER_KINDS})
    return data.ArrayLayout(data.ArrayLayout(kinds, len(Direction)), len(TrafficClass))


def window_layout(ema):
    """One address per class: ``window_base[tclass]`` or ``window_limit[tclass]``."""
    return data.ArrayLayout(unsigned(ema.addr_width), len(TrafficClass))
