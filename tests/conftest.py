"""Fixtures shared by every test: the simulator list for cocotb tests, config presets."""

import pytest

from sw.config import load_config
from sw.flows.cocotb_run import selected_simulators


def pytest_generate_tests(metafunc):
    # Every test that takes ``sim`` runs once per simulator in $SIM (default: both).
    if "sim" in metafunc.fixturenames:
        metafunc.parametrize("sim", selected_simulators())


@pytest.fixture(scope="session")
def default_config():
    return load_config(preset="default")
