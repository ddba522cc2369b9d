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
from sw.golden.top import (item_to_lanes, lanes_to_item, pack_items, unpack_items,
                           words_to_bytes, bytes_to_words)

from .isa import encode_fence, encode_gemm, encode_load, encode_store

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
    """

    def __init__(self, config, dram_bytes=1 << 16, rng=None):
        self.config = config
        self.dram = np.zeros(dram_bytes, dtype=np.uint8)
        self.commands = []
        self._free = 0x40
        self._rng = rng

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

    # Whole tiles -------------------------------------------------------------------------

    def gemm_tile(self, a, w, high=None, mode=Mode.WS, precision=Precision.BITMAP,
                  out_format=OutFormat.INT, shift=0, act_base=0, weight_base=0, bitmap_base=0,
                  out_base=0):
        """``a (m x k) @ w (k x n)``: LOAD the operands, one GEMM per ``cols`` output columns,
        STORE the results. Returns the :class:`GemmTile` describing the DRAM result."""
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
        act_words = pack_items([lanes_to_item(b, d.act_bits_high) for b in act], bits["act"], W)
        self.load(Buffer.ACT, act_base, self.place_words(act_words), len(act_words),
                  TrafficClass.ACTIVATION)
        if precision == Precision.BITMAP:
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
                      bitmap_addr=bitmap_base, out_addr=out_base + b * out_words)
        dram_out = self.alloc(blocks * out_words * self.word_bytes)
        self.store(Buffer.OUT, out_base, dram_out, blocks * out_words, TrafficClass.ACTIVATION)
        return GemmTile(dram_out, m, n, blocks, out_words, out_format)
