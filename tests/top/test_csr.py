"""The AXI4-Lite CSR bank: parameter errors, and every register kind through cocotbext-axi."""

import pytest

from hw.top import CSR, CSRBank
from sw.config import load_config
from sw.flows.amsim import run_simulation
from sw.flows.cocotb_run import run_cocotb

REGISTERS = [
    CSR("control", "rw", 32, 0x12345678),
    CSR("threshold", "rw", 12, 0x0ab),
    CSR("hw_status", "ro", 20),
    CSR("command", "pulse", 32),
    CSR("events", "w1c", 8),
    CSR("mode", "rw", 1, 1),
    # Enough more to fill three read groups, the last one partly.
    *(CSR(f"scratch_{k}", "rw", 4 + 2 * k, (0x9E3779B9 * (k + 1)) % (1 << (4 + 2 * k)))
      for k in range(13)),
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
    assert [bank.offset(r.name) for r in REGISTERS] == list(range(0, 4 * len(REGISTERS), 4))
    bank._MustUse__silence = True  # inspected, not elaborated


@pytest.mark.cocotb
def test_csr_bank(sim):
    run_cocotb(CSRBank(REGISTERS), "csr_bank", "tests.top.cocotb_csr", load_config(), sim,
               test_args={"registers": [[r.name, r.access, r.width, r.init] for r in REGISTERS],
                          "count": 300})


def test_latencies_and_back_to_back_reads():
    """A read answers ``read_latency`` cycles after its address is accepted, a write takes
    effect ``write_latency`` cycles after address and data; reads follow each other."""
    bank = CSRBank(REGISTERS)
    bus = bank.bus

    async def tb(ctx):
        ctx.set(bus.rready, 1)
        ctx.set(bus.bready, 1)
        for index, reg in enumerate(REGISTERS * 2):
            ctx.set(bus.araddr, 4 * (index % len(REGISTERS)))
            ctx.set(bus.arvalid, 1)
            while not ctx.get(bus.arready):
                await ctx.tick()
            await ctx.tick()
            ctx.set(bus.arvalid, 0)
            cycles = 1
            while not ctx.get(bus.rvalid):
                await ctx.tick()
                cycles += 1
            assert cycles == bank.read_latency
            expected = reg.init if reg.access in ("rw", "w1c") else 0
            assert (ctx.get(bus.rdata), ctx.get(bus.rresp).value) == (expected, 0)
            await ctx.tick()
        ctx.set(bus.awaddr, 4)
        ctx.set(bus.wdata, 0x3CD)
        ctx.set(bus.wstrb, 0xF)
        ctx.set(bus.awvalid, 1)
        ctx.set(bus.wvalid, 1)
        await ctx.tick()
        ctx.set(bus.awvalid, 0)
        ctx.set(bus.wvalid, 0)
        for _ in range(bank.write_latency):
            assert ctx.get(bank.threshold) == 0x0AB
            await ctx.tick()
        assert ctx.get(bank.threshold) == 0x3CD and ctx.get(bus.bvalid)

    run_simulation(bank, tb, deadline_cycles=200)
