"""The tiny VLM: a ViT image encoder, an MLP projector (after Idefics3's pixel shuffle), CROME-style
gated cross-modal adapters, and a Llama-style decoder (RMSNorm, RoPE, grouped-query attention,
SwiGLU). Plain PyTorch modules written so that the legacy TorchScript ONNX exporter produces the
graph I/O that transformers.js expects (onnx-contracts.md section 8.2).
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from . import config as C


# --------------------------------------------------------------------------- vision tower
class VitBlock(nn.Module):
    def __init__(self, d, heads, mlp, eps):
        super().__init__()
        self.heads = heads
        self.ln1 = nn.LayerNorm(d, eps=eps)
        self.qkv = nn.Linear(d, 3 * d)
        self.out = nn.Linear(d, d)
        self.ln2 = nn.LayerNorm(d, eps=eps)
        self.fc1 = nn.Linear(d, mlp)
        self.fc2 = nn.Linear(mlp, d)

    def forward(self, x):
        b, t, d = x.shape
        hd = d // self.heads
        q, k, v = self.qkv(self.ln1(x)).split(d, dim=-1)
        q = q.view(b, t, self.heads, hd).transpose(1, 2)
        k = k.view(b, t, self.heads, hd).transpose(1, 2)
        v = v.view(b, t, self.heads, hd).transpose(1, 2)
        a = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(hd), dim=-1) @ v
        x = x + self.out(a.transpose(1, 2).reshape(b, t, d))
        return x + self.fc2(F.gelu(self.fc1(self.ln2(x)), approximate="tanh"))


class ConvPatchEmbedding(nn.Module):
    """Patch embedding as a small convolutional stem (3x3 convs, stride 2 three times): one token per
    8x8 patch, like a linear patch embedding, with better local features for a tiny ViT."""

    def __init__(self, d):
        super().__init__()
        self.c1 = nn.Conv2d(3, d // 2, 3, 2, 1)
        self.c2 = nn.Conv2d(d // 2, d, 3, 2, 1)
        self.c3 = nn.Conv2d(d, d, 3, 2, 1)

    def forward(self, x):
        return self.c3(F.gelu(self.c2(F.gelu(self.c1(x)))))


class VisionTransformer(nn.Module):
    """[N,3,64,64] -> patch features [N,64,d] (post-layernorm)."""

    def __init__(self, cfg=C.VIT):
        super().__init__()
        d = cfg["hidden"]
        self.patch = ConvPatchEmbedding(d) if cfg.get("conv_stem") else nn.Conv2d(3, d, C.PATCH, C.PATCH)
        self.pos = nn.Parameter(torch.randn(1, C.PATCHES_PER_FRAME, d) * 0.02)
        self.blocks = nn.ModuleList(VitBlock(d, cfg["heads"], cfg["mlp"], cfg["eps"]) for _ in range(cfg["layers"]))
        self.post_ln = nn.LayerNorm(d, eps=cfg["eps"])

    def forward(self, px):
        x = self.patch(px).flatten(2).transpose(1, 2) + self.pos
        for blk in self.blocks:
            x = blk(x)
        return self.post_ln(x)


def pixel_shuffle(x, scale_factor=C.SCALE_FACTOR):
    """Idefics3Connector.pixel_shuffle: [n, seq, d] -> [n, seq/s^2, d*s^2]."""
    bsz, seq, embed_dim = x.size()
    height = width = int(seq ** 0.5)
    x = x.view(bsz, height, width, embed_dim)
    x = x.view(bsz, height, int(width / scale_factor), embed_dim * scale_factor)
    x = x.permute(0, 2, 1, 3)
    x = x.reshape(bsz, int(width / scale_factor), int(height / scale_factor), embed_dim * (scale_factor ** 2))
    x = x.permute(0, 2, 1, 3)
    return x.reshape(bsz, int(seq / (scale_factor ** 2)), embed_dim * (scale_factor ** 2))


class Projector(nn.Module):
    """Pixel shuffle + 2-layer MLP: ViT features [N,64,d] -> image embeddings [N,16,H]."""

    def __init__(self):
        super().__init__()
        din = C.VIT["hidden"] * C.SCALE_FACTOR ** 2
        self.fc1 = nn.Linear(din, C.TEXT["hidden"])
        self.fc2 = nn.Linear(C.TEXT["hidden"], C.TEXT["hidden"])

    def forward(self, feats):
        return self.fc2(F.gelu(self.fc1(pixel_shuffle(feats))))


class GatedAdapter(nn.Module):
    """CROME-style gated cross-modal adapter.

    v = projector(features); q = mean of the query's token embeddings;
    out = v + up( silu(down_v(v) + down_q(q)) * sigmoid(gate(down_q(q))) ).
    The up-projection starts at zero, so a fresh adapter equals its projector.
    """

    def __init__(self, projector, rank=C.ADAPTER_RANK):
        super().__init__()
        h = C.TEXT["hidden"]
        self.proj = Projector()
        self.proj.load_state_dict(projector.state_dict())
        self.down_v = nn.Linear(h, rank)
        self.down_q = nn.Linear(h, rank)
        self.gate = nn.Linear(rank, rank)
        self.up = nn.Linear(rank, h)
        nn.init.zeros_(self.up.weight)
        nn.init.zeros_(self.up.bias)

    def forward(self, feats, query_embeds):
        v = self.proj(feats)
        count = torch.ones_like(query_embeds[:, :, 0]).sum(1, keepdim=True)      # [1,1]; 0 if no query
        q = query_embeds.sum(1) / torch.clamp(count, min=1.0)                      # mean, [1,H]
        dq = self.down_q(q)
        g = torch.sigmoid(self.gate(dq))
        hmid = F.silu(self.down_v(v) + dq[:, None, :]) * g[:, None, :]
        return v + self.up(hmid)


# --------------------------------------------------------------------------- decoder
class RMSNorm(nn.Module):
    def __init__(self, d, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(d))
        self.eps = eps

    def forward(self, x):
        var = x.pow(2).mean(-1, keepdim=True)
        return self.weight * (x * torch.rsqrt(var + self.eps))


def repeat_kv(x, rep):
    """[B, kv, T, hd] -> [B, kv*rep, T, hd] (each KV head shared by `rep` query heads)."""
    b, kvh, t, hd = x.shape
    return x[:, :, None, :, :].expand(b, kvh, rep, t, hd).reshape(b, kvh * rep, t, hd)


def rotate_half(x):
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((-x2, x1), dim=-1)


def causal_bias(s, past_len, attention_mask=None):
    """Additive attention bias [B|1, 1, s, past_len+s]: causal, and 0-entries of
    `attention_mask` [B, past_len+s] masked out (float32 min)."""
    total = past_len + s
    q_idx = torch.arange(s)[:, None] + past_len
    k_idx = torch.arange(total)[None, :]
    allowed = (k_idx <= q_idx)[None, None]
    if attention_mask is not None:
        allowed = allowed & (attention_mask[:, None, None, :] > 0)
    return torch.zeros(allowed.shape, dtype=torch.float32).masked_fill(~allowed, torch.finfo(torch.float32).min)


class DecoderLayer(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        h, hd = cfg["hidden"], cfg["head_dim"]
        self.heads, self.kv_heads, self.hd = cfg["heads"], cfg["kv_heads"], hd
        self.input_layernorm = RMSNorm(h, cfg["rms_eps"])
        self.q_proj = nn.Linear(h, self.heads * hd, bias=False)
        self.k_proj = nn.Linear(h, self.kv_heads * hd, bias=False)
        self.v_proj = nn.Linear(h, self.kv_heads * hd, bias=False)
        self.o_proj = nn.Linear(self.heads * hd, h, bias=False)
        self.post_attention_layernorm = RMSNorm(h, cfg["rms_eps"])
        self.gate_proj = nn.Linear(h, cfg["intermediate"], bias=False)
        self.up_proj = nn.Linear(h, cfg["intermediate"], bias=False)
        self.down_proj = nn.Linear(cfg["intermediate"], h, bias=False)

    def forward(self, x, cos, sin, mask, past_k=None, past_v=None):
        b, s, _ = x.shape
        hn = self.input_layernorm(x)
        q = self.q_proj(hn).view(b, s, self.heads, self.hd).transpose(1, 2)
        k = self.k_proj(hn).view(b, s, self.kv_heads, self.hd).transpose(1, 2)
        v = self.v_proj(hn).view(b, s, self.kv_heads, self.hd).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        if past_k is not None:
            k = torch.cat([past_k, k], dim=2)
            v = torch.cat([past_v, v], dim=2)
        rep = self.heads // self.kv_heads
        kk = repeat_kv(k, rep)
        vv = repeat_kv(v, rep)
        scores = (q @ kk.transpose(-1, -2)) / math.sqrt(self.hd) + mask
        a = torch.softmax(scores, dim=-1) @ vv
        x = x + self.o_proj(a.transpose(1, 2).reshape(b, s, self.heads * self.hd))
        hn = self.post_attention_layernorm(x)
        x = x + self.down_proj(F.silu(self.gate_proj(hn)) * self.up_proj(hn))
        return x, k, v


class TextDecoder(nn.Module):
    def __init__(self, cfg=C.TEXT):
        super().__init__()
        self.cfg = cfg
        self.embed_tokens = nn.Embedding(C.MODEL_VOCAB, cfg["hidden"])
        self.layers = nn.ModuleList(DecoderLayer(cfg) for _ in range(cfg["layers"]))
        self.norm = RMSNorm(cfg["hidden"], cfg["rms_eps"])
        self.lm_head = nn.Linear(cfg["hidden"], C.MODEL_VOCAB, bias=False)
        hd = cfg["head_dim"]
        inv = 1.0 / (cfg["rope_theta"] ** (torch.arange(0, hd, 2, dtype=torch.float32) / hd))
        self.register_buffer("inv_freq", inv, persistent=False)

    def rope(self, position_ids):
        freqs = position_ids[:, :, None].to(torch.float32) * self.inv_freq[None, None, :]
        emb = torch.cat([freqs, freqs], dim=-1)
        return emb.cos()[:, None], emb.sin()[:, None]

    def forward(self, inputs_embeds, attention_mask=None, position_ids=None, past=None):
        """inputs_embeds [B,S,H]; attention_mask [B,past+S] (1 = attend); past: list of (k,v).

        Returns logits [B,S,V] and the list of present (k, v) [B,kv,past+S,hd].
        """
        b, s, _ = inputs_embeds.shape
        past_len = past[0][0].shape[2] if past is not None else 0
        if position_ids is None:
            position_ids = (torch.arange(s) + past_len)[None].expand(b, s)
        cos, sin = self.rope(position_ids)
        mask = causal_bias(s, past_len, attention_mask)
        x = inputs_embeds
        presents = []
        for i, layer in enumerate(self.layers):
            pk, pv = past[i] if past is not None else (None, None)
            x, k, v = layer(x, cos, sin, mask, pk, pv)
            presents.append((k, v))
        logits = self.lm_head(self.norm(x))
        if getattr(self, "kv_fp16", False):    # simulation of the _fp16 graph's float16 outputs
            presents = [(k.half().float(), v.half().float()) for k, v in presents]
            logits = logits.half().float()
        return logits, presents


class VLM(nn.Module):
    """Everything trained by the kit, in one module (for state_dict save/load)."""

    def __init__(self):
        super().__init__()
        self.vit = VisionTransformer()
        self.projector = Projector()
        self.decoder = TextDecoder()
        self.adapters = nn.ModuleDict()

    def add_adapter(self, name):
        self.adapters[name] = GatedAdapter(self.projector)
        return self.adapters[name]
