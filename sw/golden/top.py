"""Golden executor of :class:`hw.top.SDProcessor`: runs a command program on the golden models
of the EMA controller (``sw.golden.ema``) and the DBSC array (``sw.golden.dbsc``) and the
requantizer (``sw.golden.common.requantize``), bit for bit.

It models the DRAM image, the on-chip buffers (lists of ``ema.data_width``-bit words), the
sequencer's checks and halting, the ``ERROR`` register and the deterministic performance
counters (MACs by precision, commands done, EMA bytes/beats/bursts per class and direction).
Busy cycles and EMA stall counters depend on bus timing and are not modelled.
"""

from dataclasses import dataclass, field

import numpy as np
from amaranth.lib import data

from hw.top.gearbox import item_packing
from hw.top.isa import (Buffer, ErrorCause, Fence, Gemm, Header, LoadStore,
                        MalformedDetail, Opcode, OutFormat, SasTransfer, Tips, row_major_scores)
from hw.top.processor import buffer_words, item_bits
from sw.golden import dbsc as golden_dbsc
from sw.golden import ema as golden_ema
from sw.golden import pssa as golden_pssa
from sw.golden import tips as golden_tips
from sw.golden.common import requantize

__all__ = ["pack_items", "unpack_items", "lanes_to_item", "item_to_lanes", "decode_command",
           "words_to_bytes", "bytes_to_words", "ExecutionState", "Executor", "GoldenHost"]


def pack_items(items, item_bits_, word_bits):
    """Words holding ``items`` in the packed item layout (``hw.top.gearbox``)."""
    per_word, per_item = item_packing(item_bits_, word_bits)
    words = []
    if per_item == 1:
        for start in range(0, len(items), per_word):
            word = 0
            for lane, item in enumerate(items[start:start + per_word]):
                word |= int(item) << (lane * item_bits_)
            words.append(word)
    else:
        mask = (1 << word_bits) - 1
        for item in items:
            words += [int(item) >> (i * word_bits) & mask for i in range(per_item)]
    return words


def unpack_items(words, count, item_bits_, word_bits):
    """The first ``count`` items held by ``words`` (inverse of :func:`pack_items`)."""
    per_word, per_item = item_packing(item_bits_, word_bits)
    mask = (1 << item_bits_) - 1
    if per_item == 1:
        return [int(words[j // per_word]) >> ((j % per_word) * item_bits_) & mask
                for j in range(count)]
    out = []
    for j in range(count):
        value = 0
        for i in range(per_item):
            value |= int(words[j * per_item + i]) << (i * word_bits)
        out.append(value & mask)
    return out


def lanes_to_item(values, lane_bits):
    """One item from lane values (two's complement, lane 0 at bit 0)."""
    item = 0
    for lane, value in enumerate(values):
        item |= (int(value) & ((1 << lane_bits) - 1)) << (lane * lane_bits)
    return item


def item_to_lanes(item, lane_bits, lanes, signed=True):
    """Lane values of one item."""
    out = []
    for lane in range(lanes):
        raw = int(item) >> (lane * lane_bits) & ((1 << lane_bits) - 1)
        out.append(raw - (1 << lane_bits) if signed and raw >> (lane_bits - 1) else raw)
    return out


def decode_command(raw):
    """``(opcode, fields)`` of a 128-bit command; ``fields`` per the opcode's layout."""
    raw = int(raw)
    opcode = raw & 0xF
    layout = {Opcode.LOAD.value: LoadStore, Opcode.STORE.value: LoadStore,
              Opcode.GEMM.value: Gemm, Opcode.FENCE.value: Fence, Opcode.TIPS.value: Tips,
              Opcode.SAS_STORE.value: SasTransfer,
              Opcode.SAS_LOAD.value: SasTransfer}.get(opcode, Header)
    fields = {name: raw >> f.offset & ((1 << f.width) - 1)
              for name, f in data.Layout.cast(layout)}
    return opcode, fields


def words_to_bytes(words, word_bits):
    nbytes = word_bits // 8
    return b"".join(int(w).to_bytes(nbytes, "little") for w in words)


def bytes_to_words(raw, word_bits):
    nbytes = word_bits // 8
    return [int.from_bytes(raw[i:i + nbytes], "little") for i in range(0, len(raw), nbytes)]


@dataclass
class ExecutionState:
    """What a program leaves behind."""
    dram: np.ndarray
    buffers: list
    completed: int = 0
    halted: bool = False
    error_cause: int = 0
    error_detail: int = 0
    error_index: int = 0
    fences: int = 0
    macs_high: int = 0
    macs_low: int = 0
    tips_high: int = 0
    sas_words: int = 0
    #: ``ema[tclass][direction][kind]`` for kind in bytes, beats, bursts.
    ema: dict = field(default_factory=dict)

    @property
    def error_register(self) -> int:
        return self.error_cause | self.error_detail << 4 | self.error_index << 8


class Executor:
    """Runs programs like the hardware does, one command at a time, halting on the first error.

    Parameters
    ----------
    config : :class:`sw.config.ProcessorConfig`
    dram : ``np.ndarray`` of ``uint8``
        The DRAM image (copied); addresses wrap modulo its size as in cocotbext-axi's AxiRam.
    windows : dict ``tclass -> (base, limit)``, optional
        EMA address windows (everything allowed when omitted).
    read_response : callable ``beat_addr -> AXI RRESP``, optional
        Models a memory answering errors on reads (see ``sw.golden.ema.read``).
    token_mask : array of bool, optional
        The ``TOKEN_MASK`` registers (all tokens by default).
    sas_threshold, sas_policy : int
        The ``SAS_THRESHOLD`` and ``SAS_POLICY`` registers.
    addr_hi : int
        The ``ADDR_HI`` register (DRAM address bits 63:32 of LOAD/STORE/SAS commands).
    """

    def __init__(self, config, dram, windows=None, read_response=None, token_mask=None,
                 sas_threshold=0, sas_policy=0, addr_hi=0):
        self.config = config
        self.addr_hi = addr_hi
        self.token_mask = (np.ones(config.tips.tokens, dtype=bool) if token_mask is None
                           else np.asarray(token_mask, dtype=bool))
        self.sas_threshold = sas_threshold
        self.sas_policy = sas_policy
        self.depths = buffer_words(config)
        self.bits = item_bits(config)
        self.windows = windows or {}
        self.read_response = read_response
        self.state = ExecutionState(
            dram=np.array(dram, dtype=np.uint8),
            buffers=[[0] * depth for depth in self.depths],
            ema={c: {d: {"bytes": 0, "beats": 0, "bursts": 0} for d in (0, 1)}
                 for c in range(4)})

    def window(self, tclass):
        return self.windows.get(tclass, (0, (1 << self.config.ema.addr_width) - 1))

    def run(self, commands):
        """Execute ``commands`` (128-bit ints) after what already ran; returns the state."""
        for raw in commands:
            if self.state.halted:
                break
            index = self.state.completed
            failure = self._execute(int(raw), self.addr_hi)
            if failure is not None:
                cause, detail = failure
                self.state.halted = True
                self.state.error_cause = getattr(cause, "value", cause)
                self.state.error_detail = getattr(detail, "value", detail)
                self.state.error_index = index
            else:
                self.state.completed += 1
        return self.state

    def clear_error(self):
        """``CTRL`` bit 0: leave the halt; the command index and ``COMMANDS_DONE`` restart."""
        self.state.halted = False
        self.state.error_cause = self.state.error_detail = self.state.error_index = 0
        self.state.completed = 0

    # Commands ----------------------------------------------------------------------------

    def _execute(self, raw, addr_hi):
        opcode, f = decode_command(raw)
        if opcode in (Opcode.LOAD.value, Opcode.STORE.value):
            return self._load_store(opcode, f, addr_hi)
        if opcode == Opcode.GEMM.value:
            return self._gemm(f)
        if opcode == Opcode.TIPS.value:
            return self._tips(f)
        if opcode in (Opcode.SAS_STORE.value, Opcode.SAS_LOAD.value):
            return self._sas(opcode, f, addr_hi)
        if opcode == Opcode.FENCE.value:
            if f["reserved"]:
                return ErrorCause.MALFORMED, MalformedDetail.RESERVED
            self.state.fences += 1
            return None
        return ErrorCause.MALFORMED, MalformedDetail.OPCODE

    def _load_store(self, opcode, f, addr_hi):
        ema = self.config.ema
        if f["reserved"]:
            return ErrorCause.MALFORMED, MalformedDetail.RESERVED
        if f["tclass"] == 2:
            return ErrorCause.MALFORMED, MalformedDetail.TCLASS
        if f["buffer"] >= len(Buffer):
            return ErrorCause.MALFORMED, MalformedDetail.BUFFER
        if f["rows"] > ema.max_rows or f["row_bytes"] > ema.max_row_bytes:
            return ErrorCause.MALFORMED, MalformedDetail.SHAPE
        beats = f["rows"] * -(-f["row_bytes"] // ema.data_bytes)
        if f["addr"] + beats > self.depths[f["buffer"]]:
            return ErrorCause.RANGE, f["buffer"]
        addr = (f["dram_addr"] | addr_hi << 32) % (1 << ema.addr_width)
        direction = golden_ema.WRITE if opcode == Opcode.STORE.value else golden_ema.READ
        desc = golden_ema.Descriptor(direction, f["tclass"], addr, f["rows"], f["row_bytes"],
                                     f["stride"])
        base, limit = self.window(f["tclass"])
        buf = self.state.buffers[f["buffer"]]
        if direction == golden_ema.READ:
            status, got = golden_ema.read(self.state.dram, desc, ema, base, limit,
                                          self.read_response)
            buf[f["addr"]:f["addr"] + len(got)] = got
        else:
            status, self.state.dram = golden_ema.write(
                self.state.dram, desc, buf[f["addr"]:f["addr"] + beats], ema, base, limit)
        if status == golden_ema.OK:
            for kind, value in golden_ema.traffic(desc, ema).items():
                self.state.ema[f["tclass"]][direction][kind] += value
            return None
        return ErrorCause.EMA, status

    def _gemm(self, f):
        cfg = self.config
        d, W = cfg.dbsc, cfg.ema.data_width
        if f["reserved"]:
            return ErrorCause.MALFORMED, MalformedDetail.RESERVED
        if f["out_format"] == 3:
            return ErrorCause.MALFORMED, MalformedDetail.FORMAT
        if f["shift"] >= d.acc_bits:
            return ErrorCause.MALFORMED, MalformedDetail.SHIFT
        m, k = f["m"], f["k"]
        if not (1 <= m <= d.max_m and 1 <= k <= d.max_k):
            return ErrorCause.MALFORMED, MalformedDetail.SHAPE
        os_mode = f["mode"] == 1
        from_sas = f["act_source"] == 1
        if ((d.supports_os if os_mode else d.supports_ws) is False or f["precision"] == 3
                or from_sas and (os_mode or not row_major_scores(cfg))):
            return ErrorCause.MALFORMED, MalformedDetail.MODE
        rows, cols = d.rows, d.cols
        groups = -(-m // rows)
        act_beats = groups * k if os_mode else m * -(-k // rows)
        bitmap_beats = groups if f["precision"] == 0 else 0
        fmt = OutFormat(f["out_format"])

        def words(count, bits):
            per_word, per_item = item_packing(bits, W)
            return count * per_item if per_item > 1 else -(-count // per_word)

        row_words = -(-k // cfg.pssa.lanes)
        if from_sas:
            if f["act_addr"] + m * row_words > self.depths[Buffer.SAS.value]:
                return ErrorCause.RANGE, Buffer.SAS.value
            act_check = ()
        else:
            act_check = ((Buffer.ACT, f["act_addr"], act_beats, self.bits["act"]),)
        for buf, base, count, bits in act_check + (
                                       (Buffer.WEIGHT, f["weight_addr"], k, self.bits["weight"]),
                                       (Buffer.BITMAP, f["bitmap_addr"], bitmap_beats,
                                        self.bits["bitmap"]),
                                       (Buffer.OUT, f["out_addr"], m, self.bits[fmt])):
            if base + words(count, bits) > self.depths[buf.value]:
                return ErrorCause.RANGE, buf.value

        def read_items(buf, base, count, bits):
            depth = self.depths[buf.value]
            nwords = words(count, bits)
            stored = [self.state.buffers[buf.value][(base + i) % depth] for i in range(nwords)]
            return unpack_items(stored, count, bits, W)

        if f["precision"] == 0:
            beats = read_items(Buffer.BITMAP, f["bitmap_addr"], bitmap_beats, self.bits["bitmap"])
            high = np.array([beats[i // rows] >> (i % rows) & 1 for i in range(m)], dtype=bool)
        else:
            high = np.full(m, f["precision"] == 1)
        if from_sas:
            depth = self.depths[Buffer.SAS.value]
            sas = self.state.buffers[Buffer.SAS.value]
            a = np.zeros((m, k), dtype=np.int64)
            for i in range(m):
                row_data = [sas[(f["act_addr"] + i * row_words + w) % depth]
                            for w in range(row_words)]
                row = item_to_lanes(sum(int(x) << (j * W) for j, x in enumerate(row_data)),
                                    d.act_bits_high, row_words * cfg.pssa.lanes)
                a[i] = row[:k]
            # The array sees these rows as its beats: chunk-major, lanes past k ignored.
            act_lanes = [list(a[i, j * rows:(j + 1) * rows]) + [0] * max(0, (j + 1) * rows - k)
                         for j in range(-(-k // rows)) for i in range(m)]
        else:
            act_items = read_items(Buffer.ACT, f["act_addr"], act_beats, self.bits["act"])
            act_lanes = [item_to_lanes(x, d.act_bits_high, rows) for x in act_items]
        weights = np.array([item_to_lanes(x, d.weight_bits, cols)
                            for x in read_items(Buffer.WEIGHT, f["weight_addr"], k,
                                                self.bits["weight"])], dtype=np.int64)
        a = np.zeros((groups * rows, -(-k // rows) * rows), dtype=np.int64)
        if os_mode:
            for g in range(groups):
                for kk in range(k):
                    a[g * rows:(g + 1) * rows, kk] = act_lanes[g * k + kk]
        else:
            for j in range(-(-k // rows)):
                for i in range(m):
                    a[i, j * rows:(j + 1) * rows] = act_lanes[j * m + i]
        acc = golden_dbsc.matmul(a[:m, :k], weights, high, d)

        if fmt == OutFormat.INT:
            values, lane_bits = requantize(acc, f["shift"], d.act_bits_high, True), d.act_bits_high
        elif fmt == OutFormat.UINT:
            values, lane_bits = (requantize(acc, f["shift"], cfg.pssa.score_bits, False),
                                 cfg.pssa.score_bits)
        else:
            values, lane_bits = acc, d.acc_bits
        items = [lanes_to_item(row, lane_bits) for row in values.tolist()]
        out = self.state.buffers[Buffer.OUT.value]
        for i, word in enumerate(pack_items(items, self.bits[fmt], W)):
            out[f["out_addr"] + i] = word
        n_high = int(high.sum())
        self.state.macs_high += n_high * k * cols
        self.state.macs_low += (m - n_high) * k * cols
        return None


    def _words(self, count, bits):
        per_word, per_item = item_packing(bits, self.config.ema.data_width)
        return count * per_item if per_item > 1 else -(-count // per_word)

    def _read_items(self, buf, base, count, bits):
        depth = self.depths[buf.value]
        stored = [self.state.buffers[buf.value][(base + i) % depth]
                  for i in range(self._words(count, bits))]
        return unpack_items(stored, count, bits, self.config.ema.data_width)

    def _write_items(self, buf, base, items, bits):
        words = pack_items(items, bits, self.config.ema.data_width)
        self.state.buffers[buf.value][base:base + len(words)] = words

    def _tips(self, f):
        t = self.config.tips
        if f["reserved"]:
            return ErrorCause.MALFORMED, MalformedDetail.RESERVED
        pixels = f["pixels"]
        if (not 1 <= pixels <= t.max_pixels or f["tau"] >> t.importance_bits
                or (f["mode"] == golden_tips.RATIO and f["ratio"] > t.ratio_one)):
            return ErrorCause.MALFORMED, MalformedDetail.SHAPE
        beats = pixels * t.beats_per_pixel
        words = -(-pixels // t.lanes)
        if f["probs_addr"] + self._words(beats, self.bits["probs"]) > self.depths[Buffer.ACT.value]:
            return ErrorCause.RANGE, Buffer.ACT.value
        if (f["bitmap_addr"] + self._words(words, self.bits["tips_bitmap"])
                > self.depths[Buffer.BITMAP.value]):
            return ErrorCause.RANGE, Buffer.BITMAP.value
        items = self._read_items(Buffer.ACT, f["probs_addr"], beats, self.bits["probs"])
        lanes = np.array([item_to_lanes(x, t.prob_bits, t.lanes, signed=False) for x in items])
        per_pixel = lanes.reshape(pixels, t.beats_per_pixel * t.lanes)[:, :t.values_per_pixel]
        probs = per_pixel.reshape(pixels, t.heads, t.tokens).transpose(1, 0, 2)
        bitmap = golden_tips.select(probs, self.token_mask, f["mode"], f["tau"], f["ratio"],
                                    t.ratio_bits)
        self._write_items(Buffer.BITMAP, f["bitmap_addr"],
                          golden_tips.bitmap_words(bitmap, t.lanes), self.bits["tips_bitmap"])
        self.state.tips_high = int(bitmap.sum())
        return None

    def _sas(self, opcode, f, addr_hi):
        cfg = self.config
        ema, p = cfg.ema, cfg.pssa
        if f["reserved"]:
            return ErrorCause.MALFORMED, MalformedDetail.RESERVED
        if not ema.sas_codec:
            return ErrorCause.MALFORMED, MalformedDetail.MODE
        rows, keys = f["rows"], f["keys"]
        if not (1 <= rows <= p.max_rows and 1 <= keys <= p.max_keys):
            return ErrorCause.MALFORMED, MalformedDetail.SHAPE
        row_beats = -(-keys // p.lanes)
        beats = rows * row_beats
        if f["addr"] + self._words(beats, self.bits["sas"]) > self.depths[Buffer.SAS.value]:
            return ErrorCause.RANGE, Buffer.SAS.value
        addr = (f["dram_addr"] | addr_hi << 32) % (1 << ema.addr_width)
        if addr % ema.data_bytes:
            return ErrorCause.EMA, golden_ema.SHAPE
        base, limit = self.window(golden_ema.CLASSES.index("sas"))
        sas = golden_ema.CLASSES.index("sas")
        if opcode == Opcode.SAS_STORE.value:
            reserved = golden_ema.sas_reserved_words(rows, keys, cfg)
            if golden_ema.check(golden_ema.Descriptor(golden_ema.WRITE, sas, addr, 1,
                                                      reserved * ema.data_bytes, 0),
                                base, limit) != golden_ema.OK:
                return ErrorCause.EMA, golden_ema.WINDOW
            items = self._read_items(Buffer.SAS, f["addr"], beats, self.bits["sas"])
            lanes = np.array([item_to_lanes(x, p.score_bits, p.lanes, signed=p.signed_scores)
                              for x in items])
            scores = lanes.reshape(rows, row_beats * p.lanes)[:, :keys]
            coded = golden_pssa.encode(scores, self.sas_threshold, self.sas_policy, cfg)
            raw = np.frombuffer(coded.to_bytes(), dtype=np.uint8)
            self.state.dram[(addr + np.arange(raw.size)) % self.state.dram.size] = raw
            run = golden_ema.Descriptor(golden_ema.WRITE, sas, addr, 1, raw.size, 0)
            self.state.sas_words = len(coded.words)
        else:
            words = f["words"] or self.state.sas_words
            if words == 0:
                return ErrorCause.EMA, golden_ema.EMPTY
            run = golden_ema.Descriptor(golden_ema.READ, sas, addr, 1, words * ema.data_bytes, 0)
            if golden_ema.check(run, base, limit) != golden_ema.OK:
                return ErrorCause.EMA, golden_ema.WINDOW
            raw = self.state.dram[(addr + np.arange(words * ema.data_bytes))
                                  % self.state.dram.size]
            coded = bytes_to_words(raw.tobytes(), ema.data_width)
            try:
                scores = golden_pssa.decode(coded, rows, keys, self.sas_policy, cfg)
            except golden_pssa.StreamError:
                return ErrorCause.EMA, golden_ema.CODEC
            padded = np.zeros((rows, row_beats * p.lanes), dtype=np.int64)
            padded[:, :keys] = scores
            items = [lanes_to_item(beat, p.score_bits)
                     for beat in padded.reshape(beats, p.lanes).tolist()]
            self._write_items(Buffer.SAS, f["addr"], items, self.bits["sas"])
        for kind, value in golden_ema.traffic(run, ema).items():
            self.state.ema[sas][run.direction][kind] += value
        return None


class GoldenHost:
    """The :class:`sw.driver.Host` interface (``run``, ``set_token_mask``, ``set_sas``) and a
    DRAM interface (``write``, ``snapshot``) on an :class:`Executor`, so that host-side
    software (``sw.driver.transformer.run_tile``) drives the golden model as it drives the
    RTL."""

    def __init__(self, executor):
        self.executor = executor

    async def run(self, commands):
        state = self.executor.run(commands)
        return 2 if state.halted else 4    # STATUS: halted, or idle with an empty queue

    async def set_token_mask(self, mask_bits):
        tokens = self.executor.config.tips.tokens
        self.executor.token_mask = np.array([mask_bits >> t & 1 for t in range(tokens)],
                                            dtype=bool)

    async def set_sas(self, threshold, policy):
        self.executor.sas_threshold = threshold
        self.executor.sas_policy = policy

    async def write(self, addr, raw):
        dram = self.executor.state.dram
        dram[(addr + np.arange(len(raw))) % dram.size] = np.frombuffer(raw, dtype=np.uint8)

    async def snapshot(self):
        return self.executor.state.dram.copy()
