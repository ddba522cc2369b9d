"""Host-side driver of :class:`hw.top.SDProcessor` over its CSR port.

The driver is transport-agnostic: give it two coroutines, ``write32(offset, value)`` and
``read32(offset) -> int`` (a cocotbext-axi ``AxiLiteMaster`` in the tests, a memory-mapped
register window on a real system).
"""

from hw.top.isa import COMMAND_BITS
from hw.top.processor import register_map

__all__ = ["Host", "STATUS_BUSY", "STATUS_HALTED", "STATUS_EMPTY", "STATUS_FULL"]

STATUS_BUSY, STATUS_HALTED, STATUS_EMPTY, STATUS_FULL = 1, 2, 4, 8


class Host:
    """Pushes programs and reads status and counters."""

    def __init__(self, config, write32, read32):
        self.config = config
        self.regs = register_map(config)
        self.write32 = write32
        self.read32 = read32

    async def status(self):
        return await self.read32(self.regs["STATUS"])

    async def push(self, command):
        """Wait for room in the queue, then write ``CMD0..CMD3`` and ``CMD_PUSH``."""
        while (await self.status()) & STATUS_FULL:
            pass
        for i in range(COMMAND_BITS // 32):
            await self.write32(self.regs[f"CMD{i}"], command >> (32 * i) & 0xFFFF_FFFF)
        await self.write32(self.regs["CMD_PUSH"], 1)

    async def wait_idle(self, polls=100_000):
        """Poll until the sequencer is idle with an empty queue, or halted. Returns STATUS."""
        for _ in range(polls):
            status = await self.status()
            if status & STATUS_HALTED or (status & STATUS_EMPTY and not status & STATUS_BUSY):
                return status
        raise TimeoutError(f"processor still busy after {polls} status polls")

    async def run(self, commands):
        """Push every command (stopping early if the processor halts) and wait."""
        for command in commands:
            if (await self.status()) & STATUS_HALTED:
                break
            await self.push(command)
        return await self.wait_idle()

    async def clear_error(self):
        await self.write32(self.regs["CTRL"], 1)

    async def clear_counters(self):
        await self.write32(self.regs["CTRL"], 2)

    async def read64(self, name):
        lo = await self.read32(self.regs[f"{name}_LO"])
        hi = await self.read32(self.regs[f"{name}_HI"])
        return lo | hi << 32

    async def counters(self):
        """``busy_cycles``, ``macs_high``, ``macs_low``, ``commands_done`` and
        ``ema[class][direction][kind]`` (class and direction as indices)."""
        out = {name.lower(): await self.read64(name)
               for name in ("BUSY_CYCLES", "MACS_HIGH", "MACS_LOW")}
        out["commands_done"] = await self.read32(self.regs["COMMANDS_DONE"])
        ema = {}
        for c, cls in enumerate(("WEIGHT", "ACTIVATION", "SAS", "OTHER")):
            ema[c] = {}
            for d, direction in enumerate(("READ", "WRITE")):
                ema[c][d] = {kind: await self.read64(f"EMA_{cls}_{direction}_{kind.upper()}")
                             for kind in ("bytes", "beats", "bursts", "stalls")}
        out["ema"] = ema
        return out

    async def set_token_mask(self, mask_bits):
        """TIPS token mask: bit ``t`` set when token ``t`` counts."""
        for i in range(-(-self.config.tips.tokens // 32)):
            await self.write32(self.regs[f"TOKEN_MASK_{i}"], mask_bits >> (32 * i) & 0xFFFF_FFFF)

    async def set_sas(self, threshold, policy):
        await self.write32(self.regs["SAS_THRESHOLD"], threshold)
        await self.write32(self.regs["SAS_POLICY"], policy)

    async def set_window(self, tclass, base, limit):
        for kind, value in (("BASE", base), ("LIMIT", limit)):
            await self.write32(self.regs[f"WINDOW_{kind}_LO_{tclass}"], value & 0xFFFF_FFFF)
            await self.write32(self.regs[f"WINDOW_{kind}_HI_{tclass}"], value >> 32 & 0xFFFF_FFFF)
