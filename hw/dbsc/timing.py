"""The DBSC array's cycle model: the formulas the RTL is checked against (docs/dbsc.md)."""

from .command import Mode
from .pe import SlicePE

__all__ = ["TimingModel", "DBSCTiming", "ceil_div"]


def ceil_div(a, b):
    return -(-a // b)


class TimingModel:
    """Latency and tile-cycle formulas of :class:`~hw.dbsc.array.DBSCArray`, for an object
    with a ``config`` (:class:`sw.config.DBSCConfig`). The array inherits them; models that
    need only the numbers use :class:`DBSCTiming` and elaborate nothing."""

    def ws_latency(self, slices):
        """Cycles from a WS token's (last chunk's) activation beat handshake to its result
        beat's ``valid``, for a token of ``slices`` slices: the slices, the row and column skew
        (``rows - 1 + cols - 1``), the PE (``SlicePE.latency``) and the accumulator stage."""
        return slices + self.config.rows + self.config.cols - 1 + SlicePE.latency

    def os_latency(self, slices):
        """Cycles from an OS group's last activation beat handshake to its first result row:
        the slices, the column skew (``cols - 1``), the PE (``SlicePE.latency``), the capture
        flag and the output register."""
        return slices + self.config.cols + 1 + SlicePE.latency

    def ideal_cycles(self, mode, k, slices_per_token, bitmap=True):
        """Cycles from the command handshake to the last result handshake when operands are
        always valid and results always ready; ``slices_per_token`` lists each token's slice
        count (an OS group takes the largest of its tokens), ``bitmap`` whether precision beats
        come first.

        WS: the first chunk's weights (``rows`` beats) load before the first token; every later
        chunk loads behind the current one, exact while each chunk's issue cycles (the sum of
        the token slice counts) are at least ``rows + cols + 1``. OS: exact while each group's
        ``k * slices`` is at least ``rows + cols + SlicePE.latency + 2``; shorter groups wait
        for the previous group's readout.
        """
        rows = self.config.rows
        m = len(slices_per_token)
        groups = ceil_div(m, rows)
        prec_beats = groups if bitmap else 0
        last = slices_per_token[-1]
        if mode == Mode.WS:
            issue = ceil_div(k, rows) * sum(slices_per_token)
            return 1 + max(prec_beats, rows) + issue - last + self.ws_latency(last)
        group_slices = [max(slices_per_token[g * rows:(g + 1) * rows]) for g in range(groups)]
        issue = k * sum(group_slices)
        last = group_slices[-1]
        rows_last = m - (groups - 1) * rows
        return prec_beats + issue - last + self.os_latency(last) + rows_last


class DBSCTiming(TimingModel):
    """The timing model of the array a ``DBSCConfig`` builds, without building it."""

    def __init__(self, config):
        self.config = config

