"""A tiny, seeded, random-weight Qwen3-VL written from the architecture description (HF
transformers models/qwen3_vl, read as a reference, not copied): the PyTorch reference the
qwen3_kit.py exports must reproduce.

Vision tower: Conv3d patch embedding with bias over flattened [C*T*P*P] patches (patch 16,
temporal 2); a learned `pos_embed` table of num_position_embeddings = n*n entries, bilinearly
interpolated (corner-aligned, as HF fast_pos_embed_interpolate) to every image's patch grid and
added in the processor's 2x2-merge-block order; the 2-D rotary positions of Qwen2-VL; pre-LayerNorm
blocks whose attention stays inside one image frame (no windows) with a linear_fc1 / gelu(tanh) /
linear_fc2 MLP; the merger (LayerNorm on the ViT width, 2x2 merge, fc1, GELU, fc2); and one
DeepStack merger per entry of `deepstack_visual_indexes` (LayerNorm on the merged 4x width, then
the same MLP) applied to the hidden states after that block.

Decoder: Qwen3 (no q/k/v bias, RMSNorm per head on q and k before the rotary embedding, GQA,
SwiGLU) with interleaved M-RoPE: rotary frequency j takes its angle from the height position if
j % 3 == 1 and j < 3 * mrope_section[1], from the width position if j % 3 == 2 and
j < 3 * mrope_section[2], otherwise from the temporal one (HF apply_interleaved_mrope). DeepStack:
after decoder layer i (i < number of DeepStack features) the hidden states at image-token
positions get DeepStack feature i added; here the decoder takes `deepstack` [L, B, S, H] already
scattered onto the sequence (zeros elsewhere), which adds exactly the same.
"""
import copy
import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from . import qwen2_vl as Q
from .modeling import RMSNorm, causal_bias, repeat_kv, rotate_half
from .reference import greedy

TINY = dict(
    vision=dict(depth=3, embed_dim=16, num_heads=2, intermediate_size=32, patch_size=16, temporal_patch_size=2,
                spatial_merge_size=2, in_chans=3, eps=1e-6, theta=10000.0, num_position_embeddings=64,
                deepstack_visual_indexes=[0, 1]),
    # head_dim 16 -> 8 rotary frequencies; interleaved [3, 3, 2]: T at 0,3,6, H at 1,4,7, W at 2,5.
    text=dict(hidden=64, layers=3, heads=4, kv_heads=2, head_dim=16, intermediate=128, rms_eps=1e-6,
              rope_theta=5000000.0, mrope_section=[3, 3, 2], max_positions=4096),
    image=dict(min_pixels=32 * 32 * 4, max_pixels=32 * 32 * 64, resample=3, mean=[0.5, 0.5, 0.5], std=[0.5, 0.5, 0.5]),
)


def interleaved_axes(mrope_section, half):
    """Position axis (0 = t, 1 = h, 2 = w) of each of the `half` rotary frequencies."""
    axes = []
    for j in range(half):
        if j % 3 == 1 and j < 3 * mrope_section[1]:
            axes.append(1)
        elif j % 3 == 2 and j < 3 * mrope_section[2]:
            axes.append(2)
        else:
            axes.append(0)
    return axes


# --------------------------------------------------------------------------- vision tower
class VisionMlp(nn.Module):
    def __init__(self, d, hidden):
        super().__init__()
        self.linear_fc1 = nn.Linear(d, hidden)
        self.linear_fc2 = nn.Linear(hidden, d)

    def forward(self, x):
        return self.linear_fc2(F.gelu(self.linear_fc1(x), approximate="tanh"))


class VisionBlock(nn.Module):
    def __init__(self, v):
        super().__init__()
        d = v["embed_dim"]
        self.heads = v["num_heads"]
        self.norm1 = nn.LayerNorm(d, eps=v["eps"])
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)
        self.norm2 = nn.LayerNorm(d, eps=v["eps"])
        self.mlp = VisionMlp(d, v["intermediate_size"])

    def forward(self, x, cos, sin, bias):
        n, d = x.shape
        hd = d // self.heads
        q, k, val = self.qkv(self.norm1(x)).view(n, 3, self.heads, hd).permute(1, 2, 0, 3).unbind(0)  # [h,n,hd]
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        a = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(hd) + bias, dim=-1) @ val
        x = x + self.proj(a.transpose(0, 1).reshape(n, d))
        return x + self.mlp(self.norm2(x))


class Merger(nn.Module):
    """2x2 merge + MLP to the decoder width. postshuffle=False: LayerNorm on the ViT width before
    the merge (the final merger); True: LayerNorm on the merged 4x width (DeepStack mergers)."""

    def __init__(self, v, out, postshuffle):
        super().__init__()
        ctx, merge = v["embed_dim"], v["spatial_merge_size"]
        self.width = ctx * merge * merge
        self.postshuffle = postshuffle
        self.norm = nn.LayerNorm(self.width if postshuffle else ctx, eps=v["eps"])
        self.linear_fc1 = nn.Linear(self.width, self.width)
        self.linear_fc2 = nn.Linear(self.width, out)

    def forward(self, x):
        x = self.norm(x.reshape(-1, self.width)) if self.postshuffle else self.norm(x).reshape(-1, self.width)
        return self.linear_fc2(F.gelu(self.linear_fc1(x)))


class VisionTower(nn.Module):
    """pixel_values [num_patches, C*T*P*P], grid_thw [num_images, 3] -> (image_features
    [num_patches/m^2, H], deepstack features [L, num_patches/m^2, H])."""

    def __init__(self, v, out_hidden):
        super().__init__()
        self.v = v
        d, hd = v["embed_dim"], v["embed_dim"] // v["num_heads"]
        k = (v["temporal_patch_size"], v["patch_size"], v["patch_size"])
        self.patch_embed = nn.Conv3d(v["in_chans"], d, k, stride=k, bias=True)
        self.side = int(round(math.sqrt(v["num_position_embeddings"])))
        if self.side * self.side != v["num_position_embeddings"]:
            raise ValueError(f"num_position_embeddings must be a square, got {v['num_position_embeddings']}")
        self.pos_embed = nn.Embedding(v["num_position_embeddings"], d)
        rot = hd // 2
        inv = 1.0 / (v["theta"] ** (torch.arange(0, rot, 2, dtype=torch.float32) / rot))
        self.register_buffer("inv_freq", inv, persistent=False)
        self.blocks = nn.ModuleList(VisionBlock(v) for _ in range(v["depth"]))
        self.merger = Merger(v, out_hidden, False)
        self.deepstack_merger_list = nn.ModuleList(Merger(v, out_hidden, True) for _ in v["deepstack_visual_indexes"])

    def interpolated_pos(self, img, row, col, grid_thw):
        """Bilinear, corner-aligned interpolation of the side x side table at every patch's (row,
        col) of its image's h x w grid: coordinate row * (side-1) / (h-1) (0 if h == 1), the four
        neighbours floor / min(floor+1, side-1), weights (1-dh)(1-dw), (1-dh)dw, dh(1-dw), dh*dw."""
        n1 = self.side - 1
        h, w = grid_thw[:, 1][img], grid_thw[:, 2][img]
        hp = (row * n1).float() / torch.clamp(h - 1, min=1).float()
        wp = (col * n1).float() / torch.clamp(w - 1, min=1).float()
        hf, wf = hp.long(), wp.long()
        hc, wc = torch.clamp(hf + 1, max=n1), torch.clamp(wf + 1, max=n1)
        dh, dw = (hp - hf.float())[:, None], (wp - wf.float())[:, None]
        e = self.pos_embed
        return (e(hf * self.side + wf) * ((1 - dh) * (1 - dw)) + e(hf * self.side + wc) * ((1 - dh) * dw)
                + e(hc * self.side + wf) * (dh * (1 - dw)) + e(hc * self.side + wc) * (dh * dw))

    def forward(self, pixel_values, grid_thw, deepstack=True):
        v = self.v
        x = self.patch_embed(pixel_values.view(-1, v["in_chans"], v["temporal_patch_size"], v["patch_size"],
                                               v["patch_size"])).view(-1, v["embed_dim"])
        img, frame, row, col = Q.patch_layout(grid_thw, x.shape[0], v["spatial_merge_size"])
        x = x + self.interpolated_pos(img, row, col, grid_thw)
        rot = torch.cat([row.float()[:, None] * self.inv_freq, col.float()[:, None] * self.inv_freq], -1)
        emb = torch.cat([rot, rot], -1)
        cos, sin = emb.cos()[None], emb.sin()[None]
        bias = Q.additive((img[:, None] == img[None, :]) & (frame[:, None] == frame[None, :]))
        feats = []
        for i, blk in enumerate(self.blocks):
            x = blk(x, cos, sin, bias)
            if deepstack and i in v["deepstack_visual_indexes"]:
                feats.append(self.deepstack_merger_list[v["deepstack_visual_indexes"].index(i)](x))
        out = self.merger(x)
        return out, (torch.stack(feats) if feats else None)


# --------------------------------------------------------------------------- decoder
class Qwen3Layer(nn.Module):
    def __init__(self, t):
        super().__init__()
        h, hd = t["hidden"], t["head_dim"]
        self.heads, self.kv_heads, self.hd = t["heads"], t["kv_heads"], hd
        self.input_layernorm = RMSNorm(h, t["rms_eps"])
        self.q_proj = nn.Linear(h, self.heads * hd, bias=False)
        self.k_proj = nn.Linear(h, self.kv_heads * hd, bias=False)
        self.v_proj = nn.Linear(h, self.kv_heads * hd, bias=False)
        self.o_proj = nn.Linear(self.heads * hd, h, bias=False)
        self.q_norm = RMSNorm(hd, t["rms_eps"])
        self.k_norm = RMSNorm(hd, t["rms_eps"])
        self.post_attention_layernorm = RMSNorm(h, t["rms_eps"])
        self.gate_proj = nn.Linear(h, t["intermediate"], bias=False)
        self.up_proj = nn.Linear(h, t["intermediate"], bias=False)
        self.down_proj = nn.Linear(t["intermediate"], h, bias=False)

    def forward(self, x, cos, sin, mask, past_k=None, past_v=None):
        b, s, _ = x.shape
        hn = self.input_layernorm(x)
        q = self.q_norm(self.q_proj(hn).view(b, s, self.heads, self.hd)).transpose(1, 2)
        k = self.k_norm(self.k_proj(hn).view(b, s, self.kv_heads, self.hd)).transpose(1, 2)
        val = self.v_proj(hn).view(b, s, self.kv_heads, self.hd).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        if past_k is not None:
            k = torch.cat([past_k, k], dim=2)
            val = torch.cat([past_v, val], dim=2)
        rep = self.heads // self.kv_heads
        scores = (q @ repeat_kv(k, rep).transpose(-1, -2)) / math.sqrt(self.hd) + mask
        a = torch.softmax(scores, dim=-1) @ repeat_kv(val, rep)
        x = x + self.o_proj(a.transpose(1, 2).reshape(b, s, self.heads * self.hd))
        hn = self.post_attention_layernorm(x)
        return x + self.down_proj(F.silu(self.gate_proj(hn)) * self.up_proj(hn)), k, val


class Qwen3Decoder(nn.Module):
    def __init__(self, t, vocab):
        super().__init__()
        self.t = t
        hd = t["head_dim"]
        self.embed_tokens = nn.Embedding(vocab, t["hidden"])
        self.layers = nn.ModuleList(Qwen3Layer(t) for _ in range(t["layers"]))
        self.norm = RMSNorm(t["hidden"], t["rms_eps"])
        self.lm_head = nn.Linear(t["hidden"], vocab, bias=False)
        inv = 1.0 / (t["rope_theta"] ** (torch.arange(0, hd, 2, dtype=torch.float32) / hd))
        self.register_buffer("inv_freq", inv, persistent=False)
        self.axes = interleaved_axes(t["mrope_section"], hd // 2)

    def mrope(self, position_ids):
        """position_ids [3,B,S] -> cos, sin [B,1,S,hd] with the interleaved frequency layout."""
        freqs = position_ids[..., None].float() * self.inv_freq                      # [3,B,S,hd/2]
        f = torch.stack([freqs[a, :, :, j] for j, a in enumerate(self.axes)], -1)    # [B,S,hd/2]
        emb = torch.cat([f, f], -1)
        return emb.cos()[:, None], emb.sin()[:, None]

    def forward(self, inputs_embeds, attention_mask, position_ids, past=None, deepstack=None):
        """deepstack: None, or [L, B, S, H] added to the output of layers 0..L-1."""
        s = inputs_embeds.shape[1]
        past_len = past[0][0].shape[2] if past is not None else 0
        cos, sin = self.mrope(position_ids)
        mask = causal_bias(s, past_len, attention_mask)
        x, presents = inputs_embeds, []
        for i, layer in enumerate(self.layers):
            pk, pv = past[i] if past is not None else (None, None)
            x, k, v = layer(x, cos, sin, mask, pk, pv)
            if deepstack is not None and i < deepstack.shape[0]:
                x = x + deepstack[i]
            presents.append((k, v))
        logits = self.lm_head(self.norm(x))
        if getattr(self, "kv_fp16", False):    # simulation of the _fp16 graph's float16 outputs (variants.py)
            presents = [(k.half().float(), v.half().float()) for k, v in presents]
            logits = logits.half().float()
        return logits, presents


class Qwen3VL(nn.Module):
    def __init__(self, cfg, vocab):
        super().__init__()
        self.cfg, self.vocab = cfg, vocab
        self.visual = VisionTower(cfg["vision"], cfg["text"]["hidden"])
        self.model = Qwen3Decoder(cfg["text"], vocab)

    @property
    def decoder(self):
        """The text decoder, under the name variants.simulate and export.EmbedTokens use."""
        return self.model


def build_model(cfg, vocab, seed):
    m = Q.init_weights(Qwen3VL(copy.deepcopy(cfg), vocab), seed).eval()
    for p in m.parameters():
        p.requires_grad_(False)
    return m


def scatter_deepstack(ids, image_token_id, feats):
    """DeepStack features [L, n_img, H] -> [L, 1, S, H]: row k of each level at the k-th image
    token of `ids`, zeros elsewhere (the decoder graph's `deepstack_embeds`)."""
    mask = torch.tensor(ids) == image_token_id
    out = torch.zeros(feats.shape[0], 1, len(ids), feats.shape[2])
    out[:, 0, mask] = feats
    return out


# --------------------------------------------------------------------------- reference inference
class Reference:
    """PIL images + prompt ids -> greedy generation with the KV cache. deepstack=False runs the
    same weights without DeepStack (what transformers.js 4.3.1 computes for qwen3_vl)."""

    def __init__(self, model, image_token_id, deepstack=True):
        self.m, self.image_token_id, self.deepstack = model, image_token_id, deepstack

    @torch.no_grad()
    def encode_images(self, pils):
        if not pils:
            return None, None, None, []
        pix, grids = [], []
        for pil in pils:
            px, grid, _ = Q.preprocess(pil, self.m.cfg)
            pix.append(px)
            grids.append(grid)
        pv = torch.from_numpy(np.concatenate(pix))
        feats, ds = self.m.visual(pv, torch.tensor(grids, dtype=torch.long))
        return pv, feats, ds, grids

    @torch.no_grad()
    def generate(self, ids, pils, max_new_tokens, eos_ids, decode_start=None):
        pv, feats, ds, grids = self.encode_images(pils)
        dec = self.m.model
        x = dec.embed_tokens(torch.tensor([ids]))
        mask_img = torch.tensor([ids])[..., None] == self.image_token_id
        n_img = int(mask_img.sum())
        if n_img != (0 if feats is None else feats.shape[0]):
            raise ValueError(f"{n_img} image tokens but {0 if feats is None else feats.shape[0]} feature rows")
        deep = None
        if feats is not None:
            x = x.masked_scatter(mask_img, feats)
            if self.deepstack:
                deep = scatter_deepstack(ids, self.image_token_id, ds)
        pos, nxt_pos = Q.rope_index(ids, grids, self.image_token_id, self.m.cfg["vision"]["spatial_merge_size"])
        s = len(ids)
        rope_delta = nxt_pos - s
        if decode_start is not None:
            nxt_pos = decode_start
        logits, past = dec(x, torch.ones(1, s, dtype=torch.long), torch.tensor(pos)[:, None, :], None, deep)
        first = logits[0, -1].clone()
        cache = [past]

        def step(tok, k):
            p = torch.full((3, 1, 1), nxt_pos + k, dtype=torch.long)
            lg, cache[0] = dec(dec.embed_tokens(torch.tensor([[tok]])), torch.ones(1, s + k + 1, dtype=torch.long), p,
                               cache[0])
            return lg[0, -1]
        out, finish, margins = greedy(logits[0, -1], step, max_new_tokens, eos_ids)
        return dict(generated_ids=out, first_logits=first, finish_reason=finish, grids=grids, pixel_values=pv,
                    image_features=feats, deepstack_features=ds, image_token_count=n_img, position_ids=pos,
                    rope_delta=rope_delta, min_top2_margin=min(margins) if margins else None)


def check_pos_interpolation(model, grids):
    """interpolated_pos agrees with an independent loop version of the HF recipe (torch.linspace
    coordinates, row-major grid permuted into merge-block order) on `grids`."""
    vt = model.visual
    m, side = vt.v["spatial_merge_size"], vt.side
    table = vt.pos_embed.weight
    want = []
    for t, h, w in grids:
        hs, ws = torch.linspace(0, side - 1, h), torch.linspace(0, side - 1, w)
        grid = torch.zeros(h, w, table.shape[1])
        for r in range(h):
            for c in range(w):
                r0, c0 = int(hs[r]), int(ws[c])
                r1, c1 = min(r0 + 1, side - 1), min(c0 + 1, side - 1)
                dh, dw = float(hs[r] - r0), float(ws[c] - c0)
                grid[r, c] = (table[r0 * side + c0] * (1 - dh) * (1 - dw) + table[r0 * side + c1] * (1 - dh) * dw
                              + table[r1 * side + c0] * dh * (1 - dw) + table[r1 * side + c1] * dh * dw)
        blocks = grid.view(h // m, m, w // m, m, -1).permute(0, 2, 1, 3, 4).reshape(h * w, -1)
        want.append(blocks.repeat(t, 1))
    g = torch.tensor(grids)
    n = int((g[:, 0] * g[:, 1] * g[:, 2]).sum())
    img, _, row, col = Q.patch_layout(g, n, m)
    got = vt.interpolated_pos(img, row, col, g)
    err = float((got - torch.cat(want)).abs().max())
    if err > 1e-5:
        raise AssertionError(f"pos_embed interpolation differs from the HF recipe by {err} for {grids}")
    return err
