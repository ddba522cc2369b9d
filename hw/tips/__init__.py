"""TIPS: the text-based important-pixel selector that drives the DBSC's per-token precision."""

from .lanesum import MaskedLaneSum
from .selector import (TIPS, Mode, bitmap_read_signature, command_layout, status_layout,
                       tile_cycles)

__all__ = ["TIPS", "Mode", "MaskedLaneSum", "tile_cycles", "command_layout", "status_layout",
           "bitmap_read_signature", "BLOCKS"]


def _tips(config):
    return TIPS(config)


#: Components this package registers with ``sdproc generate --block``.
BLOCKS = {"tips": _tips}
