"""DBSC: the dual-mode bit-slice PE array and its bit-parallel baseline (docs/dbsc.md)."""

from .array import DBSCArray
from .baseline import BitParallelArray
from .command import Command, Mode, Precision
from .pe import SlicePE

__all__ = ["DBSCArray", "BitParallelArray", "SlicePE", "Command", "Mode", "Precision",
           "BLOCKS"]


def _dbsc(config):
    return DBSCArray(config.dbsc)


def _baseline(config):
    return BitParallelArray(config.dbsc)


#: Components this package registers with ``sdproc generate --block``.
BLOCKS = {"dbsc": _dbsc, "dbsc_baseline": _baseline}
