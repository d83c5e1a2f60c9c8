"""A tiny, seeded, random-weight Gemma 3 (Gemma3ForConditionalGeneration) written from the HF
architecture description: the PyTorch reference the exported graphs (gemma3_kit.py) must reproduce.

Vision tower (SigLIP): a Conv2d patch embedding (kernel = stride = patch), a learned position
embedding per patch, a pre-LayerNorm ViT (biased q/k/v/out, GELU-tanh MLP), a post-LayerNorm; then
Gemma3MultiModalProjector: the [patches_per_side x patches_per_side] grid average-pooled to
sqrt(mm_tokens_per_image) per side, Gemma3RMSNorm (x * (1 + w)), a bias-free linear to the decoder
width (HF stores it as mm_input_projection_weight [vision, text]; here an nn.Linear, same product).

Decoder (Gemma 3 text): token embeddings multiplied by sqrt(hidden_size) INSIDE the embedding module
(HF Gemma3TextScaledWordEmbedding; exported into embed_tokens.onnx, so image features, which replace
rows of its output, are not scaled); per layer input_layernorm -> attention -> post_attention_layernorm
-> residual, pre_feedforward_layernorm -> GeGLU MLP (gelu_tanh(gate) * up -> down) ->
post_feedforward_layernorm -> residual; every norm Gemma3RMSNorm with (1 + w) computed in float32;
attention with per-head q_norm / k_norm before RoPE, scale query_pre_attn_scalar ** -0.5, grouped KV
heads; `layer_types` interleave "sliding_attention" (causal, key j visible from query i iff
i - j < sliding_window, RoPE base rope_local_base_freq, no scaling) and "full_attention" (causal,
RoPE base rope_theta with linear rope_scaling: positions / factor); final norm, lm_head (untied here:
a random tied head repeats its input), optional final_logit_softcapping (tanh(x / c) * c).

Image attention: HF PyTorch makes attention bidirectional inside each image during prefill
(token_type_ids); the decoder graph transformers.js runs gets no token_type_ids (it feeds only
inputs_embeds, attention_mask, position_ids and the cache), so the graph and this reference are
causal everywhere unless `bidirectional_images` is passed (the vlm4j-layout extension folder).

Positions: 1-indexed, as transformers.js feeds them (decoder_forward: start_index 1 for model types
paligemma / gemma3_text / gemma3): prompt positions 1..S, decode step k (token index S+k) S+k+1.
(HF PyTorch's current Gemma3Model leaves position_ids to the text model, i.e. cache_position, 0-based.)
RoPE is shift-invariant, so the offset changes logits only by float rounding (gemma3_kit.self_check
reports ~1e-5): the goldens cannot tell 0- from 1-indexed positions; follow the contract.
"""
import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from . import imageproc
from .modeling import repeat_kv, rotate_half
from .reference import greedy

TINY = dict(
    vision=dict(hidden=32, layers=2, heads=2, intermediate=64, patch=4, channels=3, image_size=32, eps=1e-6),
    mm_tokens_per_image=16,
    text=dict(hidden=64, heads=4, kv_heads=2, head_dim=16, ff=128, norm_eps=1e-6, rope_theta=1000000.0,
              rope_local_base_freq=10000.0, rope_scaling_factor=8.0, sliding_window=16, query_pre_attn_scalar=16,
              final_logit_softcapping=None, max_positions=4096,
              layer_types=["sliding_attention", "full_attention", "sliding_attention", "full_attention"]),
    image=dict(size=32, mean=[0.5, 0.5, 0.5], std=[0.5, 0.5, 0.5], resample=2,
               pan_and_scan_min_crop_size=16, pan_and_scan_max_num_crops=4, pan_and_scan_min_ratio_to_activate=1.2),
)


class GemmaRMSNorm(nn.Module):
    """Gemma3RMSNorm: x * rsqrt(mean(x^2) + eps) * (1 + weight), weight stored zero-centred."""

    def __init__(self, d, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(d))
        self.eps = eps

    def forward(self, x):
        x = x.float()
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * (1.0 + self.weight.float())


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

    def forward(self, x):
        b, n, d = x.shape
        hd = d // self.heads
        h = self.layer_norm1(x)
        q, k, v = (p(h).view(b, n, self.heads, hd).transpose(1, 2) for p in (self.q_proj, self.k_proj, self.v_proj))
        a = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(hd), dim=-1) @ v
        x = x + self.out_proj(a.transpose(1, 2).reshape(b, n, d))
        return x + self.fc2(F.gelu(self.fc1(self.layer_norm2(x)), approximate="tanh"))


class Vision(nn.Module):
    """pixel_values [num_images, 3, S, S] -> image_features [num_images, mm_tokens_per_image, text hidden]."""

    def __init__(self, cfg):
        super().__init__()
        v, t = cfg["vision"], cfg["text"]
        d, p = v["hidden"], v["patch"]
        self.side = v["image_size"] // p
        self.tokens_side = int(math.isqrt(cfg["mm_tokens_per_image"]))
        assert self.tokens_side ** 2 == cfg["mm_tokens_per_image"] and self.side % self.tokens_side == 0
        self.patch_embedding = nn.Conv2d(v["channels"], d, p, p)
        self.position_embedding = nn.Parameter(torch.zeros(self.side * self.side, d))
        self.layers = nn.ModuleList(VisionLayer(v) for _ in range(v["layers"]))
        self.post_layernorm = nn.LayerNorm(d, eps=v["eps"])
        self.mm_soft_emb_norm = GemmaRMSNorm(d, v["eps"])
        self.mm_input_projection = nn.Linear(d, t["hidden"], bias=False)

    def forward(self, pixel_values):
        x = self.patch_embedding(pixel_values).flatten(2).transpose(1, 2) + self.position_embedding
        for layer in self.layers:
            x = layer(x)
        x = self.post_layernorm(x)                                               # [B, side*side, d]
        b, n, d = x.shape
        grid = x.transpose(1, 2).reshape(b, d, self.side, self.side)
        k = self.side // self.tokens_side
        pooled = F.avg_pool2d(grid, kernel_size=k, stride=k).flatten(2).transpose(1, 2)   # [B, tokens, d]
        return self.mm_input_projection(self.mm_soft_emb_norm(pooled))


# --------------------------------------------------------------------------- decoder
class Attention(nn.Module):
    def __init__(self, t):
        super().__init__()
        h, hd = t["hidden"], t["head_dim"]
        self.heads, self.kv_heads, self.hd = t["heads"], t["kv_heads"], hd
        self.scale = t["query_pre_attn_scalar"] ** -0.5
        self.q_proj = nn.Linear(h, self.heads * hd, bias=False)
        self.k_proj = nn.Linear(h, self.kv_heads * hd, bias=False)
        self.v_proj = nn.Linear(h, self.kv_heads * hd, bias=False)
        self.o_proj = nn.Linear(self.heads * hd, h, bias=False)
        self.q_norm = GemmaRMSNorm(hd, t["norm_eps"])
        self.k_norm = GemmaRMSNorm(hd, t["norm_eps"])

    def forward(self, x, cos, sin, bias, pk, pv):
        b, s, _ = x.shape
        q = self.q_norm(self.q_proj(x).view(b, s, self.heads, self.hd)).transpose(1, 2)
        k = self.k_norm(self.k_proj(x).view(b, s, self.kv_heads, self.hd)).transpose(1, 2)
        v = self.v_proj(x).view(b, s, self.kv_heads, self.hd).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        k, v = torch.cat([pk, k], dim=2), torch.cat([pv, v], dim=2)
        rep = self.heads // self.kv_heads
        a = torch.softmax((q @ repeat_kv(k, rep).transpose(-1, -2)) * self.scale + bias, dim=-1) @ repeat_kv(v, rep)
        return self.o_proj(a.transpose(1, 2).reshape(b, s, -1)), k, v


class Layer(nn.Module):
    def __init__(self, t, kind):
        super().__init__()
        h = t["hidden"]
        self.kind = kind
        self.input_layernorm = GemmaRMSNorm(h, t["norm_eps"])
        self.self_attn = Attention(t)
        self.post_attention_layernorm = GemmaRMSNorm(h, t["norm_eps"])
        self.pre_feedforward_layernorm = GemmaRMSNorm(h, t["norm_eps"])
        self.gate_proj = nn.Linear(h, t["ff"], bias=False)
        self.up_proj = nn.Linear(h, t["ff"], bias=False)
        self.down_proj = nn.Linear(t["ff"], h, bias=False)
        self.post_feedforward_layernorm = GemmaRMSNorm(h, t["norm_eps"])

    def forward(self, x, cos, sin, bias, pk, pv):
        y, k, v = self.self_attn(self.input_layernorm(x), cos, sin, bias, pk, pv)
        x = x + self.post_attention_layernorm(y)
        h = self.pre_feedforward_layernorm(x)
        y = self.down_proj(F.gelu(self.gate_proj(h), approximate="tanh") * self.up_proj(h))
        return x + self.post_feedforward_layernorm(y), k, v


class ScaledEmbedding(nn.Embedding):
    """Gemma3TextScaledWordEmbedding: embedding(ids) * sqrt(hidden_size) (float32 here)."""

    def __init__(self, vocab, hidden):
        super().__init__(vocab, hidden)
        self.embed_scale = float(hidden) ** 0.5

    def forward(self, ids):
        return super().forward(ids) * self.embed_scale


def attention_bias(s, past_len, attention_mask, window=None, image_groups=None):
    """Additive bias [B, 1, s, past+s]: causal, keys with attention_mask 0 masked, and with `window`
    keys j with i - j >= window masked (query index i = past_len + row). `image_groups` [B, past+s]
    (group id of each image run, -1 for text) additionally lets a query see every key of its own image
    (HF token_type_ids bidirectional image attention); only used by the extension variant."""
    total = past_len + s
    q = torch.arange(s)[:, None] + past_len
    k = torch.arange(total)[None, :]
    allowed = k <= q
    if window is not None:
        allowed = allowed & (q - k < window)
    allowed = allowed[None, None]
    if image_groups is not None:
        gq = image_groups[:, past_len:][:, None, :, None]
        gk = image_groups[:, None, None, :]
        allowed = allowed | ((gq == gk) & (gq >= 0))
    allowed = allowed & (attention_mask[:, None, None, :] > 0)
    return torch.zeros(allowed.shape, dtype=torch.float32).masked_fill(~allowed, torch.finfo(torch.float32).min)


def image_groups_of(token_type_ids):
    """token_type_ids [B, T] (1 = image token) -> group ids: one id per contiguous run of image tokens,
    -1 for text (HF Gemma3 image_group_ids)."""
    is_img = token_type_ids == 1
    prev = torch.cat([torch.zeros_like(is_img[:, :1]), is_img[:, :-1]], dim=1)
    start = is_img & ~prev
    groups = torch.cumsum(start.to(torch.long), dim=1) - 1
    return torch.where(is_img, groups, torch.full_like(groups, -1))


class Decoder(nn.Module):
    def __init__(self, t, vocab):
        super().__init__()
        self.t = t
        self.embed_tokens = ScaledEmbedding(vocab, t["hidden"])
        self.layers = nn.ModuleList(Layer(t, kind) for kind in t["layer_types"])
        self.norm = GemmaRMSNorm(t["hidden"], t["norm_eps"])
        self.lm_head = nn.Linear(t["hidden"], vocab, bias=False)

    def empty_past(self, b=1):
        t = self.t
        return [(torch.zeros(b, t["kv_heads"], 0, t["head_dim"]), torch.zeros(b, t["kv_heads"], 0, t["head_dim"]))
                for _ in t["layer_types"]]

    def rope(self, position_ids, base, factor):
        hd = self.t["head_dim"]
        inv = 1.0 / (base ** (torch.arange(0, hd, 2, dtype=torch.float32) / hd)) / factor
        freqs = position_ids[..., None].to(torch.float32) * inv
        emb = torch.cat([freqs, freqs], dim=-1)[:, None]
        return emb.cos(), emb.sin()

    def forward(self, x, attention_mask, position_ids, past, token_type_ids=None):
        """x [B, S, H] (already scaled embeddings / image features), attention_mask [B, past+S],
        position_ids [B, S], past: list of (k, v); token_type_ids [B, past+S] only for the extension."""
        t = self.t
        s, past_len = x.shape[1], past[0][0].shape[2]
        groups = image_groups_of(token_type_ids) if token_type_ids is not None else None
        full = attention_bias(s, past_len, attention_mask, None, groups)
        local = attention_bias(s, past_len, attention_mask, t["sliding_window"], groups)
        rope_full = self.rope(position_ids, t["rope_theta"], t["rope_scaling_factor"] or 1.0)
        rope_local = self.rope(position_ids, t["rope_local_base_freq"], 1.0)
        presents = []
        for layer, (pk, pv) in zip(self.layers, past):
            sliding = layer.kind == "sliding_attention"
            cos, sin = rope_local if sliding else rope_full
            x, k, v = layer(x, cos, sin, local if sliding else full, pk, pv)
            presents.append((k, v))
        logits = self.lm_head(self.norm(x))
        cap = t.get("final_logit_softcapping")
        if cap:
            logits = torch.tanh(logits / cap) * cap
        if getattr(self, "kv_fp16", False):    # simulation of the _fp16 graph's float16 outputs (variants.py)
            presents = [(k.half().float(), v.half().float()) for k, v in presents]
            logits = logits.half().float()
        return logits, presents


class Gemma3(nn.Module):
    def __init__(self, cfg, vocab):
        super().__init__()
        self.cfg = cfg
        self.vision = Vision(cfg)
        self.decoder = Decoder(cfg["text"], vocab)


def init_weights(model, seed):
    """Seeded random weights with O(1) activations: matrices N(0, 1/fan_in) (lm_head 4/sqrt(fan_in),
    token embeddings 1/sqrt(hidden) so that the sqrt(hidden)-scaled rows are O(1)), Gemma RMSNorm
    weights 0.1 * N(0, 1) around the implicit 1, LayerNorm weights 1 + 0.1 N, biases 0.05 N."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() >= 2:
                fan_in = p[0].numel()
                std = 1.0 / math.sqrt(fan_in)
                if "lm_head" in name:
                    std = 4.0 / math.sqrt(fan_in)
                elif "position_embedding" in name:
                    std = 0.5
                p.copy_(torch.randn(p.shape, generator=g) * std)
            elif is_gemma_norm(model, name):
                p.copy_(0.1 * torch.randn(p.shape, generator=g))     # Gemma RMSNorm: (1 + w)
            elif name.endswith("weight"):
                p.copy_(1.0 + 0.1 * torch.randn(p.shape, generator=g))
            else:
                p.copy_(0.05 * torch.randn(p.shape, generator=g))
    return model


def is_gemma_norm(model, name):
    mod = model.get_submodule(name.rsplit(".", 1)[0])
    return isinstance(mod, GemmaRMSNorm)


# --------------------------------------------------------------------------- preprocessing
def pan_and_scan(img, min_crop_size, max_num_crops, min_ratio):
    """HF Gemma3ImageProcessor.pan_and_scan on the uint8 RGB image (before resize) -> list of PIL crops
    (empty if not activated). Landscape/square: 1 x n crops, portrait: n x 1."""
    w, h = img.size
    if w >= h:
        if w / h < min_ratio:
            return []
        n_w = int(math.floor(w / h + 0.5))
        n_w = min(int(math.floor(w / min_crop_size)), n_w)
        n_w = min(max_num_crops, max(2, n_w))
        n_h = 1
    else:
        if h / w < min_ratio:
            return []
        n_h = int(math.floor(h / w + 0.5))
        n_h = min(int(math.floor(h / min_crop_size)), n_h)
        n_h = min(max_num_crops, max(2, n_h))
        n_w = 1
    cw, ch = int(math.ceil(w / n_w)), int(math.ceil(h / n_h))
    if min(cw, ch) < min_crop_size:
        return []
    # numpy slicing semantics: the last crop is cut at the image edge
    return [img.crop((x, y, min(x + cw, w), min(y + ch, h))) for y in range(0, ch * n_h, ch)
            for x in range(0, cw * n_w, cw)]


def preprocess(pil, cfg, pan_and_scan_on=False):
    """PIL image -> dict(frames float32 [n, 3, S, S] (original first, then crops), num_crops,
    resized flags per frame, crop sizes). Resize: Pillow bilinear to S x S (transformers.js uses sharp;
    images already S x S are not resized by either)."""
    im = cfg["image"]
    s = im["size"]
    img = imageproc.to_rgb(pil)
    crops = pan_and_scan(img, im["pan_and_scan_min_crop_size"], im["pan_and_scan_max_num_crops"],
                         im["pan_and_scan_min_ratio_to_activate"]) if pan_and_scan_on else []
    frames, resized = [], []
    for f in [img] + crops:
        resized.append(f.size != (s, s))
        frames.append(imageproc.rescale_normalize(imageproc.resize_uint8(f, s, s, im["resample"]), imageproc.RESCALE,
                                                  im["mean"], im["std"]))
    return dict(frames=np.stack(frames).astype(np.float32), num_crops=len(crops), resized=resized,
                crop_sizes=[list(c.size) for c in crops])


BOI, EOI, IMAGE_TOKEN = "<start_of_image>", "<end_of_image>", "<image_soft_token>"
PAS_TEXT = "Here is the original image {boi} and here are some crops to help you see better "


def full_image_sequence(cfg):
    return "\n\n" + BOI + IMAGE_TOKEN * cfg["mm_tokens_per_image"] + EOI + "\n\n"


def expand(text, pre, cfg):
    """Gemma3Processor: with pan-and-scan crops the k-th <start_of_image> first becomes
    "Here is the original image <boi> and here are some crops to help you see better " + " ".join([<boi>] * n)
    (HF transformers processing_gemma3.py); then every <start_of_image> becomes full_image_sequence
    (transformers.js and HF). Without images the text is left unchanged (no <boi> replacement)."""
    if not pre:
        return text
    pieces = text.split(BOI)
    if len(pieces) - 1 != len(pre):
        raise ValueError(f"{len(pieces) - 1} {BOI} in the prompt but {len(pre)} images")
    out = pieces[0]
    for x, rest in zip(pre, pieces[1:]):
        if x["num_crops"]:
            out += PAS_TEXT.format(boi=BOI) + " ".join([BOI] * x["num_crops"]) + rest
        else:
            out += BOI + rest
    return out.replace(BOI, full_image_sequence(cfg))


# --------------------------------------------------------------------------- reference
class Reference:
    """PIL images + prompt ids -> greedy generation with the KV cache, as transformers.js runs the graphs:
    embed_tokens (scaled) -> image features scattered at <image_soft_token> rows -> decoder prefill with
    attention_mask ones and position_ids 1..S -> steps."""

    def __init__(self, model, image_token_id, bidirectional_images=False):
        self.m, self.image_token_id, self.bidi = model, image_token_id, bidirectional_images

    @torch.no_grad()
    def generate(self, ids, pre, max_new_tokens, eos_ids, position_offset=1):
        dec = self.m.decoder
        pv = feats = None
        if pre:
            pv = torch.from_numpy(np.concatenate([x["frames"] for x in pre]))
            feats = self.m.vision(pv)
        ids_t = torch.tensor([ids])
        x = dec.embed_tokens(ids_t)
        img = ids_t[..., None] == self.image_token_id
        n_img = int(img.sum())
        n_feat = 0 if feats is None else feats.shape[0] * feats.shape[1]
        if n_img != n_feat:
            raise ValueError(f"{n_img} image tokens but {n_feat} feature rows")
        if feats is not None:
            x = x.masked_scatter(img, feats.reshape(-1, feats.shape[-1]))
        s = len(ids)
        tti = (ids_t == self.image_token_id).to(torch.long) if self.bidi else None
        logits, past = dec(x, torch.ones(1, s, dtype=torch.long), torch.arange(s)[None] + position_offset,
                           dec.empty_past(), tti)
        first = logits[0, -1].clone()
        cache = [past]

        def step(tok, k):
            tt = torch.cat([tti, torch.zeros(1, k + 1, dtype=torch.long)], 1) if tti is not None else None
            lg, cache[0] = dec(dec.embed_tokens(torch.tensor([[tok]])), torch.ones(1, s + k + 1, dtype=torch.long),
                               torch.tensor([[s + k + position_offset]]), cache[0], tt)
            return lg[0, -1]
        out, finish, margins = greedy(logits[0, -1], step, max_new_tokens, eos_ids)
        return dict(generated_ids=out, first_logits=first, finish_reason=finish, pixel_values=pv,
                    image_features=feats, image_token_count=n_img, min_top2_margin=min(margins) if margins else None)
