"""The command set of :class:`hw.top.SDProcessor` (docs/isa.md).

Every command is one 128-bit word; bits 3:0 are the opcode and the rest is read through the
opcode's layout below (first field at bit 0). The layouts are fixed: they do not depend on the
configuration, so one program encodes the same way for every build (a field value the build
cannot honour is an error at run time). Software encodes commands with the same layouts
(``LoadStore.const({...}).as_bits()``), see :mod:`sw.driver.isa`.
"""

from amaranth import unsigned
from amaranth.lib import data, enum

__all__ = ["COMMAND_BITS", "ADDR_BITS", "row_major_scores", "Opcode", "Buffer", "OutFormat", "ErrorCause",
           "MalformedDetail", "IRQ", "LoadStore", "Gemm", "Fence", "Tips", "SasTransfer",
           "Header"]

#: Width of one command word (four 32-bit CSR words, ``CMD0`` holding bits 31:0).
COMMAND_BITS = 128
#: Width of a buffer word address in a command.
ADDR_BITS = 18


def row_major_scores(config):
    """Whether a GEMM can take its activations straight from a decoded score tile in the SAS
    buffer (``act_source`` 1): the build has the PSSA codec, a score is as wide as an
    activation, a PSSA beat is one buffer word (so a query row is a contiguous run of words)
    and an activation beat neither straddles words nor leaves gaps."""
    d, p, W = config.dbsc, config.pssa, config.ema.data_width
    beat = d.rows * d.act_bits_high
    return (config.ema.sas_codec and p.score_bits == d.act_bits_high
            and p.lanes * p.score_bits == W and (W % beat == 0 or beat % W == 0))


class Opcode(enum.Enum, shape=4):
    """Bits 3:0 of every command. Unlisted codes are malformed."""
    LOAD = 1        #: DRAM -> buffer through one EMA descriptor
    STORE = 2       #: buffer -> DRAM through one EMA descriptor
    GEMM = 3        #: one DBSC tile from the weight/act/bitmap buffers into the out buffer
    FENCE = 4       #: completes once every earlier command has; raises the FENCE interrupt
    TIPS = 5        #: cross-attention probabilities (ACT buffer) -> precision bitmap (BITMAP)
    SAS_STORE = 6   #: score tile (SAS buffer) -> PSSA encoder -> DRAM
    SAS_LOAD = 7    #: DRAM -> PSSA decoder -> pruned score tile (SAS buffer)


class Buffer(enum.Enum, shape=3):
    """On-chip buffers, in ``TopConfig.BUFFERS`` order. Codes 5 to 7 are malformed."""
    WEIGHT = 0
    ACT = 1
    OUT = 2
    BITMAP = 3
    SAS = 4


class OutFormat(enum.Enum, shape=2):
    """What a GEMM writes per result element. Code 3 is malformed."""
    INT = 0         #: requantized to signed ``dbsc.act_bits_high`` bits (activations)
    UINT = 1        #: requantized to unsigned ``pssa.score_bits`` bits (scores)
    RAW = 2         #: the signed ``dbsc.acc_bits``-bit accumulators


class ErrorCause(enum.Enum, shape=4):
    """``ERROR.cause``: why the sequencer halted."""
    NONE = 0
    MALFORMED = 1   #: ``detail`` is a :class:`MalformedDetail`
    RANGE = 2       #: a buffer range past the buffer's end; ``detail`` is the :class:`Buffer`
    EMA = 3         #: the EMA descriptor failed; ``detail`` is its ``hw.ema.Status`` code
    DBSC = 4        #: the array rejected the tile
    OVERFLOW = 5    #: ``CMD_PUSH`` while the queue was full; the command was dropped
    TIPS = 6        #: the TIPS selector refused the tile


class MalformedDetail(enum.Enum, shape=4):
    """``ERROR.detail`` of a ``MALFORMED`` command: the first offending field."""
    OPCODE = 1
    RESERVED = 2    #: a reserved bit is set
    TCLASS = 3      #: LOAD/STORE with the SAS class (reserved for the SAS commands)
    BUFFER = 4
    FORMAT = 5
    SHIFT = 6       #: shift not below ``dbsc.acc_bits``
    SHAPE = 7       #: m or k outside 1 .. max_m / max_k, rows or row_bytes beyond the EMA's
    MODE = 8        #: a dataflow the build lacks, precision code 3, or a SAS command in a
                    #: build without the PSSA codec


class IRQ(enum.Flag, shape=3):
    """Bits of ``IRQ_PENDING`` and ``IRQ_ENABLE``."""
    DONE = 1        #: the sequencer went idle with an empty queue
    ERROR = 2       #: the sequencer halted on an error
    FENCE = 4       #: a FENCE command completed


class Header(data.Struct):
    """The part every command shares."""
    opcode: unsigned(4)
    body: unsigned(COMMAND_BITS - 4)


class LoadStore(data.Struct):
    """``LOAD`` / ``STORE``: one EMA descriptor between DRAM and ``buffer[addr ..]``.

    The buffer side holds the descriptor's on-chip beats, ``rows * ceil(row_bytes / B)``
    words (``B = ema.data_width / 8``), each row starting on a fresh word.
    """
    opcode: unsigned(4)
    tclass: unsigned(2)         #: hw.ema.TrafficClass (WEIGHT, ACTIVATION, OTHER)
    buffer: unsigned(3)         #: :class:`Buffer`
    addr: unsigned(ADDR_BITS)   #: first buffer word
    rows: unsigned(16)
    row_bytes: unsigned(16)
    dram_addr: unsigned(32)     #: bits 31:0 of the DRAM byte address (higher bits: ADDR_HI)
    stride: unsigned(32)
    reserved: unsigned(5)


class Gemm(data.Struct):
    """``GEMM``: ``out (m x cols) = act (m x k) @ weight (k x cols)`` on the DBSC array.

    Operand beats are read in the array's stream order (``sw.golden.dbsc.stream_beats``) in
    the packed item layout (``hw.top.gearbox``): activation beats from ``act_addr`` of the ACT
    buffer, the ``k`` weight rows from ``weight_addr`` of the WEIGHT buffer (re-read for every
    token group in OS), with ``precision`` BITMAP the ``ceil(m / rows)`` bitmap beats from
    ``bitmap_addr`` of the BITMAP buffer; the ``m`` result rows go to ``out_addr`` of the OUT
    buffer.

    With ``act_source`` 1 (WS only; builds where :func:`row_major_scores` holds) the
    activations are instead the row-major score tile that SAS_LOAD left in the SAS buffer at
    ``act_addr``: token ``i`` is query row ``i``, its ``k`` activations are the row's first
    ``k`` scores read as signed ``act_bits_high``-bit values.
    """
    opcode: unsigned(4)
    mode: unsigned(1)           #: hw.dbsc.Mode
    precision: unsigned(2)      #: hw.dbsc.Precision
    out_format: unsigned(2)     #: :class:`OutFormat`
    shift: unsigned(6)          #: requantization shift (INT, UINT)
    m: unsigned(16)
    k: unsigned(16)
    act_addr: unsigned(ADDR_BITS)
    weight_addr: unsigned(ADDR_BITS)
    bitmap_addr: unsigned(ADDR_BITS)
    out_addr: unsigned(ADDR_BITS)
    act_source: unsigned(1)     #: 0: ACT buffer in beat order; 1: SAS buffer, row-major (WS)
    reserved: unsigned(8)


class Fence(data.Struct):
    """``FENCE``: waits for every earlier command (they run in order, so it completes when it
    is reached) and raises ``IRQ.FENCE``: a host-visible marker inside a program."""
    opcode: unsigned(4)
    reserved: unsigned(COMMAND_BITS - 4)


class Tips(data.Struct):
    """``TIPS``: one TIPS tile (docs/tips.md). The ``pixels * tips.beats_per_pixel``
    probability beats (``tips.lanes`` values of ``tips.prob_bits``) are read from ``probs_addr``
    of the ACT buffer; the ``ceil(pixels / tips.lanes)`` bitmap words (``tips.lanes`` bits,
    bit ``j`` of word ``w`` = pixel ``w * lanes + j``) are written from ``bitmap_addr`` of the
    BITMAP buffer, which is the layout a GEMM's ``BITMAP`` precision reads when ``dbsc.rows``
    and ``tips.lanes`` divide ``ema.data_width``. The token mask comes from the
    ``TOKEN_MASK_<i>`` registers."""
    opcode: unsigned(4)
    mode: unsigned(1)           #: hw.tips.Mode: 0 threshold, 1 ratio
    probs_addr: unsigned(ADDR_BITS)
    bitmap_addr: unsigned(ADDR_BITS)
    pixels: unsigned(16)
    tau: unsigned(32)           #: threshold (below ``2^tips.importance_bits``)
    ratio: unsigned(25)         #: ratio code, at most ``2^tips.ratio_bits``
    reserved: unsigned(14)


class SasTransfer(data.Struct):
    """``SAS_STORE`` / ``SAS_LOAD``: one score tile of ``rows`` query rows (patch visit order)
    and ``keys`` keys through the EMA's SAS path (docs/ema.md, docs/formats/pssa.md).

    The SAS buffer holds the tile from word ``addr`` as ``rows * ceil(keys / pssa.lanes)``
    PSSA beats (``pssa.lanes`` scores of ``pssa.score_bits``) in the packed item layout.
    ``dram_addr`` must be beat aligned. SAS_STORE prunes with ``SAS_THRESHOLD`` and
    ``SAS_POLICY`` and leaves the coded length in ``SAS_WORDS``; SAS_LOAD reads ``words``
    coded words (0: the length in ``SAS_WORDS``) and writes the decoded, pruned tile."""
    opcode: unsigned(4)
    addr: unsigned(ADDR_BITS)
    rows: unsigned(16)
    keys: unsigned(16)
    dram_addr: unsigned(32)
    words: unsigned(24)
    reserved: unsigned(18)


for _layout in (Header, LoadStore, Gemm, Fence, Tips, SasTransfer):
    assert data.Layout.cast(_layout).size == COMMAND_BITS, _layout
