"""The config dataclass: validation, presets, serialisation, hashing."""

import json

import pytest

from sw.config import CONFIG_DIR, ProcessorConfig, load_config, parse_override


def test_defaults_are_valid_and_match_default_preset():
    assert load_config(preset="default").replace(name="custom") == ProcessorConfig()


@pytest.mark.parametrize("preset", sorted(p.stem for p in CONFIG_DIR.glob("*.toml")
                                          if p.stem != "sweep"))
def test_every_preset_loads(preset):
    config = load_config(preset=preset)
    assert config.name == preset
    assert ProcessorConfig.from_json(config.to_json()) == config


def test_paper_preset_reaches_paper_peak_throughput():
    config = load_config(preset="paper")
    assert config.peak_tops_low == pytest.approx(3.84)


def test_one_error_names_every_bad_field():
    with pytest.raises(ValueError) as info:
        load_config(overrides=["dbsc.rows=0", "dbsc.act_bits_high=10", "ema.data_width=48",
                               "dbsc.dataflow=diagonal", "nosuch.field=1", "pssa.bogus=2"])
    message = str(info.value)
    for expected in ["dbsc.rows=0 must be an integer in [1, 256]",
                     "dbsc.act_bits_high=10 must be a multiple of dbsc.slice_bits=4",
                     "ema.data_width=48 must be one of 32, 64, 128",
                     "dbsc.dataflow='diagonal' must be one of 'ws', 'os', 'both'",
                     "nosuch: unknown section", "pssa.bogus: unknown field"]:
        assert expected in message


def test_type_errors_are_reported_not_raised_as_type_errors():
    with pytest.raises(ValueError, match=r"dbsc.rows='four' must be an integer"):
        load_config(overrides=['dbsc.rows="four"'])
    with pytest.raises(ValueError, match=r"pssa.signed_scores=1 must be true or false"):
        load_config(overrides=["pssa.signed_scores=1"])


def test_low_precision_may_not_exceed_high():
    with pytest.raises(ValueError, match="act_bits_low=12 must be at most dbsc.act_bits_high=8"):
        ProcessorConfig().replace(**{"dbsc.act_bits_low": 12})


def test_hash_depends_on_parameters_not_name():
    base = ProcessorConfig()
    assert base.hash == base.replace(name="other").hash
    assert base.hash != base.replace(**{"dbsc.rows": 8}).hash
    assert len(base.hash) == 8


def test_accumulator_width_is_tight():
    """acc_bits holds max_k products of the most negative operands, and one bit less would not."""
    for max_k in (1, 2, 3, 255, 256, 257, 4096):
        dbsc = ProcessorConfig().replace(**{"dbsc.max_k": max_k}).dbsc
        worst = max_k * (-(1 << (dbsc.weight_bits - 1))) * (-(1 << (dbsc.act_bits_high - 1)))
        assert worst <= (1 << (dbsc.acc_bits - 1)) - 1
        assert worst > (1 << (dbsc.acc_bits - 2)) - 1


def test_parse_override_types():
    assert parse_override("dbsc.rows=8") == ("dbsc.rows", 8)
    assert parse_override("pssa.signed_scores=true") == ("pssa.signed_scores", True)
    assert parse_override("dbsc.dataflow=ws") == ("dbsc.dataflow", "ws")
    assert parse_override('dbsc.dataflow="os"') == ("dbsc.dataflow", "os")
    with pytest.raises(ValueError, match="expected key=value"):
        parse_override("dbsc.rows")


def test_flat_has_fields_and_derived_values():
    flat = ProcessorConfig().flat()
    assert flat["dbsc.rows"] == 4
    assert flat["dbsc.acc_bits"] == ProcessorConfig().dbsc.acc_bits
    json.dumps(flat)
