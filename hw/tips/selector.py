from amaranth import Cat, Const, Module, Mux, Signal, unsigned
from amaranth.lib import data, enum, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from .lanesum import MaskedLaneSum, tree_sum

__all__ = ["Mode", "TIPS", "tile_cycles", "command_layout", "status_layout",
           "bitmap_read_signature"]


class Mode(enum.Enum, shape=1):
    """Run-time selection mode of one tile."""

    THRESHOLD = 0
    RATIO = 1


def command_layout(tips_cfg):
    """One tile's command. ``pixels`` is wide enough to hold out-of-range values, which the
    hardware refuses; ``tau`` is used in threshold mode, ``ratio`` (rho * 2^ratio_bits) in
    ratio mode."""
    return data.StructLayout({
        "mode": Mode,
        "pixels": unsigned(tips_cfg.max_pixels.bit_length()),
        "tau": unsigned(tips_cfg.importance_bits),
        "ratio": unsigned(tips_cfg.ratio_bits + 1),
    })


def status_layout(tips_cfg):
    """One tile's completion: ``error`` for a refused command, else the counts of high- and
    low-precision pixels."""
    count = unsigned(tips_cfg.max_pixels.bit_length())
    return data.StructLayout({"error": 1, "high": count, "low": count})


def bitmap_read_signature(tips_cfg):
    """Read port of the bitmap buffer: word address in, that word one cycle later."""
    return wiring.Signature({
        "addr": Out(range(tips_cfg.bitmap_words)),
        "data": In(tips_cfg.lanes),
    })


def _or_all(values):
    result = values[0]
    for value in values[1:]:
        result = result | value
    return result


def tile_cycles(tips_cfg, mode, pixels):
    """Cycles from the ``cmd`` handshake to ``status.valid`` of :class:`TIPS` for a valid
    command, with ``probs`` always valid and ``bitmap`` always ready."""
    cycles = pixels * tips_cfg.beats_per_pixel + MaskedLaneSum.latency + pixels + 4
    if Mode(mode) == Mode.RATIO:
        cycles += tips_cfg.search_passes * (pixels + 3)
    return cycles


class TIPS(wiring.Component):
    """Text-based important-pixel selector: cross-attention -> per-pixel precision bitmap.

    For each tile of ``pixels`` query pixels it computes the importance
    ``r_i = sum over heads h and masked tokens t of A[h, i, t]`` exactly, stores it, and marks
    pixel ``i`` high precision (bit = 1)

    * in threshold mode when ``r_i >= tau``;
    * in ratio mode when it is among the ``need = ceil(ratio * pixels / 2^ratio_bits)`` largest
      importances, ties broken by lower pixel index. The cut value (the ``need``-th largest
      importance) is found exactly by a digit-by-digit search over the stored importances,
      ``search_bits`` bits per pass; the selection pass then takes every ``r_i > cut`` and
      the first ``need - #{r_i > cut}`` pixels with ``r_i == cut``.

    A tile: a ``cmd`` beat (the ``token_mask`` port is sampled with it), then
    ``pixels * beats_per_pixel`` beats on ``probs``, then ``ceil(pixels / lanes)`` beats on
    ``bitmap`` (also written to the bitmap buffer), then one ``status`` beat.

    Input order on ``probs``: pixel-major; within a pixel head-major, then token; ``lanes``
    values per beat, lane 0 first. Each pixel starts a new beat; when ``lanes`` does not divide
    ``heads * tokens`` the pixel's last beat is padded (the padding lanes are ignored).

    Bitmap packing (stream and buffer): word ``k`` holds pixels ``k * lanes + j`` at bit ``j``;
    the last word's unused bits are 0. The buffer is written as the words are produced.

    A command with ``pixels`` outside ``[1, max_pixels]``, or ``ratio > 2^ratio_bits`` in ratio
    mode, is refused: the status beat has ``error`` set and zero counts, no ``probs`` beat is
    consumed, no ``bitmap`` beat is produced, the buffer is untouched, and the next command
    runs normally.

    Parameters
    ----------
    config : :class:`sw.config.ProcessorConfig`
        Uses the ``tips`` section: ``heads``, ``tokens``, ``prob_bits``, ``max_pixels``,
        ``lanes``, ``ratio_bits``, ``search_bits``.

    Members
    -------
    cmd : ``In(stream.Signature(command_layout))``
        ``mode`` (:class:`Mode`), ``pixels``, ``tau``, ``ratio``.
    token_mask : ``In(tokens)``
        Bit ``t`` set: token ``t`` counts. Sampled when ``cmd`` is accepted.
    probs : ``In(stream.Signature(data.ArrayLayout(unsigned(prob_bits), lanes)))``
    bitmap : ``Out(stream.Signature(lanes))``
        Packed precision bitmap. Tie ``ready`` high when only the buffer is used.
    status : ``Out(stream.Signature(status_layout))``
    bitmap_read : ``In(bitmap_read_signature)``
        Buffer read port (``addr`` a word index, ``data`` valid the next cycle).
    high_count, low_count : ``Out(unsigned(max_pixels.bit_length()))``
        The last tile's counts (zero after a refused command); updated with ``status``.
    error : ``Out(1)``
        The last command was refused.
    busy : ``Out(1)``
        A command is in progress.

    Latency and throughput
    ----------------------
    The accumulation pass accepts one ``probs`` beat (``lanes`` probabilities) per cycle,
    sustained. :meth:`tile_cycles` gives the exact cycles from the ``cmd`` handshake to
    ``status.valid`` when ``probs`` never idles and ``bitmap`` never stalls:
    ``pixels * beats_per_pixel + MaskedLaneSum.latency`` (accumulation and its drain), plus
    ``search_passes * (pixels + 3)`` in ratio mode (cut search), plus ``pixels + 4``
    (selection and bitmap flush). The search and selection passes read one importance per
    cycle through a pipeline of three (search: four) stages.
    """

    #: Bits of ``pixels`` per partial product of the ``need`` multiplier (see ``elaborate``).
    need_digit_bits = 4

    def __init__(self, config):
        self.cfg = config.tips
        cfg = self.cfg
        super().__init__({
            "cmd": In(stream.Signature(command_layout(cfg))),
            "token_mask": In(cfg.tokens),
            "probs": In(stream.Signature(data.ArrayLayout(unsigned(cfg.prob_bits), cfg.lanes))),
            "bitmap": Out(stream.Signature(cfg.lanes)),
            "status": Out(stream.Signature(status_layout(cfg))),
            "bitmap_read": In(bitmap_read_signature(cfg)),
            "high_count": Out(unsigned(cfg.max_pixels.bit_length())),
            "low_count": Out(unsigned(cfg.max_pixels.bit_length())),
            "error": Out(1),
            "busy": Out(1),
        })

    def tile_cycles(self, mode, pixels):
        """Cycles from the ``cmd`` handshake to ``status.valid``; see :func:`tile_cycles`."""
        return tile_cycles(self.cfg, mode, pixels)

    def elaborate(self, platform):
        cfg = self.cfg
        m = Module()
        importance_shape = unsigned(cfg.importance_bits)
        count_shape = unsigned(cfg.max_pixels.bit_length())

        m.submodules.lane_sum = lane_sum = MaskedLaneSum(cfg.prob_bits, cfg.lanes)
        m.submodules.importances = importances = Memory(
            shape=importance_shape, depth=cfg.max_pixels, init=[])
        m.submodules.bitmap_buffer = bitmap_buffer = Memory(
            shape=cfg.lanes, depth=cfg.bitmap_words, init=[])
        imp_write = importances.write_port()
        imp_read = importances.read_port()
        bm_write = bitmap_buffer.write_port()
        bm_read = bitmap_buffer.read_port()
        m.d.comb += [bm_read.addr.eq(self.bitmap_read.addr),
                     self.bitmap_read.data.eq(bm_read.data)]

        mode = Signal(Mode)
        pixels = Signal(count_shape)
        # ``pixels - 1``, registered with ``pixels`` so that the end-of-tile tests that steer
        # the phase are plain comparisons of registers, with no subtractor in front.
        last_pixel = Signal(count_shape)
        tau = Signal(importance_shape)
        ratio = Signal.like(self.cmd.payload.ratio)
        mask = Signal(cfg.tokens)
        # ceil(ratio * pixels / 2^ratio_bits) in three registered stages from the registered
        # ``ratio`` and ``pixels``: partial products of ``need_digit_bits``-bit digits of
        # ``pixels``, their sum, then the rounding. Without DSPs the whole multiplier and adder
        # take over a cycle; ``need`` is first used in the search, at least six cycles after the
        # command is accepted.
        digit = self.need_digit_bits
        partials = []
        for i, low in enumerate(range(0, len(pixels), digit)):
            partial = Signal(len(ratio) + digit, name=f"need_partial_{i}")
            m.d.sync += partial.eq(ratio * pixels[low:low + digit])
            partials.append(partial << low)
        product = Signal(len(ratio) + len(pixels))
        m.d.sync += product.eq(tree_sum(partials))
        need = Signal(count_shape)
        m.d.sync += need.eq((product + (cfg.ratio_one - 1)) >> cfg.ratio_bits)

        # Accumulation pass -------------------------------------------------------------------
        beat = Signal(range(max(cfg.beats_per_pixel, 2)))
        pixel = Signal(range(cfg.max_pixels + 1))
        # The token mask seen by every lane position of a pixel's beats: the mask once per head,
        # then zeros for the padding lanes of the last beat.
        padding = cfg.beats_per_pixel * cfg.lanes - cfg.values_per_pixel
        lane_masks = Cat(*([mask] * cfg.heads), Const(0, padding))
        first_lane_mask = Cat(*([self.token_mask] * cfg.heads), Const(0, padding))[:cfg.lanes]
        # The lane mask of the beat to come, registered so that the wide mux is off the path
        # into the adder tree; ``next_beat`` is a register too, so the mux is all that path has.
        lane_mask = Signal(cfg.lanes)
        last_beat = beat == cfg.beats_per_pixel - 1
        next_beat = Signal.like(beat)
        first_next_beat = 1 % cfg.beats_per_pixel
        accepted = Signal()
        m.d.comb += [
            accepted.eq(self.probs.valid & self.probs.ready),
            lane_sum.values.eq(self.probs.payload),
            lane_sum.mask.eq(lane_mask),
            # The lane sum runs every cycle: its result is used only under the staged valid
            # flags below, and ``accepted`` (through the far skid buffer's ``valid``) would
            # otherwise enable each of its registers.
            lane_sum.en.eq(1),
        ]
        with m.If(accepted):
            m.d.sync += [lane_mask.eq(lane_masks.word_select(next_beat, cfg.lanes)),
                         next_beat.eq(Mux(next_beat == cfg.beats_per_pixel - 1, 0,
                                          next_beat + 1))]
        # Each beat's position travels beside it through the ``lane_sum.latency`` stages; the
        # last stage's copy comes with ``lane_sum.sum``.
        sum_valid, sum_first, sum_last, sum_pixel = accepted, beat == 0, last_beat, pixel
        in_flight = []
        for stage in range(lane_sum.latency):
            if stage:
                in_flight.append(sum_valid)
            staged = (Signal(name=f"sum_valid_{stage}"), Signal(name=f"sum_first_{stage}"),
                      Signal(name=f"sum_last_{stage}"),
                      Signal(range(cfg.max_pixels), name=f"sum_pixel_{stage}"))
            m.d.sync += [reg.eq(value) for reg, value in
                         zip(staged, (sum_valid, sum_first, sum_last, sum_pixel))]
            sum_valid, sum_first, sum_last, sum_pixel = staged
        # A beat is still ahead of ``sum`` in the lane sum.
        draining = _or_all(in_flight) if in_flight else Const(0)
        partial = Signal(importance_shape)
        running = Signal(importance_shape)
        m.d.comb += running.eq(Mux(sum_first, 0, partial) + lane_sum.sum)
        with m.If(sum_valid):
            m.d.sync += partial.eq(running)
        m.d.comb += [imp_write.addr.eq(sum_pixel), imp_write.data.eq(running),
                     imp_write.en.eq(sum_valid & sum_last)]

        # Shared read pipeline over the stored importances (search and selection passes): the
        # address, the memory's output, then ``value`` registered, because a block RAM's
        # clock-to-output leaves little of the cycle. All stages hold while ``read_advance`` is
        # low. -------------------------------------------------------------------------------
        next_read = Signal(range(cfg.max_pixels + 1))
        read_valid = Signal()
        read_last = Signal()
        value = Signal(importance_shape)
        value_valid = Signal()
        value_last = Signal()
        read_advance = Signal()
        issue = Signal()
        m.d.comb += [imp_read.addr.eq(next_read), imp_read.en.eq(read_advance),
                     issue.eq(read_advance & (next_read <= last_pixel))]
        with m.If(read_advance):
            m.d.sync += [read_valid.eq(issue), read_last.eq(issue & (next_read == last_pixel)),
                         value.eq(imp_read.data), value_valid.eq(read_valid),
                         value_last.eq(read_last)]
            with m.If(issue):
                m.d.sync += next_read.eq(next_read + 1)

        # Cut search: the largest ``prefix`` with #{r >= prefix} >= need, ``search_bits`` bits
        # (one digit) per pass: digit d is kept when #{r >= prefix | d * unit} >= need. -------
        digit_top = (1 << cfg.search_bits) - 1
        search_width = cfg.search_passes * cfg.search_bits
        prefix = Signal(search_width)
        unit = Signal(search_width)  # the weight of the digit this pass settles
        digits = range(1, digit_top + 1)
        at_least = {d: Signal(count_shape, name=f"at_least_{d}") for d in digits}
        at_least_now = {d: Signal(count_shape, name=f"at_least_now_{d}") for d in digits}
        # ``unit`` is one-hot, so d * unit is an OR of constant shifts: wiring, no multiplier.
        candidates = {d: prefix | _or_all([unit << b for b in range(cfg.search_bits)
                                           if d >> b & 1])
                      for d in digits}
        # The comparisons are registered (``hit``) apart from the counting.
        hit = {d: Signal(name=f"hit_{d}") for d in digits}
        hit_last = Signal()
        m.d.sync += [hit[d].eq(value_valid & (value >= candidates[d])) for d in digits]
        m.d.sync += hit_last.eq(value_valid & value_last)
        for d in digits:
            m.d.comb += at_least_now[d].eq(at_least[d] + hit[d])
        # #{r > cut}: the count of the last refused candidate. Every later digit was then the
        # largest, so that candidate is exactly cut + 1.
        above = Signal(count_shape)
        next_prefix = Signal(search_width)
        refused = Signal()
        refused_count = Signal(count_shape)
        # The counts fall as d grows, so the last d that reaches ``need`` is the largest.
        m.d.comb += [next_prefix.eq(prefix), refused.eq(1), refused_count.eq(at_least_now[1])]
        for d in digits:
            with m.If(at_least_now[d] >= need):
                m.d.comb += next_prefix.eq(candidates[d])
                if d < digit_top:
                    m.d.comb += refused_count.eq(at_least_now[d + 1])
                else:
                    m.d.comb += refused.eq(0)

        # Selection pass ----------------------------------------------------------------------
        # Pixels equal to the cut that still fit: need - #{r > cut}, never negative.
        # Registered: ``above`` is final when the search ends, passes before the first use.
        budget = Signal(count_shape)
        m.d.sync += budget.eq(need - above)
        taken = Signal(count_shape)
        high = Signal(count_shape)
        word = Signal(cfg.lanes)
        lane = Signal(range(cfg.lanes))
        word_addr = Signal(range(cfg.bitmap_words))
        at_cut = Signal()
        high_bit = Signal()
        m.d.comb += at_cut.eq((value == prefix) & (taken < budget))
        with m.If(mode == Mode.THRESHOLD):
            m.d.comb += high_bit.eq(value >= tau)
        with m.Else():
            m.d.comb += high_bit.eq((value > prefix) | at_cut)
        # The decision is registered (``decided``) before it is packed into the word.
        decided = Signal()
        decided_valid = Signal()
        decided_last = Signal()
        completed_word = Signal(cfg.lanes)
        m.d.comb += completed_word.eq(word | (decided << lane))
        emit = Signal()
        m.d.comb += [bm_write.addr.eq(word_addr), bm_write.data.eq(completed_word),
                     bm_write.en.eq(emit)]
        with m.If(emit):
            m.d.sync += [self.bitmap.payload.eq(completed_word), self.bitmap.valid.eq(1)]
        with m.Elif(self.bitmap.ready):
            m.d.sync += self.bitmap.valid.eq(0)

        pixels_ok = (self.cmd.payload.pixels >= 1) & (self.cmd.payload.pixels <= cfg.max_pixels)
        ratio_ok = ((self.cmd.payload.mode == Mode.THRESHOLD)
                    | (self.cmd.payload.ratio <= cfg.ratio_one))

        m.d.comb += [self.status.payload.error.eq(self.error),
                     self.status.payload.high.eq(self.high_count),
                     self.status.payload.low.eq(self.low_count)]

        with m.FSM(name="phase"):
            with m.State("IDLE"):
                m.d.comb += self.cmd.ready.eq(1)
                with m.If(self.cmd.valid):
                    m.d.sync += [mode.eq(self.cmd.payload.mode), tau.eq(self.cmd.payload.tau),
                                 ratio.eq(self.cmd.payload.ratio), mask.eq(self.token_mask),
                                 lane_mask.eq(first_lane_mask), beat.eq(0),
                                 next_beat.eq(first_next_beat), pixel.eq(0),
                                 next_read.eq(0), read_valid.eq(0), read_last.eq(0),
                                 value_valid.eq(0), value_last.eq(0), decided_valid.eq(0),
                                 prefix.eq(0), unit.eq(1 << (search_width - cfg.search_bits)),
                                 above.eq(0), taken.eq(0), high.eq(0),
                                 word.eq(0), lane.eq(0), word_addr.eq(0)]
                    with m.If(pixels_ok & ratio_ok):
                        m.d.sync += [pixels.eq(self.cmd.payload.pixels),
                                     last_pixel.eq(self.cmd.payload.pixels - 1)]
                        m.next = "ACCUMULATE"
                    with m.Else():
                        m.d.sync += [self.error.eq(1), self.high_count.eq(0),
                                     self.low_count.eq(0)]
                        m.next = "REPORT"

            with m.State("ACCUMULATE"):
                m.d.comb += [self.busy.eq(1), self.probs.ready.eq(1)]
                with m.If(accepted):
                    m.d.sync += beat.eq(next_beat)
                    with m.If(last_beat):
                        m.d.sync += pixel.eq(pixel + 1)
                        with m.If(pixel == last_pixel):
                            m.next = "DRAIN"

            with m.State("DRAIN"):
                # The last pixel's importance is written at the end of the cycle its last beat
                # reaches ``sum``, when no beat is left ahead of it.
                m.d.comb += self.busy.eq(1)
                with m.If(~draining):
                    with m.If(mode == Mode.RATIO):
                        m.next = "SEARCH"
                    with m.Else():
                        m.next = "SELECT"

            with m.State("SEARCH"):
                m.d.comb += [self.busy.eq(1), read_advance.eq(1)]
                with m.If(hit_last):
                    m.d.sync += [next_read.eq(0), unit.eq(unit >> cfg.search_bits),
                                 prefix.eq(next_prefix)]
                    m.d.sync += [at_least[d].eq(0) for d in digits]
                    with m.If(refused):
                        m.d.sync += above.eq(refused_count)
                    with m.If(unit == 1):
                        m.next = "SELECT"
                with m.Else():
                    m.d.sync += [at_least[d].eq(at_least_now[d]) for d in digits]

            with m.State("SELECT"):
                m.d.comb += [self.busy.eq(1),
                             read_advance.eq(~self.bitmap.valid | self.bitmap.ready)]
                with m.If(read_advance):
                    m.d.sync += [decided.eq(high_bit), decided_valid.eq(value_valid),
                                 decided_last.eq(value_valid & value_last)]
                    with m.If(value_valid & (mode == Mode.RATIO) & at_cut):
                        m.d.sync += taken.eq(taken + 1)
                with m.If(read_advance & decided_valid):
                    # Counted from the registered decision: the comparisons end a cycle before.
                    m.d.sync += high.eq(high + decided)
                    with m.If((lane == cfg.lanes - 1) | decided_last):
                        m.d.comb += emit.eq(1)
                        m.d.sync += [word.eq(0), lane.eq(0), word_addr.eq(word_addr + 1)]
                    with m.Else():
                        m.d.sync += [word.eq(completed_word), lane.eq(lane + 1)]
                    with m.If(decided_last):
                        m.next = "FLUSH"

            with m.State("FLUSH"):
                m.d.comb += self.busy.eq(1)
                with m.If(~self.bitmap.valid | self.bitmap.ready):
                    m.d.sync += [self.error.eq(0), self.high_count.eq(high),
                                 self.low_count.eq(pixels - high)]
                    m.next = "REPORT"

            with m.State("REPORT"):
                m.d.comb += [self.busy.eq(1), self.status.valid.eq(1)]
                with m.If(self.status.ready):
                    m.next = "IDLE"
        return m
