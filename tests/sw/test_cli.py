"""The sdproc command line: generation outputs, and bad input as exit code 2 with no traceback."""

import json
import shutil
import subprocess
import sys

import pytest

from sw.cli import main
from sw.config import load_config


def test_generate_writes_verilog_params_and_header(tmp_path, capsys):
    assert main(["generate", "--block", "common_mac", "--out", str(tmp_path)]) == 0
    verilog = tmp_path / "common_mac.v"
    assert str(verilog) in capsys.readouterr().out
    assert "module common_mac(" in verilog.read_text()
    params = json.loads((tmp_path / "params.json").read_text())
    config = load_config()
    assert params["hash"] == config.hash
    assert params["config"] == config.to_dict()
    assert params["derived"]["dbsc.acc_bits"] == config.dbsc.acc_bits
    header = (tmp_path / "params.h").read_text()
    assert f"#define SDPROC_DBSC_ACC_BITS {config.dbsc.acc_bits}" in header


def test_generate_is_deterministic(tmp_path):
    for out in ("a", "b"):
        assert main(["generate", "--block", "common_skid", "--out", str(tmp_path / out)]) == 0
    assert (tmp_path / "a/common_skid.v").read_text() == (tmp_path / "b/common_skid.v").read_text()


def test_params_header_compiles(tmp_path):
    compiler = shutil.which("cc") or shutil.which("gcc")
    assert compiler, "a C compiler is a documented prerequisite"
    assert main(["generate", "--block", "common_fifo", "--out", str(tmp_path)]) == 0
    config = load_config()
    source = tmp_path / "check.c"
    source.write_text(
        '#include "params.h"\n'
        f"_Static_assert(SDPROC_DBSC_ROWS == {config.dbsc.rows}, \"rows\");\n"
        f"_Static_assert(SDPROC_DBSC_SUPPORTS_WS == 1, \"ws\");\n"
        "int main(void) { return 0; }\n")
    subprocess.run([compiler, "-std=c11", "-I", str(tmp_path), "-o", str(tmp_path / "check"),
                    str(source)], check=True)


def test_override_reaches_the_hardware(tmp_path):
    assert main(["generate", "--block", "common_fifo", "--set", "ema.data_width=128",
                 "--out", str(tmp_path)]) == 0
    assert "input [127:0] i__payload;" in (tmp_path / "common_fifo.v").read_text()


@pytest.mark.parametrize("argv,needle", [
    (["generate", "--set", "dbsc.rows=0"], "dbsc.rows=0 must be an integer in [1, 256]"),
    (["generate", "--preset", "nosuch"], "preset 'nosuch' does not exist"),
    (["generate", "--block", "nosuch"], "unknown block 'nosuch'"),
    (["generate", "--set", "dbsc.rows"], "expected key=value"),
])
def test_bad_input_exits_2_naming_the_problem(argv, needle):
    result = subprocess.run([sys.executable, "-m", "sw.cli", *argv], capture_output=True,
                            text=True)
    assert result.returncode == 2
    assert needle in result.stderr
    assert "Traceback" not in result.stderr
