"""Command encoders (docs/isa.md), built on the layouts the hardware decodes with."""

from amaranth.lib import data

from hw.top.isa import Fence, Gemm, LoadStore, Opcode, SasTransfer, Tips

__all__ = ["encode_load", "encode_store", "encode_gemm", "encode_fence", "encode_tips",
           "encode_sas_store", "encode_sas_load"]


def _v(value):
    """An enum member's value, or the int itself."""
    return value.value if hasattr(value, "value") else int(value)


def _encode(layout, fields):
    return data.Layout.cast(layout).const(fields).as_bits()


def _load_store(opcode, buffer, addr, dram_addr, rows, row_bytes, stride, tclass):
    return _encode(LoadStore, {"opcode": opcode.value, "tclass": _v(tclass),
                               "buffer": _v(buffer), "addr": addr, "rows": rows,
                               "row_bytes": row_bytes, "dram_addr": dram_addr & 0xFFFF_FFFF,
                               "stride": stride})


def encode_load(buffer, addr, dram_addr, rows, row_bytes, stride=0, tclass=0):
    """DRAM rows -> ``buffer`` from word ``addr`` on (each row starting on a fresh word)."""
    return _load_store(Opcode.LOAD, buffer, addr, dram_addr, rows, row_bytes, stride, tclass)


def encode_store(buffer, addr, dram_addr, rows, row_bytes, stride=0, tclass=0):
    """``buffer`` words from ``addr`` on -> DRAM rows."""
    return _load_store(Opcode.STORE, buffer, addr, dram_addr, rows, row_bytes, stride, tclass)


def encode_gemm(mode, precision, out_format, shift, m, k, act_addr, weight_addr, bitmap_addr,
                out_addr, act_source=0):
    """One array tile; ``mode``/``precision`` as ``hw.dbsc.Mode``/``Precision`` values;
    ``act_source`` 1 reads the activations row-major from the SAS buffer."""
    return _encode(Gemm, {"opcode": Opcode.GEMM.value, "mode": _v(mode),
                          "precision": _v(precision), "out_format": _v(out_format),
                          "shift": shift, "m": m, "k": k, "act_addr": act_addr,
                          "weight_addr": weight_addr, "bitmap_addr": bitmap_addr,
                          "out_addr": out_addr, "act_source": act_source})


def encode_fence():
    return _encode(Fence, {"opcode": Opcode.FENCE.value})


def encode_tips(mode, pixels, probs_addr, bitmap_addr, tau=0, ratio=0):
    """One TIPS tile (``mode`` as ``hw.tips.Mode``: threshold ``tau`` or ratio code
    ``ratio``)."""
    return _encode(Tips, {"opcode": Opcode.TIPS.value, "mode": _v(mode), "pixels": pixels,
                          "probs_addr": probs_addr, "bitmap_addr": bitmap_addr, "tau": tau,
                          "ratio": ratio})


def _sas(opcode, addr, rows, keys, dram_addr, words):
    return _encode(SasTransfer, {"opcode": opcode.value, "addr": addr, "rows": rows,
                                 "keys": keys, "dram_addr": dram_addr & 0xFFFF_FFFF,
                                 "words": words})


def encode_sas_store(addr, rows, keys, dram_addr):
    """SAS buffer tile from word ``addr`` -> PSSA encoder -> DRAM at ``dram_addr``."""
    return _sas(Opcode.SAS_STORE, addr, rows, keys, dram_addr, 0)


def encode_sas_load(addr, rows, keys, dram_addr, words=0):
    """``words`` coded words (0: the last SAS_STORE's) -> decoder -> SAS buffer at ``addr``."""
    return _sas(Opcode.SAS_LOAD, addr, rows, keys, dram_addr, words)
