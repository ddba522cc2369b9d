"""The EMA controller: an AXI4 DMA engine with traffic accounting and address windows."""

from .align import ReadAligner, WriteAligner
from .axi import AXI4LiteSignature, AXI4Signature, AXIBurst, AXIResp
from .controller import EMAController
from .layouts import Direction, Status, TrafficClass
from .planner import BurstPlanner

__all__ = ["EMAController", "BurstPlanner", "ReadAligner", "WriteAligner", "AXI4Signature",
           "AXI4LiteSignature", "AXIBurst", "AXIResp", "Direction", "Status", "TrafficClass",
           "BLOCKS"]


def _ema(config):
    return EMAController(config)


#: Components this package registers with ``sdproc generate --block``.
BLOCKS = {"ema": _ema}
