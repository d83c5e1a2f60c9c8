"""A tiny, seeded, random-weight LFM2-VL written from the architecture description: the PyTorch
reference the exported graphs (lfm2_kit.py) must reproduce.

Vision tower (SigLIP2-NaFlex style): a linear patch embedding of flattened [P*P*C] patches, a learned
S x S position grid resized bilinearly to each tile's (rows, cols) of patches, a pre-LayerNorm ViT whose
attention is limited to the tile's real patches (`pixel_attention_mask`), a post-LayerNorm; then the
projector: 2x2 pixel-unshuffle of each tile's patch grid, LayerNorm, Linear, GELU, Linear to the decoder
width. Every per-tile step (which patches are real, their row and column, the unshuffle gather) is
computed with tensor ops from `spatial_shapes`, so one traced graph serves any number and size of tiles.

Decoder (LFM2): per `layer_types` either a gated short convolution block ("conv": in_proj to B, C, x;
depthwise causal conv of B*x with kernel L = conv_L_cache; C * conv; out_proj) or grouped-query
attention ("full_attention": q/k RMSNorm per head, RoPE, out_proj), each followed by a SwiGLU MLP;
RMSNorm before both; a final RMSNorm and an lm_head (untied here: LFM2 ties it to the embeddings, but
random tied weights just repeat the input token; the graphs are the same either way).

Hybrid cache, as the graph feeds it: an attention layer i carries past_key_values.i.key/value
[B, kv_heads, past, head_dim]; a conv layer i carries past_conv.i [B, hidden, L], the last L values of
B*x seen so far (zeros before the first token). A step with T new tokens convolves
concat(past_conv, B*x) [B, hidden, L+T] without padding, keeps the last T outputs, and returns the last
L columns of the concatenation as present_conv.i. With a zero state this is exactly the causal conv with
L-1 zeros of left padding; for T = 1 it is HF's roll-and-insert update.

Pixel-level preprocessing mirrors transformers.js 4.3.1 Lfm2VlImageProcessor (resizes run on the
normalized float tensor: ONNX Resize linear / half_pixel, imageproc.interpolate_bilinear).
"""
import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from . import imageproc
from .modeling import RMSNorm, causal_bias, repeat_kv, rotate_half
from .qwen2_vl import js_round, smart_resize
from .reference import greedy

TINY = dict(
    vision=dict(hidden=32, layers=2, heads=2, intermediate=64, patch=4, channels=3, pos_grid=4, eps=1e-6),
    projector=dict(hidden=64),
    text=dict(hidden=64, heads=4, kv_heads=2, ff=128, conv_L=3, norm_eps=1e-5, rope_theta=1000000.0,
              max_positions=4096, layer_types=["conv", "full_attention", "conv", "full_attention"]),
    image=dict(downsample=2, tile=32, min_tokens=4, max_tokens=16, min_tiles=2, max_tiles=4, thumbnail=True,
               tolerance=2.0, mean=[0.5, 0.5, 0.5], std=[0.5, 0.5, 0.5], splitting=True),
)


def floordiv(a, b):
    return torch.div(a, b, rounding_mode="floor")


# --------------------------------------------------------------------------- vision tower
class VisionLayer(nn.Module):
    def __init__(self, v):
        super().__init__()
        d = v["hidden"]
        self.heads = v["heads"]
        self.layer_norm1 = nn.LayerNorm(d, eps=v["eps"])
        self.q_proj, self.k_proj, self.v_proj, self.out_proj = (nn.Linear(d, d) for _ in range(4))
        self.layer_norm2 = nn.LayerNorm(d, eps=v["eps"])
        self.fc1 = nn.Linear(d, v["intermediate"])
        self.fc2 = nn.Linear(v["intermediate"], d)

    def forward(self, x, bias):
        t, n, d = x.shape
        hd = d // self.heads
        h = self.layer_norm1(x)
        q, k, v = (p(h).view(t, n, self.heads, hd).transpose(1, 2) for p in (self.q_proj, self.k_proj, self.v_proj))
        a = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(hd) + bias, dim=-1) @ v
        x = x + self.out_proj(a.transpose(1, 2).reshape(t, n, d))
        return x + self.fc2(F.gelu(self.fc1(self.layer_norm2(x)), approximate="tanh"))


def _axis(out_pos, out_size, in_size):
    """Bilinear (align_corners=False, no antialias) source taps along one axis for float positions."""
    src = (out_pos + 0.5) * (in_size / out_size.to(torch.float32)) - 0.5
    src = src.clamp(min=0.0, max=float(in_size - 1))
    i0 = src.floor()
    lam = src - i0
    i0 = i0.to(torch.long)
    i1 = torch.clamp(i0 + 1, max=in_size - 1)
    return i0, i1, lam


class Vision(nn.Module):
    """pixel_values [T, N, P*P*C], pixel_attention_mask [T, N] int64, spatial_shapes [T, 2] int64
    -> image_features [sum over tiles of rows/2 * cols/2, text hidden]."""

    def __init__(self, cfg):
        super().__init__()
        v, p, t = cfg["vision"], cfg["projector"], cfg["text"]
        d, f = v["hidden"], cfg["image"]["downsample"]
        self.cfg, self.grid, self.factor = cfg, v["pos_grid"], f
        self.patch_embedding = nn.Linear(v["channels"] * v["patch"] ** 2, d)
        self.position_embedding = nn.Embedding(v["pos_grid"] ** 2, d)
        self.layers = nn.ModuleList(VisionLayer(v) for _ in range(v["layers"]))
        self.post_layernorm = nn.LayerNorm(d, eps=v["eps"])
        self.proj_norm = nn.LayerNorm(d * f * f)
        self.linear_1 = nn.Linear(d * f * f, p["hidden"])
        self.linear_2 = nn.Linear(p["hidden"], t["hidden"])

    def positions(self, spatial_shapes, n):
        """Position grid resized to each tile's (rows, cols), laid out row-major in the tile's first
        rows*cols slots; [T, N, D] (padding slots get clamped taps, their outputs are never used)."""
        s = self.grid
        rows, cols = spatial_shapes[:, 0:1], spatial_shapes[:, 1:2]                   # [T,1]
        k = torch.arange(n)[None, :]                                                   # [1,N]
        py = floordiv(k, cols).to(torch.float32)
        px = (k - floordiv(k, cols) * cols).to(torch.float32)
        y0, y1, ly = _axis(py, rows, s)
        x0, x1, lx = _axis(px, cols, s)
        e = self.position_embedding
        top = e(y0 * s + x0) * (1 - lx)[..., None] + e(y0 * s + x1) * lx[..., None]
        bot = e(y1 * s + x0) * (1 - lx)[..., None] + e(y1 * s + x1) * lx[..., None]
        return top * (1 - ly)[..., None] + bot * ly[..., None]

    def encode(self, pixel_values, pixel_attention_mask, spatial_shapes):
        t, n, _ = pixel_values.shape
        x = self.patch_embedding(pixel_values) + self.positions(spatial_shapes, n)
        keep = pixel_attention_mask[:, None, None, :] > 0
        bias = torch.zeros(keep.shape, dtype=torch.float32).masked_fill(~keep, torch.finfo(torch.float32).min)
        for layer in self.layers:
            x = layer(x, bias)
        return self.post_layernorm(x)

    def unshuffle(self, x, spatial_shapes):
        """[T, N, D] -> [tokens, 4D]: for tile t and token (i, j) of its (rows/2, cols/2) grid the
        features of patches (2i,2j), (2i,2j+1), (2i+1,2j), (2i+1,2j+1); tiles in order, row-major."""
        t, n, d = x.shape
        f = self.factor
        rows, cols = spatial_shapes[:, 0:1], spatial_shapes[:, 1:2]
        half_cols = floordiv(cols, f)
        k = torch.arange(n // (f * f))[None, :]                                       # [1,N/4]
        i, j = floordiv(k, half_cols), k - floordiv(k, half_cols) * half_cols
        base = (torch.arange(t)[:, None] * n) + (f * i) * cols + f * j                # [T,N/4]
        flat = x.reshape(t * n, d)
        last = t * n - 1      # taps of padding tokens (dropped below) are clamped into range
        parts = [flat[(base + a * cols + b).clamp(max=last)] for a in range(f) for b in range(f)]
        merged = torch.cat(parts, dim=-1)                                              # [T,N/4,4D]
        valid = k < floordiv(rows, f) * half_cols
        return merged[valid]

    def project(self, merged):
        return self.linear_2(F.gelu(self.linear_1(self.proj_norm(merged))))

    def forward(self, pixel_values, pixel_attention_mask, spatial_shapes):
        x = self.encode(pixel_values, pixel_attention_mask, spatial_shapes)
        return self.project(self.unshuffle(x, spatial_shapes))

    def forward_by_loops(self, pixel_values, pixel_attention_mask, spatial_shapes):
        """The same with per-tile Python loops, F.interpolate and HF's reshape/permute unshuffle:
        the check of the tensor formulas above."""
        t, n, _ = pixel_values.shape
        s, d = self.grid, self.position_embedding.weight.shape[1]
        grid = self.position_embedding.weight.reshape(s, s, d).permute(2, 0, 1)[None]
        pos = torch.zeros(t, n, d)
        for ti, (h, w) in enumerate(spatial_shapes.tolist()):
            r = F.interpolate(grid, size=(h, w), mode="bilinear", align_corners=False, antialias=False)
            pos[ti, :h * w] = r[0].reshape(d, h * w).T
            pos[ti, h * w:] = r[0].reshape(d, h * w).T[0]
        x = self.patch_embedding(pixel_values) + pos
        keep = pixel_attention_mask[:, None, None, :] > 0
        bias = torch.zeros(keep.shape).masked_fill(~keep, torch.finfo(torch.float32).min)
        for layer in self.layers:
            x = layer(x, bias)
        x = self.post_layernorm(x)
        out, f = [], self.factor
        for ti, (h, w) in enumerate(spatial_shapes.tolist()):
            feat = x[ti, :h * w].reshape(1, h, w, d)
            feat = feat.reshape(1, h, w // f, d * f).permute(0, 2, 1, 3)
            feat = feat.reshape(1, w // f, h // f, d * f * f).permute(0, 2, 1, 3)
            out.append(self.project(feat.reshape(-1, d * f * f)))
        return torch.cat(out)


# --------------------------------------------------------------------------- decoder
class ShortConv(nn.Module):
    def __init__(self, t):
        super().__init__()
        h = t["hidden"]
        self.L = t["conv_L"]
        self.in_proj = nn.Linear(h, 3 * h, bias=False)
        self.conv = nn.Conv1d(h, h, kernel_size=self.L, groups=h, bias=False)
        self.out_proj = nn.Linear(h, h, bias=False)

    def forward(self, x, past):
        """x [B, T, H], past [B, H, L] -> (y [B, T, H], present [B, H, L])."""
        b_gate, c_gate, xx = self.in_proj(x).transpose(-1, -2).chunk(3, dim=-2)
        bx = torch.cat([past, b_gate * xx], dim=-1)                    # [B,H,L+T]
        conv = self.conv(bx)[..., 1:]                                  # valid conv: T+1 outputs, keep last T
        y = (c_gate * conv).transpose(-1, -2)
        return self.out_proj(y), bx[..., -self.L:]


class Attention(nn.Module):
    def __init__(self, t):
        super().__init__()
        h = t["hidden"]
        self.heads, self.kv_heads, self.hd = t["heads"], t["kv_heads"], h // t["heads"]
        self.q_proj = nn.Linear(h, self.heads * self.hd, bias=False)
        self.k_proj = nn.Linear(h, self.kv_heads * self.hd, bias=False)
        self.v_proj = nn.Linear(h, self.kv_heads * self.hd, bias=False)
        self.out_proj = nn.Linear(self.heads * self.hd, h, bias=False)
        self.q_layernorm = RMSNorm(self.hd, t["norm_eps"])
        self.k_layernorm = RMSNorm(self.hd, t["norm_eps"])

    def forward(self, x, cos, sin, bias, pk, pv):
        b, s, _ = x.shape
        q = self.q_layernorm(self.q_proj(x).view(b, s, self.heads, self.hd)).transpose(1, 2)
        k = self.k_layernorm(self.k_proj(x).view(b, s, self.kv_heads, self.hd)).transpose(1, 2)
        v = self.v_proj(x).view(b, s, self.kv_heads, self.hd).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        k, v = torch.cat([pk, k], dim=2), torch.cat([pv, v], dim=2)
        rep = self.heads // self.kv_heads
        kk, vv = repeat_kv(k, rep), repeat_kv(v, rep)
        a = torch.softmax(q @ kk.transpose(-1, -2) / math.sqrt(self.hd) + bias, dim=-1) @ vv
        return self.out_proj(a.transpose(1, 2).reshape(b, s, -1)), k, v


class Layer(nn.Module):
    def __init__(self, t, kind):
        super().__init__()
        h = t["hidden"]
        self.kind = kind
        self.operator_norm = RMSNorm(h, t["norm_eps"])
        if kind == "conv":
            self.conv = ShortConv(t)
        else:
            self.self_attn = Attention(t)
        self.ffn_norm = RMSNorm(h, t["norm_eps"])
        self.w1 = nn.Linear(h, t["ff"], bias=False)
        self.w3 = nn.Linear(h, t["ff"], bias=False)
        self.w2 = nn.Linear(t["ff"], h, bias=False)

    def forward(self, x, cos, sin, bias, past):
        h = self.operator_norm(x)
        if self.kind == "conv":
            y, conv = self.conv(h, past[0])
            present = (conv,)
        else:
            y, k, v = self.self_attn(h, cos, sin, bias, *past)
            present = (k, v)
        x = x + y
        h = self.ffn_norm(x)
        return x + self.w2(F.silu(self.w1(h)) * self.w3(h)), present


class Decoder(nn.Module):
    def __init__(self, t, vocab):
        super().__init__()
        self.t = t
        self.embed_tokens = nn.Embedding(vocab, t["hidden"])
        self.layers = nn.ModuleList(Layer(t, kind) for kind in t["layer_types"])
        self.embedding_norm = RMSNorm(t["hidden"], t["norm_eps"])
        self.lm_head = nn.Linear(t["hidden"], vocab, bias=False)   # untied: a tied random lm_head repeats its input

    def empty_past(self, b=1):
        """What transformers.js feeds for an empty cache: zeros [B, H, L] per conv layer, [B, kv, 0, hd]
        key and value per attention layer."""
        t = self.t
        hd = t["hidden"] // t["heads"]
        return [(torch.zeros(b, t["hidden"], t["conv_L"]),) if kind == "conv" else
                (torch.zeros(b, t["kv_heads"], 0, hd), torch.zeros(b, t["kv_heads"], 0, hd))
                for kind in t["layer_types"]]

    def forward(self, x, attention_mask, position_ids, past):
        """x [B, S, H], attention_mask [B, past+S], position_ids [B, S] -> (logits, presents per layer)."""
        s = x.shape[1]
        attn = [p for p, kind in zip(past, self.t["layer_types"]) if kind != "conv"]
        past_len = attn[0][0].shape[2]
        bias = causal_bias(s, past_len, attention_mask)
        hd = self.t["hidden"] // self.t["heads"]
        inv = 1.0 / (self.t["rope_theta"] ** (torch.arange(0, hd, 2, dtype=torch.float32) / hd))
        freqs = position_ids[..., None].to(torch.float32) * inv                    # [B,S,hd/2]
        emb = torch.cat([freqs, freqs], dim=-1)[:, None]                             # [B,1,S,hd]
        cos, sin = emb.cos(), emb.sin()
        presents = []
        for layer, p in zip(self.layers, past):
            x, pr = layer(x, cos, sin, bias, p)
            presents.append(pr)
        logits = self.lm_head(self.embedding_norm(x))
        if getattr(self, "kv_fp16", False):    # simulation of the _fp16 graph's float16 outputs (variants.py)
            presents = [tuple(a.half().float() for a in pr) for pr in presents]
            logits = logits.half().float()
        return logits, presents


class Lfm2VL(nn.Module):
    def __init__(self, cfg, vocab):
        super().__init__()
        self.cfg = cfg
        self.vision = Vision(cfg)
        self.decoder = Decoder(cfg["text"], vocab)


def init_weights(model, seed):
    """Seeded random weights with O(1) activations, as qwen2_vl.init_weights (lm_head 4/sqrt(fan_in))."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() >= 2:
                fan_in = p[0].numel()
                std = 1.0 if ("embed_tokens" in name or "position_embedding" in name) else 1.0 / math.sqrt(fan_in)
                if "lm_head" in name:
                    std = 4.0 / math.sqrt(fan_in)
                p.copy_(torch.randn(p.shape, generator=g) * std)
            elif name.endswith("weight"):
                p.copy_(1.0 + 0.1 * torch.randn(p.shape, generator=g))
            else:
                p.copy_(0.05 * torch.randn(p.shape, generator=g))
    return model


# --------------------------------------------------------------------------- preprocessing
def target_ratios(min_tiles, max_tiles):
    seen, out = set(), []
    for n in range(min_tiles, max_tiles + 1):
        for w in range(1, n + 1):
            for h in range(1, n + 1):
                if min_tiles <= w * h <= max_tiles and (w, h) not in seen:
                    seen.add((w, h))
                    out.append((w, h))
    return sorted(out, key=lambda r: r[0] * r[1])      # stable, like Array.prototype.sort


def closest_ratio(aspect, ratios, width, height, tile):
    best_diff, best = math.inf, (1, 1)
    for w, h in ratios:
        diff = abs(aspect - w / h)
        if diff < best_diff:
            best_diff, best = diff, (w, h)
        elif diff == best_diff and width * height > 0.5 * tile * tile * w * h:
            best = (w, h)
    return best


def layout(h, w, cfg):
    """Original (h, w) -> (resized (h, w) for the single tile / thumbnail, grid (rows, cols) or None)."""
    v, im = cfg["vision"], cfg["image"]
    p, f = v["patch"], im["downsample"]
    tf = p * f
    nh, nw = smart_resize(max(tf, h), max(tf, w), tf, im["min_tokens"] * tf * tf, im["max_tokens"] * tf * tf)
    nh, nw = max(tf, nh), max(tf, nw)
    h_bar, w_bar = max(p, js_round(h / tf) * tf), max(p, js_round(w / tf) * tf)
    large = h_bar * w_bar > im["max_tokens"] * tf * tf * im["tolerance"]
    split = im["splitting"] and not (im["min_tiles"] == 1 and im["max_tiles"] == 1)
    if large and split:
        gw, gh = closest_ratio(w / h, target_ratios(im["min_tiles"], im["max_tiles"]), w, h, im["tile"])
        return (nh, nw), (gh, gw)
    return (nh, nw), None


def max_num_patches(cfg):
    v, im = cfg["vision"], cfg["image"]
    tiles = (im["tile"] // v["patch"]) ** 2 if im["splitting"] else 0
    return max(im["max_tokens"] * im["downsample"] ** 2, tiles)


def patches(x, p):
    """[C, H, W] -> [H/p * W/p, p*p*C], patch-major, inside a patch (dy, dx, c)."""
    c, h, w = x.shape
    a = x.reshape(c, h // p, p, w // p, p).transpose(1, 3, 2, 4, 0)
    return np.ascontiguousarray(a.reshape((h // p) * (w // p), p * p * c))


def preprocess(pil, cfg):
    """PIL image -> dict(tiles [(pixels [rows*cols, P*P*C], (rows, cols))], grid (rows, cols) or (1, 1),
    resized (w, h) of the single tile / thumbnail, tokens, resized flag)."""
    v, im = cfg["vision"], cfg["image"]
    p, tile = v["patch"], im["tile"]
    img = imageproc.to_rgb(pil)
    x = imageproc.rescale_normalize(img, imageproc.RESCALE, im["mean"], im["std"])      # [C,H,W]
    h, w = x.shape[1:]
    (nh, nw), grid = layout(h, w, cfg)
    frames, resized = [], (nh, nw) != (h, w)
    if grid is not None:
        gh, gw = grid
        big = imageproc.interpolate_bilinear(x, gh * tile, gw * tile)
        resized = resized or (gh * tile, gw * tile) != (h, w)
        for r in range(gh):
            for c in range(gw):
                frames.append(big[:, r * tile:(r + 1) * tile, c * tile:(c + 1) * tile])
        if im["thumbnail"] and gh * gw != 1:
            frames.append(imageproc.interpolate_bilinear(x, nh, nw))
    else:
        frames.append(imageproc.interpolate_bilinear(x, nh, nw))
    tiles = [(patches(np.ascontiguousarray(f), p), (f.shape[1] // p, f.shape[2] // p)) for f in frames]
    return dict(tiles=tiles, grid=grid or (1, 1), resized_wh=(nw, nh), resized=resized)


def batch(pre, cfg):
    """Preprocessed images -> (pixel_values [T, N, P*P*C], pixel_attention_mask [T, N], spatial_shapes [T, 2])."""
    n = max_num_patches(cfg)
    tiles = [t for x in pre for t in x["tiles"]]
    pv = np.zeros((len(tiles), n, tiles[0][0].shape[1]), np.float32)
    mask = np.zeros((len(tiles), n), np.int64)
    for k, (px, _) in enumerate(tiles):
        pv[k, :px.shape[0]] = px
        mask[k, :px.shape[0]] = 1
    shapes = np.array([s for _, s in tiles], np.int64)
    return torch.from_numpy(pv), torch.from_numpy(mask), torch.from_numpy(shapes)


def ds(s, cfg):
    return math.ceil((s // cfg["vision"]["patch"]) / cfg["image"]["downsample"])


def expand(text, pre, cfg, image_token="<image>"):
    """Lfm2VlProcessor: the k-th <image> becomes <|image_start|>, per tile <|img_row_r_col_c|> and the
    tile's tokens, then <|img_thumbnail|> and the thumbnail's tokens (or just the image's tokens if not
    tiled), and <|image_end|>."""
    pieces = text.split(image_token)
    if len(pieces) - 1 != len(pre):
        raise ValueError(f"{len(pieces) - 1} {image_token} in the prompt but {len(pre)} images")
    tile = cfg["image"]["tile"]
    per_tile = ds(tile, cfg) ** 2
    out = pieces[0]
    for x, rest in zip(pre, pieces[1:]):
        rows, cols = x["grid"]
        nw, nh = x["resized_wh"]
        e = "<|image_start|>"
        if rows > 1 or cols > 1:
            for r in range(rows):
                for c in range(cols):
                    e += f"<|img_row_{r + 1}_col_{c + 1}|>" + image_token * per_tile
            if cfg["image"]["thumbnail"]:
                e += "<|img_thumbnail|>" + image_token * (ds(nh, cfg) * ds(nw, cfg))
        else:
            e += image_token * (ds(nh, cfg) * ds(nw, cfg))
        out += e + "<|image_end|>" + rest
    return out


# --------------------------------------------------------------------------- reference
class Reference:
    """PIL images + prompt ids -> greedy generation with the hybrid cache, as transformers.js runs the graphs."""

    def __init__(self, model, image_token_id):
        self.m, self.image_token_id = model, image_token_id

    @torch.no_grad()
    def generate(self, ids, pils, max_new_tokens, eos_ids):
        cfg = self.m.cfg
        pre = [preprocess(p, cfg) for p in pils]
        pv = mask = shapes = feats = None
        if pils:
            pv, mask, shapes = batch(pre, cfg)
            feats = self.m.vision(pv, mask, shapes)
        dec = self.m.decoder
        x = dec.embed_tokens(torch.tensor([ids]))
        img = torch.tensor([ids])[..., None] == self.image_token_id
        n_img = int(img.sum())
        if n_img != (0 if feats is None else feats.shape[0]):
            raise ValueError(f"{n_img} image tokens but {0 if feats is None else feats.shape[0]} feature rows")
        if feats is not None:
            x = x.masked_scatter(img, feats)
        s = len(ids)
        logits, past = dec(x, torch.ones(1, s, dtype=torch.long), torch.arange(s)[None], dec.empty_past())
        first = logits[0, -1].clone()
        cache = [past]

        def step(tok, k):
            lg, cache[0] = dec(dec.embed_tokens(torch.tensor([[tok]])), torch.ones(1, s + k + 1, dtype=torch.long),
                               torch.tensor([[s + k]]), cache[0])
            return lg[0, -1]
        out, finish, margins = greedy(logits[0, -1], step, max_new_tokens, eos_ids)
        return dict(generated_ids=out, first_logits=first, finish_reason=finish, pre=pre, pixel_values=pv,
                    pixel_attention_mask=mask, spatial_shapes=shapes, image_features=feats, image_token_count=n_img,
                    min_top2_margin=min(margins) if margins else None)
