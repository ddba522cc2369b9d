"""cocotb testbench of the AXI4-Lite CSR bank with cocotbext-axi's AxiLiteMaster."""

import warnings

warnings.filterwarnings("error", category=DeprecationWarning)
warnings.filterwarnings("default", category=DeprecationWarning, module=r"cocotbext\.")

import cocotb  # noqa: E402
from cocotb.triggers import RisingEdge  # noqa: E402
from cocotbext.axi import AxiLiteBus, AxiLiteMaster, AxiResp  # noqa: E402

from sw.flows.cocotb_lib import pause_generator, rng, start, test_args  # noqa: E402


@cocotb.test()
async def registers_behave_as_declared(dut):
    """Random writes with random byte strobes and reads of every register kind, unmapped and
    unaligned offsets, all under random backpressure on the five channels, against a model."""
    args = test_args()
    registers = args["registers"]  # [name, access, width, init]
    r = rng()
    dut.hw_status.value = 0
    dut.events_set.value = 0
    master = AxiLiteMaster(AxiLiteBus.from_prefix(dut, "bus", bus_separator="__"), dut.clk,
                           dut.rst)
    for channel in (master.write_if.aw_channel, master.write_if.w_channel,
                    master.write_if.b_channel, master.read_if.ar_channel,
                    master.read_if.r_channel):
        channel.set_pause_generator(pause_generator(r, 0.3))
    await start(dut)

    pulses = []

    async def watch_pulses():
        while True:
            await RisingEdge(dut.clk)
            if dut.command_stb.value:
                pulses.append(int(dut.command.value))

    cocotb.start_soon(watch_pulses())
    model = {name: init for name, access, width, init in registers if access in ("rw", "w1c")}
    widths = {name: width for name, _, width, _ in registers}
    offsets = {name: 4 * i for i, (name, *_rest) in enumerate(registers)}
    expected_pulses = []
    for _ in range(args["count"]):
        name, access, width, _ = registers[r.randrange(len(registers))]
        mask = (1 << width) - 1
        if r.random() < 0.5:
            value = r.getrandbits(32)
            nbytes = r.choice([1, 2, 4])
            byte = r.randrange(0, 4, nbytes)
            data = value.to_bytes(4, "little")[byte:byte + nbytes]
            resp = await master.write(offsets[name] + byte, data)
            assert resp.resp == AxiResp.OKAY
            strobed = int.from_bytes(bytes(4)[:byte] + data + bytes(4)[byte + nbytes:], "little")
            byte_mask = int.from_bytes(bytes(byte) + b"\xff" * nbytes + bytes(4 - byte - nbytes),
                                       "little")
            if access == "rw":
                model[name] = ((model[name] & ~byte_mask) | (strobed & byte_mask)) & mask
            elif access == "w1c":
                model[name] &= ~(strobed & byte_mask) & mask
            elif access == "pulse":
                expected_pulses.append(strobed & mask)
        else:
            if access == "ro":
                dut.hw_status.value = value = r.getrandbits(width)
                await RisingEdge(dut.clk)
                expected = value
            elif access == "pulse":
                expected = 0
            else:
                expected = model[name]
            if access == "w1c" and r.random() < 0.5:
                bits = r.getrandbits(width)
                dut.events_set.value = bits
                await RisingEdge(dut.clk)
                dut.events_set.value = 0
                model[name] |= bits
                expected = model[name]
            data = await master.read(offsets[name], 4)
            assert data.resp == AxiResp.OKAY
            assert int.from_bytes(data.data, "little") == expected, name
        for reg_name, reg_access, *_ in registers:
            if reg_access == "rw":
                assert int(getattr(dut, reg_name).value) == model[reg_name], reg_name

    # Offsets with no register: SLVERR, nothing changes.
    before = {n: int(getattr(dut, n).value) for n in model}
    # (4 * (len + 14) has a group number that wraps past the last group in a narrow index.)
    for address in (4 * len(registers), 4 * len(registers) + 66, 4 * (len(registers) + 14),
                    (1 << 12) - 4):
        assert (await master.write(address, b"\xff\xff\xff\xff")).resp == AxiResp.SLVERR
        bad = await master.read(address, 4)
        assert bad.resp == AxiResp.SLVERR and bad.data == bytes(4)
    assert {n: int(getattr(dut, n).value) for n in model} == before
    # And the bus still works afterwards.
    first_rw = next(n for n, a, *_ in registers if a == "rw")
    await master.write(offsets[first_rw], (0x5A5A5A5A & ((1 << widths[first_rw]) - 1))
                       .to_bytes(4, "little"))
    assert int(getattr(dut, first_rw).value) == 0x5A5A5A5A & ((1 << widths[first_rw]) - 1)
    assert pulses == expected_pulses
