"""The AXI4-Lite CSR bank: parameter errors, and every register kind through cocotbext-axi."""

import pytest

from hw.top import CSR, CSRBank
from sw.config import load_config
from sw.flows.cocotb_run import run_cocotb

REGISTERS = [
    CSR("control", "rw", 32, 0x12345678),
    CSR("threshold", "rw", 12, 0x0ab),
    CSR("hw_status", "ro", 20),
    CSR("command", "pulse", 32),
    CSR("events", "w1c", 8),
    CSR("mode", "rw", 1, 1),
]


def test_rejects_bad_registers_naming_each():
    with pytest.raises(ValueError) as info:
        CSRBank([CSR("a", "rx"), CSR("a", "rw", 40), CSR("bus", "rw")])
    message = str(info.value)
    assert "a.access='rx'" in message
    assert "a.width=40 must be in [1, 32]" in message
    assert "'bus' must be a unique identifier" in message


def test_offsets_follow_declaration_order():
    bank = CSRBank(REGISTERS)
    assert [bank.offset(r.name) for r in REGISTERS] == [0, 4, 8, 12, 16, 20]
    bank._MustUse__silence = True  # inspected, not elaborated


@pytest.mark.cocotb
def test_csr_bank(sim):
    run_cocotb(CSRBank(REGISTERS), "csr_bank", "tests.top.cocotb_csr", load_config(), sim,
               test_args={"registers": [[r.name, r.access, r.width, r.init] for r in REGISTERS],
                          "count": 300})
