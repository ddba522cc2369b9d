"""Amaranth-simulator tests of the buffer width converters against the packed item layout of
the golden model (``sw.golden.top.pack_items`` / ``unpack_items``)."""

import random

import pytest
from amaranth import Module
from amaranth.lib import wiring
from amaranth.lib.memory import Memory

from hw.top.gearbox import BufferReader, BufferWriter, RowMajorReader, item_packing
from sw.flows.amsim import run_simulation, stream_recv, stream_send
from sw.golden.top import pack_items, unpack_items

WORD = 64
DEPTH = 64
ADDR = 8

# Items narrower than a word (several per word, with and without unused bits), exactly a
# word, and wider (two and four words, with padding).
ITEM_BITS = [4, 24, 32, 64, 96, 200]


class _ReaderBench(wiring.Component):
    """A reader (``BufferReader`` or ``RowMajorReader``) on a memory holding ``init``."""

    def __init__(self, item_bits, init, reader_class=BufferReader):
        self.reader = reader_class(item_bits, WORD, ADDR, 16)
        self.mem = Memory(shape=WORD, depth=DEPTH, init=init)
        super().__init__({})

    def elaborate(self, platform):
        m = Module()
        m.submodules.reader = self.reader
        m.submodules.mem = self.mem
        port = self.mem.read_port()
        # The read port of READ_LATENCY cycles, as the processor's buffers have: registered
        # address and enable, the memory's synchronous read, then a register.
        m.d.sync += [port.addr.eq(self.reader.rd_addr), port.en.eq(self.reader.rd_en),
                     self.reader.rd_data.eq(port.data)]
        return m


class _WriterBench(wiring.Component):
    def __init__(self, item_bits, init):
        self.writer = BufferWriter(item_bits, WORD, ADDR, 16)
        self.mem = Memory(shape=WORD, depth=DEPTH, init=init)
        super().__init__({})

    def elaborate(self, platform):
        m = Module()
        m.submodules.writer = self.writer
        m.submodules.mem = self.mem
        port = self.mem.write_port()
        m.d.comb += [port.addr.eq(self.writer.wr_addr), port.en.eq(self.writer.wr_en),
                     port.data.eq(self.writer.wr_data)]
        return m


def _runs(item_bits, seed):
    """(base, items per pass, passes) triples that fit the memory."""
    r = random.Random(seed)
    per_word, per_item = item_packing(item_bits, WORD)
    out = []
    for _ in range(4):
        count = r.randint(1, 20)
        words = count * per_item if per_item > 1 else -(-count // per_word)
        out.append((r.randrange(0, DEPTH - words + 1), count, r.randint(1, 3)))
    return out


@pytest.mark.parametrize("gap", [0.0, 0.5])
@pytest.mark.parametrize("item_bits", ITEM_BITS)
def test_reader_streams_packed_items(item_bits, gap):
    r = random.Random(item_bits * 7 + int(gap * 10))
    init = [r.getrandbits(WORD) for _ in range(DEPTH)]
    init[0] = (1 << WORD) - 1
    bench = _ReaderBench(item_bits, init)
    reader = bench.reader
    runs = _runs(item_bits, item_bits)

    async def tb(ctx):
        for base, count, passes in runs:
            ctx.set(reader.base, base)
            ctx.set(reader.pass_items, count)
            ctx.set(reader.passes, passes)
            ctx.set(reader.start, 1)
            await ctx.tick()
            ctx.set(reader.start, 0)
            got = await stream_recv(ctx, reader.items, count * passes, r, gap)
            words = init[base:]
            expected = unpack_items(words, count, item_bits, WORD) * passes
            assert [int(x) for x in got] == expected
            for _ in range(3):
                assert not ctx.get(reader.items.valid)
                await ctx.tick()
            assert not ctx.get(reader.busy)

    run_simulation(bench, tb, deadline_cycles=20_000)


@pytest.mark.parametrize("reader_class", [BufferReader, RowMajorReader])
@pytest.mark.parametrize("item_bits", [16, 64, 128])
def test_readers_latency_and_throughput(reader_class, item_bits):
    """With ``ready`` always high: the first item ``latency`` cycles after ``start`` (plus
    ``per_item`` for wide items), then one every ``per_item`` cycles, across pass restarts."""
    init = [random.Random(item_bits).getrandbits(WORD) for _ in range(DEPTH)]
    bench = _ReaderBench(item_bits, init, reader_class)
    reader = bench.reader
    per_item = item_packing(item_bits, WORD)[1]
    if reader_class is BufferReader:
        settings, expected = ((reader.base, 5), (reader.pass_items, 8), (reader.passes, 3)), 24
    else:
        chunks = 3 if per_item == 1 else 1
        settings = ((reader.base, 5), (reader.row_words, 2), (reader.rows, 8),
                    (reader.chunks, chunks))
        expected = 8 * chunks

    async def tb(ctx):
        for port, value in settings:
            ctx.set(port, value)
        ctx.set(reader.items.ready, 1)
        ctx.set(reader.start, 1)
        await ctx.tick()
        ctx.set(reader.start, 0)
        cycles = []
        for cycle in range(1, 200):
            if ctx.get(reader.items.valid):
                cycles.append(cycle)
            await ctx.tick()
        assert len(cycles) == expected
        first = reader.latency + (per_item if per_item > 1 else 0)
        assert cycles == [first + i * per_item for i in range(expected)]

    run_simulation(bench, tb, deadline_cycles=1000)


def test_reader_stop_abandons_the_rest():
    init = list(range(DEPTH))
    bench = _ReaderBench(32, init)
    reader = bench.reader

    async def tb(ctx):
        ctx.set(reader.base, 3)
        ctx.set(reader.pass_items, 50)
        ctx.set(reader.passes, 1)
        ctx.set(reader.start, 1)
        await ctx.tick()
        ctx.set(reader.start, 0)
        got = await stream_recv(ctx, reader.items, 5)
        assert [int(x) for x in got] == unpack_items(init[3:], 5, 32, WORD)
        ctx.set(reader.stop, 1)
        await ctx.tick()
        ctx.set(reader.stop, 0)
        assert not ctx.get(reader.busy) and not ctx.get(reader.items.valid)

    run_simulation(bench, tb, deadline_cycles=1000)


@pytest.mark.parametrize("gap", [0.0, 0.5])
@pytest.mark.parametrize("item_bits", ITEM_BITS)
def test_writer_packs_items_and_touches_nothing_else(item_bits, gap):
    r = random.Random(item_bits * 13 + int(gap * 10))
    init = [r.getrandbits(WORD) for _ in range(DEPTH)]
    bench = _WriterBench(item_bits, init)
    writer = bench.writer
    expected = list(init)
    runs = []
    for base, count, _ in _runs(item_bits, item_bits + 1):
        items = [r.getrandbits(item_bits) for _ in range(count)]
        if r.random() < 0.3:
            items = [(1 << item_bits) - 1] * count
        runs.append((base, items))
        for i, word in enumerate(pack_items(items, item_bits, WORD)):
            expected[base + i] = word

    async def tb(ctx):
        ctx.set(writer.limit, DEPTH)
        for base, items in runs:
            ctx.set(writer.base, base)
            ctx.set(writer.count, len(items))
            ctx.set(writer.start, 1)
            await ctx.tick()
            ctx.set(writer.start, 0)
            await stream_send(ctx, writer.items, items, r, gap)
            while ctx.get(writer.busy):
                await ctx.tick()
        assert [ctx.get(bench.mem.data[i]) for i in range(DEPTH)] == expected

    run_simulation(bench, tb, deadline_cycles=20_000)


def test_writer_suppresses_writes_at_or_past_the_limit():
    init = [0x1111 * i for i in range(DEPTH)]
    bench = _WriterBench(64, init)
    writer = bench.writer

    async def tb(ctx):
        ctx.set(writer.limit, 10)
        ctx.set(writer.base, 8)
        ctx.set(writer.count, 4)
        ctx.set(writer.start, 1)
        await ctx.tick()
        ctx.set(writer.start, 0)
        await stream_send(ctx, writer.items, [0xA, 0xB, 0xC, 0xD])
        while ctx.get(writer.busy):
            await ctx.tick()
        got = [ctx.get(bench.mem.data[i]) for i in range(DEPTH)]
        assert got == init[:8] + [0xA, 0xB] + init[10:]

    run_simulation(bench, tb, deadline_cycles=1000)


def _row_major_items(words, base, row_words, rows, chunks, item_bits):
    out = []
    for j in range(chunks):
        for i in range(rows):
            row = 0
            for w in range(row_words + 8):   # items may run past the row, into what follows
                row |= words[(base + i * row_words + w) % DEPTH] << (w * WORD)
            out.append(row >> (j * item_bits) & ((1 << item_bits) - 1))
    return out


@pytest.mark.parametrize("gap", [0.0, 0.5])
@pytest.mark.parametrize("item_bits", [16, 32, 64, 128])
def test_row_major_reader_streams_chunks_of_rows(item_bits, gap):
    r = random.Random(item_bits * 5 + int(gap * 10))
    init = [r.getrandbits(WORD) for _ in range(DEPTH)]
    bench = _ReaderBench(item_bits, init, RowMajorReader)
    reader = bench.reader
    per_item = max(1, item_bits // WORD)
    # Empty tiles (no rows, no chunks) deliver nothing and leave the reader idle.
    runs = [(0, 1, 1, 1), (3, 2, 5, 3), (2, 1, 0, 3), (7, 3, 4, 6 // per_item), (5, 2, 3, 0),
            (1, 4, 6, 4 // per_item)]

    async def tb(ctx):
        for base, row_words, rows, chunks in runs:
            for port, value in ((reader.base, base), (reader.row_words, row_words),
                                (reader.rows, rows), (reader.chunks, chunks)):
                ctx.set(port, value)
            ctx.set(reader.start, 1)
            await ctx.tick()
            ctx.set(reader.start, 0)
            got = await stream_recv(ctx, reader.items, rows * chunks, r, gap)
            assert [int(x) for x in got] == _row_major_items(init, base, row_words, rows,
                                                             chunks, item_bits)
            for _ in range(3):
                assert not ctx.get(reader.items.valid)
                await ctx.tick()
            assert not ctx.get(reader.busy)

    run_simulation(bench, tb, deadline_cycles=20_000)


def test_row_major_reader_rejects_straddling_items():
    with pytest.raises(ValueError, match="item_bits=24 must divide or be a multiple"):
        RowMajorReader(24, WORD, ADDR, 16)
