"""The tiny LFM2-VL folder: tokenizer, configs, the three onnx-community graphs and goldens.

    cd src/test/python && /usr/bin/python3 -m refmodels.lfm2_kit                 # ~1 min on 2 cores
    /usr/bin/python3 -m refmodels.lfm2_kit --seed 7 --text-hidden 96 --out-models /tmp/m

writes src/test/resources/models/vlm4j-tiny-lfm2-vl (random seeded weights; --seed and the size
options make other tiny models): what transformers.js 4.3.1 loads for model_type `lfm2_vl`
(Lfm2VlForConditionalGeneration, Lfm2VlProcessor, Lfm2VlImageProcessor):

* onnx/embed_tokens.onnx       input_ids [batch, seq] int64 -> inputs_embeds [batch, seq, H]
* onnx/vision_encoder.onnx     pixel_values [num_tiles, max_num_patches, P*P*3], pixel_attention_mask
                               [num_tiles, max_num_patches] int64, spatial_shapes [num_tiles, 2] int64
                               -> image_features [num_image_tokens, H]
* onnx/decoder_model_merged.onnx  inputs_embeds, attention_mask, position_ids, and per layer either
                               past_conv.i (conv layers) or past_key_values.i.key/value (attention layers)
                               -> logits, present_conv.i / present.i.key/value (goldens.json "decoder_io")

Goldens come from the PyTorch reference (lfm2_vl.Reference) on PNGs stored in goldens/.
"""
import argparse
import copy
import json
import os
import random
import shutil

import onnx
import torch

from . import bpe, export, synth
from . import lfm2_vl as L
from .fixtures import _test_image
from .goldens import _top5
from .prompts import ENV
from .reference import checksum
from .synth import IMG, assistant, txt, user
from .variants import simulate

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_MODELS = os.path.normpath(os.path.join(HERE, "..", "..", "resources", "models"))
FOLDER = "vlm4j-tiny-lfm2-vl"
SEED = 20261216
MAX_NEW_TOKENS = 24
NUM_MERGES = 300
BOS = "<|startoftext|>"

SPECIAL_HEAD = ["<|pad|>", BOS, "<|endoftext|>", "<|im_start|>", "<|im_end|>"]


def special_tail(max_tiles):
    rows = [f"<|img_row_{r}_col_{c}|>" for r in range(1, max_tiles + 1) for c in range(1, max_tiles + 1)]
    return ["<image>", "<|image_start|>", "<|image_end|>", "<|img_thumbnail|>"] + rows


# LFM2-style ChatML: bos, <|im_start|>role\n ... <|im_end|>\n, one <image> per image item.
TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for item in message['content'] %}"
    "{% if item['type'] == 'image' %}<image>{% elif item['type'] == 'text' %}{{ item['text'] }}{% endif %}"
    "{% endfor %}{% endif %}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

TOKENIZER_STRINGS = [
    "It's 12+3=15?! DON'T (stop)... \"quoted\"\n\n  indented\tTab caf\u0065\u0301 \u6771\u4eac \U0001F642",
    "<|image_start|><image><|img_row_1_col_2|><|img_thumbnail|><|image_end|>What is this?<|im_end|>\n",
    "User text with <image> and <|im_start|> inside",
    "",
]

QUESTIONS = ["What shapes are in the image?", "Describe this image.", "How many shapes are there?",
             "What colour is the circle?", "Compare the two pictures.", "And what about the second picture?",
             "Is the strip striped?", "What is two plus three?"]


# --------------------------------------------------------------------------- tokenizer
def build_tokenizer(max_tiles, num_merges=NUM_MERGES, vocab_size=None):
    """`vocab_size`: pad the vocabulary with unused entries to this size (None: no padding)."""
    texts = ["user\n", "assistant\n"] * 20 + QUESTIONS * 10
    rng = random.Random(SEED)
    for _ in range(300):
        pic = synth.make_scene(rng, None, (128, 128))
        q, a, _ = synth.scene_question(rng, pic)
        texts += [q, " " + a, a]
    merges = bpe.train_merges(texts, num_merges, "qwen2")
    return bpe.Tokenizer(merges, SPECIAL_HEAD, special_tail(max_tiles), vocab_size=vocab_size, style="qwen2")


def tokenizer_config(tok, max_len):
    added = {str(tok.vocab[t]): {"content": t, "lstrip": False, "normalized": False, "rstrip": False,
                                 "single_word": False, "special": True} for t in tok.added}
    return {"add_bos_token": False, "add_eos_token": False, "added_tokens_decoder": added, "bos_token": BOS,
            "chat_template": TEMPLATE, "clean_up_tokenization_spaces": False, "eos_token": "<|im_end|>",
            "legacy": False, "model_max_length": max_len, "pad_token": "<|pad|>", "split_special_tokens": False,
            "tokenizer_class": "PreTrainedTokenizerFast", "use_default_system_prompt": False}


def render(messages, add_generation_prompt=True):
    return ENV.from_string(TEMPLATE).render(messages=messages, add_generation_prompt=add_generation_prompt,
                                            bos_token=BOS)


# --------------------------------------------------------------------------- configs
def configs(cfg, tok):
    v, p, t, im = cfg["vision"], cfg["projector"], cfg["text"], cfg["image"]
    ids = {k: tok.vocab[s] for k, s in [("image", "<image>"), ("pad", "<|pad|>"), ("bos", BOS),
                                         ("end", "<|im_end|>"), ("eot", "<|endoftext|>")]}
    attn = [i for i, k in enumerate(t["layer_types"]) if k == "full_attention"]
    text = {"model_type": "lfm2", "vocab_size": len(tok.vocab), "hidden_size": t["hidden"],
            "intermediate_size": t["ff"], "block_ff_dim": t["ff"], "block_dim": t["hidden"],
            "block_auto_adjust_ff_dim": False, "block_multiple_of": 1, "block_ffn_dim_multiplier": None,
            "num_hidden_layers": len(t["layer_types"]), "num_attention_heads": t["heads"],
            "num_key_value_heads": t["kv_heads"], "layer_types": list(t["layer_types"]), "full_attn_idxs": attn,
            "conv_L_cache": t["conv_L"], "conv_bias": False, "conv_dim": t["hidden"], "norm_eps": t["norm_eps"],
            "rope_theta": t["rope_theta"], "max_position_embeddings": t["max_positions"], "tie_embedding": False,
            "tie_word_embeddings": False, "use_cache": True, "bos_token_id": ids["bos"], "eos_token_id": ids["end"],
            "pad_token_id": ids["pad"]}
    vision = {"model_type": "siglip2_vision_model", "hidden_size": v["hidden"], "intermediate_size": v["intermediate"],
              "num_hidden_layers": v["layers"], "num_attention_heads": v["heads"], "num_channels": v["channels"],
              "patch_size": v["patch"], "num_patches": v["pos_grid"] ** 2, "hidden_act": "gelu_pytorch_tanh",
              "layer_norm_eps": v["eps"], "vision_use_head": False}
    config = {"architectures": ["Lfm2VlForConditionalGeneration"], "model_type": "lfm2_vl",
              "image_token_id": ids["image"], "image_token_index": ids["image"],
              "projector_hidden_act": "gelu", "projector_hidden_size": p["hidden"], "projector_bias": True,
              "downsample_factor": im["downsample"], "vision_feature_layer": -1,
              "min_image_tokens": im["min_tokens"], "max_image_tokens": im["max_tokens"],
              "encoder_patch_size": v["patch"], "use_image_special_tokens": True,
              "do_image_splitting": im["splitting"], "min_tiles": im["min_tiles"], "max_tiles": im["max_tiles"],
              "tile_size": im["tile"], "max_pixels_tolerance": im["tolerance"], "use_thumbnail": im["thumbnail"],
              "torch_dtype": "float32", "text_config": text, "vision_config": vision,
              "transformers.js_config": {"kv_cache_dtype": {"fp16": "float16"}}}
    pre = {"image_processor_type": "Lfm2VlImageProcessor", "processor_class": "Lfm2VlProcessor",
           "do_convert_rgb": True, "do_rescale": True, "rescale_factor": 0.00392156862745098, "do_normalize": True,
           "image_mean": im["mean"], "image_std": im["std"], "do_resize": False, "do_pad": False,
           "downsample_factor": im["downsample"], "do_image_splitting": im["splitting"],
           "min_tiles": im["min_tiles"], "max_tiles": im["max_tiles"], "use_thumbnail": im["thumbnail"],
           "min_image_tokens": im["min_tokens"], "max_image_tokens": im["max_tokens"],
           "encoder_patch_size": v["patch"], "tile_size": im["tile"], "max_pixels_tolerance": im["tolerance"],
           "max_num_patches": L.max_num_patches(cfg), "return_row_col_info": False}
    proc = {"processor_class": "Lfm2VlProcessor", "image_token": "<image>", "image_start_token": "<|image_start|>",
            "image_end_token": "<|image_end|>", "image_thumbnail": "<|img_thumbnail|>", "use_image_special_tokens": True}
    gen = {"bos_token_id": ids["bos"], "eos_token_id": [ids["end"], ids["eot"]], "pad_token_id": ids["pad"],
           "do_sample": False}
    special = {"bos_token": BOS, "eos_token": "<|im_end|>", "pad_token": "<|pad|>"}
    return config, pre, proc, gen, special, (ids["end"], ids["eot"])


# --------------------------------------------------------------------------- export
def io_names(t):
    """Decoder cache names in graph order (per layer): (past names, present names)."""
    past, present = [], []
    for i, kind in enumerate(t["layer_types"]):
        if kind == "conv":
            past.append(f"past_conv.{i}")
            present.append(f"present_conv.{i}")
        else:
            past += [f"past_key_values.{i}.key", f"past_key_values.{i}.value"]
            present += [f"present.{i}.key", f"present.{i}.value"]
    return past, present


class DecoderGraph(torch.nn.Module):
    def __init__(self, m):
        super().__init__()
        self.dec = m.decoder

    def forward(self, inputs_embeds, attention_mask, position_ids, *flat):
        past, k = [], 0
        for kind in self.dec.t["layer_types"]:
            n = 1 if kind == "conv" else 2
            past.append(tuple(flat[k:k + n]))
            k += n
        logits, presents = self.dec(inputs_embeds, attention_mask, position_ids, past)
        return (logits,) + tuple(a for pr in presents for a in pr)


def export_graphs(m, onnx_dir):
    cfg = m.cfg
    t, v = cfg["text"], cfg["vision"]
    os.makedirs(onnx_dir, exist_ok=True)
    n = L.max_num_patches(cfg)
    shapes = torch.tensor([[8, 8], [6, 10], [2, 30]], dtype=torch.long)
    mask = (torch.arange(n)[None] < (shapes[:, 0] * shapes[:, 1])[:, None]).to(torch.long)
    pv = torch.randn(3, n, v["channels"] * v["patch"] ** 2) * mask[..., None]
    export._export(m.vision, (pv, mask, shapes), os.path.join(onnx_dir, "vision_encoder.onnx"),
                   ["pixel_values", "pixel_attention_mask", "spatial_shapes"], ["image_features"],
                   {"pixel_values": {0: "num_tiles", 1: "max_num_patches"},
                    "pixel_attention_mask": {0: "num_tiles", 1: "max_num_patches"},
                    "spatial_shapes": {0: "num_tiles"}, "image_features": {0: "num_image_tokens"}})
    export._export(export.EmbedTokens(m), (torch.tensor([[1, 5, 9]]),), os.path.join(onnx_dir, "embed_tokens.onnx"),
                   ["input_ids"], ["inputs_embeds"],
                   {"input_ids": {0: "batch_size", 1: "sequence_length"},
                    "inputs_embeds": {0: "batch_size", 1: "sequence_length"}})
    b, s, p, hd = 1, 3, 2, t["hidden"] // t["heads"]
    flat = []
    for kind in t["layer_types"]:
        flat += [torch.randn(b, t["hidden"], t["conv_L"])] if kind == "conv" else \
            [torch.randn(b, t["kv_heads"], p, hd), torch.randn(b, t["kv_heads"], p, hd)]
    past_names, present_names = io_names(t)
    dyn = {"inputs_embeds": {0: "batch_size", 1: "sequence_length"},
           "attention_mask": {0: "batch_size", 1: "total_sequence_length"},
           "position_ids": {0: "batch_size", 1: "sequence_length"},
           "logits": {0: "batch_size", 1: "sequence_length"}}
    for nm in past_names:
        dyn[nm] = {0: "batch_size"} if "conv" in nm else {0: "batch_size", 2: "past_sequence_length"}
    for nm in present_names:
        dyn[nm] = {0: "batch_size"} if "conv" in nm else {0: "batch_size", 2: "total_sequence_length"}
    pos = torch.arange(p, p + s)[None]
    export._export(DecoderGraph(m), (torch.randn(b, s, t["hidden"]), torch.ones(b, p + s, dtype=torch.long), pos, *flat),
                   os.path.join(onnx_dir, "decoder_model_merged.onnx"),
                   ["inputs_embeds", "attention_mask", "position_ids"] + past_names, ["logits"] + present_names, dyn)
    _static_conv_outputs(os.path.join(onnx_dir, "decoder_model_merged.onnx"), t["conv_L"])


def _static_conv_outputs(path, conv_l):
    """The exporter cannot infer that present_conv.i (a slice of a concat) has conv_L columns; write it."""
    model = onnx.load(path)
    for out in model.graph.output:
        if out.name.startswith("present_conv."):
            dim = out.type.tensor_type.shape.dim[2]
            dim.Clear()
            dim.dim_value = conv_l
    onnx.checker.check_model(model)
    onnx.save(model, path)


def decoder_io(cfg):
    """The decoder graph contract written into goldens.json for the Java side."""
    t = cfg["text"]
    hd = t["hidden"] // t["heads"]
    inputs = [{"name": "inputs_embeds", "type": "float32", "shape": ["batch_size", "sequence_length", t["hidden"]]},
              {"name": "attention_mask", "type": "int64", "shape": ["batch_size", "total_sequence_length"]},
              {"name": "position_ids", "type": "int64", "shape": ["batch_size", "sequence_length"]}]
    outputs = [{"name": "logits", "type": "float32", "shape": ["batch_size", "sequence_length", "vocab_size"]}]
    layers = []
    for i, kind in enumerate(t["layer_types"]):
        if kind == "conv":
            layers.append({"layer": i, "kind": "conv", "past": [f"past_conv.{i}"], "present": [f"present_conv.{i}"]})
            inputs.append({"name": f"past_conv.{i}", "type": "float32", "shape": ["batch_size", t["hidden"], t["conv_L"]]})
            outputs.append({"name": f"present_conv.{i}", "type": "float32", "shape": ["batch_size", t["hidden"], t["conv_L"]]})
        else:
            layers.append({"layer": i, "kind": "full_attention",
                           "past": [f"past_key_values.{i}.key", f"past_key_values.{i}.value"],
                           "present": [f"present.{i}.key", f"present.{i}.value"]})
            for kv in ("key", "value"):
                inputs.append({"name": f"past_key_values.{i}.{kv}", "type": "float32",
                               "shape": ["batch_size", t["kv_heads"], "past_sequence_length", hd]})
                outputs.append({"name": f"present.{i}.{kv}", "type": "float32",
                                "shape": ["batch_size", t["kv_heads"], "total_sequence_length", hd]})
    return {"inputs": inputs, "outputs": outputs, "layers": layers, "conv_L_cache": t["conv_L"],
            "empty_past": "conv layers: zeros [batch, hidden, conv_L_cache] (NOT length 0); attention layers: "
                          "[batch, kv_heads, 0, head_dim]. transformers.js builds both from the graph's input "
                          "metadata, symbolic dims -> 0 except batch_size.",
            "step": "present_conv.i = last conv_L_cache columns of concat(past_conv.i, B*x) along time "
                    "(B*x of the new tokens, [batch, hidden, seq]); feed present_conv.i back as past_conv.i "
                    "unchanged. Its length never grows. Attention layers: present = concat(past, new) along "
                    "axis 2 as usual. transformers.js maps present_conv.* -> past_conv.* and present.* -> "
                    "past_key_values.*",
            "sequence_length_source": "the past length (for attention_mask / position_ids) comes from an "
                                      "attention layer's key (axis 2), never from past_conv",
            "fp16": "decoder_model_merged_fp16.onnx: past_conv.*, past_key_values.*, present* and logits float16"}


# --------------------------------------------------------------------------- goldens
def _picture(rng, size, seed):
    w, h = size[:2]
    if len(size) == 2 and min(w, h) >= 24:
        return synth.make_scene(rng, rng.choice([2, 3]), (w, h)).image
    return _test_image(w, h, seed, size[2] if len(size) > 2 else "RGB")


def case_specs():
    """(name, description, messages, image sizes (w, h)). Tiny processor: patch 4, downsample 2 (factor 8),
    4..16 tokens (256..1024 px), tiles of 32x32 when the rounded image exceeds 2048 px."""
    q = QUESTIONS
    one = lambda question: [user(IMG, txt(question))]  # noqa: E731
    return [
        ("square_no_resize", "32x32: 4x4 tokens, no resize", one(q[0]), [(32, 32)]),
        ("wide_no_resize", "40x24: 5x3 tokens, no resize", one(q[1]), [(40, 24)]),
        ("tall_no_resize", "16x48: 2x6 tokens, no resize", one(q[2]), [(16, 48)]),
        ("min_no_resize", "16x16: 2x2 tokens (min_image_tokens), no resize", one(q[1]), [(16, 16)]),
        ("strip_no_resize", "120x8 strip: 15x1 tokens, 2 patch rows (< position grid), no resize", one(q[6]),
         [(120, 8)]),
        ("grayscale_no_resize", "24x24 grayscale PNG", one(q[1]), [(24, 24, "L")]),
        ("resize_round", "30x21 -> 32x24 (rounding to multiples of 8)", one(q[1]), [(30, 21)]),
        ("resize_up", "10x12 -> 16x24 (below factor and min tokens: scaled up)", one(q[0]), [(10, 12)]),
        ("resize_down", "44x36 -> 32x24 (above max_image_tokens, not tiled)", one(q[2]), [(44, 36)]),
        ("tiled_2x2", "64x64: 2x2 tiles of 32x32 (no tile resize) + 32x32 thumbnail", one(q[1]), [(64, 64)]),
        ("tiled_2x1_resize", "96x40: resized to 64x32, 1x2 tiles + 48x16 thumbnail", one(q[0]), [(96, 40)]),
        ("two_images_one_turn", "two images of different sizes, then text, in one user turn",
         [user(IMG, IMG, txt(q[4]))], [(32, 32), (40, 24)]),
        ("multi_turn", "image chat; the second user turn adds a second image",
         [user(IMG, txt(q[0])), assistant("A red circle and a blue square."), user(IMG, txt(q[5]))],
         [(24, 32), (32, 16)]),
        ("multi_turn_text_followup", "image chat, text-only follow-up turn",
         [user(IMG, txt(q[1])), assistant("Two shapes."), user(txt(q[2]))], [(32, 24)]),
        ("text_only", "no image", [user(txt(q[7]))], []),
    ]


VARIANTS = ("fp16", "q8")


def build_goldens(m, tok, folder, seed, eos_ids):
    image_id = tok.vocab["<image>"]
    ref = L.Reference(m, image_id)
    sims = {d: L.Reference(simulate(m, d), image_id) for d in VARIANTS}
    os.makedirs(os.path.join(folder, "goldens"), exist_ok=True)
    cases = []
    for ci, (name, desc, messages, sizes) in enumerate(case_specs()):
        best = None
        for attempt in range(8):     # prefer draws whose greedy steps have a clear top-2 margin
            rng = random.Random(seed * 1000 + ci * 37 + attempt)
            pils = [_picture(rng, size, ci * 10 + k + attempt) for k, size in enumerate(sizes)]
            pre = [L.preprocess(p, m.cfg) for p in pils]
            ids = tok.encode(L.expand(render(messages), pre, m.cfg))
            r = ref.generate(ids, pils, MAX_NEW_TOKENS, eos_ids)
            if best is None or r["min_top2_margin"] > best[0]:
                best = (r["min_top2_margin"], pils, pre, ids, r)
            if r["min_top2_margin"] >= 0.05:
                break
        _, pils, pre, ids, r = best
        paths = [f"goldens/{name}_{k}.png" for k in range(len(pils))]
        for p, rel in zip(pils, paths):
            p.save(os.path.join(folder, rel), optimize=True)
        case = {"name": name, "description": desc, "messages": messages, "images": paths,
                "image_sizes": [list(s[:2]) for s in sizes], "resized_sizes": [list(x["resized_wh"]) for x in pre],
                "tile_grid_rows_cols": [list(x["grid"]) for x in pre],
                "needs_resize": [x["resized"] for x in pre],
                "spatial_shapes": r["spatial_shapes"].tolist() if pils else [],
                "prompt_ids": ids, "prompt_length": len(ids), "image_token_count": r["image_token_count"],
                "max_new_tokens": MAX_NEW_TOKENS, "generated_ids": r["generated_ids"],
                "text": tok.decode(r["generated_ids"], skip_special=True), "finish_reason": r["finish_reason"],
                "first_step_top5": _top5(r["first_logits"]), "first_step_logits": checksum(r["first_logits"]),
                "min_top2_margin": r["min_top2_margin"]}
        case["variants"] = {}
        for d, sref in sims.items():
            sv = sref.generate(ids, pils, MAX_NEW_TOKENS, eos_ids)
            case["variants"][d] = {"generated_ids": sv["generated_ids"], "first_step_top5": _top5(sv["first_logits"]),
                                   "min_top2_margin": sv["min_top2_margin"]}
        if pils:
            case["pixel_values"] = checksum(r["pixel_values"])
            case["pixel_attention_mask_sum"] = int(r["pixel_attention_mask"].sum())
            case["image_features"] = checksum(r["image_features"])
        cases.append(case)
    t = m.cfg["text"]
    doc = {"model": os.path.basename(folder), "layout": "lfm2_vl", "seed": seed,
           "reference": "PyTorch fp32 (src/test/python/refmodels/lfm2_vl.py), greedy, hybrid cache (conv states + KV), "
                        "position_ids 0..S-1 for the prompt, S+k for decode step k",
           "preprocessing": "as transformers.js 4.3.1 Lfm2VlImageProcessor: RGB, rescale + normalize, then resize / tile "
                            "the float tensor with bilinear half_pixel (ONNX Resize linear), patches (dy, dx, c); no "
                            "sharp resize (do_resize false). needs_resize false: pixels identical across runtimes",
           "layer_types": list(t["layer_types"]), "decoder_io": decoder_io(m.cfg),
           "tokenizer_cases": [{"text": s, "ids": tok.encode(s), "plain_ids": tok.encode_plain(s),
                                "decoded": tok.decode(tok.encode_plain(s), skip_special=True)} for s in TOKENIZER_STRINGS],
           "tolerances": {"first_step_logits_fp32": 1e-4,
                          "variants": "ids equal to the variant's own goldens (PyTorch with the same weight/cache "
                                      "rounding); first-step logits within 2e-2 (fp16 output rounding) / 1e-3 (q8)"},
           "variant_files": {"fp16": "*_fp16.onnx: float16 weights; decoder: float16 past_conv / KV cache, presents and "
                                     "logits, float32 inputs_embeds; vision / embed: float32 I/O",
                             "q8": "*_quantized.onnx: weight-only int8 (per output channel, DequantizeLinear) for "
                                   "MatMul/Gemm/Gather weights; the depthwise conv weights stay float32"},
           "eos_token_ids": list(eos_ids), "cases": cases}
    export.write_json(os.path.join(folder, "goldens.json"), doc)
    return doc


def self_check(m):
    """Tensor-formula vision tower == per-tile loops; prefill + steps == one full pass (conv state update)."""
    cfg = m.cfg
    n = L.max_num_patches(cfg)
    shapes = torch.tensor([[8, 8], [2, 30], [4, 6], [2, 2]], dtype=torch.long)
    mask = (torch.arange(n)[None] < (shapes[:, 0] * shapes[:, 1])[:, None]).to(torch.long)
    pv = torch.randn(4, n, 48) * mask[..., None]
    with torch.no_grad():
        a, b = m.vision(pv, mask, shapes), m.vision.forward_by_loops(pv, mask, shapes)
        assert a.shape == b.shape and float((a - b).abs().max()) < 1e-4, float((a - b).abs().max())
        dec = m.decoder
        x = torch.randn(1, 7, cfg["text"]["hidden"])
        full, _ = dec(x, torch.ones(1, 7, dtype=torch.long), torch.arange(7)[None], dec.empty_past())
        lg, past = dec(x[:, :4], torch.ones(1, 4, dtype=torch.long), torch.arange(4)[None], dec.empty_past())
        outs = [lg]
        for k in range(4, 7):
            lg, past = dec(x[:, k:k + 1], torch.ones(1, k + 1, dtype=torch.long), torch.tensor([[k]]), past)
            outs.append(lg)
        err = float((torch.cat(outs, 1) - full).abs().max())
        assert err < 1e-4, err


# --------------------------------------------------------------------------- main
def build(out, seed, cfg):
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(os.path.join(out, "onnx"), exist_ok=True)
    tok = build_tokenizer(cfg["image"]["max_tiles"])
    torch.manual_seed(seed)
    m = L.init_weights(L.Lfm2VL(cfg, len(tok.vocab)), seed).eval()
    for p in m.parameters():
        p.requires_grad_(False)
    self_check(m)
    config, pre, proc, gen, special, eos = configs(cfg, tok)
    tok.save(os.path.join(out, "tokenizer.json"))
    for fname, obj in [("config.json", config), ("preprocessor_config.json", pre), ("processor_config.json", proc),
                       ("generation_config.json", gen), ("special_tokens_map.json", special),
                       ("tokenizer_config.json", tokenizer_config(tok, cfg["text"]["max_positions"]))]:
        export.write_json(os.path.join(out, fname), obj)
    o = os.path.join(out, "onnx")
    export_graphs(m, o)
    src = os.path.join(o, "decoder_model_merged.onnx")
    export.to_fp16(src, os.path.join(o, "decoder_model_merged_fp16.onnx"), ("past_key_values.", "past_conv."))
    export.quantize_weights_int8(src, os.path.join(o, "decoder_model_merged_quantized.onnx"))
    export.variants(o, "vision_encoder")
    export.variants(o, "embed_tokens")
    return m, tok, build_goldens(m, tok, out, seed + 1, eos)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out-models", default=DEFAULT_MODELS, help="folder the model folder is written into")
    ap.add_argument("--seed", type=int, default=SEED, help="weights seed")
    ap.add_argument("--text-hidden", type=int, help="decoder width (multiple of 4 heads x 2)")
    ap.add_argument("--layer-types", help="comma-separated conv / full_attention, e.g. conv,full_attention,conv")
    ap.add_argument("--vision-layers", type=int)
    ap.add_argument("--vision-width", type=int)
    ap.add_argument("--max-image-tokens", type=int)
    a = ap.parse_args()
    torch.set_num_threads(2)
    cfg = copy.deepcopy(L.TINY)
    for sect, key, val in [("text", "hidden", a.text_hidden), ("vision", "layers", a.vision_layers),
                           ("vision", "hidden", a.vision_width), ("image", "max_tokens", a.max_image_tokens)]:
        if val is not None:
            cfg[sect][key] = val
    if a.layer_types:
        cfg["text"]["layer_types"] = a.layer_types.split(",")
    _, _, doc = build(os.path.join(a.out_models, FOLDER), a.seed, cfg)
    print(doc["model"])
    for c in doc["cases"]:
        print(f"  {c['name']:28s} prompt {c['prompt_length']:4d}  image tokens {c['image_token_count']:3d}  "
              f"margin {c['min_top2_margin']:.3f}  {json.dumps(c['generated_ids'][:8])}...")


if __name__ == "__main__":
    main()
