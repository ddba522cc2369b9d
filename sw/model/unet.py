"""Layer table of the Stable Diffusion v1.x U-Net, built from its public architecture description.

Nothing here is a hard-coded total: :func:`unet_layers` walks the architecture the way the
public configuration describes it (diffusers ``UNet2DConditionModel`` of SD v1.4/v1.5: block
channels 320/640/1280/1280, two ResBlocks per down level and three per up level, a
``Transformer2DModel`` after every ResBlock of the three attention levels and in the middle,
8 heads, cross-attention to 77 CLIP tokens of width 768, GEGLU feed-forward ``C -> 8C -> 4C ->
C``, skip connections concatenated on the way up) and emits one :class:`Layer` per matrix
product. Every convolution, projection, attention product and FFN matrix is listed with its GEMM
shape, MACs and parameters; norms, the time-embedding MLP and biases are listed too so that the
parameter total can be checked against the published 859,520,964.

A layer is a GEMM ``out[M, N] = in[M, K] @ W[K, N]`` repeated ``batch`` times (heads):

- convolution: ``M`` output pixels, ``K = C_in * kh * kw``, ``N = C_out``;
- linear / 1x1 projection: ``M`` tokens, ``K`` input width, ``N`` output width;
- ``qk``: per head ``M`` queries, ``K`` head dimension, ``N`` keys (the score matrix);
- ``av``: per head ``M`` queries, ``K`` keys, ``N`` head dimension.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

__all__ = ["UNetSpec", "Layer", "unet_layers", "totals", "sas_by_resolution",
           "PUBLISHED_PARAMS", "with_image"]

#: Parameters of the SD v1.x U-Net as published (diffusers ``UNet2DConditionModel``,
#: ``sum(p.numel())``; the same count, rounded, is the "860M UNet" of the model cards).
PUBLISHED_PARAMS = 859_520_964

#: Layer kinds that are matrix products, i.e. run on the DBSC array.
_GEMM_KINDS = ("conv", "linear", "qk", "av", "ffn")


@dataclass(frozen=True)
class UNetSpec:
    """Architecture parameters of the U-Net (defaults: Stable Diffusion v1.5 at 512 x 512).

    Parameters
    ----------
    image : int
        Image side in pixels; the latent side is ``image // vae_factor``.
    vae_factor : int
        Spatial downsampling of the autoencoder.
    latent_channels : int
        Channels of the latent the U-Net denoises.
    block_channels : tuple of int
        Channels of each resolution level, outermost first.
    attention_levels : tuple of bool
        Which levels carry transformer blocks (SD v1: all but the innermost).
    down_resblocks, up_resblocks : int
        ResBlocks per level on the way down / up.
    heads : int
        Attention heads of every transformer block.
    text_tokens, text_width : int
        Length and width of the CLIP text embedding cross-attention reads.
    ffn_mult : int
        GEGLU hidden width is ``ffn_mult * C`` (its projection produces twice that).
    time_width : int
        Width of the sinusoidal timestep code (the embedding MLP maps it to ``4 * C0``).
    norm_groups : int
        GroupNorm groups (parameters only).
    """

    image: int = 512
    vae_factor: int = 8
    latent_channels: int = 4
    block_channels: tuple = (320, 640, 1280, 1280)
    attention_levels: tuple = (True, True, True, False)
    down_resblocks: int = 2
    up_resblocks: int = 3
    heads: int = 8
    text_tokens: int = 77
    text_width: int = 768
    ffn_mult: int = 4
    time_width: int = 320
    norm_groups: int = 32

    def __post_init__(self):
        errors = []
        levels = len(self.block_channels)
        side = self.image // self.vae_factor if self.vae_factor else 0
        if not (isinstance(self.image, int) and self.image >= 8):
            errors.append(f"image={self.image!r} must be an integer >= 8")
        if not (isinstance(self.vae_factor, int) and self.vae_factor >= 1):
            errors.append(f"vae_factor={self.vae_factor!r} must be an integer >= 1")
        elif side % (1 << max(levels - 1, 0)):
            errors.append(f"image={self.image} gives a latent side {side} that must be divisible "
                          f"by 2^{levels - 1} (one halving per level)")
        if len(self.attention_levels) != levels:
            errors.append(f"attention_levels has {len(self.attention_levels)} entries, "
                          f"must have {levels} (one per block_channels entry)")
        scalars_ok = True
        for name in ("latent_channels", "down_resblocks", "up_resblocks", "heads",
                     "text_tokens", "text_width", "ffn_mult", "time_width", "norm_groups"):
            value = getattr(self, name)
            if not (isinstance(value, int) and value >= 1):
                errors.append(f"{name}={value!r} must be an integer >= 1")
                scalars_ok = False
        for c in self.block_channels if scalars_ok else ():
            if not (isinstance(c, int) and c > 0 and c % self.heads == 0
                    and c % self.norm_groups == 0):
                errors.append(f"block_channels entry {c!r} must be a positive multiple of "
                              f"heads={self.heads} and norm_groups={self.norm_groups}")
        if errors:
            raise ValueError("invalid U-Net spec:\n  " + "\n  ".join(errors))

    @property
    def latent(self) -> int:
        return self.image // self.vae_factor

    @property
    def time_embed(self) -> int:
        return 4 * self.block_channels[0]


@dataclass(frozen=True)
class Layer:
    """One matrix product (or a parameter-only op) of the U-Net.

    ``macs = batch * m * k * n``. ``params`` counts weights and biases (and norm scales) of
    the op. ``weight_elems`` are the GEMM weights streamed from DRAM (0 for ``qk``/``av``, whose
    both operands are activations). ``in_elems``/``out_elems`` are the activation tensors read
    and written (for ``qk``: Q and K in, the score matrix out; for ``av``: the scores and V in).
    ``sas_entries`` is nonzero for self-attention scores only.
    """

    name: str
    kind: str
    block: str
    side: int
    m: int
    k: int
    n: int
    batch: int = 1
    params: int = 0
    weight_elems: int = 0
    in_elems: int = 0
    out_elems: int = 0
    sas_entries: int = 0
    tags: tuple = field(default=())

    @property
    def macs(self) -> int:
        return self.batch * self.m * self.k * self.n

    @property
    def is_gemm(self) -> bool:
        return self.kind in _GEMM_KINDS


class _Builder:
    def __init__(self, spec: UNetSpec):
        self.spec = spec
        self.layers: list[Layer] = []

    def add(self, **kw):
        self.layers.append(Layer(**kw))

    def conv(self, name, block, side_in, c_in, c_out, kernel=3, stride=1):
        side = side_in // stride
        k = c_in * kernel * kernel
        self.add(name=name, kind="conv", block=block, side=side, m=side * side, k=k, n=c_out,
                 params=k * c_out + c_out, weight_elems=k * c_out,
                 in_elems=side_in * side_in * c_in, out_elems=side * side * c_out)

    def linear(self, name, block, side, tokens, k, n, bias=True, kind="linear", tags=()):
        self.add(name=name, kind=kind, block=block, side=side, m=tokens, k=k, n=n,
                 params=k * n + (n if bias else 0), weight_elems=k * n,
                 in_elems=tokens * k, out_elems=tokens * n, tags=tags)

    def norm(self, name, block, side, channels):
        self.add(name=name, kind="norm", block=block, side=side, m=0, k=0, n=0,
                 params=2 * channels)

    def resblock(self, name, side, c_in, c_out):
        s = self.spec
        self.norm(f"{name}.norm1", name, side, c_in)
        self.conv(f"{name}.conv1", name, side, c_in, c_out)
        # The timestep embedding is projected once per ResBlock (one token).
        self.linear(f"{name}.time_emb_proj", name, side, 1, s.time_embed, c_out)
        self.norm(f"{name}.norm2", name, side, c_out)
        self.conv(f"{name}.conv2", name, side, c_out, c_out)
        if c_in != c_out:
            self.conv(f"{name}.conv_shortcut", name, side, c_in, c_out, kernel=1)

    def transformer(self, name, side, c):
        s = self.spec
        n = side * side
        d = c // s.heads
        self.norm(f"{name}.norm", name, side, c)
        self.conv(f"{name}.proj_in", name, side, c, c, kernel=1)
        blk = f"{name}.block"
        self.norm(f"{blk}.norm1", name, side, c)
        for proj in ("to_q", "to_k", "to_v"):
            self.linear(f"{blk}.attn1.{proj}", name, side, n, c, c, bias=False)
        self.add(name=f"{blk}.attn1.qk", kind="qk", block=name, side=side, m=n, k=d, n=n,
                 batch=s.heads, in_elems=2 * n * c, out_elems=s.heads * n * n,
                 sas_entries=s.heads * n * n, tags=("self",))
        self.add(name=f"{blk}.attn1.av", kind="av", block=name, side=side, m=n, k=n, n=d,
                 batch=s.heads, in_elems=s.heads * n * n + n * c, out_elems=n * c,
                 tags=("self",))
        self.linear(f"{blk}.attn1.to_out", name, side, n, c, c)
        self.norm(f"{blk}.norm2", name, side, c)
        t = s.text_tokens
        self.linear(f"{blk}.attn2.to_q", name, side, n, c, c, bias=False)
        # Keys and values come from the text embedding: t tokens, not n.
        self.linear(f"{blk}.attn2.to_k", name, side, t, s.text_width, c, bias=False)
        self.linear(f"{blk}.attn2.to_v", name, side, t, s.text_width, c, bias=False)
        self.add(name=f"{blk}.attn2.qk", kind="qk", block=name, side=side, m=n, k=d, n=t,
                 batch=s.heads, in_elems=n * c + t * c, out_elems=s.heads * n * t,
                 tags=("cross",))
        self.add(name=f"{blk}.attn2.av", kind="av", block=name, side=side, m=n, k=t, n=d,
                 batch=s.heads, in_elems=s.heads * n * t + t * c, out_elems=n * c,
                 tags=("cross",))
        self.linear(f"{blk}.attn2.to_out", name, side, n, c, c)
        self.norm(f"{blk}.norm3", name, side, c)
        hidden = s.ffn_mult * c
        # GEGLU: one projection yields value and gate halves (2 * hidden wide).
        self.linear(f"{blk}.ff.geglu_proj", name, side, n, c, 2 * hidden, kind="ffn",
                    tags=("ffn",))
        self.linear(f"{blk}.ff.out", name, side, n, hidden, c, kind="ffn", tags=("ffn",))
        self.conv(f"{name}.proj_out", name, side, c, c, kernel=1)


def unet_layers(spec: UNetSpec | None = None) -> list[Layer]:
    """Every layer of one U-Net pass (one denoising step, batch 1), in execution order."""
    spec = spec or UNetSpec()
    b = _Builder(spec)
    ch = spec.block_channels
    side = spec.latent
    c0 = ch[0]

    b.linear("time_embedding.linear_1", "time_embedding", 0, 1, spec.time_width,
             spec.time_embed)
    b.linear("time_embedding.linear_2", "time_embedding", 0, 1, spec.time_embed,
             spec.time_embed)
    b.conv("conv_in", "conv_in", side, spec.latent_channels, c0)

    skips = [c0]
    c_prev = c0
    for level, c in enumerate(ch):
        for i in range(spec.down_resblocks):
            b.resblock(f"down{level}.res{i}", side, c_prev, c)
            if spec.attention_levels[level]:
                b.transformer(f"down{level}.attn{i}", side, c)
            c_prev = c
            skips.append(c)
        if level < len(ch) - 1:
            b.conv(f"down{level}.downsample", f"down{level}", side, c, c, stride=2)
            side //= 2
            skips.append(c)

    b.resblock("mid.res0", side, c_prev, c_prev)
    b.transformer("mid.attn0", side, c_prev)
    b.resblock("mid.res1", side, c_prev, c_prev)

    for up, c in enumerate(reversed(ch)):
        level = len(ch) - 1 - up
        for i in range(spec.up_resblocks):
            skip = skips.pop()
            b.resblock(f"up{up}.res{i}", side, c_prev + skip, c)
            if spec.attention_levels[level]:
                b.transformer(f"up{up}.attn{i}", side, c)
            c_prev = c
        if level > 0:
            # Nearest-neighbour 2x upsampling, then a 3x3 convolution at the new size.
            side *= 2
            b.conv(f"up{up}.upsample", f"up{up}", side, c, c)

    b.norm("conv_norm_out", "conv_out", side, c_prev)
    b.conv("conv_out", "conv_out", side, c_prev, spec.latent_channels)
    return b.layers


def totals(layers: list[Layer]) -> dict:
    """MACs per kind, SAS entries, parameters and GEMM weights of a layer list."""
    by_kind = {}
    for layer in layers:
        if layer.is_gemm:
            by_kind[layer.kind] = by_kind.get(layer.kind, 0) + layer.macs
    attention_scores = sum(l.macs for l in layers if l.kind in ("qk", "av"))
    return {
        "macs": sum(l.macs for l in layers if l.is_gemm),
        "macs_by_kind": by_kind,
        "attention_score_macs": attention_scores,
        "self_attention_score_macs": sum(l.macs for l in layers
                                         if l.kind in ("qk", "av") and "self" in l.tags),
        "ffn_macs": by_kind.get("ffn", 0),
        "sas_entries": sum(l.sas_entries for l in layers),
        "params": sum(l.params for l in layers),
        "gemm_weights": sum(l.weight_elems for l in layers),
        "transformer_blocks": sum(1 for l in layers if l.name.endswith("attn1.qk")),
        "layers": sum(1 for l in layers if l.is_gemm),
    }


def sas_by_resolution(layers: list[Layer]) -> dict[int, dict]:
    """Per latent side: self-attention count and SAS entries of each one (paper.md's table)."""
    out: dict[int, dict] = {}
    for layer in layers:
        if layer.sas_entries:
            row = out.setdefault(layer.side, {"tokens": layer.m, "blocks": 0,
                                              "entries_per_attention": layer.sas_entries})
            row["blocks"] += 1
    return out


def with_image(spec: UNetSpec, image: int) -> UNetSpec:
    """The same architecture at another image size."""
    return replace(spec, image=image)
