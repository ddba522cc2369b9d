"""``sdproc lint``: a clean block passes, a real defect is reported, waivers are exact."""

from hw import registry
from sw.config import load_config
from sw.flows.emit import to_verilog
from sw.flows.lint import WAIVED, lint_verilog

CONST_COMPARE = """
module bad(input wire [2:0] a, output wire y, output wire z);
  assign y = a <= 3'h7;
  assign z = a[0];
endmodule
"""


def test_clean_block_has_no_findings():
    config = load_config(preset="default")
    text = to_verilog(registry.build("common_skid", config), "common_skid")
    assert lint_verilog(text, "common_skid") == []


def test_constant_comparison_is_a_finding():
    findings = lint_verilog(CONST_COMPARE, "bad")
    assert [f["kind"] for f in findings] == ["CMPCONST"]
    assert "bad.v:3" in findings[0]["message"]


def test_waivers_hide_only_their_classes():
    text = to_verilog(registry.build("common_mac", load_config(preset="default")), "common_mac")
    all_kinds = {f["kind"] for f in lint_verilog(text, "common_mac", waived=())}
    assert all_kinds and all_kinds <= set(WAIVED)
    assert lint_verilog(text, "common_mac") == []
