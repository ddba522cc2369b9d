"""Command encoders (docs/isa.md), built on the layouts the hardware decodes with."""

from amaranth.lib import data

from hw.top.isa import Fence, Gemm, LoadStore, Opcode

__all__ = ["encode_load", "encode_store", "encode_gemm", "encode_fence"]


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
                out_addr):
    """One array tile; ``mode``/``precision`` as ``hw.dbsc.Mode``/``Precision`` values."""
    return _encode(Gemm, {"opcode": Opcode.GEMM.value, "mode": _v(mode),
                          "precision": _v(precision), "out_format": _v(out_format),
                          "shift": shift, "m": m, "k": k, "act_addr": act_addr,
                          "weight_addr": weight_addr, "bitmap_addr": bitmap_addr,
                          "out_addr": out_addr})


def encode_fence():
    return _encode(Fence, {"opcode": Opcode.FENCE.value})
