"""PSSA/PSXU: prune, patch-XOR and code self-attention scores for DRAM, and decode them.

Stream format: ``docs/formats/pssa.md``; golden codec: :mod:`sw.golden.pssa`.
"""

from .chunk import ChunkCoder, ChunkParser
from .codec import PSSACodec
from .decoder import PSSADecoder
from .encoder import PSSAEncoder
from .layouts import ErrorCode, Policy, PSSALayouts

__all__ = ["PSSAEncoder", "PSSADecoder", "PSSACodec", "ChunkCoder", "ChunkParser", "PSSALayouts", "Policy",
           "ErrorCode", "BLOCKS"]

#: Components this package registers with ``sdproc generate --block``.
BLOCKS = {"pssa_encoder": PSSAEncoder, "pssa_decoder": PSSADecoder,
          "pssa_codec": PSSACodec}
