"""A tiny, seeded, random-weight Florence-2 written from the architecture description: the PyTorch
reference the exported graphs (florence2_kit.py) must reproduce.

Vision tower: NOT DaViT. A stand-in with Florence-2's output contract: a P x P / stride P convolution
patch embedding, a pre-LayerNorm ViT (plain global attention instead of DaViT's window + channel
attention stages) and a LayerNorm give a [B, h, w, C] grid; then exactly Florence-2's `_encode_image`
tail: + learned absolute 2-D position embedding (column embedding in the first C/2 channels, row
embedding in the rest), + the 1-D cosine temporal embedding of frame 0 (sin 0 = 0 in even channels,
cos 0 = 1 in odd ones), the feature sources `spatial_avg_pool` (mean over the h*w tokens, one row) then
`temporal_avg_pool` (the h*w tokens themselves, T = 1), a bias-free projection to d_model
(`image_projection`, stored as a Linear: weight = image_projection^T) and `image_proj_norm`
(LayerNorm). -> image_features [B, 1 + h*w, d_model].

Language model: BART (Florence2LanguageModel) with the real structure: shared token embedding
(embed_scale 1, scale_embedding false), learned positions with BART's offset 2 (row = position + 2)
for encoder and decoder, `layernorm_embedding` after the position add, post-LayerNorm encoder layers
(self-attention, fc1 / GELU / fc2), post-LayerNorm decoder layers (causal self-attention with the KV
cache, cross-attention over the encoder output, FFN), q scaled by head_dim^-0.5 before q k^T, biases
everywhere, lm_head + `final_logits_bias`. No final encoder/decoder LayerNorm (BART, not mBART).

Two deviations from the checkpoints, both documented in goldens.json:
* lm_head is untied from the shared embedding: tied random weights just repeat the input token.
* final_logits_bias (a zeros buffer in BART checkpoints) carries constant biases: `loc_bias` on the
  1000 <loc_N> tokens (default 0: they already make up 1000 of the ~1550 ids, so greedy outputs are
  mostly location tokens with some text between, which gives post-processing something to parse) and
  `eos_bias` on </s> (default 9.75: without it </s> never wins and every case would end by ForcedEOS; with
  it some cases stop on a generated </s>).

Cross-attention cache as the merged decoder graph exposes it (what transformers.js feeds):
present.i.encoder.key/value [B, heads, enc_len, head_dim] = the k/v projections of
encoder_hidden_states, computed on step 1 (use_cache_branch false) and fed back unchanged on every
later step; present.i.decoder.key/value grow by one position per step.
"""
import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from . import imageproc

TINY = dict(
    vision=dict(patch=8, width=32, layers=1, heads=2, mlp=64, eps=1e-5, max_pos=16, max_temporal=100),
    text=dict(d_model=48, encoder_layers=2, decoder_layers=2, heads=4, ffn=96, max_positions=128, eps=1e-5),
    image=dict(size=64, resample=3, mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225]),
    loc_bias=0.0,
    eos_bias=9.75,
)
POS_OFFSET = 2      # BartLearnedPositionalEmbedding: row = position + 2
NEG = torch.finfo(torch.float32).min


# --------------------------------------------------------------------------- vision tower
class ViTBlock(nn.Module):
    def __init__(self, v):
        super().__init__()
        d = v["width"]
        self.heads = v["heads"]
        self.norm1 = nn.LayerNorm(d, eps=v["eps"])
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)
        self.norm2 = nn.LayerNorm(d, eps=v["eps"])
        self.fc1 = nn.Linear(d, v["mlp"])
        self.fc2 = nn.Linear(v["mlp"], d)

    def forward(self, x):
        b, n, d = x.shape
        hd = d // self.heads
        q, k, v = self.qkv(self.norm1(x)).view(b, n, 3, self.heads, hd).permute(2, 0, 3, 1, 4)
        a = torch.softmax((q * hd ** -0.5) @ k.transpose(-1, -2), dim=-1) @ v
        x = x + self.proj(a.transpose(1, 2).reshape(b, n, d))
        return x + self.fc2(F.gelu(self.fc1(self.norm2(x))))


def cosine_1d(dim, max_len):
    """Florence-2 PositionalEmbeddingCosine1D table [max_len, dim]: sin in even, cos in odd channels."""
    factor = math.log(10000)
    denom = torch.exp(-factor * torch.arange(0, dim, 2, dtype=torch.float32) / dim)
    frequencies = torch.arange(max_len, dtype=torch.float32).reshape(max_len, 1) * denom
    table = torch.zeros(max_len, dim)
    table[:, 0::2] = torch.sin(frequencies)
    table[:, 1::2] = torch.cos(frequencies)
    return table


class Vision(nn.Module):
    """pixel_values [B, 3, H, W] -> image_features [B, 1 + (H/P)*(W/P), d_model]."""

    def __init__(self, cfg):
        super().__init__()
        v, t = cfg["vision"], cfg["text"]
        c = v["width"]
        self.patch_embed = nn.Conv2d(3, c, kernel_size=v["patch"], stride=v["patch"])
        self.embed_norm = nn.LayerNorm(c, eps=v["eps"])
        self.blocks = nn.ModuleList(ViTBlock(v) for _ in range(v["layers"]))
        self.norm = nn.LayerNorm(c, eps=v["eps"])
        # image_pos_embed: LearnedAbsolutePositionEmbedding2D(embedding_dim=c, num_pos=max_pos)
        self.row_embeddings = nn.Embedding(v["max_pos"], c // 2)
        self.column_embeddings = nn.Embedding(v["max_pos"], c - c // 2)
        self.register_buffer("temporal", cosine_1d(c, v["max_temporal"])[0].clone(), persistent=False)
        self.image_projection = nn.Linear(c, t["d_model"], bias=False)
        self.image_proj_norm = nn.LayerNorm(t["d_model"])

    def grid(self, pixel_values):
        x = self.patch_embed(pixel_values)                               # [B, C, h, w]
        b, c, h, w = x.shape
        x = self.embed_norm(x.flatten(2).transpose(1, 2))                # [B, h*w, C]
        for blk in self.blocks:
            x = blk(x)
        return self.norm(x).reshape(b, h, w, c)

    def forward(self, pixel_values):
        x = self.grid(pixel_values)
        b, h, w, c = x.shape
        col = self.column_embeddings(torch.arange(w))                    # [w, C/2]
        row = self.row_embeddings(torch.arange(h))                       # [h, C/2]
        pos = torch.cat([col[None].expand(h, w, col.shape[-1]), row[:, None].expand(h, w, row.shape[-1])], -1)
        x = (x + pos[None]).reshape(b, h * w, c) + self.temporal        # T = 1: frame 0's cosine embedding
        feats = torch.cat([x.mean(dim=1, keepdim=True), x], dim=1)      # spatial_avg_pool, temporal_avg_pool
        return self.image_proj_norm(self.image_projection(feats))


# --------------------------------------------------------------------------- BART
class Attention(nn.Module):
    def __init__(self, t):
        super().__init__()
        d = t["d_model"]
        self.heads, self.hd = t["heads"], d // t["heads"]
        self.q_proj, self.k_proj, self.v_proj, self.out_proj = (nn.Linear(d, d) for _ in range(4))

    def split(self, x):
        b, s, _ = x.shape
        return x.view(b, s, self.heads, self.hd).transpose(1, 2)

    def kv(self, x):
        return self.split(self.k_proj(x)), self.split(self.v_proj(x))

    def attend(self, x, k, v, bias):
        b, s, d = x.shape
        q = self.split(self.q_proj(x) * self.hd ** -0.5)
        a = torch.softmax(q @ k.transpose(-1, -2) + bias, dim=-1) @ v
        return self.out_proj(a.transpose(1, 2).reshape(b, s, d))


class EncoderLayer(nn.Module):
    def __init__(self, t):
        super().__init__()
        d = t["d_model"]
        self.self_attn = Attention(t)
        self.self_attn_layer_norm = nn.LayerNorm(d, eps=t["eps"])
        self.fc1, self.fc2 = nn.Linear(d, t["ffn"]), nn.Linear(t["ffn"], d)
        self.final_layer_norm = nn.LayerNorm(d, eps=t["eps"])

    def forward(self, x, bias):
        k, v = self.self_attn.kv(x)
        x = self.self_attn_layer_norm(x + self.self_attn.attend(x, k, v, bias))
        return self.final_layer_norm(x + self.fc2(F.gelu(self.fc1(x))))


class DecoderLayer(nn.Module):
    def __init__(self, t):
        super().__init__()
        d = t["d_model"]
        self.self_attn = Attention(t)
        self.self_attn_layer_norm = nn.LayerNorm(d, eps=t["eps"])
        self.encoder_attn = Attention(t)
        self.encoder_attn_layer_norm = nn.LayerNorm(d, eps=t["eps"])
        self.fc1, self.fc2 = nn.Linear(d, t["ffn"]), nn.Linear(t["ffn"], d)
        self.final_layer_norm = nn.LayerNorm(d, eps=t["eps"])

    def forward(self, x, self_bias, cross_bias, past_k, past_v, enc_k, enc_v):
        k, v = self.self_attn.kv(x)
        if past_k is not None:
            k, v = torch.cat([past_k, k], dim=2), torch.cat([past_v, v], dim=2)
        x = self.self_attn_layer_norm(x + self.self_attn.attend(x, k, v, self_bias))
        x = self.encoder_attn_layer_norm(x + self.encoder_attn.attend(x, enc_k, enc_v, cross_bias))
        return self.final_layer_norm(x + self.fc2(F.gelu(self.fc1(x)))), k, v


def padding_bias(mask):
    """[B, S] 0/1 -> additive [B, 1, 1, S] (float32 min at padding)."""
    return torch.zeros(mask.shape[0], 1, 1, mask.shape[1]).masked_fill(mask[:, None, None, :] == 0, NEG)


class Language(nn.Module):
    def __init__(self, t, vocab):
        super().__init__()
        d = t["d_model"]
        self.t = t
        self.shared = nn.Embedding(vocab, d)
        self.encoder_embed_positions = nn.Embedding(t["max_positions"] + POS_OFFSET, d)
        self.encoder_layernorm_embedding = nn.LayerNorm(d, eps=t["eps"])
        self.encoder_layers = nn.ModuleList(EncoderLayer(t) for _ in range(t["encoder_layers"]))
        self.decoder_embed_positions = nn.Embedding(t["max_positions"] + POS_OFFSET, d)
        self.decoder_layernorm_embedding = nn.LayerNorm(d, eps=t["eps"])
        self.decoder_layers = nn.ModuleList(DecoderLayer(t) for _ in range(t["decoder_layers"]))
        self.lm_head = nn.Linear(d, vocab, bias=False)
        self.register_buffer("final_logits_bias", torch.zeros(1, vocab))
        self.kv_fp16 = False

    def encode(self, inputs_embeds, attention_mask):
        s = inputs_embeds.shape[1]
        x = self.encoder_layernorm_embedding(inputs_embeds + self.encoder_embed_positions(torch.arange(s) + POS_OFFSET))
        bias = padding_bias(attention_mask)
        for layer in self.encoder_layers:
            x = layer(x, bias)
        return x

    def cross_kv(self, encoder_hidden_states):
        """Per decoder layer (key, value) of the encoder output: present.i.encoder.*."""
        return [layer.encoder_attn.kv(encoder_hidden_states) for layer in self.decoder_layers]

    def decode(self, inputs_embeds, encoder_attention_mask, self_past, cross):
        """inputs_embeds [B, T, d]; self_past per layer (k, v) [B, H, past, hd] or None (no cache);
        cross per layer (k, v). -> (logits [B, T, V], new self (k, v) per layer [B, H, past+T, hd])."""
        t = inputs_embeds.shape[1]
        past = 0 if self_past is None else self_past[0][0].shape[2]
        if self_past is None:
            self_past = [(None, None)] * len(self.decoder_layers)
        x = inputs_embeds + self.decoder_embed_positions(torch.arange(t) + past + POS_OFFSET)
        x = self.decoder_layernorm_embedding(x)
        q_idx = torch.arange(t)[:, None] + past
        causal = torch.zeros(t, past + t).masked_fill(torch.arange(past + t)[None, :] > q_idx, NEG)[None, None]
        cross_bias = padding_bias(encoder_attention_mask)
        presents = []
        for layer, (pk, pv), (ek, ev) in zip(self.decoder_layers, self_past, cross):
            x, k, v = layer(x, causal, cross_bias, pk, pv, ek, ev)
            presents.append((k, v))
        logits = self.lm_head(x) + self.final_logits_bias
        if self.kv_fp16:        # the _fp16 decoder's float16 presents and logits (variants.py)
            presents = [(k.half().float(), v.half().float()) for k, v in presents]
            logits = logits.half().float()
        return logits, presents

    def empty_self_past(self, b=1):
        t = self.t
        hd = t["d_model"] // t["heads"]
        return [(torch.zeros(b, t["heads"], 0, hd), torch.zeros(b, t["heads"], 0, hd))
                for _ in range(t["decoder_layers"])]


class Florence2(nn.Module):
    def __init__(self, cfg, vocab):
        super().__init__()
        self.cfg = cfg
        self.vision = Vision(cfg)
        self.language = Language(cfg["text"], vocab)

    @property
    def decoder(self):      # variants.simulate sets decoder.kv_fp16
        return self.language


def init_weights(model, seed, loc_ids, loc_bias, eos_id=None, eos_bias=0.0):
    """Seeded random weights with O(1) activations (as lfm2_vl.init_weights); lm_head 4/sqrt(fan_in);
    final_logits_bias = loc_bias on the <loc_N> ids, eos_bias on </s>, 0 elsewhere."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() >= 2:
                fan_in = p[0].numel()
                emb = any(k in name for k in ("shared", "embed_positions", "row_embeddings", "column_embeddings"))
                std = 1.0 if emb else 1.0 / math.sqrt(fan_in)
                if "lm_head" in name:
                    std = 4.0 / math.sqrt(fan_in)
                p.copy_(torch.randn(p.shape, generator=g) * std)
            elif name.endswith("weight"):
                p.copy_(1.0 + 0.1 * torch.randn(p.shape, generator=g))
            else:
                p.copy_(0.05 * torch.randn(p.shape, generator=g))
        model.language.final_logits_bias.zero_()
        model.language.final_logits_bias[0, loc_ids] = loc_bias
        if eos_id is not None:
            model.language.final_logits_bias[0, eos_id] = eos_bias
    return model


# --------------------------------------------------------------------------- preprocessing
def preprocess(pil, cfg):
    """transformers.js CLIPImageProcessor with size {height, width}: RGB (alpha dropped), resize to
    size x size with resample 3 (sharp cubic there, Pillow BICUBIC here; skipped when the image already
    has that size, so such pixels are identical), rescale 1/255, normalize. -> ([1, 3, S, S], resized)."""
    im = cfg["image"]
    img = imageproc.to_rgb(pil)
    resized = img.size != (im["size"], im["size"])
    img = imageproc.resize_uint8(img, im["size"], im["size"], im["resample"])
    x = imageproc.rescale_normalize(img, imageproc.RESCALE, im["mean"], im["std"])
    return torch.from_numpy(np.ascontiguousarray(x))[None], resized


# --------------------------------------------------------------------------- reference generation
class Reference:
    """Image + prompt ids -> greedy generation exactly as transformers.js runs the four graphs:
    encoder input = [image_features ; embed(prompt ids)] with an all-ones mask, decoder start id,
    step 1 without cache (forced BOS), later steps with the self-attention cache and the step-1
    cross-attention cache, forced EOS at max_length - 1 (max_length = 1 + max_new_tokens)."""

    def __init__(self, model, gen):
        self.m, self.gen = model, gen

    @torch.no_grad()
    def generate(self, prompt_ids, pil, max_new_tokens):
        m, gen = self.m, self.gen
        lang = m.language
        pv, resized = preprocess(pil, m.cfg)
        feats = m.vision(pv)
        text = lang.shared(torch.tensor([prompt_ids]))
        enc_in = torch.cat([feats, text], dim=1)
        mask = torch.ones(1, enc_in.shape[1], dtype=torch.long)
        enc = lang.encode(enc_in, mask)
        cross = lang.cross_kv(enc)
        if lang.kv_fp16:        # step-1 cross presents leave the graph as float16 and come back from step 2 on
            cross_fed = [(k.half().float(), v.half().float()) for k, v in cross]
        else:
            cross_fed = cross
        seq = [gen["decoder_start_token_id"]]
        past = lang.empty_self_past()
        raw_steps, margins, forced = [], [], []
        max_length = 1 + max_new_tokens
        finish = "length"
        while True:
            x = lang.shared(torch.tensor([[seq[-1]]]))
            logits, past = lang.decode(x, mask, past, cross if len(seq) == 1 else cross_fed)
            raw = logits[0, -1].clone()
            raw_steps.append(raw)
            scores = raw.clone()
            kind = None
            if gen.get("forced_bos_token_id") is not None and len(seq) == 1:
                scores.fill_(-math.inf)
                scores[gen["forced_bos_token_id"]] = 0
                kind = "bos"
            if gen.get("forced_eos_token_id") is not None and len(seq) == max_length - 1:
                scores.fill_(-math.inf)
                scores[gen["forced_eos_token_id"]] = 0
                kind = "eos"
            forced.append(kind)
            if kind is None:
                top2 = torch.topk(scores, 2)
                margins.append(float(top2.values[0] - top2.values[1]))
            nxt = int(torch.argmax(scores))
            seq.append(nxt)
            if nxt == gen["eos_token_id"]:
                finish = "eos" if kind is None else "forced_eos"
                break
            if len(seq) >= max_length:
                break
        return dict(sequence=seq, generated_ids=seq[1:], raw_logits=raw_steps, forced=forced,
                    min_top2_margin=min(margins) if margins else None, finish_reason=finish,
                    pixel_values=pv, resized=resized, image_features=feats, encoder_hidden_states=enc,
                    encoder_length=enc_in.shape[1])
