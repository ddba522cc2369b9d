"""Bit-exact reference of the EMA controller (``hw/ema``).

Everything the RTL decides deterministically is modelled here: the window check, the split of
a 2-D descriptor into AXI INCR bursts, the on-chip beat format (each row starts on a fresh
beat, its last beat zero-padded), the W beats (data on strobed lanes, strobes, WLAST), the
memory after a write, the read data after an error response (zeros from the first failing
DRAM beat on) and the traffic counters of a successful descriptor.

Memory is a ``uint8`` array; addresses wrap modulo its size, as in cocotbext-axi's ``AxiRam``.
Status codes equal :class:`hw.ema.Status` values (and the AXI ``xRESP`` for bus errors).
"""

from dataclasses import dataclass
from typing import Callable

import numpy as np

__all__ = ["PAGE_BYTES", "READ", "WRITE", "CLASSES", "OK", "EXOKAY", "SLVERR", "DECERR",
           "WINDOW", "EMPTY", "SHAPE", "CODEC", "Descriptor", "Burst", "check", "plan_bursts",
           "chip_beats", "rows_to_beats", "beats_to_rows", "read", "write_beats", "write",
           "traffic", "sas_reserved_words"]

PAGE_BYTES = 4096
READ, WRITE = 0, 1
CLASSES = ("weight", "activation", "sas", "other")
OK, EXOKAY, SLVERR, DECERR, WINDOW, EMPTY, SHAPE, CODEC = range(8)


@dataclass(frozen=True)
class Descriptor:
    direction: int
    tclass: int
    addr: int
    rows: int
    row_bytes: int
    stride: int

    def row_addr(self, row: int, addr_width: int) -> int:
        return (self.addr + row * self.stride) % (1 << addr_width)


@dataclass(frozen=True)
class Burst:
    addr: int
    beats: int
    row: int
    offset: int
    row_first: bool
    row_last: bool
    last: bool


def check(desc: Descriptor, base: int, limit: int) -> int:
    """``EMPTY``, ``WINDOW`` (any byte outside ``[base, limit]``) or ``OK``."""
    if desc.rows == 0 or desc.row_bytes == 0:
        return EMPTY
    last_byte = desc.addr + (desc.rows - 1) * desc.stride + desc.row_bytes - 1
    return WINDOW if desc.addr < base or last_byte > limit else OK


def plan_bursts(desc: Descriptor, data_bytes: int, max_burst: int,
                addr_width: int) -> list[Burst]:
    """The INCR bursts of ``desc`` in issue order (never crossing 4 KB, at most ``max_burst``
    beats, one row's bytes per burst)."""
    bursts = []
    for row in range(desc.rows):
        cur = desc.row_addr(row, addr_width)
        remaining = desc.row_bytes
        first = True
        while True:
            offset = cur % data_bytes
            beat_addr = cur - offset
            span = -(-(offset + remaining) // data_bytes)
            page = (PAGE_BYTES - beat_addr % PAGE_BYTES) // data_bytes
            limit = min(max_burst, page)
            row_last = span <= limit
            beats = span if row_last else limit
            bursts.append(Burst(beat_addr, beats, row, offset, first,
                                row_last, row_last and row == desc.rows - 1))
            if row_last:
                break
            moved = beats * data_bytes - offset
            cur = (beat_addr + beats * data_bytes) % (1 << addr_width)
            remaining -= moved
            first = False
    return bursts


def chip_beats(desc: Descriptor, data_bytes: int) -> int:
    """On-chip beats a descriptor moves, whatever its outcome (none if it is empty)."""
    if desc.rows == 0 or desc.row_bytes == 0:
        return 0
    return desc.rows * -(-desc.row_bytes // data_bytes)


def rows_to_beats(rows: np.ndarray, data_bytes: int) -> list[int]:
    """On-chip beats (little-endian integers) of a ``(rows, row_bytes)`` byte array."""
    n_rows, row_bytes = rows.shape
    per_row = -(-row_bytes // data_bytes)
    padded = np.zeros((n_rows, per_row * data_bytes), dtype=np.uint8)
    padded[:, :row_bytes] = rows
    return [int.from_bytes(padded[r, k * data_bytes:(k + 1) * data_bytes].tobytes(), "little")
            for r in range(n_rows) for k in range(per_row)]


def beats_to_rows(beats: list[int], rows: int, row_bytes: int, data_bytes: int) -> np.ndarray:
    """The ``(rows, row_bytes)`` bytes carried by on-chip beats (padding dropped)."""
    per_row = -(-row_bytes // data_bytes)
    flat = b"".join(int(b).to_bytes(data_bytes, "little") for b in beats)
    arr = np.frombuffer(flat, dtype=np.uint8).reshape(rows, per_row * data_bytes)
    return arr[:, :row_bytes].copy()


def _gather(memory: np.ndarray, desc: Descriptor, addr_width: int) -> np.ndarray:
    offsets = np.arange(desc.row_bytes)
    rows = np.empty((desc.rows, desc.row_bytes), dtype=np.uint8)
    for r in range(desc.rows):
        rows[r] = memory[(desc.row_addr(r, addr_width) + offsets) % memory.size]
    return rows


def read(memory: np.ndarray, desc: Descriptor, ema, base: int, limit: int,
         response: Callable[[int], int] | None = None) -> tuple[int, list[int]]:
    """Status and on-chip beats of read descriptor ``desc``.

    ``response(beat_addr)`` gives the AXI ``RRESP`` the memory answers for a beat (``OKAY``
    when omitted). From the first failing beat on, the data is zero.
    """
    status = check(desc, base, limit)
    if status == EMPTY:
        return status, []
    data_bytes = ema.data_bytes
    if status == WINDOW:
        return status, [0] * chip_beats(desc, data_bytes)
    rows = _gather(memory, desc, ema.addr_width)
    # DRAM beats reach the bus in row order, each row's beats in address order.
    for r in range(desc.rows):
        offset = desc.row_addr(r, ema.addr_width) % data_bytes
        first = desc.row_addr(r, ema.addr_width) - offset
        beat_of_byte = (offset + np.arange(desc.row_bytes)) // data_bytes
        for j in range(beat_of_byte[-1] + 1):
            code = response((first + j * data_bytes) % (1 << ema.addr_width)) if response else OK
            if code != OK:
                rows[r][beat_of_byte >= j] = 0
                rows[r + 1:] = 0
                return code, rows_to_beats(rows, data_bytes)
    return status, rows_to_beats(rows, data_bytes)


def write_beats(desc: Descriptor, beats: list[int], ema) -> list[tuple[int, int, int, bool]]:
    """The W beats of a successful write: ``(beat_addr, data on strobed lanes, strobes,
    wlast)``, in bus order."""
    data_bytes = ema.data_bytes
    rows = beats_to_rows(beats, desc.rows, desc.row_bytes, data_bytes)
    out = []
    for burst in plan_bursts(desc, data_bytes, ema.max_burst, ema.addr_width):
        row_addr = desc.row_addr(burst.row, ema.addr_width)
        # Byte position of the burst's first lane relative to the row's first byte.
        lane0 = (burst.addr - row_addr) % (1 << ema.addr_width)
        if lane0 >= 1 << (ema.addr_width - 1):
            lane0 -= 1 << ema.addr_width
        for k in range(burst.beats):
            data = strb = 0
            for lane in range(data_bytes):
                pos = lane0 + k * data_bytes + lane
                if 0 <= pos < desc.row_bytes:
                    strb |= 1 << lane
                    data |= int(rows[burst.row, pos]) << (8 * lane)
            out.append((burst.addr + k * data_bytes, data, strb, k == burst.beats - 1))
    return out


def write(memory: np.ndarray, desc: Descriptor, beats: list[int], ema, base: int,
          limit: int) -> tuple[int, np.ndarray]:
    """Status and memory after a successful (or refused) write descriptor; the input is not
    modified."""
    status = check(desc, base, limit)
    after = memory.copy()
    if status != OK:
        return status, after
    for addr, data, strb, _ in write_beats(desc, beats, ema):
        for lane in range(ema.data_bytes):
            if strb >> lane & 1:
                after[(addr + lane) % after.size] = data >> (8 * lane) & 0xFF
    return status, after


def traffic(desc: Descriptor, ema, issued: int | None = None) -> dict[str, int]:
    """Bus traffic of a descriptor whose first ``issued`` bursts (all by default) reached the
    bus: row bytes carried, data beats, bursts."""
    bursts = plan_bursts(desc, ema.data_bytes, ema.max_burst, ema.addr_width)
    bursts = bursts if issued is None else bursts[:issued]
    carried = 0
    for burst in bursts:
        row_start = desc.row_addr(burst.row, ema.addr_width)
        for k in range(burst.beats):
            lo = max(burst.addr + k * ema.data_bytes, row_start)
            hi = min(burst.addr + (k + 1) * ema.data_bytes, row_start + desc.row_bytes)
            carried += hi - lo
    return {"bytes": carried, "beats": sum(b.beats for b in bursts), "bursts": len(bursts)}


def sas_reserved_words(rows: int, keys: int, config) -> int:
    """Words a SAS tile write reserves in its window: a bound on the coded length that needs
    no division in hardware (a row of ``keys`` scores codes to at most
    ``keys * (score_bits + 2) + lanes`` bits)."""
    bits = rows * (keys * (config.pssa.score_bits + 2) + config.pssa.lanes)
    return -(-bits // config.ema.data_width)
