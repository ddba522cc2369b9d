# sdproc: `make` generates the Verilog of the default configuration, `make test` runs every test.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PRESET ?= default
JOBS ?= 2
# Simulators the cocotb tests run on (each cocotb test is parametrised over this list).
SIM ?= verilator icarus
PYTEST := $(BIN)/python -m pytest -W error::DeprecationWarning -n $(JOBS)

.PHONY: all setup verilog test test-fast bench synth sweep reproduce results lint clean help

all: verilog

help:
	@echo "make            generate the Verilog of the default configuration (same as 'make verilog')"
	@echo "make test       run the whole test suite (golden, Amaranth sim, cocotb on Verilator and Icarus)"
	@echo "make test-fast  the same with cocotb on Icarus only (no Verilator C++ builds)"
	@echo "make bench      benchmarks -> build/bench/*.json"
	@echo "make synth      area and timing of every block -> build/reports/synth.{json,md}"
	@echo "make sweep      design-space sweep -> build/reports/sweep.{csv,png}"
	@echo "make reproduce  the paper's table next to the project's figures -> build/reports/reproduce.*"
	@echo "make results    regenerate docs/results.md from the reports (synth, sweep, reproduce)"
	@echo "make lint       Verilator lint of the generated Verilog"
	@echo "make setup      create .venv and install the project (idempotent)"
	@echo "make clean      remove build outputs"
	@echo "variables: PRESET=$(PRESET) SIM=$(SIM) JOBS=$(JOBS)"

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	@touch $@

setup: $(STAMP)

verilog: $(STAMP)
	$(BIN)/sdproc generate --preset $(PRESET)

test: $(STAMP)
	SIM="$(SIM)" $(PYTEST) tests

test-fast: $(STAMP)
	SIM=icarus $(PYTEST) tests

bench: $(STAMP)
	$(BIN)/sdproc bench --preset $(PRESET)

synth: $(STAMP)
	$(BIN)/sdproc synth --preset $(PRESET) --block all

sweep: $(STAMP)
	$(BIN)/sdproc sweep

reproduce: $(STAMP)
	$(BIN)/sdproc reproduce --preset paper

results: $(STAMP)
	$(BIN)/sdproc results

lint: $(STAMP)
	$(BIN)/sdproc lint --preset $(PRESET)

clean:
	rm -rf build .pytest_cache .hypothesis
