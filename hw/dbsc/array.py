"""The DBSC dual-mode bit-slice PE array with its tile sequencer (docs/dbsc.md)."""

from amaranth import Array, Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from hw.common import SkidBuffer
from sw.config import DBSCConfig
from .command import (COUNT_BITS, Command, Mode, Precision, act_layout, precision_layout,
                      result_layout, weight_layout)
from .pe import SlicePE, slice_layout
from .timing import TimingModel, ceil_div as _ceil_div

__all__ = ["DBSCArray"]


class DBSCArray(TimingModel, wiring.Component):
    """A ``rows x cols`` bit-slice PE array computing one tile per command,
    ``result (m x cols) = act (m x k) @ weights (k x cols)``, in either dataflow.

    Activations are fed most significant slice first, one ``slice_bits`` slice per cycle: a
    high-precision token takes ``slices_high`` cycles per activation beat, a low-precision one
    ``slices_low`` cycles (its low slices are never issued). Every PE is a
    :class:`~hw.dbsc.pe.SlicePE` around one :class:`~hw.common.SignedMAC`.

    *Weight-stationary* (``Mode.WS``): the reduction is cut into chunks of ``rows``; each chunk's
    ``rows x cols`` weights sit in the PEs (double-buffered, the next chunk loads while the
    current one computes), the tokens stream through one per activation beat with their own
    precision, partial sums flow down the columns and are accumulated over the chunks in an
    ``max_m x cols`` accumulator memory; the last chunk streams the results out.

    *Output-stationary* (``Mode.OS``): tokens are taken in groups of ``rows`` (PE row ``r``
    holds token ``g * rows + r``); for each of the ``k`` steps one activation beat (the group's
    ``k``-th column) and one weight beat (weight row ``k``) enter, skewed by one cycle per
    row/column, and the sums stay in the PEs. A group is high precision if any of its tokens is
    (see docs/dbsc.md: order the tokens by precision). The finished group is read out one
    result row per cycle while the next group computes.

    Parameters
    ----------
    config : :class:`sw.config.DBSCConfig`

    Members
    -------
    cmd : ``In(stream.Signature(Command))``
        Tiles; accepted only while not ``busy``. See :class:`~hw.dbsc.command.Command`.
    act : ``In(stream.Signature(act_layout(config)))``
        Activation beats, ``rows`` lanes. WS: for each chunk ``j``, for each token ``i``, the
        lanes are ``act[i, j*rows : (j+1)*rows]`` (lanes past ``k`` are ignored). OS: for each
        group ``g``, for each step ``kk``, lane ``r`` is ``act[g*rows + r, kk]`` (lanes past
        ``m`` are ignored).
    wgt : ``In(stream.Signature(weight_layout(config)))``
        Weight rows, ``cols`` lanes. WS: ``weights[0 .. k-1]`` once. OS: ``weights[0 .. k-1]``
        again for every group.
    prec : ``In(stream.Signature(unsigned(rows)))``
        With ``Precision.BITMAP``: ``ceil(m / rows)`` beats before any operand, bit ``r`` of
        beat ``g`` set when token ``g * rows + r`` is high precision.
    res : ``Out(stream.Signature(result_layout(config)))``
        ``m`` result rows, in token order, from a two-entry skid buffer: the whole array
        stalls only while it holds two results.
    busy : ``Out(1)``
        From the accepted command to its last result.
    done : ``Out(1)``
        One-cycle pulse when a command finishes or is rejected.
    error : ``Out(1)``
        Set when a command is rejected (``m`` or ``k`` outside ``1 .. max``, reserved
        precision, or a dataflow the build lacks): nothing is consumed or produced. Cleared by
        the next accepted command.

    Latency and throughput
    ----------------------
    Both dataflows issue one slice per PE per cycle with no bubbles between beats, tokens,
    chunks or groups as long as the operands keep up. :meth:`ws_latency` and
    :meth:`os_latency` give the cycles from the last activation beat of a token (WS) or of a
    group (OS) to its first result; :meth:`ideal_cycles` the cycles of a whole tile without
    stalls.
    """

    def __init__(self, config):
        if not isinstance(config, DBSCConfig):
            # A rejected component is never elaborated; do not warn that it was unused.
            self._MustUse__silence = True
            raise TypeError(f"DBSCArray takes a DBSCConfig (got {type(config).__name__})")
        self.config = config
        self._set_lanes()
        super().__init__({
            "cmd": In(stream.Signature(Command)),
            "act": In(stream.Signature(act_layout(config))),
            "wgt": In(stream.Signature(weight_layout(config))),
            "prec": In(stream.Signature(precision_layout(config))),
            "res": Out(stream.Signature(result_layout(config))),
            "busy": Out(1),
            "done": Out(1),
            "error": Out(1),
        })

    def _set_lanes(self):
        cfg = self.config
        #: Width of the activation piece one PE multiplies per cycle.
        self.lane_bits = cfg.slice_bits
        self.slices_high = cfg.slices_high
        self.slices_low = cfg.slices_low

    @property
    def max_shift(self):
        return (self.slices_high - 1) * self.lane_bits

    # Hardware ----------------------------------------------------------------------------

    def elaborate(self, platform):
        m = Module()
        cfg = self.config
        rows, cols = cfg.rows, cfg.cols
        lane_bits, act_bits = self.lane_bits, cfg.act_bits_high
        has_ws, has_os = cfg.supports_ws, cfg.supports_os
        low_bits = cfg.act_bits_high - cfg.act_bits_low

        # Command, status -------------------------------------------------------------------
        os_mode = Signal()
        tile_m = Signal(COUNT_BITS)
        tile_k = Signal(COUNT_BITS)
        precision = Signal(2)
        prec_loading = Signal()
        compute_done = Signal()
        advance = Signal()

        # Results leave through a skid buffer of the array's own: the whole array advances
        # while it has room for one more result, which its ``i.ready`` flip-flop says, so the
        # stall that every PE and the issue stage wait on starts from a register instead of a
        # decision on the consumer's ``ready``.
        m.submodules.res_buffer = res_buffer = SkidBuffer(result_layout(cfg), steered=True)
        wiring.connect(m, res_buffer.o, wiring.flipped(self.res))
        m.d.comb += advance.eq(res_buffer.i.ready)
        ws_result = Signal()
        os_result = Signal()
        m.d.comb += res_buffer.i.valid.eq(ws_result | os_result)
        m.d.comb += self.cmd.ready.eq(~self.busy)
        m.d.sync += self.done.eq(0)

        c = self.cmd.payload
        mode_ok = Mux(c.mode == Mode.WS, int(has_ws), int(has_os))
        bad = ((c.m == 0) | (c.m > cfg.max_m) | (c.k == 0) | (c.k > cfg.max_k)
               | (c.precision == 3) | ~mode_ok)
        # The tile registers load on any handshake, good or bad: a rejected command leaves the
        # array idle (``busy`` low gates everything they drive), and the range checks stay off
        # the enable of every one of them.
        start = Signal()
        m.d.comb += start.eq(self.cmd.valid & self.cmd.ready)
        # Tokens remain to be issued (the tile is running, its precision bitmap is loaded):
        # a flip-flop of its own, since every take decision starts from it and ``busy`` reaches
        # the whole array.
        issuing = Signal()
        with m.If(start):
            m.d.sync += [
                os_mode.eq(c.mode == Mode.OS), tile_m.eq(c.m), tile_k.eq(c.k),
                precision.eq(c.precision),
                prec_loading.eq(c.precision == Precision.BITMAP),
                compute_done.eq(0),
                issuing.eq(~bad & (c.precision != Precision.BITMAP)),
            ]
            with m.If(bad):
                m.d.sync += [self.error.eq(1), self.done.eq(1)]
            with m.Else():
                m.d.sync += [self.error.eq(0), self.busy.eq(1)]
        with m.If(self.busy & compute_done & ~res_buffer.o.valid):
            m.d.sync += [self.busy.eq(0), self.done.eq(1)]

        # Precision bitmap ------------------------------------------------------------------
        groups_max = _ceil_div(cfg.max_m, rows)
        m.submodules.prec_mem = prec_mem = Memory(shape=unsigned(rows), depth=groups_max,
                                                  init=[])
        prec_w = prec_mem.write_port()
        prec_r = prec_mem.read_port(domain="comb")
        # The token group being issued, in either dataflow: one register as the bitmap's read
        # address, with no mode mux in front of the distributed RAM.
        group = Signal(range(groups_max))
        m.d.comb += prec_r.addr.eq(group)
        prec_addr = Signal(range(groups_max))
        prec_left = Signal(range(cfg.max_m + 1))
        with m.If(start):
            m.d.sync += [prec_addr.eq(0), prec_left.eq(c.m)]
        m.d.comb += [
            self.prec.ready.eq(self.busy & prec_loading),
            prec_w.addr.eq(prec_addr),
            prec_w.data.eq(self.prec.payload),
            prec_w.en.eq(self.prec.valid & self.prec.ready),
        ]
        with m.If(self.prec.valid & self.prec.ready):
            m.d.sync += [prec_addr.eq(prec_addr + 1), prec_left.eq(prec_left - rows)]
            with m.If(prec_left <= rows):
                m.d.sync += [prec_loading.eq(0), issuing.eq(1)]

        def token_high(bitmap_bit):
            return Mux(precision == Precision.BITMAP, bitmap_bit,
                       precision == Precision.ALL_HIGH)

        # Issue stage: one activation beat held, its slices issued top first ----------------
        hold_valid = Signal()
        hold_act = Signal(unsigned(act_bits * rows))
        # Where the held beat stands is kept as flags (``hold_top``: its top slice is issued,
        # ``hold_final``: its last one is), updated from ``hold_left`` a cycle ahead: ``take``
        # depends on them, and a compare against the slice count would lengthen its path.
        # At least one bit each (the baseline has one slice): zero-width signals are emitted as
        # ill-formed ``[-1:0]`` Verilog wires.
        hold_left = Signal(range(max(self.slices_high, 2)))
        hold_top = Signal()
        hold_final = Signal()
        hold_shift = Signal(range(max(self.max_shift, 1) + 1))
        hold_first = Signal()
        hold_last = Signal()
        hold_swap = Signal()
        finishing = Signal()
        take = Signal()
        new_slices = Signal(range(self.slices_high + 1))
        new_first = Signal()
        new_last = Signal()
        new_swap = Signal()
        new_high = Signal(rows)

        m.d.comb += finishing.eq(hold_valid & hold_final)

        layout = slice_layout(lane_bits, self.max_shift)
        issued = [Signal(layout, name=f"issue_{r}") for r in range(rows)]
        for r in range(rows):
            lane = hold_act[r * act_bits:(r + 1) * act_bits]
            m.d.comb += [
                issued[r].value.eq(lane[act_bits - lane_bits:]),
                issued[r].shift.eq(hold_shift),
                issued[r].top.eq(hold_top),
                issued[r].first.eq(hold_first & hold_top),
                issued[r].last.eq(hold_last & hold_final),
                issued[r].swap.eq(hold_swap & hold_top),
                issued[r].valid.eq(hold_valid),
            ]

        with m.If(advance & hold_valid):
            m.d.sync += [hold_left.eq(hold_left - 1), hold_top.eq(0),
                         hold_final.eq(hold_left == 1), hold_shift.eq(hold_shift - lane_bits)]
            shifted = Cat((hold_act[r * act_bits:(r + 1) * act_bits] << lane_bits)[:act_bits]
                          for r in range(rows))
            m.d.sync += hold_act.eq(shifted)
            with m.If(finishing):
                m.d.sync += hold_valid.eq(0)
        can_take = advance & issuing & (~hold_valid | finishing)
        # The held beat's data loads whenever the stage could take one, taken or not: it only
        # counts under ``hold_valid`` (a PE ignores an invalid slice), and the wide register's
        # enable then waits on four flip-flops instead of on ``take``'s terms.
        lanes = []
        for r in range(rows):
            lane = self.act.payload[r]
            if low_bits:
                # A low token skips its low slices; where its group or the bit-parallel
                # baseline still issues them, they must be zero.
                lane = Mux(new_high[r], lane, lane & Const(-(1 << low_bits), act_bits))
            lanes.append(lane)
        with m.If(can_take):
            m.d.sync += hold_act.eq(Cat(lanes))
        with m.If(take):
            m.d.sync += [
                hold_valid.eq(1), hold_left.eq(new_slices - 1), hold_top.eq(1),
                hold_final.eq(new_slices == 1), hold_shift.eq(self.max_shift),
                hold_first.eq(new_first), hold_last.eq(new_last), hold_swap.eq(new_swap),
            ]
        m.d.comb += self.act.ready.eq(take)

        def slices_for(high):
            return Mux(high, self.slices_high, self.slices_low)

        # Row skew: row r's slices reach PE column 0 r cycles after issue.
        row_in = []
        for r in range(rows):
            signal = issued[r]
            for d in range(r):
                delayed = Signal(layout, name=f"row_skew_{r}_{d}")
                with m.If(advance):
                    m.d.sync += delayed.eq(signal)
                signal = delayed
            row_in.append(signal)

        # PEs ---------------------------------------------------------------------------
        pes = [[SlicePE(lane_bits, cfg.weight_bits, cfg.acc_bits, self.max_shift, has_ws,
                        has_os) for _ in range(cols)] for _ in range(rows)]
        for r in range(rows):
            for col in range(cols):
                pe = pes[r][col]
                m.submodules[f"pe_{r}_{col}"] = pe
                m.d.comb += [
                    pe.act_in.eq(row_in[r] if col == 0 else pes[r][col - 1].act_out),
                    pe.advance.eq(advance),
                    pe.os_mode.eq(os_mode),
                ]
                if has_ws:
                    m.d.comb += pe.psum_in.eq(0 if r == 0 else pes[r - 1][col].psum_out)

        # Output-stationary ---------------------------------------------------------------
        if has_os:
            # In WS the loader drives ``wgt.ready`` instead (below).
            m.d.comb += self.wgt.ready.eq(Mux(os_mode, take, 0) if has_ws else take)
            hold_w = Signal(unsigned(cfg.weight_bits * cols))
            # Loaded as ``hold_act`` is, whenever the stage could take a beat.
            with m.If(can_take):
                m.d.sync += hold_w.eq(self.wgt.payload.as_value())
            for col in range(cols):
                signal = hold_w[col * cfg.weight_bits:(col + 1) * cfg.weight_bits].as_signed()
                for d in range(col):
                    delayed = Signal(signed(cfg.weight_bits), name=f"col_skew_{col}_{d}")
                    with m.If(advance):
                        m.d.sync += delayed.eq(signal)
                    signal = delayed
                m.d.comb += pes[0][col].w_in.eq(signal)
                for r in range(1, rows):
                    m.d.comb += pes[r][col].w_in.eq(pes[r - 1][col].w_out)

            # Steps of the group after the current one, and flags for its first and last step
            # (registered: ``take`` waits on the last).
            os_k_left = Signal(range(cfg.max_k))
            os_first_k = Signal()
            last_k = Signal()
            os_left = Signal(range(cfg.max_m + 1))       # tokens in this group and after
            outstanding = Signal()                        # a group awaits readout
            rd_rows = Signal(range(rows + 1))
            rd_last = Signal()
            rd_row = Signal(range(rows))
            captured = Signal(rows)

            # The group's lanes holding a token and whether the readout's row holds one, kept
            # as registers: the compares would sit in front of ``take`` and of the readout.
            lane_live = Signal(rows)
            rd_live = Signal()
            lane_high = Signal(rows)
            group_high = Signal()
            m.d.comb += [
                lane_high.eq(Mux(precision == Precision.BITMAP, prec_r.data,
                                 Mux(precision == Precision.ALL_HIGH, -1, 0))),
                group_high.eq((lane_high & lane_live).any()),
            ]
            with m.If(os_mode):
                m.d.comb += [
                    take.eq(can_take & self.act.valid & self.wgt.valid
                            & (~last_k | ~outstanding)),
                    new_slices.eq(slices_for(group_high)),
                    new_first.eq(os_first_k),
                    new_last.eq(last_k),
                    new_swap.eq(0),
                    new_high.eq(lane_high),
                ]

            with m.If(start):
                m.d.sync += [os_k_left.eq(c.k - 1), os_first_k.eq(1), last_k.eq(c.k == 1),
                             os_left.eq(c.m), group.eq(0), outstanding.eq(0),
                             rd_row.eq(0), captured.eq(0),
                             lane_live.eq(Cat(c.m > r for r in range(rows)))]

            # Readout of the finished group, one row per cycle, behind the capture wavefront.
            row_sums = Array(Cat(pes[r][col].psum_out for col in range(cols))
                             for r in range(rows))
            with m.If(os_mode):
                m.d.comb += res_buffer.i.payload.as_value().eq(row_sums[rd_row])
            with m.If(os_mode & outstanding & captured.bit_select(rd_row, 1)
                      & (~rd_live | res_buffer.i.ready)):
                m.d.comb += os_result.eq(rd_live)
                m.d.sync += [captured.bit_select(rd_row, 1).eq(0), rd_row.eq(rd_row + 1),
                             rd_live.eq(rd_row + 1 < rd_rows)]
                with m.If(rd_row == rows - 1):
                    m.d.sync += [rd_row.eq(0), outstanding.eq(0)]
                    with m.If(rd_last):
                        m.d.sync += compute_done.eq(1)
            with m.If(advance & os_mode):
                for r in range(rows):
                    with m.If(pes[r][cols - 1].psum_valid):
                        m.d.sync += captured[r].eq(1)

            with m.If(os_mode & take):
                m.d.sync += [os_k_left.eq(os_k_left - 1), os_first_k.eq(0),
                             last_k.eq(os_k_left == 1)]
                with m.If(last_k):
                    m.d.sync += [os_k_left.eq(tile_k - 1), os_first_k.eq(1),
                                 last_k.eq(tile_k == 1), os_left.eq(os_left - rows),
                                 group.eq(group + 1), outstanding.eq(1),
                                 rd_rows.eq(Mux(os_left < rows, os_left, rows)),
                                 rd_last.eq(os_left <= rows), rd_live.eq(1),
                                 lane_live.eq(Cat(os_left > rows + r for r in range(rows)))]
                    with m.If(os_left <= rows):
                        m.d.sync += issuing.eq(0)

        # Weight-stationary ---------------------------------------------------------------
        if has_ws:
            ws = ~os_mode if has_os else Const(1)
            # Loader: fills the shadow weights of the next chunk, zero rows past k.
            ld_left = Signal(range(cfg.max_k + 1))
            ld_row = Signal(range(rows))
            shadow_full = Signal()
            # The swap reaches PE (r, c) r + c cycles after it leaves the issue stage, and that
            # PE reads its shadow register then; starting the next load ``cols`` cycles after
            # the swap keeps the loader one cycle behind that wavefront in every row.
            ld_wait = Signal(range(cols + 1))
            # ``ld_left != 0`` as a flag set a cycle ahead: it is in every load decision, and
            # those enable the shadow weights of a whole row of PEs.
            need_beat = Signal()
            can_load = (self.busy & ws & ~shadow_full & (ld_wait == 0)
                        & (need_beat | (ld_row != 0)))
            load_step = Signal()
            m.d.comb += load_step.eq(advance & can_load & (~need_beat | self.wgt.valid))
            with m.If(ws):
                m.d.comb += self.wgt.ready.eq(advance & can_load & need_beat)
            # Decoded once here: an expression shared by every PE would be rebuilt in each.
            load_data = Signal(cfg.weight_bits * cols)
            row_load = Signal(rows)
            m.d.comb += [
                load_data.eq(Mux(need_beat, self.wgt.payload.as_value(), 0)),
                row_load.eq(Mux(load_step, 1 << ld_row, 0)),
            ]
            for r in range(rows):
                for col in range(cols):
                    pe = pes[r][col]
                    m.d.comb += [
                        pe.load.eq(row_load[r]),
                        pe.load_data.eq(
                            load_data[col * cfg.weight_bits:(col + 1) * cfg.weight_bits]),
                    ]
            with m.If(advance & (ld_wait != 0)):
                m.d.sync += ld_wait.eq(ld_wait - 1)
            with m.If(load_step):
                m.d.sync += ld_row.eq(ld_row + 1)
                with m.If(need_beat):
                    m.d.sync += [ld_left.eq(ld_left - 1), need_beat.eq(ld_left != 1)]
                with m.If(ld_row == rows - 1):
                    m.d.sync += [ld_row.eq(0), shadow_full.eq(1)]

            # Issue: every token of the chunk, each at its own precision.
            ws_chunk_left = Signal(range(cfg.max_k + 1))   # weight rows in this chunk and after
            ws_tokens_left = Signal(range(cfg.max_m + 1))
            ws_lane = Signal(range(rows))
            ws_first_token = Signal()
            token_is_high = token_high(prec_r.data.bit_select(ws_lane, 1))
            with m.If(ws):
                m.d.comb += [
                    take.eq(can_take & self.act.valid & (~ws_first_token | shadow_full)),
                    new_slices.eq(slices_for(token_is_high)),
                    new_first.eq(1),
                    new_last.eq(1),
                    new_swap.eq(ws_first_token),
                    new_high.eq(Mux(token_is_high, -1, 0)),
                ]
            with m.If(start):
                m.d.sync += [ld_left.eq(c.k), need_beat.eq(c.k != 0), ld_row.eq(0),
                             shadow_full.eq(0), ld_wait.eq(0),
                             ws_chunk_left.eq(c.k), ws_tokens_left.eq(c.m), group.eq(0),
                             ws_lane.eq(0), ws_first_token.eq(1)]
            with m.If(ws & take):
                m.d.sync += [ws_tokens_left.eq(ws_tokens_left - 1), ws_lane.eq(ws_lane + 1),
                             ws_first_token.eq(0)]
                with m.If(ws_lane == rows - 1):
                    m.d.sync += [ws_lane.eq(0), group.eq(group + 1)]
                with m.If(ws_first_token):
                    m.d.sync += [shadow_full.eq(0), ld_wait.eq(cols)]
                with m.If(ws_tokens_left == 1):
                    m.d.sync += [ws_tokens_left.eq(tile_m), ws_lane.eq(0), group.eq(0),
                                 ws_first_token.eq(1), ws_chunk_left.eq(ws_chunk_left - rows)]
                    with m.If(ws_chunk_left <= rows):
                        m.d.sync += issuing.eq(0)

            # Bottom: de-skew the column sums, accumulate over chunks, emit on the last one.
            bottom = []
            for col in range(cols):
                signal = pes[rows - 1][col].psum_out
                for d in range(cols - 1 - col):
                    delayed = Signal(signed(cfg.acc_bits), name=f"deskew_{col}_{d}",
                                     reset_less=True)
                    with m.If(advance):
                        m.d.sync += delayed.eq(signal)
                    signal = delayed
                bottom.append(signal)
            # Distributed RAM: a block RAM's read (its clock-to-output alone is most of a
            # 100 MHz cycle on ECP5) would leave no time for the adder behind it.
            m.submodules.acc_mem = acc_mem = Memory(
                shape=unsigned(cfg.acc_bits * cols), depth=cfg.max_m, init=[],
                attrs={"ram_style": "distributed"})
            acc_w = acc_mem.write_port()
            # Registered reads of the running sums, so that the memory read and the adder do
            # not share a cycle: one port reads the current token's, the other the token after
            # it, both at addresses held in registers; which one the adder takes depends on
            # whether the bottom row advanced in the previous cycle. Reading only the token
            # the bottom row will hold next would put the array's stall (``advance``) in front
            # of every read address of the memory. Not transparent (a transparent read would
            # map to a registered address in front of the same asynchronous read): the ports
            # read every cycle, and a token's sum comes back at least ``rows + cols + 1``
            # cycles after it was written (its next chunk waits for its weights), so it is
            # never stale.
            acc_now = acc_mem.read_port()
            acc_after = acc_mem.read_port()
            bot_m = Signal(range(cfg.max_m))
            # ``bot_m + 1``, registered: the read address is a choice of registers, no adder.
            bot_m_inc = Signal(range(cfg.max_m + 1))
            bot_m_next = Signal.like(bot_m)
            # The token after ``bot_m`` (``bot_m + 1``, or 0 after a tile's last token).
            bot_m_after = Signal.like(bot_m)
            bot_advanced = Signal()
            bot_tokens_left = Signal(range(cfg.max_m + 1))
            # ``bot_tokens_left == 1``, registered: it steers the read address.
            bot_last_token = Signal()
            bot_chunk_left = Signal(range(cfg.max_k + 1))
            bot_first_chunk = Signal()
            bot_valid = ws & advance & pes[rows - 1][cols - 1].psum_valid
            # ``bot_chunk_left <= rows`` as a flag set a cycle ahead: it is in the write
            # enable of the running sums' memory.
            bot_last_chunk = Signal()
            sums = Signal(cfg.acc_bits * cols)
            read = Mux(bot_advanced, acc_after.data, acc_now.data)
            for col in range(cols):
                before = read[col * cfg.acc_bits:(col + 1) * cfg.acc_bits].as_signed()
                m.d.comb += sums[col * cfg.acc_bits:(col + 1) * cfg.acc_bits].eq(
                    Mux(bot_first_chunk, 0, before) + bottom[col])
            with m.If(ws):
                m.d.comb += res_buffer.i.payload.as_value().eq(sums)
            m.d.comb += [
                bot_m_next.eq(bot_m),
                acc_now.addr.eq(bot_m),
                acc_after.addr.eq(bot_m_after),
                acc_w.addr.eq(bot_m),
                acc_w.data.eq(sums),
                acc_w.en.eq(bot_valid & ~bot_last_chunk),
            ]
            m.d.sync += [bot_m.eq(bot_m_next), bot_m_inc.eq(bot_m_next + 1),
                         bot_advanced.eq(bot_valid),
                         bot_m_after.eq(Mux(~bot_valid, bot_m_after,
                                            Mux(bot_last_token, Mux(tile_m == 1, 0, 1),
                                                Mux(bot_tokens_left == 2, 0, bot_m_inc + 1))))]
            with m.If(start):
                # Only here, not in the read address: the first chunk ignores what it reads.
                m.d.sync += [bot_m.eq(0), bot_m_inc.eq(1), bot_tokens_left.eq(c.m), bot_last_token.eq(c.m == 1),
                             bot_chunk_left.eq(c.k), bot_last_chunk.eq(c.k <= rows),
                             bot_first_chunk.eq(1),
                             bot_m_after.eq(Mux(c.m == 1, 0, 1))]
            with m.If(bot_valid):
                m.d.comb += [ws_result.eq(bot_last_chunk), bot_m_next.eq(bot_m_inc)]
                m.d.sync += [bot_tokens_left.eq(bot_tokens_left - 1),
                             bot_last_token.eq(bot_tokens_left == 2)]
                with m.If(bot_last_token):
                    m.d.comb += bot_m_next.eq(0)
                    m.d.sync += [bot_tokens_left.eq(tile_m), bot_last_token.eq(tile_m == 1),
                                 bot_chunk_left.eq(bot_chunk_left - rows),
                                 bot_last_chunk.eq(bot_chunk_left <= 2 * rows),
                                 bot_first_chunk.eq(0)]
                    with m.If(bot_last_chunk):
                        m.d.sync += compute_done.eq(1)
        return m
