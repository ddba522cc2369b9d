"""The processor top level (docs/top.md): :class:`SDProcessor`, its command set (docs/isa.md),
the buffer width converters and the AXI4-Lite CSR bank."""

from .csr import CSR, CSRBank
from .gearbox import BufferReader, BufferWriter, item_packing
from .isa import Buffer, ErrorCause, IRQ, MalformedDetail, Opcode, OutFormat
from .processor import SDProcessor, csr_registers, register_map

__all__ = ["CSR", "CSRBank", "SDProcessor", "BufferReader", "BufferWriter", "item_packing",
           "Buffer", "ErrorCause", "IRQ", "MalformedDetail", "Opcode", "OutFormat",
           "csr_registers", "register_map", "BLOCKS"]


def _top(config):
    return SDProcessor(config)


#: Components this package registers with ``sdproc generate --block``.
BLOCKS = {"top": _top}
