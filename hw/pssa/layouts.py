"""Payload layouts of the PSSA encoder and decoder ports, all derived from the config."""

from amaranth import signed, unsigned
from amaranth.lib import data, enum

__all__ = ["Policy", "ErrorCode", "PSSALayouts"]


class Policy(enum.Enum, shape=1):
    """Which row of the patch a row's bitmap is XORed with."""
    CHAIN = 0   #: the previous row in visit order
    ANCHOR = 1  #: the patch's first row


class ErrorCode(enum.Enum, shape=3):
    """Why a tile ended with ``error`` set (``NONE`` when it did not)."""
    NONE = 0
    COMMAND = 1    #: n_rows or n_keys zero or above the build's maximum
    TRUNCATED = 2  #: the words ran out in the middle of a coded beat
    BAD_LANE = 3   #: a beat's XOR bitmap marks a key at or past n_keys
    LENGTH = 4     #: whole words left over after the last coded beat
    PADDING = 5    #: non-zero bits after the last coded beat


class PSSALayouts:
    """Every payload layout of one build.

    Parameters
    ----------
    config : ProcessorConfig

    Attributes
    ----------
    score : Shape
        One score: ``signed(score_bits)`` or ``unsigned(score_bits)``.
    beat : ArrayLayout
        ``lanes`` scores; lane ``i`` is key ``beat * lanes + i``.
    encoder_command : StructLayout
        ``n_rows``, ``n_keys``, ``threshold`` (a score; keep ``s >= threshold``), ``policy``.
    metadata : StructLayout
        ``words`` (bus words of the tile), ``bits`` (coded bits), ``kept`` (kept scores).
    decoder_command : StructLayout
        ``n_rows``, ``n_keys``, ``policy``, ``words`` (from the tile's metadata).
    """

    def __init__(self, config):
        p = config.pssa
        width = config.ema.data_width
        self.score = signed(p.score_bits) if p.signed_scores else unsigned(p.score_bits)
        self.beat = data.ArrayLayout(self.score, p.lanes)
        max_words = -(-p.max_tile_bits // width)
        rows = unsigned(p.max_rows.bit_length())
        keys = unsigned(p.max_keys.bit_length())
        self.encoder_command = data.StructLayout({
            "n_rows": rows, "n_keys": keys, "threshold": self.score, "policy": Policy})
        self.metadata = data.StructLayout({
            "words": unsigned(max_words.bit_length()),
            "bits": unsigned(p.max_tile_bits.bit_length()),
            "kept": unsigned((p.max_rows * p.max_keys).bit_length())})
        self.decoder_command = data.StructLayout({
            "n_rows": rows, "n_keys": keys, "policy": Policy,
            "words": unsigned(max_words.bit_length())})
