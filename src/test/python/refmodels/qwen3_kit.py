"""The two tiny Qwen3-VL folders: one seeded model (qwen3_vl.py), two exports.

    cd src/test/python && /usr/bin/python3 -m refmodels.qwen_kit --family qwen3_vl    # both folders, ~60 s

* vlm4j-tiny-qwen3-vl: exactly the layout and graph I/O transformers.js 4.3.1 runs for model_type
  `qwen3_vl` (Qwen3VLForConditionalGeneration = Qwen2_5_VLForConditionalGeneration, Qwen3VLProcessor
  = Qwen2_5_VLProcessor). transformers.js feeds no DeepStack tensors, so DeepStack is dropped by this
  layout: the vision graph has no DeepStack mergers, the decoder adds nothing, and the goldens are
  the PyTorch reference run with DeepStack off.
    onnx/embed_tokens.onnx          input_ids [batch, seq] int64 -> inputs_embeds [batch, seq, H]
    onnx/vision_encoder.onnx        pixel_values [num_patches, 3*2*16*16], image_grid_thw [n, 3] int64
                                    -> image_features [num_patches / 4, H]
    onnx/decoder_model_merged.onnx  inputs_embeds, attention_mask [batch, total], position_ids
                                    [3, batch, seq] int64, past_key_values.N.key/value -> logits, present.N.*
* vlm4j-tiny-qwen3-vl-deepstack: the same weights and graphs plus DeepStack in vlm4j's contract
  (docs/model-format.md, "Qwen3-VL with DeepStack"):
    vision_encoder.onnx             second output deepstack_features [L, num_patches / 4, H]
    decoder_model_merged.onnx       extra input deepstack_embeds [L, batch, seq, H]: the features
                                    scattered onto the image-token positions of the fed sequence,
                                    zeros elsewhere (decode steps: zeros [L, batch, 1, H]); layer i < L
                                    adds deepstack_embeds[i] to its output hidden states.
  Goldens from the full reference (DeepStack on); each case also carries `deepstack_off` (the
  first-step top-5 and greedy ids without DeepStack, = the other folder's goldens).
"""
import copy
import os
import random
import shutil

import torch

from . import export
from . import qwen2_vl as Q
from . import qwen3_vl as Q3
from . import qwen_kit as K
from .goldens import _top5
from .reference import checksum
from .synth import IMG, assistant, txt, user
from .variants import simulate

FOLDER = "vlm4j-tiny-qwen3-vl"
DEEPSTACK_FOLDER = "vlm4j-tiny-qwen3-vl-deepstack"
SEED = K.SEED + 30
DROPPED = ("DeepStack is dropped by this layout, as transformers.js 4.3.1 runs qwen3_vl: the vision graph "
           "returns image_features only and the decoder adds no DeepStack features. These goldens are the "
           "PyTorch reference of the same weights as vlm4j-tiny-qwen3-vl-deepstack with DeepStack OFF.")

# Qwen3-VL-Instruct's prompt format: no default system turn (a system turn only if the first
# message is one), <|vision_start|><|image_pad|><|vision_end|> per image in user turns, assistant
# turns render their text. Written without newlines after block tags (trim_blocks-insensitive).
TEMPLATE = (
    "{% set image_count = namespace(value=0) %}{% set video_count = namespace(value=0) %}"
    "{% if messages[0]['role'] == 'system' %}<|im_start|>system\n"
    "{% if messages[0]['content'] is string %}{{ messages[0]['content'] }}"
    "{% else %}{% for content in messages[0]['content'] %}{% if 'text' in content %}{{ content['text'] }}"
    "{% endif %}{% endfor %}{% endif %}<|im_end|>\n{% endif %}"
    "{% for message in messages %}{% if message['role'] == 'user' or message['role'] == 'assistant' %}"
    "<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for content in message['content'] %}"
    "{% if message['role'] == 'user' and (content['type'] == 'image' or 'image' in content or 'image_url' in content) %}"
    "{% set image_count.value = image_count.value + 1 %}{% if add_vision_id %}Picture {{ image_count.value }}: {% endif %}"
    "<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif message['role'] == 'user' and (content['type'] == 'video' or 'video' in content) %}"
    "{% set video_count.value = video_count.value + 1 %}{% if add_vision_id %}Video {{ video_count.value }}: {% endif %}"
    "<|vision_start|><|video_pad|><|vision_end|>"
    "{% elif 'text' in content %}{{ content['text'] }}{% endif %}{% endfor %}{% endif %}<|im_end|>\n"
    "{% endif %}{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def render(messages, add_generation_prompt=True):
    return K.ENV.from_string(TEMPLATE).render(messages=messages, add_generation_prompt=add_generation_prompt)


def case_specs():
    """qwen_kit's case list with sizes for factor 32 (patch 16 x merge 2): multiples of 32 inside
    [min_pixels, max_pixels] need no resize."""
    q = K.QUESTIONS
    one = lambda question: [user(IMG, txt(question))]  # noqa: E731
    return [
        ("square_no_resize", "64x64: 2x2 merged tokens, no resize", one(q[0]), [(64, 64)]),
        ("wide_no_resize", "128x64: 4x2 tokens, no resize", one(q[1]), [(128, 64)]),
        ("tall_no_resize", "96x192: 3x6 tokens, no resize", one(q[2]), [(96, 192)]),
        ("large_no_resize", "256x224: 8x7 = 56 tokens, no resize", one(q[3]), [(256, 224)]),
        ("resize_round", "100x75 -> 96x64 (rounding to multiples of 32)", one(q[1]), [(100, 75)]),
        ("resize_up", "20x40 -> 64x96 (below factor and min_pixels: scaled up)", one(q[0]), [(20, 40)]),
        ("resize_down", "400x300 -> 288x192 (above max_pixels: scaled down)", one(q[2]), [(400, 300)]),
        ("strip_up", "320x16 strip -> 640x32", one(q[8]), [(320, 16)]),
        ("grayscale_no_resize", "96x64 grayscale PNG (grey replicated to RGB)", one(q[1]), [(96, 64, "L")]),
        ("rgba_no_resize", "64x96 RGBA PNG (alpha dropped, no compositing)", one(q[1]), [(64, 96, "RGBA")]),
        ("palette_no_resize", "128x64 palette PNG", one(q[1]), [(128, 64, "P")]),
        ("two_images_one_turn", "two images of different sizes, then text, in one user turn",
         [user(IMG, IMG, txt(q[4]))], [(64, 64), (128, 96)]),
        ("interleaved", "text, image, text, image, text in one turn",
         [user(txt("Picture one:"), IMG, txt("Picture two:"), IMG, txt(q[5]))], [(96, 64), (64, 96)]),
        ("multi_turn", "image chat; the second user turn adds a second image",
         [user(IMG, txt(q[0])), assistant("A red circle and a blue square."), user(IMG, txt(q[6]))],
         [(128, 64), (64, 64)]),
        ("multi_turn_text_followup", "image chat, text-only follow-up turn",
         [user(IMG, txt(q[1])), assistant("Two shapes."), user(txt(q[2]))], [(96, 96)]),
        ("text_only", "no image", [user(txt(q[10]))], []),
        ("text_only_pretokenizer", "no image; digits, contractions, punctuation runs, newlines, non-ASCII",
         [user(txt(K.TOKENIZER_STRINGS[0]))], []),
    ]


# --------------------------------------------------------------------------- configs
def configs(cfg, tok):
    v, t, im = cfg["vision"], cfg["text"], cfg["image"]
    ids = {k: tok.vocab[s] for k, s in [("image", "<|image_pad|>"), ("video", "<|video_pad|>"),
                                         ("vstart", "<|vision_start|>"), ("vend", "<|vision_end|>"),
                                         ("eot", "<|endoftext|>"), ("end", "<|im_end|>")]}
    text = {"model_type": "qwen3_vl_text", "vocab_size": len(tok.vocab), "hidden_size": t["hidden"],
            "intermediate_size": t["intermediate"], "num_hidden_layers": t["layers"],
            "num_attention_heads": t["heads"], "num_key_value_heads": t["kv_heads"], "head_dim": t["head_dim"],
            "hidden_act": "silu", "rms_norm_eps": t["rms_eps"], "rope_theta": t["rope_theta"],
            "max_position_embeddings": t["max_positions"], "attention_bias": False, "attention_dropout": 0.0,
            "tie_word_embeddings": False, "bos_token_id": ids["eot"], "eos_token_id": ids["end"],
            "rope_scaling": {"rope_type": "default", "mrope_interleaved": True,
                             "mrope_section": list(t["mrope_section"])}}
    vision = {"model_type": "qwen3_vl", "depth": v["depth"], "hidden_size": v["embed_dim"],
              "hidden_act": "gelu_pytorch_tanh", "intermediate_size": v["intermediate_size"],
              "num_heads": v["num_heads"], "in_channels": v["in_chans"], "patch_size": v["patch_size"],
              "spatial_merge_size": v["spatial_merge_size"], "temporal_patch_size": v["temporal_patch_size"],
              "out_hidden_size": t["hidden"], "num_position_embeddings": v["num_position_embeddings"],
              "deepstack_visual_indexes": list(v["deepstack_visual_indexes"])}
    config = {"architectures": ["Qwen3VLForConditionalGeneration"], "model_type": "qwen3_vl",
              "image_token_id": ids["image"], "video_token_id": ids["video"],
              "vision_start_token_id": ids["vstart"], "vision_end_token_id": ids["vend"],
              "tie_word_embeddings": False, "torch_dtype": "float32", "text_config": text, "vision_config": vision,
              "transformers.js_config": {"kv_cache_dtype": {"fp16": "float16"}}}
    pre = {"do_convert_rgb": True, "do_normalize": True, "do_rescale": True, "do_resize": True,
           "image_mean": im["mean"], "image_std": im["std"], "image_processor_type": "Qwen2VLImageProcessor",
           "processor_class": "Qwen3VLProcessor", "min_pixels": im["min_pixels"], "max_pixels": im["max_pixels"],
           "size": {"shortest_edge": im["min_pixels"], "longest_edge": im["max_pixels"]},
           "patch_size": v["patch_size"], "merge_size": v["spatial_merge_size"],
           "temporal_patch_size": v["temporal_patch_size"], "resample": im["resample"],
           "rescale_factor": 0.00392156862745098}
    gen = {"bos_token_id": ids["eot"], "eos_token_id": [ids["end"], ids["eot"]], "pad_token_id": ids["eot"],
           "do_sample": False}
    special = {"additional_special_tokens": ["<|im_start|>", "<|im_end|>"] + K.SPECIAL_TAIL,
               "eos_token": "<|im_end|>", "pad_token": "<|endoftext|>"}
    tcfg = K.tokenizer_config(tok, t["max_positions"])
    tcfg["chat_template"] = TEMPLATE
    return config, pre, gen, special, tcfg, (ids["end"], ids["eot"])


# --------------------------------------------------------------------------- export
class Vision(torch.nn.Module):
    def __init__(self, m, deepstack):
        super().__init__()
        self.visual, self.deepstack = m.visual, deepstack

    def forward(self, pixel_values, image_grid_thw):
        feats, ds = self.visual(pixel_values, image_grid_thw, deepstack=self.deepstack)
        return (feats, ds) if self.deepstack else feats


class DeepStackDecoder(torch.nn.Module):
    def __init__(self, m):
        super().__init__()
        self.dec = m.decoder

    def forward(self, inputs_embeds, attention_mask, position_ids, deepstack_embeds, *flat_past):
        past = [(flat_past[2 * i], flat_past[2 * i + 1]) for i in range(len(flat_past) // 2)]
        logits, presents = self.dec(inputs_embeds, attention_mask, position_ids, past, deepstack_embeds)
        out = [logits]
        for k, v in presents:
            out += [k, v]
        return tuple(out)


def export_graphs(m, onnx_dir, deepstack):
    v, t = m.cfg["vision"], m.cfg["text"]
    os.makedirs(onnx_dir, exist_ok=True)
    width = v["in_chans"] * v["temporal_patch_size"] * v["patch_size"] ** 2
    grids = torch.tensor([[1, 4, 6], [1, 2, 2]], dtype=torch.long)
    n = int((grids[:, 0] * grids[:, 1] * grids[:, 2]).sum())
    outs = ["image_features"] + (["deepstack_features"] if deepstack else [])
    dyn = {"pixel_values": {0: "num_patches"}, "image_grid_thw": {0: "num_images"},
           "image_features": {0: "num_image_tokens"}}
    if deepstack:
        dyn["deepstack_features"] = {1: "num_image_tokens"}
    export._export(Vision(m, deepstack), (torch.randn(n, width), grids), os.path.join(onnx_dir, "vision_encoder.onnx"),
                   ["pixel_values", "image_grid_thw"], outs, dyn)
    export._export(export.EmbedTokens(m), (torch.tensor([[1, 5, 9]]),), os.path.join(onnx_dir, "embed_tokens.onnx"),
                   ["input_ids"], ["inputs_embeds"],
                   {"input_ids": {0: "batch_size", 1: "sequence_length"},
                    "inputs_embeds": {0: "batch_size", 1: "sequence_length"}})
    b, s, p, hd = 1, 3, 2, t["head_dim"]
    past = [torch.randn(b, t["kv_heads"], p, hd) for _ in range(2 * t["layers"])]
    past_names, present_names = export.kv_names(t["layers"])
    dyn = {"inputs_embeds": {0: "batch_size", 1: "sequence_length"},
           "attention_mask": {0: "batch_size", 1: "total_sequence_length"},
           "position_ids": {1: "batch_size", 2: "sequence_length"},
           "logits": {0: "batch_size", 1: "sequence_length"}}
    dyn.update({nm: {0: "batch_size", 2: "past_sequence_length"} for nm in past_names})
    dyn.update({nm: {0: "batch_size", 2: "total_sequence_length"} for nm in present_names})
    pos = torch.arange(p, p + s)[None, None].expand(3, b, s).contiguous()
    args = [torch.randn(b, s, t["hidden"]), torch.ones(b, p + s, dtype=torch.long), pos]
    names = ["inputs_embeds", "attention_mask", "position_ids"]
    module = export.DecoderMerged(m)
    if deepstack:
        args.append(torch.randn(len(v["deepstack_visual_indexes"]), b, s, t["hidden"]))
        names.append("deepstack_embeds")
        dyn["deepstack_embeds"] = {1: "batch_size", 2: "sequence_length"}
        module = DeepStackDecoder(m)
    export._export(module, (*args, *past), os.path.join(onnx_dir, "decoder_model_merged.onnx"),
                   names + past_names, ["logits"] + present_names, dyn)
    export.variants(onnx_dir, "decoder_model_merged", fp16_io=True)     # float16 KV cache and logits
    export.variants(onnx_dir, "vision_encoder")
    export.variants(onnx_dir, "embed_tokens")


def write_folder(out, files, tok, deepstack, m):
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(os.path.join(out, "onnx"), exist_ok=True)
    tok.save(os.path.join(out, "tokenizer.json"))
    for fname, obj in files:
        export.write_json(os.path.join(out, fname), obj)
    export_graphs(m, os.path.join(out, "onnx"), deepstack)


# --------------------------------------------------------------------------- goldens
VARIANTS = K.VARIANTS


def _result(r, tok):
    return {"generated_ids": r["generated_ids"], "text": tok.decode(r["generated_ids"], skip_special=True),
            "finish_reason": r["finish_reason"], "first_step_top5": _top5(r["first_logits"]),
            "first_step_logits": checksum(r["first_logits"]), "min_top2_margin": r["min_top2_margin"]}


def build_goldens(m, tok, folders, seed, eos_ids):
    """-> (doc without DeepStack, doc with DeepStack); the same pictures and prompts in both."""
    image_id = tok.vocab["<|image_pad|>"]
    refs = {on: Q3.Reference(m, image_id, deepstack=on) for on in (False, True)}
    sims = {d: simulate(m, d) for d in VARIANTS}
    srefs = {(d, on): Q3.Reference(sims[d], image_id, deepstack=on) for d in VARIANTS for on in (False, True)}
    merge = m.cfg["vision"]["spatial_merge_size"]
    for f in folders.values():
        os.makedirs(os.path.join(f, "goldens"), exist_ok=True)
    cases = {False: [], True: []}
    for ci, (name, desc, messages, sizes) in enumerate(case_specs()):
        best = None
        for attempt in range(8):     # prefer draws whose greedy steps have a clear top-2 margin, with and without DeepStack
            rng = random.Random(seed * 1000 + ci * 37 + attempt)
            pils = [K._picture(rng, size, ci * 10 + k + attempt) for k, size in enumerate(sizes)]
            pre = [Q.preprocess(p, m.cfg) for p in pils]
            ids = tok.encode(K.expand(render(messages), [x[1] for x in pre], merge))
            rs = {on: refs[on].generate(ids, pils, K.MAX_NEW_TOKENS, eos_ids) for on in (False, True)}
            margin = min(r["min_top2_margin"] for r in rs.values())
            if best is None or margin > best[0]:
                best = (margin, pils, pre, ids, rs)
            if margin >= 0.05:
                break
        _, pils, pre, ids, rs = best
        paths = [f"goldens/{name}_{k}.png" for k in range(len(pils))]
        for f in folders.values():
            for p, rel in zip(pils, paths):
                p.save(os.path.join(f, rel), optimize=True)      # PNG: lossless, the pixels used above
        for on in (False, True):
            r = rs[on]
            case = {"name": name, "description": desc, "messages": messages, "images": paths,
                    "image_sizes": [list(s[:2]) for s in sizes], "resized_sizes": [list(x[2]) for x in pre],
                    "needs_resize": [list(s[:2]) != list(x[2]) for s, x in zip(sizes, pre)],
                    "image_grid_thw": [list(g) for g in r["grids"]], "prompt_ids": ids, "prompt_length": len(ids),
                    "image_token_count": r["image_token_count"], "rope_delta": r["rope_delta"],
                    "position_ids": r["position_ids"], "max_new_tokens": K.MAX_NEW_TOKENS}
            case.update(_result(r, tok))
            case["variants"] = {}
            for d in VARIANTS:
                sv = srefs[(d, on)].generate(ids, pils, K.MAX_NEW_TOKENS, eos_ids)
                case["variants"][d] = {"generated_ids": sv["generated_ids"], "first_step_top5": _top5(sv["first_logits"]),
                                       "min_top2_margin": sv["min_top2_margin"]}
            if not pils:
                # transformers.js 4.3.1's text-only rope delta (max + 1 + S): greedy ids at that offset (qwen_kit)
                for target, rr in [(case, refs[on])] + [(case["variants"][d], srefs[(d, on)]) for d in VARIANTS]:
                    tt = rr.generate(ids, [], K.MAX_NEW_TOKENS, eos_ids, decode_start=3 * len(ids))
                    target["transformersjs_4_3_1_text_only_rope_delta_bug"] = {
                        "decode_start": 3 * len(ids), "generated_ids": tt["generated_ids"]}
            if r["pixel_values"] is not None:
                case["pixel_values"] = checksum(r["pixel_values"])
                case["image_features"] = checksum(r["image_features"])
                if on:
                    case["deepstack_features"] = checksum(r["deepstack_features"])
            if on:
                off = rs[False]
                case["deepstack_off"] = {"generated_ids": off["generated_ids"],
                                         "first_step_top5": _top5(off["first_logits"]),
                                         "same_generated_ids": off["generated_ids"] == r["generated_ids"],
                                         "first_step_logits_max_abs_diff":
                                             float((off["first_logits"] - r["first_logits"]).abs().max())}
            cases[on].append(case)
    docs = {}
    for on in (False, True):
        folder = folders[on]
        ref = ("PyTorch fp32 (src/test/python/refmodels/qwen3_vl.py), greedy, KV cache, interleaved M-RoPE position_ids "
               "[3,1,S] from the prompt; decode step k at max(position)+1+k in all three; ")
        ref += ("DeepStack ON: the features of vision blocks " + str(m.cfg["vision"]["deepstack_visual_indexes"])
                + " are added after decoder layers 0..L-1 at the image-token positions (deepstack_embeds)") if on \
            else DROPPED
        doc = {"model": os.path.basename(folder), "layout": "qwen3_vl" + ("_deepstack" if on else ""), "seed": seed,
               "reference": ref, "deepstack": on,
               "preprocessing": "Pillow bicubic (resample 3) for resized images; transformers.js resizes with sharp, "
                                "so only images with needs_resize all false are pixel-identical across runtimes",
               "tokenizer_cases": [{"text": s, "ids": tok.encode(s), "plain_ids": tok.encode_plain(s),
                                    "decoded": tok.decode(tok.encode_plain(s), skip_special=True)}
                                   for s in K.TOKENIZER_STRINGS],
               "tolerances": {"first_step_logits_fp32": 1e-4,
                              "variants": "ids equal to the variant's own goldens (PyTorch with the same weight/KV "
                                          "rounding); first-step logits within 2e-2 (fp16 output rounding) / 1e-3 (q8)"},
               "variant_files": {"fp16": "*_fp16.onnx: float16 weights, float16 KV cache and logits, float32 "
                                         "inputs_embeds, pixel_values and image_features"
                                         + (", float32 deepstack_embeds and deepstack_features" if on else ""),
                                 "q8": "*_quantized.onnx: weight-only int8 (per output channel, DequantizeLinear) for "
                                       "MatMul/Gemm/Gather weights (pos_embed included); the Conv3d patch "
                                       "embedding stays float32"},
               "eos_token_ids": list(eos_ids), "cases": cases[on]}
        if on:
            differ = [c["name"] for c in cases[on] if not c["deepstack_off"]["same_generated_ids"]]
            doc["deepstack_effect"] = {"cases_with_different_greedy_ids": len(differ), "names": differ,
                                       "cases": len(cases[on])}
        export.write_json(os.path.join(folder, "goldens.json"), doc)
        docs[on] = doc
    return docs[False], docs[True]


# --------------------------------------------------------------------------- main
def build(out_models, seed=SEED, cfg=None):
    cfg = copy.deepcopy(cfg or Q3.TINY)
    cfg["vision"]["deepstack_visual_indexes"] = [i for i in cfg["vision"]["deepstack_visual_indexes"]
                                                 if i < cfg["vision"]["depth"]]
    tok = K.build_tokenizer()
    torch.manual_seed(seed)
    m = Q3.build_model(cfg, len(tok.vocab), seed)
    Q3.check_pos_interpolation(m, [(1, 4, 6), (1, 16, 14), (1, 2, 2), (1, 8, 8), (1, 2, 40), (1, 22, 12)])
    config, pre, gen, special, tcfg, eos = configs(cfg, tok)
    files = [("config.json", config), ("preprocessor_config.json", pre), ("generation_config.json", gen),
             ("special_tokens_map.json", special), ("tokenizer_config.json", tcfg)]
    folders = {False: os.path.join(out_models, FOLDER), True: os.path.join(out_models, DEEPSTACK_FOLDER)}
    for on, out in folders.items():
        write_folder(out, files, tok, on, m)
    return m, tok, build_goldens(m, tok, folders, seed + 1, eos)


def report_lines(doc):
    """REPORT.md section `qwen3-vl` from the DeepStack folder's goldens."""
    eff = doc["deepstack_effect"]
    image_cases = [c for c in doc["cases"] if c["images"]]
    diffs = [c["deepstack_off"]["first_step_logits_max_abs_diff"] for c in image_cases]
    return [
        "## Qwen3-VL tiny folders: DeepStack on and off (issue 15)",
        "",
        "`cd src/test/python && /usr/bin/python3 -m refmodels.qwen_kit --family qwen3_vl` (seeded random weights, not "
        "trained). One model, two folders: `vlm4j-tiny-qwen3-vl` is the transformers.js 4.3.1 layout — **DeepStack "
        "is dropped by this layout, as transformers.js 4.3.1 runs qwen3_vl** (no DeepStack tensors; its goldens are "
        "the PyTorch reference with DeepStack off) — and `vlm4j-tiny-qwen3-vl-deepstack` adds `deepstack_features` / "
        "`deepstack_embeds` (docs/model-format.md, \"Qwen3-VL with DeepStack\"; goldens with DeepStack on).",
        "",
        f"- DeepStack changes the greedy ids of {eff['cases_with_different_greedy_ids']} of {eff['cases']} golden "
        f"cases ({len(image_cases)} with images; the text-only ones cannot change): "
        + ", ".join(f"`{n}`" for n in eff["names"]) + ".",
        f"- first-step logits, DeepStack on vs off, max |diff| per image case: {min(diffs):.3f} to {max(diffs):.3f}.",
        "- `bash src/test/node/peer-check.sh --qwen` runs `vlm4j-tiny-qwen3-vl` in unmodified transformers.js; "
        "`bash src/test/node/peer-check.sh --qwen3-deepstack` runs the DeepStack folder's graphs with "
        "onnxruntime-node by the contract.",
    ]
