"""Pieces every block shares: stream FIFOs, skid buffers, the signed MAC datapath and the
requantizer between wide accumulators and narrow activations."""

from .fifo import StreamFIFO
from .mac import SignedMAC
from .requant import Requantizer
from .skid import SkidBuffer

__all__ = ["StreamFIFO", "SkidBuffer", "SignedMAC", "Requantizer", "BLOCKS"]


def _fifo(config):
    return StreamFIFO(shape=config.ema.data_width, depth=16)


def _skid(config):
    return SkidBuffer(shape=config.ema.data_width)


def _mac(config):
    dbsc = config.dbsc
    return SignedMAC(a_width=dbsc.slice_bits, b_width=dbsc.weight_bits,
                     acc_width=dbsc.acc_bits,
                     max_shift=dbsc.act_bits_high - dbsc.slice_bits)


def _requant(config):
    return Requantizer(acc_bits=config.dbsc.acc_bits, out_bits=config.dbsc.act_bits_high,
                       lanes=config.dbsc.cols)


#: Components this package registers with ``sdproc generate --block``.
BLOCKS = {"common_fifo": _fifo, "common_skid": _skid, "common_mac": _mac,
          "common_requant": _requant}
