"""TopConfig validation, the register map and the command layouts (no simulation)."""

import pytest
from amaranth.lib import data

from hw.top import register_map
from hw.top.isa import COMMAND_BITS, Fence, Gemm, LoadStore, SasTransfer, Tips
from sw.config import load_config
from sw.driver.isa import encode_gemm, encode_load
from sw.golden.top import decode_command


def test_bad_top_fields_are_named_together():
    with pytest.raises(ValueError) as info:
        load_config(overrides=["top.bitmap_buffer_bytes=100", "top.act_buffer_bytes=2097152",
                               "top.command_queue_depth=1"])
    message = str(info.value)
    assert "top.bitmap_buffer_bytes=100 must be a power of two" in message
    assert "top.act_buffer_bytes=2097152 must be an integer in [64, 1048576]" in message
    assert "top.command_queue_depth=1 must be an integer in [2, 1024]" in message


def test_register_map_is_dense_and_keeps_the_documented_offsets():
    regs = register_map(load_config())
    assert sorted(regs.values()) == [4 * i for i in range(len(regs))]
    assert (regs["ID"], regs["CTRL"], regs["STATUS"], regs["ERROR"]) == (0, 4, 8, 12)
    assert regs["CMD0"] == 0x18 and regs["CMD_PUSH"] == 0x28
    assert regs["WINDOW_BASE_LO_0"] == 0x54 and regs["WINDOW_LIMIT_HI_3"] == 0x90
    # EMA counters: 0x94 + 0x40 class + 0x20 direction + 0x8 kind.
    assert regs["EMA_SAS_WRITE_BURSTS_LO"] == 0x94 + 0x40 * 2 + 0x20 + 0x8 * 2
    assert regs["TOKEN_MASK_0"] == 0x194


@pytest.mark.parametrize("layout", [LoadStore, Gemm, Fence, Tips, SasTransfer])
def test_every_command_layout_is_one_command_word(layout):
    assert data.Layout.cast(layout).size == COMMAND_BITS


def test_encoders_and_decoder_agree():
    raw = encode_gemm(1, 2, 1, 13, 64, 300, 5, 6, 7, 8)
    opcode, fields = decode_command(raw)
    assert opcode == 3
    assert {k: fields[k] for k in ("mode", "precision", "out_format", "shift", "m", "k",
                                   "act_addr", "weight_addr", "bitmap_addr", "out_addr")} == \
        {"mode": 1, "precision": 2, "out_format": 1, "shift": 13, "m": 64, "k": 300,
         "act_addr": 5, "weight_addr": 6, "bitmap_addr": 7, "out_addr": 8}
    opcode, fields = decode_command(encode_load(3, 17, 0xDEADBEEF, 2, 100, 4096, 1))
    assert (opcode, fields["buffer"], fields["addr"], fields["dram_addr"], fields["rows"],
            fields["row_bytes"], fields["stride"], fields["tclass"]) == \
        (1, 3, 17, 0xDEADBEEF, 2, 100, 4096, 1)
