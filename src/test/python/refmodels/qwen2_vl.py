"""A tiny, seeded, random-weight Qwen2-VL written from the architecture description: the PyTorch
reference the exported graphs (qwen_kit.py) must reproduce.

Vision tower: Conv3d patch embedding over flattened [C*T*P*P] patches (temporal patch 2), 2-D
rotary positions (height and width halves of the rotary dims) in a pre-LayerNorm ViT whose
attention stays inside one image frame, and a PatchMerger (LayerNorm, 2x2 merge, GELU MLP) to the
decoder width. Decoder: Qwen2 (RMSNorm, q/k/v with bias, grouped-query attention, SwiGLU) with
M-RoPE: the rotary frequencies are split by `mrope_section` between the temporal, height and width
position ids of `position_ids [3, batch, seq]`.

Every data-dependent step of the vision tower (which image and which frame a patch belongs to, its
row and column) is computed with tensor ops from `grid_thw`, so one traced graph serves any number
and size of images.
"""
import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from . import imageproc
from .modeling import DecoderLayer, RMSNorm, causal_bias, rotate_half
from .reference import greedy

TINY = dict(
    vision=dict(depth=2, embed_dim=32, num_heads=2, mlp_ratio=2, patch_size=14, temporal_patch_size=2,
                spatial_merge_size=2, in_chans=3, eps=1e-6, theta=10000.0),
    text=dict(hidden=64, layers=2, heads=4, kv_heads=2, intermediate=128, rms_eps=1e-6, rope_theta=1000000.0,
              mrope_section=[2, 3, 3], max_positions=4096),
    image=dict(min_pixels=28 * 28 * 4, max_pixels=28 * 28 * 64, resample=3,
               mean=[0.48145466, 0.4578275, 0.40821073], std=[0.26862954, 0.26130258, 0.27577711]),
)


def floordiv(a, b):
    return torch.div(a, b, rounding_mode="floor")


# --------------------------------------------------------------------------- vision tower
class QuickGeluMlp(nn.Module):
    def __init__(self, d, hidden):
        super().__init__()
        self.fc1 = nn.Linear(d, hidden)
        self.fc2 = nn.Linear(hidden, d)

    def forward(self, x):
        h = self.fc1(x)
        return self.fc2(h * torch.sigmoid(1.702 * h))


class SwiGluMlp(nn.Module):
    """Qwen2.5-VL's vision MLP: down(silu(gate(x)) * up(x)), all with bias."""

    def __init__(self, d, hidden):
        super().__init__()
        self.gate_proj = nn.Linear(d, hidden)
        self.up_proj = nn.Linear(d, hidden)
        self.down_proj = nn.Linear(hidden, d)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


def vision_norm(v, d):
    return RMSNorm(d, v["eps"]) if v.get("norm") == "rms" else nn.LayerNorm(d, eps=v["eps"])


class VisionBlock(nn.Module):
    def __init__(self, v):
        super().__init__()
        d = v["embed_dim"]
        self.heads = v["num_heads"]
        self.norm1 = vision_norm(v, d)
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)
        self.norm2 = vision_norm(v, d)
        self.mlp = SwiGluMlp(d, v["intermediate_size"]) if v.get("mlp") == "swiglu" else QuickGeluMlp(d, d * v["mlp_ratio"])

    def forward(self, x, cos, sin, bias):
        n, d = x.shape
        hd = d // self.heads
        q, k, v = self.qkv(self.norm1(x)).view(n, 3, self.heads, hd).permute(1, 2, 0, 3).unbind(0)  # [h,n,hd]
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        a = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(hd) + bias, dim=-1) @ v
        x = x + self.proj(a.transpose(0, 1).reshape(n, d))
        return x + self.mlp(self.norm2(x))


class PatchMerger(nn.Module):
    def __init__(self, v, out):
        super().__init__()
        ctx, merge = v["embed_dim"], v["spatial_merge_size"]
        self.width = ctx * merge * merge
        self.ln_q = vision_norm(v, ctx)
        self.fc1 = nn.Linear(self.width, self.width)
        self.fc2 = nn.Linear(self.width, out)

    def forward(self, x):
        return self.fc2(F.gelu(self.fc1(self.ln_q(x).view(-1, self.width))))


def additive(allowed):
    return torch.zeros(allowed.shape, dtype=torch.float32).masked_fill(~allowed, torch.finfo(torch.float32).min)


def patch_layout(grid_thw, n, merge):
    """For patches 0..n-1 in the processor's order -> (image index, frame index, row, column)."""
    sizes = grid_thw[:, 0] * grid_thw[:, 1] * grid_thw[:, 2]
    ends = torch.cumsum(sizes, 0)
    idx = torch.arange(n)
    img = (idx[:, None] >= ends[None, :]).long().sum(1)
    local = idx - (ends - sizes)[img]
    h, w = grid_thw[:, 1][img], grid_thw[:, 2][img]
    frame = floordiv(local, h * w)
    within = local - frame * h * w
    block = merge * merge * floordiv(w, merge)                  # patches per row of merge blocks
    bh = floordiv(within, block)
    rest = within - bh * block
    bw = floordiv(rest, merge * merge)
    r = rest - bw * merge * merge
    return img, frame, bh * merge + floordiv(r, merge), bw * merge + (r - floordiv(r, merge) * merge)


class VisionTower(nn.Module):
    """pixel_values [num_patches, C*T*P*P], grid_thw [num_images, 3] -> image_features [num_patches/m^2, H]."""

    def __init__(self, v, out_hidden):
        super().__init__()
        self.v = v
        d, hd = v["embed_dim"], v["embed_dim"] // v["num_heads"]
        self.patch_embed = nn.Conv3d(v["in_chans"], d, (v["temporal_patch_size"], v["patch_size"], v["patch_size"]),
                                     stride=(v["temporal_patch_size"], v["patch_size"], v["patch_size"]), bias=False)
        rot = hd // 2
        inv = 1.0 / (v["theta"] ** (torch.arange(0, rot, 2, dtype=torch.float32) / rot))
        self.register_buffer("inv_freq", inv, persistent=False)
        self.blocks = nn.ModuleList(VisionBlock(v) for _ in range(v["depth"]))
        self.merger = PatchMerger(v, out_hidden)

    def forward(self, pixel_values, grid_thw):
        v = self.v
        x = self.patch_embed(pixel_values.view(-1, v["in_chans"], v["temporal_patch_size"], v["patch_size"],
                                               v["patch_size"])).view(-1, v["embed_dim"])
        img, frame, row, col = patch_layout(grid_thw, x.shape[0], v["spatial_merge_size"])
        rot = torch.cat([row.float()[:, None] * self.inv_freq, col.float()[:, None] * self.inv_freq], -1)
        emb = torch.cat([rot, rot], -1)
        cos, sin = emb.cos()[None], emb.sin()[None]
        same = (img[:, None] == img[None, :]) & (frame[:, None] == frame[None, :])
        full = additive(same)
        windowed = full
        if "window_size" in v:
            # Qwen2.5-VL: windows of window_size px (ws merge units a side), aligned at the image's
            # top-left corner; the same attention as HF's window reordering + cu_window_seqlens.
            ws = v["window_size"] // v["spatial_merge_size"] // v["patch_size"]
            m = v["spatial_merge_size"]
            wr, wc = floordiv(floordiv(row, m), ws), floordiv(floordiv(col, m), ws)
            windowed = additive(same & (wr[:, None] == wr[None, :]) & (wc[:, None] == wc[None, :]))
        for i, blk in enumerate(self.blocks):
            x = blk(x, cos, sin, full if i in v.get("fullatt_block_indexes", range(len(self.blocks))) else windowed)
        return self.merger(x)


# --------------------------------------------------------------------------- decoder
class Qwen2Layer(DecoderLayer):
    """modeling.DecoderLayer with Qwen2's biased q/k/v projections."""

    def __init__(self, t):
        super().__init__(dict(t, head_dim=t["hidden"] // t["heads"]))
        hd = t["hidden"] // t["heads"]
        self.q_proj = nn.Linear(t["hidden"], t["heads"] * hd)
        self.k_proj = nn.Linear(t["hidden"], t["kv_heads"] * hd)
        self.v_proj = nn.Linear(t["hidden"], t["kv_heads"] * hd)


class Qwen2Decoder(nn.Module):
    def __init__(self, t, vocab):
        super().__init__()
        self.t = t
        hd = t["hidden"] // t["heads"]
        self.embed_tokens = nn.Embedding(vocab, t["hidden"])
        self.layers = nn.ModuleList(Qwen2Layer(t) for _ in range(t["layers"]))
        self.norm = RMSNorm(t["hidden"], t["rms_eps"])
        self.lm_head = nn.Linear(t["hidden"], vocab, bias=False)
        inv = 1.0 / (t["rope_theta"] ** (torch.arange(0, hd, 2, dtype=torch.float32) / hd))
        self.register_buffer("inv_freq", inv, persistent=False)

    def mrope(self, position_ids):
        """position_ids [3,B,S] -> cos, sin [B,1,S,hd]: rotary dim chunks i of `mrope_section`*2 take
        their angle from the temporal (i%3=0), height (1) or width (2) position id."""
        freqs = position_ids[..., None].float() * self.inv_freq
        emb = torch.cat([freqs, freqs], -1)
        sec = list(self.t["mrope_section"]) * 2

        def pick(x):
            return torch.cat([c[i % 3] for i, c in enumerate(x.split(sec, dim=-1))], -1)[:, None]
        return pick(emb.cos()), pick(emb.sin())

    def forward(self, inputs_embeds, attention_mask, position_ids, past=None):
        s = inputs_embeds.shape[1]
        past_len = past[0][0].shape[2] if past is not None else 0
        cos, sin = self.mrope(position_ids)
        mask = causal_bias(s, past_len, attention_mask)
        x, presents = inputs_embeds, []
        for i, layer in enumerate(self.layers):
            pk, pv = past[i] if past is not None else (None, None)
            x, k, v = layer(x, cos, sin, mask, pk, pv)
            presents.append((k, v))
        logits = self.lm_head(self.norm(x))
        if getattr(self, "kv_fp16", False):    # simulation of the _fp16 graph's float16 outputs (variants.py)
            presents = [(k.half().float(), v.half().float()) for k, v in presents]
            logits = logits.half().float()
        return logits, presents


class Qwen2VL(nn.Module):
    def __init__(self, cfg, vocab):
        super().__init__()
        self.cfg, self.vocab = cfg, vocab
        self.visual = VisionTower(cfg["vision"], cfg["text"]["hidden"])
        self.model = Qwen2Decoder(cfg["text"], vocab)

    @property
    def decoder(self):
        """The text decoder, under the name variants.simulate uses."""
        return self.model


def init_weights(model, seed):
    """Seeded random weights with O(1) activations: N(0, 1/fan_in) matrices, N(0,1) embeddings,
    small random norm gains/biases, and an lm_head scaled so that logits are well separated."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() >= 2:
                fan_in = p[0].numel()
                std = 1.0 if "embed_tokens" in name else 1.0 / math.sqrt(fan_in)
                if "lm_head" in name:
                    std = 4.0 / math.sqrt(fan_in)
                p.copy_(torch.randn(p.shape, generator=g) * std)
            elif name.endswith("weight"):        # LayerNorm / RMSNorm gains
                p.copy_(1.0 + 0.1 * torch.randn(p.shape, generator=g))
            else:
                p.copy_(0.05 * torch.randn(p.shape, generator=g))
    return model


# --------------------------------------------------------------------------- preprocessing
def js_round(x):
    """JavaScript Math.round (half up), which transformers.js's smart_resize uses."""
    return math.floor(x + 0.5)


def smart_resize(height, width, factor, min_pixels, max_pixels):
    """-> (height, width) multiples of `factor` with min_pixels <= h*w <= max_pixels, as
    transformers.js 4.3.1 image_processors_utils.smart_resize (double arithmetic, Math.round)."""
    if height < factor or width < factor:
        scale = max(factor / height, factor / width)
        height, width = js_round(height * scale), js_round(width * scale)
    if max(height, width) / min(height, width) > 200:
        raise ValueError(f"absolute aspect ratio must be smaller than 200, got {max(height, width) / min(height, width)}")
    h_bar, w_bar = js_round(height / factor) * factor, js_round(width / factor) * factor
    if h_bar * w_bar > max_pixels:
        beta = math.sqrt(height * width / max_pixels)
        h_bar = max(factor, math.floor(height / beta / factor) * factor)
        w_bar = max(factor, math.floor(width / beta / factor) * factor)
    elif h_bar * w_bar < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h_bar = math.ceil(height * beta / factor) * factor
        w_bar = math.ceil(width * beta / factor) * factor
    return h_bar, w_bar


def preprocess(pil, cfg):
    """PIL image -> (pixel_values float32 [gh*gw, C*T*P*P], grid (t, gh, gw), resized (w, h)):
    RGB, smart_resize with Pillow (`resample`), rescale + normalize, the frame repeated
    `temporal_patch_size` times, patches ordered by 2x2 merge block."""
    v, im = cfg["vision"], cfg["image"]
    p, m, tp = v["patch_size"], v["spatial_merge_size"], v["temporal_patch_size"]
    img = imageproc.to_rgb(pil)
    h, w = smart_resize(img.size[1], img.size[0], p * m, im["min_pixels"], im["max_pixels"])
    img = imageproc.resize_uint8(img, w, h, im["resample"])
    x = imageproc.rescale_normalize(img, imageproc.RESCALE, im["mean"], im["std"])   # [C,H,W]
    frames = np.repeat(x[None], tp, axis=0)                                            # [T,C,H,W]
    c, gh, gw = x.shape[0], h // p, w // p
    a = frames.reshape(1, tp, c, gh // m, m, p, gw // m, m, p).transpose(0, 3, 6, 4, 7, 2, 1, 5, 8)
    return np.ascontiguousarray(a.reshape(gh * gw, c * tp * p * p)), (1, gh, gw), (w, h)


def rope_index(ids, grids, image_token_id, merge):
    """3-D positions [3][S] of a prompt and the decode offset: text tokens advance all three ids
    by one; an image's llm grid (t, h/m, w/m) gets start + (t, row, col); text after it starts at
    the block's maximum + 1. Decode step k uses max + 1 + k in all three."""
    pos = [[], [], []]
    cur, i, k = 0, 0, 0
    while i < len(ids):
        if ids[i] == image_token_id:
            t, h, w = grids[k]
            k += 1
            gh, gw = h // merge, w // merge
            for ti in range(t):
                for hi in range(gh):
                    for wi in range(gw):
                        for axis, val in enumerate((ti, hi, wi)):
                            pos[axis].append(cur + val)
            i += t * gh * gw
            cur += max(t, gh, gw)
        else:
            for axis in range(3):
                pos[axis].append(cur)
            cur += 1
            i += 1
    if k != len(grids):
        raise ValueError(f"{k} image blocks in the prompt but {len(grids)} images")
    return pos, cur


# --------------------------------------------------------------------------- reference inference
class Reference:
    """PIL images + prompt ids -> greedy generation with the KV cache, as transformers.js runs the graphs."""

    def __init__(self, model, image_token_id):
        self.m, self.image_token_id = model, image_token_id

    @torch.no_grad()
    def encode_images(self, pils):
        pix, grids = [], []
        for pil in pils:
            px, grid, _ = preprocess(pil, self.m.cfg)
            pix.append(px)
            grids.append(grid)
        if not pils:
            return None, None, []
        pv = torch.from_numpy(np.concatenate(pix))
        return pv, self.m.visual(pv, torch.tensor(grids, dtype=torch.long)), grids

    @torch.no_grad()
    def generate(self, ids, pils, max_new_tokens, eos_ids, decode_start=None):
        """`decode_start`: position id of the first generated token's step (default: the prompt's
        maximum position + 1, as HF get_rope_index's rope delta gives)."""
        pv, feats, grids = self.encode_images(pils)
        dec = self.m.model
        x = dec.embed_tokens(torch.tensor([ids]))
        mask_img = torch.tensor([ids])[..., None] == self.image_token_id
        n_img = int(mask_img.sum())
        if n_img != (0 if feats is None else feats.shape[0]):
            raise ValueError(f"{n_img} image tokens but {0 if feats is None else feats.shape[0]} feature rows")
        if feats is not None:
            x = x.masked_scatter(mask_img, feats)
        pos, nxt_pos = rope_index(ids, grids, self.image_token_id, self.m.cfg["vision"]["spatial_merge_size"])
        s = len(ids)
        rope_delta = nxt_pos - s
        if decode_start is not None:
            nxt_pos = decode_start
        logits, past = dec(x, torch.ones(1, s, dtype=torch.long), torch.tensor(pos)[:, None, :])
        first = logits[0, -1].clone()
        cache = [past]

        def step(tok, k):
            p = torch.full((3, 1, 1), nxt_pos + k, dtype=torch.long)
            lg, cache[0] = dec(dec.embed_tokens(torch.tensor([[tok]])), torch.ones(1, s + k + 1, dtype=torch.long), p,
                               cache[0])
            return lg[0, -1]
        out, finish, margins = greedy(logits[0, -1], step, max_new_tokens, eos_ids)
        return dict(generated_ids=out, first_logits=first, finish_reason=finish, grids=grids, pixel_values=pv,
                    image_features=feats, image_token_count=n_img, position_ids=pos, rope_delta=rope_delta,
                    min_top2_margin=min(margins) if margins else None)


def layout_by_loops(grids, merge):
    """(row, col) of every patch by explicit loops over (t, h/m, w/m, m, m): the processor's patch
    order, used to check the tensor formulas of patch_layout."""
    rows, cols = [], []
    for t, h, w in grids:
        for _ in range(t):
            for bh in range(h // merge):
                for bw in range(w // merge):
                    for i in range(merge):
                        for j in range(merge):
                            rows.append(bh * merge + i)
                            cols.append(bw * merge + j)
    return rows, cols
