from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import Out

from .layouts import ErrorCode, PSSALayouts

__all__ = ["CodecSide"]


class CodecSide(wiring.Component):
    """What the encoder and the decoder share: the parameters they read from the config, the
    status ports, and the on-chip reference bitmap of the current patch.

    Subclasses pass their stream ports; ``busy``, ``done``, ``error`` and ``error_code`` are
    added here.
    """

    def __init__(self, config, ports):
        p = config.pssa
        self.lanes = p.lanes
        self.score_bits = p.score_bits
        self.patch_rows = p.patch_rows
        self.max_rows = p.max_rows
        self.max_keys = p.max_keys
        self.data_width = config.ema.data_width
        self._config = config
        self.layouts = PSSALayouts(config)
        super().__init__({
            **ports(self.layouts, self.data_width),
            "busy": Out(1),
            "done": Out(1),
            "error": Out(1),
            "error_code": Out(ErrorCode),
        })

    @property
    def scores_per_cycle(self):
        """Sustained scores per cycle on compressible data without backpressure."""
        return self.lanes

    def reference_bitmap(self, m):
        """The reference bitmap memory (one ``lanes``-bit word per beat of a row) with an
        asynchronous read port and a write port."""
        m.submodules.reference = reference = Memory(
            shape=self.lanes, depth=self._config.pssa.max_beats_per_row, init=[])
        ref_read = reference.read_port(domain="comb")
        ref_write = reference.write_port()
        return ref_read, ref_write

