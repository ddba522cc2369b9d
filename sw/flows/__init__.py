"""Flows from a config to artefacts: Verilog emission, simulation runners, synthesis."""
