"""A compact UNet for noise (ε), x_0 or v prediction (Ho et al. 2020, App. B; Nichol & Dhariwal 2021).

Sinusoidal time embedding, residual blocks with GroupNorm and a time-conditioned shift and
scale, self-attention at the low resolutions, and any square input that the down-sampling
divides (2 ** (levels − 1)).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import torch
from torch import nn
from torch.nn import functional as F


@dataclass(frozen=True)
class UNetConfig:
    """Architecture of :class:`UNet`; stored in a model folder's config.json."""

    in_channels: int = 3
    base_channels: int = 64
    channel_mults: tuple[int, ...] = (1, 2, 2)
    num_res_blocks: int = 1
    attention_resolutions: tuple[int, ...] = (8,)
    dropout: float = 0.0
    groups: int = 16
    heads: int = 4
    image_size: int = 32
    extra: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        # A config.json can hold anything: check types here, so a bad file is one clear message
        # rather than a TypeError from deep inside torch.
        for name in ("in_channels", "base_channels", "num_res_blocks", "groups", "heads", "image_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if isinstance(self.dropout, bool) or not isinstance(self.dropout, (int, float)) or not 0 <= self.dropout < 1:
            raise ValueError(f"dropout must be a number in [0, 1), got {self.dropout!r}")
        for name in ("channel_mults", "attention_resolutions"):
            values = getattr(self, name)
            if not isinstance(values, (list, tuple)) or not all(
                isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in values
            ):
                raise ValueError(f"{name} must be a list of positive integers, got {values!r}")
            object.__setattr__(self, name, tuple(values))
        if not self.channel_mults:
            raise ValueError("channel_mults must not be empty")
        for mult in self.channel_mults:
            if (self.base_channels * mult) % self.groups:
                raise ValueError("base_channels × every channel multiplier must divide into groups")
            if (self.base_channels * mult) % self.heads:
                raise ValueError("base_channels × every channel multiplier must divide into heads")
        if self.image_size % self.downsample_factor:
            raise ValueError(
                f"image_size {self.image_size} is not divisible by the down-sampling factor {self.downsample_factor}"
            )

    @property
    def downsample_factor(self) -> int:
        return 2 ** (len(self.channel_mults) - 1)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["channel_mults"] = list(self.channel_mults)
        d["attention_resolutions"] = list(self.attention_resolutions)
        return d


def timestep_embedding(t: torch.Tensor, dim: int, max_period: float = 10000.0) -> torch.Tensor:
    """Sinusoidal embedding of integer timesteps (Vaswani et al. 2017, as in DDPM)."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, device=t.device, dtype=torch.float32) / half)
    args = t.float()[:, None] * freqs[None]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)


class ResBlock(nn.Module):
    def __init__(self, in_ch: int, out_ch: int, emb_dim: int, groups: int, dropout: float) -> None:
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, in_ch)
        self.conv1 = nn.Conv2d(in_ch, out_ch, 3, padding=1)
        self.emb = nn.Linear(emb_dim, 2 * out_ch)
        self.norm2 = nn.GroupNorm(groups, out_ch)
        self.dropout = nn.Dropout(dropout)
        self.conv2 = nn.Conv2d(out_ch, out_ch, 3, padding=1)
        nn.init.zeros_(self.conv2.weight)
        nn.init.zeros_(self.conv2.bias)
        self.skip = nn.Conv2d(in_ch, out_ch, 1) if in_ch != out_ch else nn.Identity()

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        scale, shift = self.emb(F.silu(emb))[:, :, None, None].chunk(2, dim=1)
        h = self.norm2(h) * (1 + scale) + shift
        h = self.conv2(self.dropout(F.silu(h)))
        return self.skip(x) + h


class AttentionBlock(nn.Module):
    def __init__(self, ch: int, groups: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.norm = nn.GroupNorm(groups, ch)
        self.qkv = nn.Conv2d(ch, 3 * ch, 1)
        self.proj = nn.Conv2d(ch, ch, 1)
        nn.init.zeros_(self.proj.weight)
        nn.init.zeros_(self.proj.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        qkv = self.qkv(self.norm(x)).reshape(b, 3, self.heads, c // self.heads, h * w)
        q, k, v = (qkv[:, i].transpose(-1, -2) for i in range(3))
        out = F.scaled_dot_product_attention(q, k, v)
        return x + self.proj(out.transpose(-1, -2).reshape(b, c, h, w))


class UNet(nn.Module):
    """UNet mapping (x_t, t) to a tensor shaped like x_t."""

    def __init__(self, config: UNetConfig) -> None:
        super().__init__()
        self.config = config
        ch = config.base_channels
        emb_dim = 4 * ch
        self.time_mlp = nn.Sequential(nn.Linear(ch, emb_dim), nn.SiLU(), nn.Linear(emb_dim, emb_dim))
        self.stem = nn.Conv2d(config.in_channels, ch, 3, padding=1)

        self.down = nn.ModuleList()
        skips = [ch]
        res = config.image_size
        cur = ch
        for level, mult in enumerate(config.channel_mults):
            for _ in range(config.num_res_blocks):
                out = ch * mult
                self.down.append(self._block(cur, out, emb_dim, res in config.attention_resolutions))
                cur = out
                skips.append(cur)
            if level < len(config.channel_mults) - 1:
                self.down.append(nn.Conv2d(cur, cur, 3, stride=2, padding=1))
                skips.append(cur)
                res //= 2

        self.mid = nn.ModuleList(
            [
                ResBlock(cur, cur, emb_dim, config.groups, config.dropout),
                AttentionBlock(cur, config.groups, config.heads),
                ResBlock(cur, cur, emb_dim, config.groups, config.dropout),
            ]
        )

        self.up = nn.ModuleList()
        for level, mult in reversed(list(enumerate(config.channel_mults))):
            for _ in range(config.num_res_blocks + 1):
                out = ch * mult
                self.up.append(self._block(cur + skips.pop(), out, emb_dim, res in config.attention_resolutions))
                cur = out
            if level > 0:
                self.up.append(nn.Upsample(scale_factor=2, mode="nearest"))
                self.up.append(nn.Conv2d(cur, cur, 3, padding=1))
                res *= 2

        self.out_norm = nn.GroupNorm(config.groups, cur)
        self.out_conv = nn.Conv2d(cur, config.in_channels, 3, padding=1)
        nn.init.zeros_(self.out_conv.weight)
        nn.init.zeros_(self.out_conv.bias)

    def _block(self, in_ch: int, out_ch: int, emb_dim: int, attention: bool) -> nn.Module:
        block = nn.ModuleList([ResBlock(in_ch, out_ch, emb_dim, self.config.groups, self.config.dropout)])
        if attention:
            block.append(AttentionBlock(out_ch, self.config.groups, self.config.heads))
        return block

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        size = x.shape[-1]
        if x.shape[-2] != size or size % self.config.downsample_factor:
            raise ValueError(
                f"input must be square with a side divisible by {self.config.downsample_factor}, got {tuple(x.shape[-2:])}"
            )
        emb = self.time_mlp(timestep_embedding(t, self.config.base_channels))
        h = self.stem(x)
        hs = [h]
        for layer in self.down:
            h = self._run_block(layer, h, emb)
            hs.append(h)
        for layer in self.mid:
            h = layer(h, emb) if isinstance(layer, ResBlock) else layer(h)
        for layer in self.up:
            if isinstance(layer, nn.ModuleList):
                h = self._run_block(layer, torch.cat([h, hs.pop()], dim=1), emb)
            else:
                h = layer(h)
        return self.out_conv(F.silu(self.out_norm(h)))

    @staticmethod
    def _run_block(layer: nn.Module, h: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        if isinstance(layer, nn.ModuleList):
            first, *rest = layer  # iterating, not slicing: a slice of a ModuleList builds a new one
            h = first(h, emb)
            for extra in rest:
                h = extra(h)
            return h
        return layer(h)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
