"""The synthesis flow: report schema, figures of known designs within bounds that a broken flow
would miss, the harness, and the message when a Debian tool is missing."""

import json

import pytest
from amaranth.sim import Simulator

from hw import registry
from hw.common import SignedMAC
from sw.config import load_config
from sw.flows import paths, synth, tools
from sw.flows.harness import RegisteredHarness, port_widths
from tests.flows.probe import PROBE_COUNTER_BITS, PROBE_MEMORY_BITS, Probe

CONFIG = load_config(preset="default")


@pytest.fixture(scope="module")
def synth_root(tmp_path_factory):
    """Each test module works in its own build tree, so that nothing is served from the
    cache of an earlier flow version."""
    root = tmp_path_factory.mktemp("synth")
    patch = pytest.MonkeyPatch()
    patch.setattr(synth, "SYNTH_ROOT", root)
    yield root
    patch.undo()


@pytest.fixture(scope="module")
def probe_rows(synth_root):
    rows = synth.synthesize(Probe(), "probe", CONFIG, targets=("generic", "ecp5", "ice40"),
                            use_cache=False)
    return {row["target"]: row for row in rows}


@pytest.fixture(scope="module")
def mac_rows(synth_root):
    mac = registry.build("common_mac", CONFIG)
    rows = synth.synthesize(mac, "common_mac", CONFIG,
                            targets=("generic", "ecp5", "ecp5-nodsp", "asic-osu018"),
                            use_cache=False)
    return {row["target"]: row for row in rows}


def test_rows_follow_the_schema(probe_rows, mac_rows):
    for row in [*probe_rows.values(), *mac_rows.values()]:
        assert tuple(row) == synth.ROW_KEYS
        assert row["status"] == "ok", row["message"]
        assert row["config_hash"] == CONFIG.hash
        assert row["label"] == synth.LABELS[row["target"]]
        for key in synth.METRICS:
            assert row[key] is None or isinstance(row[key], (int, float)), key
        assert json.loads(json.dumps(row)) == row
    generic = mac_rows["generic"]
    for key in ("cells", "ff", "memory_bits", "transistors", "depth"):
        assert isinstance(generic[key], int)
    for key in ("lut", "ff", "dsp", "bram", "fmax_mhz"):
        assert mac_rows["ecp5"][key] is not None, key
    for key in ("area_um2", "critical_ns"):
        assert mac_rows["asic-osu018"][key] is not None, key


def test_reports_hold_every_row(probe_rows, mac_rows, tmp_path):
    rows = [*probe_rows.values(), *mac_rows.values()]
    json_path, md_path = synth.write_reports(rows, CONFIG, tmp_path, wall_seconds=1.0, jobs=2)
    assert json.loads(json_path.read_text()) == rows
    table = md_path.read_text()
    for row in rows:
        assert f"| {row['block']} | {row['target']} |" in table
    assert synth.LABELS["asic-osu018"] in table


def test_probe_figures(probe_rows):
    generic = probe_rows["generic"]
    assert generic["memory_bits"] == PROBE_MEMORY_BITS
    assert PROBE_COUNTER_BITS <= generic["ff"] <= PROBE_COUNTER_BITS + 16
    assert 10 <= generic["cells"] <= 400
    assert 2 <= generic["depth"] <= 40
    assert generic["transistors"] > 10 * generic["ff"]
    assert "$mem_v2" not in generic["cells_by_kind"]
    ecp5 = probe_rows["ecp5"]
    assert ecp5["dsp"] == 0
    assert ecp5["lutram"] + ecp5["bram"] > 0, "the memory must not become flip-flops"
    assert 4 <= ecp5["lut"] <= 200
    assert 80 <= ecp5["fmax_mhz"] <= 1000
    assert ecp5["critical_path"]
    assert 30 <= probe_rows["ice40"]["fmax_mhz"] <= 1000


def test_fpga_report_lists_every_routed_endpoint(probe_rows, synth_root):
    """The flow's own nextpnr report feeds ``sdproc paths --routed``: every register endpoint
    of the placed probe, its accumulator among them, arrives within the critical path."""
    (report,) = synth_root.glob("probe-*/ecp5/report.json")
    found = paths.routed_endpoints(json.loads(report.read_text()), threshold_ns=0.0)
    assert found["groups"] and found["blocks"]
    assert any(row["end"] == "dut.total" for row in found["groups"]), found["groups"][:5]
    worst = max(row["worst_ns"] for row in found["groups"])
    assert 0 < worst <= 1000 / probe_rows["ecp5"]["fmax_mhz"] + 0.01


def test_distributed_ram_hint_does_not_stop_ice40(synth_root):
    """A ``ram_style = "distributed"`` memory (the DBSC's accumulator has one, for ECP5) still
    maps on iCE40, which has no LUT RAM."""
    rows = synth.synthesize(Probe(memory_attrs={"ram_style": "distributed"}), "probe_lutram",
                            CONFIG, targets=("ecp5", "ice40"), use_cache=False)
    ecp5, ice40 = rows
    assert (ecp5["status"], ice40["status"]) == ("ok", "ok"), ice40["message"]
    assert ecp5["lutram"] > 0 and ecp5["bram"] == 0
    assert ice40["fmax_mhz"] > 0


def mac_flip_flops(dbsc):
    """Registers of the ``SignedMAC`` that ``common_mac`` builds: its operand and product
    stages each hold a (slice + 1) x weight-bit value with the shift, clear and enable; then
    the accumulator."""
    assert SignedMAC.latency == 3, "the count below is that of the three-stage MAC"
    stage = dbsc.slice_bits + 1 + dbsc.weight_bits
    control = (dbsc.act_bits_high - dbsc.slice_bits).bit_length() + 2
    return 2 * (stage + control) + dbsc.acc_bits


def test_mac_figures(mac_rows):
    dbsc = CONFIG.dbsc
    generic = mac_rows["generic"]
    assert generic["ff"] == mac_flip_flops(dbsc)
    assert generic["memory_bits"] == 0
    # A (slice + 1) x weight-bit multiplier, a shifter and an adder of acc_bits.
    assert 150 <= generic["cells"] <= 3000
    assert 10 <= generic["depth"] <= 200
    assert mac_rows["ecp5"]["dsp"] >= 1
    assert mac_rows["ecp5-nodsp"]["dsp"] == 0
    assert mac_rows["ecp5-nodsp"]["lut"] > mac_rows["ecp5"]["lut"]
    for target in ("ecp5", "ecp5-nodsp"):
        assert mac_rows[target]["ff"] == mac_flip_flops(dbsc)
        assert 20 <= mac_rows[target]["fmax_mhz"] <= 500
    asic = mac_rows["asic-osu018"]
    assert asic["ff"] == mac_flip_flops(dbsc)
    assert 2_000 <= asic["area_um2"] <= 200_000
    assert 0.5 <= asic["critical_ns"] <= 50


def test_cache_reuses_rows(synth_root):
    design = synth.prepare(Probe(), "probe_cached", CONFIG)
    first = synth.run_target(design, "generic")
    assert synth.cache_path(design, "generic").exists()
    again = synth.run_target(design, "generic")
    assert again == first and tuple(again) == synth.ROW_KEYS
    # A field the design does not use: same netlist, same clock, the row is reused.
    unrelated = CONFIG.replace(**{"pssa.lanes": CONFIG.pssa.lanes // 2})
    reused = synth.run_target(synth.prepare(Probe(), "probe_cached", unrelated), "generic")
    assert reused["config_hash"] == unrelated.hash != first["config_hash"]
    assert reused["seconds"] == first["seconds"] and reused["cells"] == first["cells"]
    # A new clock target is a new run (place-and-route and STA are timed against it).
    slower = synth.prepare(Probe(), "probe_cached", CONFIG.replace(**{"top.clock_mhz": 50.0}))
    assert slower.source_hash == design.source_hash
    assert synth.cache_path(slower, "generic") != synth.cache_path(design, "generic")


def test_harness_drives_every_input_and_observes_outputs():
    probe = Probe()
    harness = RegisteredHarness(probe)
    assert (harness.input_bits, harness.output_bits) == port_widths(probe) == (1 + 5 + 8, 16)
    seen_inputs = {name: set() for name in ("we", "addr", "data")}
    seen_out = set()

    async def bench(ctx):
        ctx.set(harness.rst, 0)
        for _ in range(200):
            ctx.set(harness.clk, 1)
            await ctx.delay(5e-9)
            ctx.set(harness.clk, 0)
            await ctx.delay(5e-9)
            for name in seen_inputs:
                seen_inputs[name].add(ctx.get(getattr(probe, name)))
            seen_out.add(ctx.get(harness.out))

    sim = Simulator(harness)
    sim.add_testbench(bench)
    sim.run()
    assert seen_inputs["we"] == {0, 1}
    assert len(seen_inputs["addr"]) == 32
    assert len(seen_inputs["data"]) > 100
    assert seen_out == {0, 1}


def test_missing_tool_is_skipped_with_instructions(synth_root, tmp_path, monkeypatch):
    monkeypatch.setattr(tools, "TOOLS_DIR", tmp_path / "tools")
    monkeypatch.setattr(tools, "SYSTEM_ROOTS", ())
    with pytest.raises(tools.MissingTool) as error:
        tools.osu018_liberty(fetch=False)
    message = str(error.value)
    assert "qflow-tech-osu018" in message and "apt-get download" in message
    assert "dpkg-deb -x" in message and str(tmp_path / "tools") in message

    design = synth.prepare(Probe(), "probe_missing", CONFIG)
    rows = synth.synthesize_blocks([design], ("asic-osu018", "generic"), fetch_tools=False,
                                   use_cache=False)
    assert rows[0]["status"] == "skipped"
    assert "apt-get download" in rows[0]["message"]
    assert rows[1]["status"] == "ok" and rows[1]["cells"] > 0


def test_unknown_target_is_refused():
    design = synth.prepare(Probe(), "probe", CONFIG)
    with pytest.raises(ValueError, match="asic-osu018"):
        synth.run_target(design, "vivado")
