"""A conventional bit-parallel MAC array with the DBSC interfaces, for comparison."""

from .array import DBSCArray

__all__ = ["BitParallelArray"]


class BitParallelArray(DBSCArray):
    """The same ``rows x cols`` array, sequencer and interfaces as
    :class:`~hw.dbsc.array.DBSCArray`, with whole ``act_bits_high``-bit activations multiplied
    in one cycle by a :class:`~hw.common.SignedMAC` of full operand width.

    A low-precision token gives the same numbers as in DBSC (its low
    ``act_bits_high - act_bits_low`` bits are cleared before the multiply) but costs the same
    one cycle per beat as a high-precision token: mixed precision saves no time here.

    Parameters
    ----------
    config : :class:`sw.config.DBSCConfig`

    Members
    -------
    As :class:`~hw.dbsc.array.DBSCArray`.

    Latency and throughput
    ----------------------
    As :class:`~hw.dbsc.array.DBSCArray` with one slice per token, whatever its precision.
    """

    def _set_lanes(self):
        cfg = self.config
        self.lane_bits = cfg.act_bits_high
        self.slices_high = 1
        self.slices_low = 1
