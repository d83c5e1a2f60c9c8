"""The tiny Qwen2-VL folder: tokenizer, configs, the three onnx-community graphs and goldens.

    cd src/test/python && /usr/bin/python3 -m refmodels.qwen_kit        # all Qwen folders, ~4 min on 2 cores
    /usr/bin/python3 -m refmodels.qwen_kit --family qwen2_5_vl --seed 7 --out-models /tmp/m
    /usr/bin/python3 -m refmodels.qwen_kit --family qwen3_vl            # the two Qwen3-VL folders (qwen3_kit.py)

writes src/test/resources/models/vlm4j-tiny-qwen2-vl and vlm4j-tiny-qwen2_5-vl (random seeded
weights; --seed and the size options make other tiny models). Each folder is what transformers.js
4.3.1 loads for model_type `qwen2_vl` (Qwen2VLForConditionalGeneration, Qwen2VLProcessor,
Qwen2VLImageProcessor) or `qwen2_5_vl` (Qwen2_5_VLForConditionalGeneration, Qwen2_5_VLProcessor,
the same image processor):

* onnx/embed_tokens.onnx       input_ids [batch, seq] int64 -> inputs_embeds [batch, seq, H]
* onnx/vision_encoder.onnx     pixel_values [num_patches, C*T*P*P], grid_thw (qwen2_vl) or
                               image_grid_thw (qwen2_5_vl) [num_images, 3] int64
                               -> image_features [num_patches / merge^2, H]
* onnx/decoder_model_merged.onnx  inputs_embeds, attention_mask [batch, total], position_ids
                               [3, batch, seq] int64, past_key_values.N.key/value -> logits, present.N.*

Goldens come from the PyTorch reference (qwen2_vl.Reference) on PNGs stored in goldens/.
"""
import argparse
import copy
import json
import os
import random
import shutil

import numpy as np
import torch
from PIL import Image

from . import bpe, export, synth
from . import qwen2_5_vl as Q5
from . import qwen2_vl as Q
from .fixtures import _test_image
from .goldens import _top5
from .prompts import ENV
from .reference import checksum
from .synth import IMG, assistant, txt, user
from .variants import simulate

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_MODELS = os.path.normpath(os.path.join(HERE, "..", "..", "resources", "models"))
SEED = 20261201
MAX_NEW_TOKENS = 24
NUM_MERGES = 320

SPECIAL_HEAD = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
SPECIAL_TAIL = ["<|vision_start|>", "<|vision_end|>", "<|vision_pad|>", "<|image_pad|>", "<|video_pad|>"]

# The Qwen2-VL-Instruct chat template (default system turn, <|vision_start|><|image_pad|><|vision_end|>
# per image, optional "Picture k:" labels with add_vision_id). Insensitive to trim_blocks/lstrip_blocks.
TEMPLATE = (
    "{% set image_count = namespace(value=0) %}{% set video_count = namespace(value=0) %}"
    "{% for message in messages %}{% if loop.first and message['role'] != 'system' %}"
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n{% endif %}"
    "<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}<|im_end|>\n"
    "{% else %}{% for content in message['content'] %}"
    "{% if content['type'] == 'image' or 'image' in content or 'image_url' in content %}"
    "{% set image_count.value = image_count.value + 1 %}{% if add_vision_id %}Picture {{ image_count.value }}: {% endif %}"
    "<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif content['type'] == 'video' or 'video' in content %}"
    "{% set video_count.value = video_count.value + 1 %}{% if add_vision_id %}Video {{ video_count.value }}: {% endif %}"
    "<|vision_start|><|video_pad|><|vision_end|>"
    "{% elif 'text' in content %}{{ content['text'] }}{% endif %}{% endfor %}<|im_end|>\n"
    "{% endif %}{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

# Strings whose pre-tokenization exercises the Qwen2 Split regex and NFC (goldens' tokenizer_cases).
TOKENIZER_STRINGS = [
    "It's 12+3=15?! DON'T (stop)... \"quoted\"\n\n  indented\tTab caf\u0065\u0301 \u6771\u4eac \U0001F642",
    "<|vision_start|><|image_pad|><|vision_end|>What is this?<|im_end|>\n<|im_start|>assistant\n",
    "User text with <|image_pad|> and <|im_start|> inside",
    "line one\r\nline two\n\n\nend   ",
    "",
]

QUESTIONS = ["What shapes are in the image?", "Describe this image.", "How many shapes are there?",
             "What colour is the circle?", "Compare the two pictures.", "Which picture has more shapes?",
             "And what about the second picture?", "What is written here?", "Is the strip striped?",
             "Say hello in one word.", "What is two plus three?"]


# --------------------------------------------------------------------------- tokenizer
def build_tokenizer(num_merges=NUM_MERGES, vocab_size=None):
    """Byte-level BPE with Qwen2's pre-tokenizer and normalizer (bpe.pre_tokenize_qwen2), merges
    learned from the template's fixed text and the golden questions; Qwen's special tokens.
    `vocab_size`: pad the vocabulary with unused entries to this size (None: no padding)."""
    texts = ["system\nYou are a helpful assistant.", "user\n", "assistant\n", "Picture 1: ", "Picture 2: "] * 20
    texts += QUESTIONS * 10
    rng = random.Random(SEED)
    for _ in range(300):
        pic = synth.make_scene(rng, None, (128, 128))
        q, a, _ = synth.scene_question(rng, pic)
        texts += [q, " " + a, a]
    merges = bpe.train_merges(texts, num_merges, "qwen2")
    return bpe.Tokenizer(merges, SPECIAL_HEAD, SPECIAL_TAIL, vocab_size=vocab_size, style="qwen2")


def tokenizer_config(tok, max_len):
    added = {str(tok.vocab[t]): {"content": t, "lstrip": False, "normalized": False, "rstrip": False,
                                 "single_word": False, "special": True} for t in tok.added}
    return {"add_prefix_space": False, "added_tokens_decoder": added,
            "additional_special_tokens": ["<|im_start|>", "<|im_end|>"] + SPECIAL_TAIL,
            "bos_token": None, "chat_template": TEMPLATE, "clean_up_tokenization_spaces": False,
            "eos_token": "<|im_end|>", "errors": "replace", "model_max_length": max_len,
            "pad_token": "<|endoftext|>", "split_special_tokens": False, "tokenizer_class": "Qwen2Tokenizer",
            "unk_token": None}


def render(messages, add_generation_prompt=True):
    return ENV.from_string(TEMPLATE).render(messages=messages, add_generation_prompt=add_generation_prompt)


def expand(text, grids, merge):
    """Qwen2VLProcessor: the k-th <|image_pad|> becomes t*h*w/merge^2 copies of itself."""
    pieces = text.split("<|image_pad|>")
    if len(pieces) - 1 != len(grids):
        raise ValueError(f"{len(pieces) - 1} <|image_pad|> in the prompt but {len(grids)} images")
    out = pieces[0]
    for (t, h, w), rest in zip(grids, pieces[1:]):
        out += "<|image_pad|>" * (t * h * w // (merge * merge)) + rest
    return out


# --------------------------------------------------------------------------- configs
FAMILIES = {
    "qwen2_vl": dict(folder="vlm4j-tiny-qwen2-vl", cfg=Q.TINY, seed=SEED, grid_input="grid_thw",
                     arch="Qwen2VLForConditionalGeneration", processor="Qwen2VLProcessor"),
    "qwen2_5_vl": dict(folder="vlm4j-tiny-qwen2_5-vl", cfg=Q5.TINY, seed=SEED + 25, grid_input="image_grid_thw",
                       arch="Qwen2_5_VLForConditionalGeneration", processor="Qwen2_5_VLProcessor"),
}


def vision_config(family, v, t):
    """Qwen2-VL: hidden_size = decoder width, embed_dim = ViT width. Qwen2.5-VL: hidden_size = ViT
    width, out_hidden_size = decoder width, plus the window-attention and MLP fields."""
    common = {"model_type": family, "depth": v["depth"], "num_heads": v["num_heads"], "in_chans": v["in_chans"],
              "in_channels": v["in_chans"], "patch_size": v["patch_size"], "spatial_patch_size": v["patch_size"],
              "spatial_merge_size": v["spatial_merge_size"], "temporal_patch_size": v["temporal_patch_size"]}
    if family == "qwen2_vl":
        return dict(common, embed_dim=v["embed_dim"], mlp_ratio=v["mlp_ratio"], hidden_size=t["hidden"],
                    hidden_act="quick_gelu")
    return dict(common, hidden_size=v["embed_dim"], out_hidden_size=t["hidden"], intermediate_size=v["intermediate_size"],
                hidden_act="silu", window_size=v["window_size"], fullatt_block_indexes=list(v["fullatt_block_indexes"]),
                tokens_per_second=v["tokens_per_second"])


def configs(family, cfg, tok):
    v, t, im = cfg["vision"], cfg["text"], cfg["image"]
    fam = FAMILIES[family]
    ids = {k: tok.vocab[s] for k, s in [("image", "<|image_pad|>"), ("video", "<|video_pad|>"),
                                         ("vstart", "<|vision_start|>"), ("vend", "<|vision_end|>"),
                                         ("vpad", "<|vision_pad|>"), ("eot", "<|endoftext|>"), ("end", "<|im_end|>")]}
    text = {"vocab_size": len(tok.vocab), "hidden_size": t["hidden"], "intermediate_size": t["intermediate"],
            "num_hidden_layers": t["layers"], "num_attention_heads": t["heads"], "num_key_value_heads": t["kv_heads"],
            "hidden_act": "silu", "rms_norm_eps": t["rms_eps"], "rope_theta": t["rope_theta"],
            "max_position_embeddings": t["max_positions"], "max_window_layers": t["layers"],
            "use_sliding_window": False, "sliding_window": t["max_positions"], "attention_dropout": 0.0,
            "tie_word_embeddings": False, "bos_token_id": ids["eot"], "eos_token_id": ids["end"],
            "rope_scaling": {"type": "mrope", "rope_type": "default", "mrope_section": list(t["mrope_section"])}}
    config = dict({"architectures": [fam["arch"]], "model_type": family}, **text)
    config.update({"image_token_id": ids["image"], "video_token_id": ids["video"],
                   "vision_start_token_id": ids["vstart"], "vision_end_token_id": ids["vend"],
                   "vision_token_id": ids["vpad"], "torch_dtype": "float32",
                   "vision_config": vision_config(family, v, t),
                   "transformers.js_config": {"kv_cache_dtype": {"fp16": "float16"}}})
    if family == "qwen2_5_vl":     # transformers.js reads the decoder shapes of qwen2_5_vl from text_config
        config["text_config"] = dict(text, model_type="qwen2_5_vl_text")
    pre = {"do_convert_rgb": True, "do_normalize": True, "do_rescale": True, "do_resize": True,
           "image_mean": im["mean"], "image_std": im["std"], "image_processor_type": "Qwen2VLImageProcessor",
           "processor_class": fam["processor"], "min_pixels": im["min_pixels"], "max_pixels": im["max_pixels"],
           "size": {"shortest_edge": im["min_pixels"], "longest_edge": im["max_pixels"]},
           "patch_size": v["patch_size"], "merge_size": v["spatial_merge_size"],
           "temporal_patch_size": v["temporal_patch_size"], "resample": im["resample"],
           "rescale_factor": 0.00392156862745098}
    gen = {"bos_token_id": ids["eot"], "eos_token_id": [ids["end"], ids["eot"]], "pad_token_id": ids["eot"],
           "do_sample": False}
    special = {"additional_special_tokens": ["<|im_start|>", "<|im_end|>"] + SPECIAL_TAIL,
               "eos_token": "<|im_end|>", "pad_token": "<|endoftext|>"}
    return config, pre, gen, special, (ids["end"], ids["eot"])


# --------------------------------------------------------------------------- export
class Vision(torch.nn.Module):
    def __init__(self, m):
        super().__init__()
        self.visual = m.visual

    def forward(self, pixel_values, grid_thw):
        return self.visual(pixel_values, grid_thw)


def export_graphs(m, onnx_dir, grid_input="grid_thw"):
    export_vision(m, onnx_dir, grid_input)
    export_embed(m, onnx_dir)
    export_decoder(m, onnx_dir)


def export_vision(m, onnx_dir, grid_input="grid_thw"):
    v = m.cfg["vision"]
    os.makedirs(onnx_dir, exist_ok=True)
    width = v["in_chans"] * v["temporal_patch_size"] * v["patch_size"] ** 2
    grids = torch.tensor([[1, 4, 6], [1, 2, 2]], dtype=torch.long)
    n = int((grids[:, 0] * grids[:, 1] * grids[:, 2]).sum())
    export._export(Vision(m), (torch.randn(n, width), grids), os.path.join(onnx_dir, "vision_encoder.onnx"),
                   ["pixel_values", grid_input], ["image_features"],
                   {"pixel_values": {0: "num_patches"}, grid_input: {0: "num_images"},
                    "image_features": {0: "num_image_tokens"}})


def export_embed(m, onnx_dir):
    export._export(export.EmbedTokens(m), (torch.tensor([[1, 5, 9]]),), os.path.join(onnx_dir, "embed_tokens.onnx"),
                   ["input_ids"], ["inputs_embeds"],
                   {"input_ids": {0: "batch_size", 1: "sequence_length"},
                    "inputs_embeds": {0: "batch_size", 1: "sequence_length"}})


def export_decoder(m, onnx_dir):
    t = m.cfg["text"]
    b, s, p, hd = 1, 3, 2, t["hidden"] // t["heads"]
    past = [torch.randn(b, t["kv_heads"], p, hd) for _ in range(2 * t["layers"])]
    past_names, present_names = export.kv_names(t["layers"])
    dyn = {"inputs_embeds": {0: "batch_size", 1: "sequence_length"},
           "attention_mask": {0: "batch_size", 1: "total_sequence_length"},
           "position_ids": {1: "batch_size", 2: "sequence_length"},
           "logits": {0: "batch_size", 1: "sequence_length"}}
    dyn.update({nm: {0: "batch_size", 2: "past_sequence_length"} for nm in past_names})
    dyn.update({nm: {0: "batch_size", 2: "total_sequence_length"} for nm in present_names})
    pos = torch.arange(p, p + s)[None, None].expand(3, b, s).contiguous()
    export._export(export.DecoderMerged(m), (torch.randn(b, s, t["hidden"]), torch.ones(b, p + s, dtype=torch.long), pos, *past),
                   os.path.join(onnx_dir, "decoder_model_merged.onnx"),
                   ["inputs_embeds", "attention_mask", "position_ids"] + past_names, ["logits"] + present_names, dyn)


# --------------------------------------------------------------------------- goldens
def _picture(rng, size, seed):
    """(w, h) -> a scene of shapes (RGB); (w, h, mode) or a side under 56 px -> a noisy pattern."""
    w, h = size[:2]
    if len(size) == 2 and min(w, h) >= 56:
        return synth.make_scene(rng, rng.choice([2, 3]), (w, h)).image
    return _test_image(w, h, seed, size[2] if len(size) > 2 else "RGB")


def case_specs():
    """(name, description, messages, image sizes (w, h)). Sizes that are multiples of 28 inside
    [min_pixels, max_pixels] need no resize, so every runtime sees the same pixels."""
    q = QUESTIONS
    one = lambda question: [user(IMG, txt(question))]  # noqa: E731
    return [
        ("square_no_resize", "56x56: 2x2 merged tokens, no resize", one(q[0]), [(56, 56)]),
        ("wide_no_resize", "112x56: 4x2 tokens, no resize", one(q[1]), [(112, 56)]),
        ("tall_no_resize", "84x168: 3x6 tokens, no resize", one(q[2]), [(84, 168)]),
        ("large_no_resize", "224x196: 8x7 = 56 tokens, no resize", one(q[3]), [(224, 196)]),
        ("resize_round", "100x75 -> 112x84 (rounding to multiples of 28)", one(q[1]), [(100, 75)]),
        ("resize_up", "20x40 -> 56x84 (below factor and min_pixels: scaled up)", one(q[0]), [(20, 40)]),
        ("resize_down", "400x300 -> 252x168 (above max_pixels: scaled down)", one(q[2]), [(400, 300)]),
        ("strip_up", "280x14 strip -> 560x28", one(q[8]), [(280, 14)]),
        ("grayscale_no_resize", "84x56 grayscale PNG (grey replicated to RGB)", one(q[1]), [(84, 56, "L")]),
        ("rgba_no_resize", "56x84 RGBA PNG (alpha dropped, no compositing)", one(q[1]), [(56, 84, "RGBA")]),
        ("palette_no_resize", "112x56 palette PNG", one(q[1]), [(112, 56, "P")]),
        ("two_images_one_turn", "two images of different sizes, then text, in one user turn",
         [user(IMG, IMG, txt(q[4]))], [(56, 56), (112, 84)]),
        ("interleaved", "text, image, text, image, text in one turn",
         [user(txt("Picture one:"), IMG, txt("Picture two:"), IMG, txt(q[5]))], [(84, 56), (56, 84)]),
        ("multi_turn", "image chat; the second user turn adds a second image",
         [user(IMG, txt(q[0])), assistant("A red circle and a blue square."), user(IMG, txt(q[6]))],
         [(112, 56), (56, 56)]),
        ("multi_turn_text_followup", "image chat, text-only follow-up turn",
         [user(IMG, txt(q[1])), assistant("Two shapes."), user(txt(q[2]))], [(84, 84)]),
        ("text_only", "no image", [user(txt(q[10]))], []),
        ("text_only_pretokenizer", "no image; digits, contractions, punctuation runs, newlines, non-ASCII",
         [user(txt(TOKENIZER_STRINGS[0]))], []),
    ]


VARIANTS = ("fp16", "q8")


def build_goldens(family, m, tok, folder, seed, eos_ids):
    image_id = tok.vocab["<|image_pad|>"]
    ref = Q.Reference(m, image_id)
    sims = {d: Q.Reference(simulate(m, d), image_id) for d in VARIANTS}
    merge = m.cfg["vision"]["spatial_merge_size"]
    os.makedirs(os.path.join(folder, "goldens"), exist_ok=True)
    cases = []
    for ci, (name, desc, messages, sizes) in enumerate(case_specs()):
        best = None
        for attempt in range(8):     # prefer draws whose greedy steps have a clear top-2 margin
            rng = random.Random(seed * 1000 + ci * 37 + attempt)
            pils = [_picture(rng, size, ci * 10 + k + attempt) for k, size in enumerate(sizes)]
            pre = [Q.preprocess(p, m.cfg) for p in pils]
            ids = tok.encode(expand(render(messages), [x[1] for x in pre], merge))
            r = ref.generate(ids, pils, MAX_NEW_TOKENS, eos_ids)
            if best is None or r["min_top2_margin"] > best[0]:
                best = (r["min_top2_margin"], pils, pre, ids, r)
            if r["min_top2_margin"] >= 0.05:
                break
        _, pils, pre, ids, r = best
        paths = [f"goldens/{name}_{k}.png" for k in range(len(pils))]
        for p, rel in zip(pils, paths):
            p.save(os.path.join(folder, rel), optimize=True)      # PNG: lossless, the pixels used above
        case = {"name": name, "description": desc, "messages": messages, "images": paths,
                "image_sizes": [list(s[:2]) for s in sizes], "resized_sizes": [list(x[2]) for x in pre],
                "needs_resize": [list(s[:2]) != list(x[2]) for s, x in zip(sizes, pre)],
                "image_grid_thw": [list(g) for g in r["grids"]], "prompt_ids": ids, "prompt_length": len(ids),
                "image_token_count": r["image_token_count"], "rope_delta": r["rope_delta"],
                "position_ids": r["position_ids"],
                "max_new_tokens": MAX_NEW_TOKENS, "generated_ids": r["generated_ids"],
                "text": tok.decode(r["generated_ids"], skip_special=True), "finish_reason": r["finish_reason"],
                "first_step_top5": _top5(r["first_logits"]), "first_step_logits": checksum(r["first_logits"]),
                "min_top2_margin": r["min_top2_margin"]}
        case["variants"] = {}
        for d, sref in sims.items():
            sv = sref.generate(ids, pils, MAX_NEW_TOKENS, eos_ids)
            case["variants"][d] = {"generated_ids": sv["generated_ids"], "first_step_top5": _top5(sv["first_logits"]),
                                   "min_top2_margin": sv["min_top2_margin"]}
        if not pils:
            # transformers.js 4.3.1 _get_text_only_rope_index adds the sequence length to the rope delta
            # (max + 1 + S instead of max + 1 - S), so its text-only decode steps run at positions 2S too
            # far. Greedy ids with that offset, to show the divergence is this and nothing else.
            for target, rr in [(case, ref)] + [(case["variants"][d], sims[d]) for d in VARIANTS]:
                t = rr.generate(ids, [], MAX_NEW_TOKENS, eos_ids, decode_start=3 * len(ids))
                target["transformersjs_4_3_1_text_only_rope_delta_bug"] = {
                    "decode_start": 3 * len(ids), "generated_ids": t["generated_ids"]}
        if r["pixel_values"] is not None:
            case["pixel_values"] = checksum(r["pixel_values"])
            case["image_features"] = checksum(r["image_features"])
        cases.append(case)
    doc = {"model": os.path.basename(folder), "layout": family, "seed": seed,
           "reference": f"PyTorch fp32 (src/test/python/refmodels/{family}.py), greedy, KV cache, M-RoPE position_ids "
                        "[3,1,S] from the prompt; decode step k at max(position)+1+k in all three",
           "preprocessing": "Pillow bicubic (resample 3) for resized images; transformers.js resizes with sharp, so "
                            "only images with needs_resize all false are pixel-identical across runtimes",
           "tokenizer_cases": [{"text": t, "ids": tok.encode(t), "plain_ids": tok.encode_plain(t),
                                "decoded": tok.decode(tok.encode_plain(t), skip_special=True)} for t in TOKENIZER_STRINGS],
           "tolerances": {"first_step_logits_fp32": 1e-4,
                          "variants": "ids equal to the variant's own goldens (PyTorch with the same weight/KV "
                                      "rounding); first-step logits within 2e-2 (fp16 output rounding) / 1e-3 (q8)"},
           "variant_files": {"fp16": "*_fp16.onnx: float16 weights, float16 KV cache and logits, float32 inputs_embeds, "
                                     "pixel_values and image_features",
                             "q8": "*_quantized.onnx: weight-only int8 (per output channel, DequantizeLinear) for "
                                   "MatMul/Gemm/Gather weights; the Conv3d patch embedding stays float32"},
           "eos_token_ids": list(eos_ids), "cases": cases}
    export.write_json(os.path.join(folder, "goldens.json"), doc)
    return doc


# --------------------------------------------------------------------------- main
def build(family, out, seed, cfg):
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(os.path.join(out, "onnx"), exist_ok=True)
    if "window_size" in cfg["vision"]:
        Q5.check_windows(cfg, [(1, 16, 14), (1, 18, 12), (2, 6, 10), (1, 4, 4)])
    tok = build_tokenizer()
    torch.manual_seed(seed)
    m = Q.init_weights(Q.Qwen2VL(cfg, len(tok.vocab)), seed).eval()
    for p in m.parameters():
        p.requires_grad_(False)
    config, pre, gen, special, eos = configs(family, cfg, tok)
    tok.save(os.path.join(out, "tokenizer.json"))
    for fname, obj in [("config.json", config), ("preprocessor_config.json", pre), ("generation_config.json", gen),
                       ("special_tokens_map.json", special),
                       ("tokenizer_config.json", tokenizer_config(tok, cfg["text"]["max_positions"]))]:
        export.write_json(os.path.join(out, fname), obj)
    o = os.path.join(out, "onnx")
    export_graphs(m, o, FAMILIES[family]["grid_input"])
    export.variants(o, "decoder_model_merged", fp16_io=True)     # float16 KV cache and logits
    export.variants(o, "vision_encoder")
    export.variants(o, "embed_tokens")
    return m, tok, build_goldens(family, m, tok, out, seed + 1, eos)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--family", choices=["all"] + list(FAMILIES) + ["qwen3_vl"], default="all",
                    help="qwen3_vl: both Qwen3-VL folders (qwen3_kit.py); all: every Qwen folder")
    ap.add_argument("--out-models", default=DEFAULT_MODELS, help="folder the model folders are written into")
    ap.add_argument("--seed", type=int, default=None, help="weights seed (default: a fixed one per family)")
    ap.add_argument("--text-hidden", type=int, help="decoder width (multiple of 4 heads x 4)")
    ap.add_argument("--text-layers", type=int)
    ap.add_argument("--vision-depth", type=int)
    ap.add_argument("--vision-width", type=int)
    ap.add_argument("--max-pixels", type=int)
    a = ap.parse_args()
    torch.set_num_threads(2)
    for family in (list(FAMILIES) + ["qwen3_vl"] if a.family == "all" else [a.family]):
        if family == "qwen3_vl":
            main_qwen3(a)
            continue
        fam = FAMILIES[family]
        cfg = copy.deepcopy(fam["cfg"])
        for sect, key, val in [("text", "hidden", a.text_hidden), ("text", "layers", a.text_layers),
                               ("vision", "depth", a.vision_depth), ("vision", "embed_dim", a.vision_width),
                               ("image", "max_pixels", a.max_pixels)]:
            if val is not None:
                cfg[sect][key] = val
        if "fullatt_block_indexes" in cfg["vision"]:
            cfg["vision"]["fullatt_block_indexes"] = [i for i in cfg["vision"]["fullatt_block_indexes"]
                                                      if i < cfg["vision"]["depth"]]
        _, _, doc = build(family, os.path.join(a.out_models, fam["folder"]), fam["seed"] if a.seed is None else a.seed,
                          cfg)
        print(doc["model"])
        for c in doc["cases"]:
            print(f"  {c['name']:28s} prompt {c['prompt_length']:4d}  image tokens {c['image_token_count']:3d}  "
                  f"margin {c['min_top2_margin']:.3f}  {json.dumps(c['generated_ids'][:8])}...")


def main_qwen3(a):
    from . import qwen3_kit, qwen3_vl
    cfg = copy.deepcopy(qwen3_vl.TINY)
    for sect, key, val in [("text", "hidden", a.text_hidden), ("text", "layers", a.text_layers),
                           ("vision", "depth", a.vision_depth), ("vision", "embed_dim", a.vision_width),
                           ("image", "max_pixels", a.max_pixels)]:
        if val is not None:
            cfg[sect][key] = val
    if a.text_hidden is not None:
        cfg["text"]["head_dim"] = a.text_hidden // cfg["text"]["heads"]
    _, _, docs = qwen3_kit.build(a.out_models, qwen3_kit.SEED if a.seed is None else a.seed, cfg)
    for doc in docs:
        print(doc["model"])
        for c in doc["cases"]:
            extra = ""
            if "deepstack_off" in c:
                extra = "  same as without DeepStack" if c["deepstack_off"]["same_generated_ids"] else "  DeepStack changes ids"
            print(f"  {c['name']:28s} prompt {c['prompt_length']:4d}  image tokens {c['image_token_count']:3d}  "
                  f"margin {c['min_top2_margin']:.3f}  {json.dumps(c['generated_ids'][:8])}...{extra}")
    eff = docs[1]["deepstack_effect"]
    print(f"DeepStack changes the greedy ids of {eff['cases_with_different_greedy_ids']}/{eff['cases']} cases")
    if os.path.normpath(a.out_models) == DEFAULT_MODELS:
        from .cnn.report import replace_section
        replace_section("qwen3-vl", qwen3_kit.report_lines(docs[1]))


if __name__ == "__main__":
    main()
