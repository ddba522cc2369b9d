"""DBSC: the dual-mode bit-slice PE array and its bit-parallel baseline (docs/dbsc.md)."""

from .array import DBSCArray
from .baseline import BitParallelArray
from .command import Command, Mode, Precision
from .pe import SlicePE
from .timing import DBSCTiming

__all__ = ["DBSCArray", "BitParallelArray", "SlicePE", "DBSCTiming", "Command", "Mode",
           "Precision", "BLOCKS"]


def _dbsc(config):
    return DBSCArray(config.dbsc)


def _baseline(config):
    # Compared at equal peak 8-bit throughput: a bit-parallel PE does the work of
    # ``slices_high`` bit-slice PEs per cycle, so the baseline gets that many times fewer
    # columns (its result beats are narrower accordingly).
    dbsc = config.dbsc
    return BitParallelArray(config.replace(
        **{"dbsc.cols": max(1, dbsc.cols // dbsc.slices_high)}).dbsc)


#: Components this package registers with ``sdproc generate --block``.
BLOCKS = {"dbsc": _dbsc, "dbsc_baseline": _baseline}
