"""The U-Net layer table against values computed here by hand from the architecture."""

import pytest

from sw.model.unet import PUBLISHED_PARAMS, UNetSpec, sas_by_resolution, totals, unet_layers, \
    with_image


@pytest.fixture(scope="module")
def layers():
    return {layer.name: layer for layer in unet_layers()}


def test_parameter_count_matches_published(layers):
    assert totals(list(layers.values()))["params"] == PUBLISHED_PARAMS


@pytest.mark.parametrize("name, side, m, k, n, batch", [
    ("conv_in", 64, 64 * 64, 4 * 9, 320, 1),
    ("down0.downsample", 32, 32 * 32, 320 * 9, 320, 1),
    ("down1.res0.conv1", 32, 32 * 32, 320 * 9, 640, 1),
    ("down1.res0.conv_shortcut", 32, 32 * 32, 320, 640, 1),
    ("down1.res0.time_emb_proj", 32, 1, 1280, 640, 1),
    # Up level 1 (16 x 16): its last ResBlock concatenates the 640-channel skip of down1.
    ("up1.res2.conv1", 16, 16 * 16, (1280 + 640) * 9, 1280, 1),
    ("up1.res2.conv_shortcut", 16, 16 * 16, 1280 + 640, 1280, 1),
    ("up3.res0.conv1", 64, 64 * 64, (640 + 320) * 9, 320, 1),
    ("up2.upsample", 64, 64 * 64, 640 * 9, 640, 1),
    ("mid.attn0.block.attn1.qk", 8, 64, 160, 64, 8),
    ("mid.attn0.block.attn1.av", 8, 64, 64, 160, 8),
    ("down0.attn1.block.attn1.qk", 64, 4096, 40, 4096, 8),
    ("up3.attn2.block.attn2.to_k", 64, 77, 768, 320, 1),
    ("up3.attn2.block.attn2.qk", 64, 4096, 40, 77, 8),
    ("down2.attn0.block.ff.geglu_proj", 16, 256, 1280, 2 * 4 * 1280, 1),
    ("down2.attn0.block.ff.out", 16, 256, 4 * 1280, 1280, 1),
    ("conv_out", 64, 64 * 64, 320 * 9, 4, 1),
])
def test_layer_shapes(layers, name, side, m, k, n, batch):
    layer = layers[name]
    assert (layer.side, layer.m, layer.k, layer.n, layer.batch) == (side, m, k, n, batch)
    assert layer.macs == batch * m * k * n


def test_block_counts(layers):
    names = list(layers)
    assert sum(n.endswith(".conv1") for n in names) == 4 * 2 + 2 + 4 * 3
    assert sum(n.endswith("attn1.qk") for n in names) == 16
    assert sum(n.endswith("downsample") for n in names) == 3
    assert sum(n.endswith("upsample") for n in names) == 3


def test_sas_entries_per_resolution():
    table = sas_by_resolution(unet_layers())
    expected = {64: 5, 32: 5, 16: 5, 8: 1}
    assert {side: row["blocks"] for side, row in table.items()} == expected
    for side, row in table.items():
        assert row["entries_per_attention"] == 8 * (side * side) ** 2
    total = sum(blocks * 8 * (side * side) ** 2 for side, blocks in expected.items())
    assert totals(unet_layers())["sas_entries"] == total == 715_685_888


def test_attention_and_ffn_totals():
    t = totals(unet_layers())
    levels = {64: (320, 5), 32: (640, 5), 16: (1280, 5), 8: (1280, 1)}
    # QK^T and AV of self-attention: N^2 * C each; of cross-attention: N * 77 * C each.
    scores = sum(blocks * 2 * (side ** 2 * side ** 2 * c + side ** 2 * 77 * c)
                 for side, (c, blocks) in levels.items())
    ffn = sum(blocks * side ** 2 * (c * 8 * c + 4 * c * c) for side, (c, blocks) in levels.items())
    assert t["attention_score_macs"] == scores
    assert t["ffn_macs"] == ffn
    assert 4096 * 320 * 320 * 12 == 5_033_164_800  # paper.md's 5.03 G per FFN at 64 x 64


def test_totals_against_published_counts():
    t = totals(unet_layers())
    conv_linear = t["macs"] - t["attention_score_macs"]
    assert abs(conv_linear / 339e9 - 1) < 0.01        # BK-SDM, conv + linear layers
    assert 0.85 < t["macs"] / (888_870e6 / 2) < 1.0   # onnx-tool also counts element-wise ops


def test_smaller_image_has_less_work():
    big = totals(unet_layers())
    small = totals(unet_layers(with_image(UNetSpec(), 256)))
    assert small["sas_entries"] * 16 == big["sas_entries"]
    assert small["macs"] < big["macs"] / 3
    assert small["params"] == big["params"]


def test_invalid_spec_names_every_field():
    with pytest.raises(ValueError) as info:
        UNetSpec(image=500, heads=0, attention_levels=(True,))
    text = str(info.value)
    for word in ("image=500", "heads=0", "attention_levels"):
        assert word in text
