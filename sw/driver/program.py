"""Program builder: commands plus the DRAM image they work on.

Operands are laid out in DRAM exactly as the sequencer streams them out of the buffers: the
array's beat order (``sw.golden.dbsc.stream_beats``), each beat an item of lanes (lane 0 at bit
0, two's complement), items packed into ``ema.data_width``-bit words (``hw.top.gearbox``), words
little-endian. A LOAD then copies the words into a buffer and a GEMM streams them.
"""

from dataclasses import dataclass

import numpy as np

from hw.dbsc import Mode, Precision
from hw.ema import TrafficClass
from hw.top.gearbox import item_packing
from hw.top.isa import Buffer, OutFormat
from hw.top.processor import item_bits
from sw.golden import dbsc as golden_dbsc
from sw.golden import tips as golden_tips
from sw.golden.top import (item_to_lanes, lanes_to_item, pack_items, unpack_items,
                           words_to_bytes, bytes_to_words)

from .isa import (encode_fence, encode_gemm, encode_load, encode_sas_load, encode_sas_store,
                  encode_store, encode_tips)

__all__ = ["ProgramBuilder", "GemmTile"]


@dataclass(frozen=True)
class GemmTile:
    """Where a GEMM tile's result lands in DRAM and how to read it back."""
    dram_addr: int
    m: int
    n: int
    blocks: int
    block_words: int
    out_format: OutFormat

    def decode(self, config, dram):
        """The ``m x n`` result matrix from a DRAM image."""
        W = config.ema.data_width
        bits = item_bits(config)[self.out_format]
        cols = config.dbsc.cols
        lane_bits = {OutFormat.INT: config.dbsc.act_bits_high,
                     OutFormat.UINT: config.pssa.score_bits,
                     OutFormat.RAW: config.dbsc.acc_bits}[self.out_format]
        nbytes = self.blocks * self.block_words * W // 8
        words = bytes_to_words(bytes(dram[self.dram_addr:self.dram_addr + nbytes]), W)
        out = np.zeros((self.m, self.blocks * cols), dtype=np.int64)
        for b in range(self.blocks):
            block = words[b * self.block_words:(b + 1) * self.block_words]
            for i, item in enumerate(unpack_items(block, self.m, bits, W)):
                out[i, b * cols:(b + 1) * cols] = item_to_lanes(
                    item, lane_bits, cols, signed=self.out_format != OutFormat.UINT)
        return out[:, :self.n]


class ProgramBuilder:
    """Accumulates commands and a DRAM image.

    Parameters
    ----------
    config : :class:`sw.config.ProcessorConfig`
    dram_bytes : int
        Size of the DRAM image.
    rng : ``numpy.random.Generator``, optional
        When given, data regions start at random byte offsets (exercising the EMA's
        realignment); otherwise they are word aligned.
    start : int
        First DRAM byte to allocate from.
    """

    def __init__(self, config, dram_bytes=1 << 16, rng=None, start=0x40):
        self.config = config
        self.dram = np.zeros(dram_bytes, dtype=np.uint8)
        self.commands = []
        #: ``(address, bytes)`` of every region :meth:`place_words` filled, for a host that
        #: writes them into a DRAM that already holds data.
        self.placed = []
        self._free = start
        self._rng = rng

    @property
    def free(self):
        """The first DRAM byte no region uses yet (a following builder's ``start``)."""
        return self._free

    @property
    def word_bytes(self):
        return self.config.ema.data_bytes

    def alloc(self, nbytes):
        """A fresh DRAM region of ``nbytes`` (at a random byte offset when randomised)."""
        offset = int(self._rng.integers(0, self.word_bytes)) if self._rng is not None else 0
        addr = -(-self._free // self.word_bytes) * self.word_bytes + offset
        self._free = addr + nbytes + self.word_bytes
        if self._free > self.dram.size:
            raise ValueError(f"DRAM image of {self.dram.size} bytes is too small")
        return addr

    def place_words(self, words):
        raw = words_to_bytes(words, self.config.ema.data_width)
        addr = self.alloc(len(raw))
        self.dram[addr:addr + len(raw)] = np.frombuffer(raw, dtype=np.uint8)
        self.placed.append((addr, raw))
        return addr

    # Commands ----------------------------------------------------------------------------

    def load(self, buffer, buf_addr, dram_addr, words, tclass=TrafficClass.ACTIVATION):
        """``words`` consecutive DRAM words -> ``buffer`` from ``buf_addr`` (one row per 4 KB
        of words, so each descriptor row stays short)."""
        self._transfer(encode_load, buffer, buf_addr, dram_addr, words, tclass)

    def store(self, buffer, buf_addr, dram_addr, words, tclass=TrafficClass.ACTIVATION):
        self._transfer(encode_store, buffer, buf_addr, dram_addr, words, tclass)

    def _transfer(self, encode, buffer, buf_addr, dram_addr, words, tclass):
        per_row = max(1, 4096 // self.word_bytes)
        done = 0
        while done < words:
            n = min(per_row, words - done)
            self.commands.append(encode(buffer, buf_addr + done, dram_addr + done * self.word_bytes,
                                        1, n * self.word_bytes, 0, tclass))
            done += n

    def gemm(self, **fields):
        self.commands.append(encode_gemm(**fields))

    def fence(self):
        self.commands.append(encode_fence())

    def tips(self, **fields):
        self.commands.append(encode_tips(**fields))

    def sas_store(self, **fields):
        self.commands.append(encode_sas_store(**fields))

    def sas_load(self, **fields):
        self.commands.append(encode_sas_load(**fields))

    def place_items(self, items, item_bits_):
        """DRAM words holding ``items`` in the packed item layout; returns
        ``(address, words)``."""
        words = pack_items(items, item_bits_, self.config.ema.data_width)
        return self.place_words(words), len(words)

    def tips_tile(self, probs, mode, tau=0, ratio=0, probs_base=0, bitmap_base=0):
        """LOAD cross-attention probabilities ``[heads, pixels, tokens]`` into the ACT buffer
        (``sw.golden.tips.input_beats`` order) and select the pixels' precision into the
        BITMAP buffer from word ``bitmap_base``, where a GEMM's BITMAP precision reads it."""
        t = self.config.tips
        beats = golden_tips.input_beats(probs, t.lanes)
        addr, words = self.place_items([lanes_to_item(b, t.prob_bits) for b in beats.tolist()],
                                       item_bits(self.config)["probs"])
        self.load(Buffer.ACT, probs_base, addr, words, TrafficClass.ACTIVATION)
        self.tips(mode=mode, pixels=probs.shape[1], probs_addr=probs_base,
                  bitmap_addr=bitmap_base, tau=tau, ratio=ratio)

    def sas_round_trip(self, scores, sas_base=0):
        """LOAD a score tile ``(rows, keys)`` (rows in patch visit order) into the SAS buffer,
        SAS_STORE it compressed to DRAM, SAS_LOAD it back decoded and STORE the pruned tile
        to DRAM. Returns ``(coded_addr, pruned_addr, words)``: the DRAM addresses of the coded
        run and of the pruned tile, and the tile's size in buffer words."""
        p = self.config.pssa
        rows, keys = scores.shape
        row_beats = -(-keys // p.lanes)
        padded = np.zeros((rows, row_beats * p.lanes), dtype=np.int64)
        padded[:, :keys] = scores
        bits = item_bits(self.config)["sas"]
        addr, words = self.place_items(
            [lanes_to_item(b, p.score_bits) for b in padded.reshape(-1, p.lanes).tolist()], bits)
        self.load(Buffer.SAS, sas_base, addr, words, TrafficClass.OTHER)
        from sw.golden.ema import sas_reserved_words
        reserved = sas_reserved_words(rows, keys, self.config) * self.word_bytes
        coded = -(-self.alloc(reserved + self.word_bytes) // self.word_bytes) * self.word_bytes
        self.sas_store(addr=sas_base, rows=rows, keys=keys, dram_addr=coded)
        # Overwrite the buffer copy first, so that the STORE below shows what SAS_LOAD wrote.
        self.sas_load(addr=sas_base, rows=rows, keys=keys, dram_addr=coded)
        pruned = self.alloc(words * self.word_bytes)
        self.store(Buffer.SAS, sas_base, pruned, words, TrafficClass.OTHER)
        return coded, pruned, words

    # Whole tiles -------------------------------------------------------------------------

    def gemm_tile(self, a, w, high=None, mode=Mode.WS, precision=Precision.BITMAP,
                  out_format=OutFormat.INT, shift=0, act_base=0, weight_base=0, bitmap_base=0,
                  out_base=0, load_bitmap=True, scores_at=None):
        """``a (m x k) @ w (k x n)``: LOAD the operands, one GEMM per ``cols`` output columns,
        STORE the results. Returns the :class:`GemmTile` describing the DRAM result.
        With ``load_bitmap`` false, a BITMAP-precision tile uses the bitmap already in the
        BITMAP buffer (e.g. from a TIPS command) instead of loading ``high``. With
        ``scores_at`` (a SAS buffer word), the activations are not loaded: the GEMMs read the
        score tile SAS_LOAD left there (``a`` only gives the shape; WS only)."""
        cfg = self.config
        d, W = cfg.dbsc, cfg.ema.data_width
        bits = item_bits(cfg)
        a = np.asarray(a, dtype=np.int64)
        w = np.asarray(w, dtype=np.int64)
        m, k = a.shape
        n = w.shape[1]
        if high is None:
            high = np.full(m, precision != Precision.ALL_LOW)
        blocks = -(-n // d.cols)
        wpad = np.zeros((k, blocks * d.cols), dtype=np.int64)
        wpad[:, :n] = w
        os_mode = mode == Mode.OS

        prec, act, _ = golden_dbsc.stream_beats(a, wpad[:, :d.cols], high, os_mode, d)
        if scores_at is None:
            act_words = pack_items([lanes_to_item(b, d.act_bits_high) for b in act],
                                   bits["act"], W)
            self.load(Buffer.ACT, act_base, self.place_words(act_words), len(act_words),
                      TrafficClass.ACTIVATION)
        else:
            act_base = scores_at
        if precision == Precision.BITMAP and load_bitmap:
            bitmap_words = pack_items(prec, bits["bitmap"], W)
            self.load(Buffer.BITMAP, bitmap_base, self.place_words(bitmap_words),
                      len(bitmap_words), TrafficClass.OTHER)
        weight_words = []
        for b in range(blocks):
            block = wpad[:, b * d.cols:(b + 1) * d.cols]
            weight_words.append(pack_items([lanes_to_item(row, d.weight_bits) for row in block],
                                           bits["weight"], W))
        block_weight_words = len(weight_words[0])
        self.load(Buffer.WEIGHT, weight_base,
                  self.place_words([x for ws in weight_words for x in ws]),
                  blocks * block_weight_words, TrafficClass.WEIGHT)
        per_word, per_item = item_packing(bits[out_format], W)
        out_words = m * per_item if per_item > 1 else -(-m // per_word)
        for b in range(blocks):
            self.gemm(mode=mode, precision=precision, out_format=out_format, shift=shift, m=m,
                      k=k, act_addr=act_base, weight_addr=weight_base + b * block_weight_words,
                      bitmap_addr=bitmap_base, out_addr=out_base + b * out_words,
                      act_source=int(scores_at is not None))
        dram_out = self.alloc(blocks * out_words * self.word_bytes)
        self.store(Buffer.OUT, out_base, dram_out, blocks * out_words, TrafficClass.ACTIVATION)
        return GemmTile(dram_out, m, n, blocks, out_words, out_format)
