"""The EMA controller: an AXI4 DMA engine with traffic accounting, address windows and the
compressed-score (SAS) path through the PSSA codec."""

from .align import ReadAligner, WriteAligner
from .axi import AXI4LiteSignature, AXI4Signature, AXIBurst, AXIResp
from .controller import EMAController
from .layouts import Direction, Status, TrafficClass
from .planner import BurstPlanner, CodedBurstPlanner

__all__ = ["EMAController", "BurstPlanner", "CodedBurstPlanner", "ReadAligner", "WriteAligner",
           "AXI4Signature", "AXI4LiteSignature", "AXIBurst", "AXIResp", "Direction", "Status",
           "TrafficClass", "BLOCKS"]


def _ema(config):
    return EMAController(config)


#: Components this package registers with ``sdproc generate --block``.
BLOCKS = {"ema": _ema}
