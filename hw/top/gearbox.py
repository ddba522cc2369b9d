"""Width converters between on-chip buffer words and the blocks' stream beats.

Every buffer holds ``word_bits``-wide words (``ema.data_width``). A stream of ``item_bits``-wide
items (operand beats, result rows) is laid out in a buffer in the *packed item layout*
(``sw.golden.top.pack_items``):

- ``item_bits <= word_bits``: ``per_word = word_bits // item_bits`` items per word, item ``j``
  in word ``j // per_word`` at bit ``(j % per_word) * item_bits``; unused bits are zero.
- ``item_bits > word_bits``: ``per_item = ceil(item_bits / word_bits)`` words per item, item
  ``j`` in words ``j * per_item ..``, least significant word first, padded with zeros.

So a converter only counts items and never divides.

The readers fetch through a read port of ``READ_LATENCY`` (3) cycles: ``rd_data`` is the word
at ``rd_addr`` three cycles after ``rd_en``: the address and enable are registered in front of
the memory (a buffer's port is shared by several readers, and the mux between them should not
be in the cycle of a reader's fetch decision), the memory reads synchronously, and its data is
registered, because a block RAM's clock-to-output leaves no room for logic in the same cycle.
They fetch ahead into a small queue of their own and stream from it.
"""

from amaranth import Array, Cat, Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

__all__ = ["item_packing", "BufferReader", "BufferWriter", "RowMajorReader", "READ_LATENCY"]

#: Cycles from ``rd_en`` to the word on ``rd_data`` of the readers' read port.
READ_LATENCY = 3
# Queue entries: the fetches in flight plus two, so that one word per cycle flows while the
# room for a fetch is decided from registers alone (not from the consumer's ``ready``).
_QUEUE_DEPTH = READ_LATENCY + 2


class _WordQueue:
    """Fetched words (with a tag each) in flight through the read port, then queued.

    ``fetch`` (set by the reader when ``room``) sends a read and its ``tag``; the word and
    its tag arrive ``READ_LATENCY`` cycles later at the tail. ``head``/``head_tag`` are valid
    with ``head_valid``; ``pop`` removes the head. ``clear`` drops everything, in flight too.
    """

    def __init__(self, m, rd_data, tag_bits, name):
        self.fetch = Signal(name=f"{name}_fetch")
        # A one-bit tag stands in for none: no zero-width signals in the emitted Verilog.
        tag_bits = max(1, tag_bits)
        self.tag = Signal(tag_bits, name=f"{name}_tag")
        self.pop = Signal(name=f"{name}_pop")
        self.clear = Signal(name=f"{name}_clear")
        self.head_valid = Signal(name=f"{name}_head_valid")
        self.pending = Signal(name=f"{name}_pending")   # anything in flight or queued
        width = len(rd_data)
        flight = [Signal(name=f"{name}_flight_{i}") for i in range(READ_LATENCY)]
        flight_tags = [Signal(tag_bits, name=f"{name}_flight_tag_{i}", reset_less=True)
                       for i in range(READ_LATENCY)]
        # The words and tags carry no reset: they are read only under valid flags that have one,
        # and every reset flip-flop is one more load on the chip-wide reset net.
        # The head is a register of its own, so that the item selected from it comes straight
        # from flip-flops; the words behind it wait in a ring written only as they arrive.
        # ``pop`` (the consumer's decision) then enables the head and the ring's pointers, not
        # every queued word.
        head = Signal(width + tag_bits, name=f"{name}_head", reset_less=True)
        ring_depth = _QUEUE_DEPTH - 1
        ring = [Signal(width + tag_bits, name=f"{name}_ring_{i}", reset_less=True)
                for i in range(ring_depth)]
        write_at = Signal(range(ring_depth), name=f"{name}_write_at")
        read_at = Signal(range(ring_depth), name=f"{name}_read_at")
        ring_count = Signal(range(ring_depth + 1), name=f"{name}_ring_count")
        # Words queued or in flight, kept apart from the queue's own counts. ``room`` is a
        # flip-flop loaded with the compare of the next occupancy, so the fetch decision that
        # it enables starts from registers and has no compare in it.
        occupancy = Signal(range(_QUEUE_DEPTH + 1), name=f"{name}_occupancy")
        self.room = Signal(name=f"{name}_room", init=1)
        in_flight = sum(flight)
        self.head = head[:width]
        self.head_tag = head[width:]
        arrives = flight[-1]
        arriving = Cat(rd_data, flight_tags[-1])
        ring_held = ring_count != 0
        head_free = ~self.head_valid | self.pop
        # An arriving word goes to the head when the head is free and the ring empty; it is
        # written into the ring either way (``occupancy`` leaves a slot free for it) and kept
        # there only otherwise.
        to_ring = arrives & ~(head_free & ~ring_held)
        from_ring = head_free & ring_held
        m.d.comb += [
            self.pending.eq(self.head_valid | ring_held | (in_flight != 0)),
        ]
        # The consumer's ``pop`` (the longest decision here) comes last: the next occupancy,
        # ``room`` and ``ring_count`` are each a select between two values computed from
        # flip-flops alone.
        occupancy_kept = occupancy + self.fetch
        occupancy_popped = occupancy_kept - 1
        m.d.sync += [occupancy.eq(Mux(self.pop, occupancy_popped, occupancy_kept)),
                     self.room.eq(Mux(self.pop, occupancy_popped < _QUEUE_DEPTH,
                                      occupancy_kept < _QUEUE_DEPTH))]
        m.d.sync += [flight[0].eq(self.fetch), flight_tags[0].eq(self.tag)]
        for i in range(1, READ_LATENCY):
            m.d.sync += [flight[i].eq(flight[i - 1]), flight_tags[i].eq(flight_tags[i - 1])]

        def incr(pointer):
            return Mux(pointer == ring_depth - 1, 0, pointer + 1)
        for i, entry in enumerate(ring):
            with m.If(arrives & (write_at == i)):
                m.d.sync += entry.eq(arriving)
        with m.If(to_ring):
            m.d.sync += write_at.eq(incr(write_at))
        with m.If(from_ring):
            m.d.sync += read_at.eq(incr(read_at))
        # With the head free, a held ring gives the head a word (and takes any arrival) and an
        # empty one passes the arrival on; with the head kept, every arrival stays in the ring.
        m.d.sync += ring_count.eq(Mux(head_free, Mux(ring_held, ring_count - 1 + arrives, 0),
                                      ring_count + arrives))
        with m.If(head_free):
            m.d.sync += [head.eq(Mux(ring_held, Array(ring)[read_at], arriving)),
                         self.head_valid.eq(ring_held | arrives)]
        with m.If(self.clear):
            m.d.sync += [ring_count.eq(0), write_at.eq(0), read_at.eq(0),
                         self.head_valid.eq(0), occupancy.eq(0), self.room.eq(1)]
            m.d.sync += [valid.eq(0) for valid in flight]


def item_packing(item_bits, word_bits):
    """``(per_word, per_item)``: items per word and words per item; one of them is 1."""
    if item_bits <= word_bits:
        return word_bits // item_bits, 1
    return 1, -(-item_bits // word_bits)


class BufferReader(wiring.Component):
    """Streams items out of a buffer memory, in the packed item layout.

    ``start`` (one cycle) loads ``base``, ``pass_items`` and ``passes``; the reader then
    delivers ``pass_items * passes`` items: ``passes`` times the ``pass_items`` items from word
    ``base`` on (an OS tile re-reads its weights for every token group). ``stop`` abandons the
    rest. Words are fetched ahead, up to ``READ_LATENCY + 2``, through a read port of
    ``READ_LATENCY`` cycles (``rd_addr``, ``rd_en``, ``rd_data``); ``items`` come from
    registers.

    Parameters
    ----------
    item_bits, word_bits : int
    addr_bits : int
        Width of the word address (addresses wrap at ``2^addr_bits``).
    count_bits : int
        Width of ``pass_items`` and ``passes``.

    Members
    -------
    start, stop : ``In(1)``
    base : ``In(addr_bits)``; pass_items, passes : ``In(count_bits)``
    rd_addr : ``Out(addr_bits)``; rd_en : ``Out(1)``; rd_data : ``In(word_bits)``
    items : ``Out(stream.Signature(item_bits))``
    busy : ``Out(1)``
        Items remain to be delivered.

    Latency and throughput
    ----------------------
    ``latency`` (5) cycles from ``start`` to the first ``items.valid``, ``latency + per_item``
    for items wider than a word; then one item per cycle while ``items.ready`` is high (an
    item every ``per_item`` cycles for wide items), passes back to back.
    """

    latency = 2 + READ_LATENCY

    def __init__(self, item_bits, word_bits, addr_bits, count_bits):
        self.item_bits = item_bits
        self.word_bits = word_bits
        self.per_word, self.per_item = item_packing(item_bits, word_bits)
        super().__init__({
            "start": In(1), "stop": In(1),
            "base": In(addr_bits), "pass_items": In(count_bits), "passes": In(count_bits),
            "rd_addr": Out(addr_bits), "rd_en": Out(1), "rd_data": In(word_bits),
            "items": Out(stream.Signature(item_bits)),
            "busy": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        queue = _WordQueue(m, self.rd_data, 0, "queue")
        pass_items = Signal.like(self.pass_items)
        base = Signal.like(self.base)
        m.d.comb += queue.clear.eq(self.start | self.stop)

        # Fetch side: the words of each pass in order, then back to ``base`` for the next.
        ptr = Signal.like(self.rd_addr)
        issue_left = Signal.like(self.pass_items)   # items of the pass not yet fetched
        issue_passes = Signal.like(self.passes)
        # ``issue_passes != 0`` and, for narrow items, ``issue_left <= per_word`` as flags set
        # a cycle ahead: the fetch decision enables the pointer and both counters, and a wide
        # compare in front of that would be most of a cycle.
        fetching = Signal()
        m.d.comb += [queue.fetch.eq(fetching & queue.room),
                     self.rd_addr.eq(ptr), self.rd_en.eq(queue.fetch)]
        pass_fetched = Signal()
        if self.per_item == 1:
            single_word_pass = Signal()
            with m.If(queue.fetch):
                m.d.sync += [ptr.eq(ptr + 1), issue_left.eq(issue_left - self.per_word),
                             pass_fetched.eq(issue_left <= 2 * self.per_word)]
        else:
            sub = Signal(range(self.per_item))
            m.d.comb += pass_fetched.eq((issue_left == 1) & (sub == self.per_item - 1))
            with m.If(queue.fetch):
                m.d.sync += [ptr.eq(ptr + 1), sub.eq(Mux(sub == self.per_item - 1, 0, sub + 1))]
                with m.If(sub == self.per_item - 1):
                    m.d.sync += issue_left.eq(issue_left - 1)
        with m.If(queue.fetch & pass_fetched):
            m.d.sync += [ptr.eq(base), issue_left.eq(pass_items),
                         issue_passes.eq(issue_passes - 1), fetching.eq(issue_passes != 1)]
            if self.per_item == 1:
                m.d.sync += pass_fetched.eq(single_word_pass)

        # Delivery side.
        left_in_pass = Signal.like(self.pass_items)
        passes_left = Signal.like(self.passes)
        taken = Signal()
        # ``passes_left != 0`` and ``left_in_pass == 1`` as flags set a cycle ahead: ``taken``
        # depends on the first and enables every delivery counter with the second, and a wide
        # compare in front of that fan-out would be most of a cycle.
        last_of_pass = Signal()
        single_item_passes = Signal()
        m.d.comb += taken.eq(self.items.valid & self.items.ready)
        if self.per_item == 1:
            # ``lane`` selects the item in the head word.
            lane = Signal(range(max(2, self.per_word)))
            word_done = Signal()
            m.d.comb += [
                self.items.valid.eq(queue.head_valid & self.busy),
                self.items.payload.eq(
                    queue.head.word_select(lane, self.item_bits) if self.per_word > 1
                    else queue.head[:self.item_bits]),
                word_done.eq((lane == self.per_word - 1) | last_of_pass),
                queue.pop.eq(taken & word_done),
            ]
            with m.If(taken):
                m.d.sync += lane.eq(Mux(word_done, 0, lane + 1))
            with m.If(self.start):
                m.d.sync += lane.eq(0)
        else:
            # Wide items: gather ``per_item`` words, least significant first.
            gathered = Signal(self.per_item * self.word_bits, reset_less=True)
            have = Signal(range(self.per_item + 1))
            m.d.comb += [
                self.items.valid.eq((have == self.per_item) & self.busy),
                self.items.payload.eq(gathered[:self.item_bits]),
                # The next item's first word comes in as an item is taken.
                queue.pop.eq(queue.head_valid & ((have != self.per_item) | taken)),
            ]
            with m.If(queue.pop):
                m.d.sync += gathered.eq(Cat(gathered[self.word_bits:], queue.head))
            m.d.sync += have.eq(Mux(taken, 0, have) + queue.pop)
            with m.If(self.start):
                m.d.sync += have.eq(0)
        with m.If(taken):
            m.d.sync += [left_in_pass.eq(left_in_pass - 1), last_of_pass.eq(left_in_pass == 2)]
            with m.If(last_of_pass):
                m.d.sync += [left_in_pass.eq(pass_items), passes_left.eq(passes_left - 1),
                             last_of_pass.eq(single_item_passes),
                             self.busy.eq(passes_left != 1)]

        with m.If(self.start):
            passes = Mux(self.pass_items == 0, 0, self.passes)
            m.d.sync += [base.eq(self.base), pass_items.eq(self.pass_items),
                         left_in_pass.eq(self.pass_items), passes_left.eq(passes),
                         last_of_pass.eq(self.pass_items == 1),
                         single_item_passes.eq(self.pass_items == 1),
                         self.busy.eq((self.pass_items != 0) & (self.passes != 0)),
                         ptr.eq(self.base), issue_left.eq(self.pass_items),
                         issue_passes.eq(passes), fetching.eq(passes != 0)]
            if self.per_item > 1:
                m.d.sync += sub.eq(0)
            else:
                m.d.sync += [pass_fetched.eq(self.pass_items <= self.per_word),
                             single_word_pass.eq(self.pass_items <= self.per_word)]
        with m.If(self.stop):
            m.d.sync += [passes_left.eq(0), self.busy.eq(0), issue_passes.eq(0),
                         fetching.eq(0)]
        return m


class BufferWriter(wiring.Component):
    """Writes a stream of items into a buffer memory in the packed item layout.

    ``start`` (one cycle) loads ``base`` and ``count``; the writer takes ``count`` items and
    writes them from word ``base`` on, flushing the last partly filled word. Writes to word
    addresses at or above ``limit`` are suppressed (the caller checks ranges up front; this is
    the guarantee that nothing outside the buffer range is ever written).

    Parameters
    ----------
    item_bits, word_bits, addr_bits, count_bits : int

    Members
    -------
    start : ``In(1)``; base : ``In(addr_bits)``; count : ``In(count_bits)``
    limit : ``In(addr_bits + 1)``
    items : ``In(stream.Signature(item_bits))``
    wr_addr : ``Out(addr_bits)``; wr_en : ``Out(1)``; wr_data : ``Out(word_bits)``
    busy : ``Out(1)``
        Items remain to be taken or a word to be written.

    Latency and throughput
    ----------------------
    ``latency`` (1): a word is written the cycle after its last item is taken. One item per
    cycle when ``item_bits <= word_bits``; otherwise one item per ``per_item`` cycles.
    """

    latency = 1

    def __init__(self, item_bits, word_bits, addr_bits, count_bits):
        self.item_bits = item_bits
        self.word_bits = word_bits
        self.per_word, self.per_item = item_packing(item_bits, word_bits)
        super().__init__({
            "start": In(1), "base": In(addr_bits), "count": In(count_bits),
            "limit": In(addr_bits + 1),
            "items": In(stream.Signature(item_bits)),
            "wr_addr": Out(addr_bits), "wr_en": Out(1), "wr_data": Out(word_bits),
            "busy": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        addr = Signal(len(self.wr_addr) + 1)
        left = Signal.like(self.count)
        pending = Signal()          # a finished word waits in ``word``
        word = Signal(self.word_bits if self.per_item == 1 else self.per_item * self.word_bits,
                      reset_less=True)
        taken = Signal()
        # ``left != 0`` and ``left == 1`` as flags set a cycle ahead: ``items.ready`` and the
        # sequencer's wait on ``busy`` come from registers instead of wide compares.
        has_left = Signal()
        last_item = Signal()
        m.d.comb += [
            taken.eq(self.items.valid & self.items.ready),
            self.wr_addr.eq(addr),
            self.wr_data.eq(word[:self.word_bits]),
            self.wr_en.eq(pending & (addr < self.limit)),
            self.busy.eq(has_left | pending),
        ]
        with m.If(taken):
            m.d.sync += [has_left.eq(~last_item), last_item.eq(left == 2)]
        with m.If(pending):
            m.d.sync += addr.eq(addr + 1)

        if self.per_item == 1:
            lane = Signal(range(max(2, self.per_word)))
            filling = Signal(self.word_bits)
            m.d.comb += self.items.ready.eq(has_left)
            m.d.sync += pending.eq(0)
            with m.If(pending):
                m.d.sync += filling.eq(0)
            with m.If(taken):
                placed = Signal(self.word_bits)
                m.d.comb += placed.eq(Mux(pending, 0, filling)
                                      | (self.items.payload << (lane * self.item_bits)))
                full = (lane == self.per_word - 1) | last_item
                m.d.sync += [left.eq(left - 1), filling.eq(placed),
                             lane.eq(Mux(full, 0, lane + 1))]
                with m.If(full):
                    m.d.sync += [word.eq(placed), pending.eq(1)]
        else:
            # One item becomes ``per_item`` consecutive words.
            words_left = Signal(range(self.per_item + 1))
            m.d.comb += [self.items.ready.eq(has_left & ~pending),
                         pending.eq(words_left != 0)]
            with m.If(pending):
                m.d.sync += [word.eq(word >> self.word_bits), words_left.eq(words_left - 1)]
            with m.If(taken):
                m.d.sync += [word.eq(self.items.payload), words_left.eq(self.per_item),
                             left.eq(left - 1)]

        with m.If(self.start):
            m.d.sync += [addr.eq(self.base), left.eq(self.count),
                         has_left.eq(self.count != 0), last_item.eq(self.count == 1)]
        return m


class RowMajorReader(wiring.Component):
    """Streams a row-major matrix out of a buffer as the DBSC's weight-stationary activation
    beats: for each chunk ``j < chunks``, for each row ``i < rows``, the item of bits
    ``[j * item_bits, (j + 1) * item_bits)`` of row ``i``. Row ``i`` is the contiguous bit
    string of the ``row_words`` words from ``base + i * row_words``.

    This is how a GEMM reads a score tile that the PSSA decoder left in the SAS buffer (one
    row per query, keys in order) as its activations, without a trip through DRAM.
    ``item_bits`` must divide ``word_bits`` or be a multiple of it.

    Parameters
    ----------
    item_bits, word_bits, addr_bits, count_bits : int

    Members
    -------
    start, stop : ``In(1)``
    base : ``In(addr_bits)``; row_words, rows, chunks : ``In(count_bits)``
    rd_addr : ``Out(addr_bits)``; rd_en : ``Out(1)``; rd_data : ``In(word_bits)``
    items : ``Out(stream.Signature(item_bits))``
    busy : ``Out(1)``

    Latency and throughput
    ----------------------
    ``latency`` (5) cycles from ``start`` to the first ``items.valid``, ``latency + per_item``
    for items wider than a word; then one item per cycle (one per ``per_item`` cycles for wide
    items). Words are fetched ahead through a read port of ``READ_LATENCY`` cycles, as
    :class:`BufferReader` does.
    """

    latency = 2 + READ_LATENCY

    def __init__(self, item_bits, word_bits, addr_bits, count_bits):
        if not (word_bits % item_bits == 0 or item_bits % word_bits == 0):
            self._MustUse__silence = True
            raise ValueError(f"RowMajorReader: item_bits={item_bits} must divide or be a "
                             f"multiple of word_bits={word_bits}")
        self.item_bits = item_bits
        self.word_bits = word_bits
        self.per_word, self.per_item = item_packing(item_bits, word_bits)
        super().__init__({
            "start": In(1), "stop": In(1),
            "base": In(addr_bits), "row_words": In(count_bits), "rows": In(count_bits),
            "chunks": In(count_bits),
            "rd_addr": Out(addr_bits), "rd_en": Out(1), "rd_data": In(word_bits),
            "items": Out(stream.Signature(item_bits)),
            "busy": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        # Fetch side: the next word to read.
        row_words = Signal.like(self.row_words)
        last_row = Signal.like(self.rows)
        # The first word of the chunk in row 0 and in the current row, kept as running sums so
        # that the address needs no adder chain.
        chunk_ptr = Signal(len(self.rd_addr) + len(self.row_words))
        row_ptr = Signal.like(chunk_ptr)
        lane = Signal(range(max(2, self.per_word)))
        sub = Signal(range(max(2, self.per_item)))
        row = Signal.like(self.rows)
        # Chunks with items left to fetch: counting chunks and rows apart needs no multiplier.
        chunks_left = Signal.like(self.chunks)
        # ``chunks_left != 0`` and ``row == last_row`` as flags kept a step ahead: the fetch
        # decision and the last-row test enable the pointers and counters.
        fetching = Signal()
        at_last_row = Signal()
        # The item being fetched ends its chunk: ``at_last_row`` and, for narrow items, the
        # last lane of the word. Kept as a flag so that ``chunk_ptr``'s enable is the fetch
        # decision and one flip-flop.
        chunk_ends = Signal()
        single_row = Signal()
        taken = Signal()
        fetch = Signal()
        item_fetched = Signal()     # the fetch completes an item: step to the next (row, chunk)

        queue = _WordQueue(m, self.rd_data, len(lane) if self.per_item == 1 else 0, "queue")
        m.d.comb += [
            queue.clear.eq(self.start | self.stop),
            queue.fetch.eq(fetch),
            fetch.eq(fetching & queue.room),
            self.rd_addr.eq(row_ptr + sub if self.per_item > 1 else row_ptr),
            self.rd_en.eq(fetch),
            taken.eq(self.items.valid & self.items.ready),
            item_fetched.eq(fetch & (sub == self.per_item - 1)),
        ]

        last_lane = self.per_word - 1
        next_at_last_row = Mux(at_last_row, single_row, row + 1 == last_row)
        next_lane = Mux(at_last_row, Mux(lane == last_lane, 0, lane + 1), lane)
        with m.If(item_fetched):
            m.d.sync += [at_last_row.eq(next_at_last_row), lane.eq(next_lane),
                         chunk_ends.eq(next_at_last_row & (next_lane == last_lane))]
            with m.If(at_last_row):
                m.d.sync += [row.eq(0), row_ptr.eq(chunk_ptr), chunks_left.eq(chunks_left - 1),
                             fetching.eq(chunks_left != 1)]
            with m.Else():
                m.d.sync += [row.eq(row + 1), row_ptr.eq(row_ptr + row_words)]
        # A chunk is one word wide for narrow items (``per_item`` is then 1).
        with m.If(item_fetched & chunk_ends):
            m.d.sync += [chunk_ptr.eq(chunk_ptr + self.per_item),
                         row_ptr.eq(chunk_ptr + self.per_item)]
        if self.per_item > 1:
            with m.If(fetch):
                m.d.sync += sub.eq(Mux(sub == self.per_item - 1, 0, sub + 1))

        if self.per_item == 1:
            # Each word travels with the lane of its item.
            m.d.comb += [
                queue.tag.eq(lane),
                queue.pop.eq(taken),
                self.items.valid.eq(queue.head_valid),
                self.items.payload.eq(
                    queue.head.word_select(queue.head_tag[:len(lane)], self.item_bits)
                    if self.per_word > 1 else queue.head),
                self.busy.eq((chunks_left != 0) | queue.pending),
            ]
        else:
            gathered = Signal(self.per_item * self.word_bits, reset_less=True)
            have = Signal(range(self.per_item + 1))
            m.d.comb += [
                queue.pop.eq(queue.head_valid & ((have != self.per_item) | taken)),
                self.items.valid.eq(have == self.per_item),
                self.items.payload.eq(gathered[:self.item_bits]),
                self.busy.eq((chunks_left != 0) | (have != 0) | queue.pending),
            ]
            with m.If(queue.pop):
                m.d.sync += gathered.eq(Cat(gathered[self.word_bits:], queue.head))
            m.d.sync += have.eq(Mux(taken, 0, have) + queue.pop)
            with m.If(self.start | self.stop):
                m.d.sync += have.eq(0)

        with m.If(self.start):
            m.d.sync += [row_words.eq(self.row_words), last_row.eq(self.rows - 1),
                         chunk_ptr.eq(self.base), row_ptr.eq(self.base), lane.eq(0), sub.eq(0),
                         row.eq(0), chunks_left.eq(Mux(self.rows == 0, 0, self.chunks)),
                         fetching.eq((self.rows != 0) & (self.chunks != 0)),
                         at_last_row.eq(self.rows == 1), single_row.eq(self.rows == 1),
                         chunk_ends.eq(self.rows == 1 if last_lane == 0 else 0)]
        with m.If(self.stop):
            m.d.sync += [chunks_left.eq(0), fetching.eq(0)]
        return m
