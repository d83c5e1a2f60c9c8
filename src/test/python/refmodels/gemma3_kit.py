"""The tiny Gemma 3 folder: tokenizer, configs, chat_template.jinja, the three onnx-community graphs
and goldens.

    cd src/test/python && /usr/bin/python3 -m refmodels.gemma3_kit                 # ~1 min on 2 cores
    /usr/bin/python3 -m refmodels.gemma3_kit --seed 7 --text-hidden 96 --out-models /tmp/m

writes src/test/resources/models/vlm4j-tiny-gemma3 (random seeded weights; --seed and the size options
make other tiny models): what transformers.js 4.3.1 loads for model_type `gemma3`
(Gemma3ForConditionalGeneration = LlavaForConditionalGeneration, Gemma3Processor reading
chat_template.jinja and processor_config.json's image_seq_length, the generic ImageProcessor):

* onnx/embed_tokens.onnx       input_ids [batch_size, sequence_length] int64
                               -> inputs_embeds [batch_size, sequence_length, H] (already * sqrt(H))
* onnx/vision_encoder.onnx     pixel_values [batch_size, 3, S, S] float32
                               -> image_features [batch_size, mm_tokens_per_image, H]
* onnx/decoder_model_merged.onnx  inputs_embeds, attention_mask, position_ids (1-indexed),
                               past_key_values.i.key/value -> logits, present.i.key/value
                               (goldens.json "decoder_io"); causal attention everywhere (see gemma3.py)

Goldens come from the PyTorch reference (gemma3.Reference) on PNGs stored in goldens/; cases marked
"pan_and_scan": true run HF's pan-and-scan (transformers.js has none).
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
from . import gemma3 as G
from .fixtures import _test_image
from .goldens import _top5
from .prompts import ENV
from .reference import checksum
from .synth import IMG, assistant, txt, user
from .variants import simulate

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_MODELS = os.path.normpath(os.path.join(HERE, "..", "..", "resources", "models"))
FOLDER = "vlm4j-tiny-gemma3"
SEED = 20261230
MAX_NEW_TOKENS = 24
NUM_MERGES = 300
BOS, EOS, PAD, UNK = "<bos>", "<eos>", "<pad>", "<unk>"
SOT, EOT = "<start_of_turn>", "<end_of_turn>"

SPECIAL_HEAD = [PAD, EOS, BOS, UNK, SOT, EOT]
SPECIAL_TAIL = [G.BOI, G.EOI, G.IMAGE_TOKEN]

# The Gemma 3 instruction-tuned chat template (google/gemma-3-*-it chat_template): bos, optional system
# text prefixed to the first user turn, roles user / model, <start_of_image> per image item, trimmed text.
TEMPLATE = (
    "{{ bos_token }}\n"
    "{%- if messages[0]['role'] == 'system' -%}\n"
    "    {%- if messages[0]['content'] is string -%}\n"
    "        {%- set first_user_prefix = messages[0]['content'] + '\\n\\n' -%}\n"
    "    {%- else -%}\n"
    "        {%- set first_user_prefix = messages[0]['content'][0]['text'] + '\\n\\n' -%}\n"
    "    {%- endif -%}\n"
    "    {%- set loop_messages = messages[1:] -%}\n"
    "{%- else -%}\n"
    "    {%- set first_user_prefix = \"\" -%}\n"
    "    {%- set loop_messages = messages -%}\n"
    "{%- endif -%}\n"
    "{%- for message in loop_messages -%}\n"
    "    {%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) -%}\n"
    "        {{ raise_exception(\"Conversation roles must alternate user/assistant/user/assistant/...\") }}\n"
    "    {%- endif -%}\n"
    "    {%- if (message['role'] == 'assistant') -%}\n"
    "        {%- set role = \"model\" -%}\n"
    "    {%- else -%}\n"
    "        {%- set role = message['role'] -%}\n"
    "    {%- endif -%}\n"
    "    {{ '<start_of_turn>' + role + '\\n' + (first_user_prefix if loop.first else \"\") }}\n"
    "    {%- if message['content'] is string -%}\n"
    "        {{ message['content'] | trim }}\n"
    "    {%- elif message['content'] is iterable -%}\n"
    "        {%- for item in message['content'] -%}\n"
    "            {%- if item['type'] == 'image' -%}\n"
    "                {{ '<start_of_image>' }}\n"
    "            {%- elif item['type'] == 'text' -%}\n"
    "                {{ item['text'] | trim }}\n"
    "            {%- endif -%}\n"
    "        {%- endfor -%}\n"
    "    {%- else -%}\n"
    "        {{ raise_exception(\"Invalid content type\") }}\n"
    "    {%- endif -%}\n"
    "    {{ '<end_of_turn>\\n' }}\n"
    "{%- endfor -%}\n"
    "{%- if add_generation_prompt -%}\n"
    "    {{'<start_of_turn>model\\n'}}\n"
    "{%- endif -%}\n"
)

TOKENIZER_STRINGS = [
    "It's 12+3=15?! DON'T (stop)... \"quoted\"\n\n  indented\tTab caf\u0065\u0301 \u6771\u4eac \U0001F642",
    "<start_of_turn>user\n\n\n<start_of_image><image_soft_token><end_of_image>\n\nWhat is this?<end_of_turn>\n",
    "User text with <start_of_image> and <bos> inside",
    "",
]

QUESTIONS = ["What shapes are in the image?", "Describe this image.", "How many shapes are there?",
             "What colour is the circle?", "Compare the two pictures.", "And what about the second picture?",
             "Is the strip striped?", "What is two plus three?", "Look at this:", "and now this one:",
             "Which one is larger?"]
SYSTEM = "You are a careful assistant. Answer briefly."


# --------------------------------------------------------------------------- tokenizer
def build_tokenizer(num_merges=NUM_MERGES, vocab_size=None):
    """`vocab_size`: pad the vocabulary with unused entries to this size (None: no padding)."""
    texts = ["user\n", "model\n", "\n\n"] * 20 + QUESTIONS * 10 + [SYSTEM] * 5
    texts += ["Here is the original image ", " and here are some crops to help you see better "] * 10
    rng = random.Random(SEED)
    for _ in range(300):
        pic = synth.make_scene(rng, None, (128, 128))
        q, a, _ = synth.scene_question(rng, pic)
        texts += [q, " " + a, a]
    merges = bpe.train_merges(texts, num_merges, "qwen2")
    return bpe.Tokenizer(merges, SPECIAL_HEAD, SPECIAL_TAIL, vocab_size=vocab_size, style="qwen2")


def tokenizer_json(tok):
    """tokenizer.json with Gemma's post-processor: add_special_tokens=true prepends <bos> (as the real
    Gemma 3 tokenizer.json does); prompts from the chat template already start with <bos>, so they are
    tokenized with add_special_tokens=false (HF apply_chat_template(tokenize=True))."""
    j = tok.to_json()
    bos = tok.vocab[BOS]
    j["post_processor"] = {
        "type": "TemplateProcessing",
        "single": [{"SpecialToken": {"id": BOS, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
        "pair": [{"SpecialToken": {"id": BOS, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                 {"SpecialToken": {"id": BOS, "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
        "special_tokens": {BOS: {"id": BOS, "ids": [bos], "tokens": [BOS]}}}
    return j


def tokenizer_config(tok, max_len):
    added = {str(tok.vocab[t]): {"content": t, "lstrip": False, "normalized": False, "rstrip": False,
                                 "single_word": False, "special": True} for t in tok.added}
    return {"add_bos_token": True, "add_eos_token": False, "added_tokens_decoder": added, "bos_token": BOS,
            "boi_token": G.BOI, "eoi_token": G.EOI, "image_token": G.IMAGE_TOKEN,
            "chat_template": TEMPLATE, "clean_up_tokenization_spaces": False, "eos_token": EOS,
            "extra_special_tokens": {"boi_token": G.BOI, "eoi_token": G.EOI, "image_token": G.IMAGE_TOKEN},
            "legacy": False, "model_max_length": max_len, "pad_token": PAD, "unk_token": UNK,
            "processor_class": "Gemma3Processor", "spaces_between_special_tokens": False,
            "tokenizer_class": "GemmaTokenizer", "use_default_system_prompt": False}


def render(messages, add_generation_prompt=True):
    return ENV.from_string(TEMPLATE).render(messages=messages, add_generation_prompt=add_generation_prompt,
                                            bos_token=BOS)


# --------------------------------------------------------------------------- configs
def configs(cfg, tok):
    v, t, im = cfg["vision"], cfg["text"], cfg["image"]
    ids = {k: tok.vocab[s] for k, s in [("image", G.IMAGE_TOKEN), ("boi", G.BOI), ("eoi", G.EOI), ("pad", PAD),
                                         ("bos", BOS), ("eos", EOS), ("eot", EOT)]}
    pattern = next((i + 1 for i, k in enumerate(t["layer_types"]) if k == "full_attention"), len(t["layer_types"]))
    scaling = {"rope_type": "linear", "factor": t["rope_scaling_factor"]} if t["rope_scaling_factor"] else None
    text = {"model_type": "gemma3_text", "vocab_size": len(tok.vocab), "hidden_size": t["hidden"],
            "intermediate_size": t["ff"], "num_hidden_layers": len(t["layer_types"]),
            "num_attention_heads": t["heads"], "num_key_value_heads": t["kv_heads"], "head_dim": t["head_dim"],
            "hidden_activation": "gelu_pytorch_tanh", "rms_norm_eps": t["norm_eps"], "rope_theta": t["rope_theta"],
            "rope_local_base_freq": t["rope_local_base_freq"], "rope_scaling": scaling,
            "sliding_window": t["sliding_window"], "sliding_window_pattern": pattern,
            "layer_types": list(t["layer_types"]), "query_pre_attn_scalar": t["query_pre_attn_scalar"],
            "attn_logit_softcapping": None, "final_logit_softcapping": t["final_logit_softcapping"],
            "max_position_embeddings": t["max_positions"], "attention_bias": False, "use_cache": True,
            "tie_word_embeddings": False, "bos_token_id": ids["bos"], "eos_token_id": [ids["eos"], ids["eot"]],
            "pad_token_id": ids["pad"]}
    vision = {"model_type": "siglip_vision_model", "hidden_size": v["hidden"], "intermediate_size": v["intermediate"],
              "num_hidden_layers": v["layers"], "num_attention_heads": v["heads"], "num_channels": v["channels"],
              "image_size": v["image_size"], "patch_size": v["patch"], "hidden_act": "gelu_pytorch_tanh",
              "layer_norm_eps": v["eps"], "vision_use_head": False}
    config = {"architectures": ["Gemma3ForConditionalGeneration"], "model_type": "gemma3",
              "boi_token_index": ids["boi"], "eoi_token_index": ids["eoi"], "image_token_index": ids["image"],
              "image_token_id": ids["image"], "mm_tokens_per_image": cfg["mm_tokens_per_image"],
              "initializer_range": 0.02, "torch_dtype": "float32", "tie_word_embeddings": False,
              "text_config": text, "vision_config": vision,
              "transformers.js_config": {"kv_cache_dtype": {"fp16": "float16"}}}
    pre = {"image_processor_type": "Gemma3ImageProcessor", "processor_class": "Gemma3Processor",
           "do_convert_rgb": None, "do_resize": True, "size": {"height": im["size"], "width": im["size"]},
           "resample": im["resample"], "do_rescale": True, "rescale_factor": 0.00392156862745098,
           "do_normalize": True, "image_mean": im["mean"], "image_std": im["std"],
           "image_seq_length": cfg["mm_tokens_per_image"], "do_pan_and_scan": False,
           "pan_and_scan_min_crop_size": im["pan_and_scan_min_crop_size"],
           "pan_and_scan_max_num_crops": im["pan_and_scan_max_num_crops"],
           "pan_and_scan_min_ratio_to_activate": im["pan_and_scan_min_ratio_to_activate"]}
    proc = {"processor_class": "Gemma3Processor", "image_seq_length": cfg["mm_tokens_per_image"]}
    gen = {"bos_token_id": ids["bos"], "eos_token_id": [ids["eos"], ids["eot"]], "pad_token_id": ids["pad"],
           "do_sample": False, "cache_implementation": "hybrid"}
    special = {"boi_token": G.BOI, "eoi_token": G.EOI, "image_token": G.IMAGE_TOKEN, "bos_token": BOS,
               "eos_token": EOS, "pad_token": PAD, "unk_token": UNK}
    return config, pre, proc, gen, special, (ids["eos"], ids["eot"])


# --------------------------------------------------------------------------- export
class EmbedGraph(torch.nn.Module):
    def __init__(self, m):
        super().__init__()
        self.embed = m.decoder.embed_tokens

    def forward(self, input_ids):
        return self.embed(input_ids)


class DecoderGraph(torch.nn.Module):
    def __init__(self, m, with_token_types=False):
        super().__init__()
        self.dec, self.tt = m.decoder, with_token_types

    def forward(self, inputs_embeds, attention_mask, position_ids, *rest):
        tti, flat = (rest[0], rest[1:]) if self.tt else (None, rest)
        past = [(flat[2 * i], flat[2 * i + 1]) for i in range(len(flat) // 2)]
        logits, presents = self.dec(inputs_embeds, attention_mask, position_ids, past, tti)
        return (logits,) + tuple(a for pr in presents for a in pr)


def export_graphs(m, onnx_dir, with_token_types=False):
    export_vision(m, onnx_dir)
    export_embed(m, onnx_dir)
    export_decoder(m, onnx_dir, with_token_types)


def export_vision(m, onnx_dir):
    cfg = m.cfg
    v = cfg["vision"]
    os.makedirs(onnx_dir, exist_ok=True)
    s_img = v["image_size"]
    export._export(m.vision, (torch.randn(2, v["channels"], s_img, s_img),), os.path.join(onnx_dir, "vision_encoder.onnx"),
                   ["pixel_values"], ["image_features"],
                   {"pixel_values": {0: "batch_size"}, "image_features": {0: "batch_size"}})
    _static_dim(os.path.join(onnx_dir, "vision_encoder.onnx"), "image_features", 1, cfg["mm_tokens_per_image"])


def export_embed(m, onnx_dir):
    os.makedirs(onnx_dir, exist_ok=True)
    export._export(EmbedGraph(m), (torch.tensor([[1, 5, 9]]),), os.path.join(onnx_dir, "embed_tokens.onnx"),
                   ["input_ids"], ["inputs_embeds"],
                   {"input_ids": {0: "batch_size", 1: "sequence_length"},
                    "inputs_embeds": {0: "batch_size", 1: "sequence_length"}})


def export_decoder(m, onnx_dir, with_token_types=False):
    """decoder_model_merged.onnx (takes inputs_embeds: m.decoder.embed_tokens is not part of it)."""
    t = m.cfg["text"]
    os.makedirs(onnx_dir, exist_ok=True)
    b, s, p, hd = 1, 3, 2, t["head_dim"]
    flat = []
    for _ in t["layer_types"]:
        flat += [torch.randn(b, t["kv_heads"], p, hd), torch.randn(b, t["kv_heads"], p, hd)]
    past_names, present_names = export.kv_names(len(t["layer_types"]))
    dyn = {"inputs_embeds": {0: "batch_size", 1: "sequence_length"},
           "attention_mask": {0: "batch_size", 1: "total_sequence_length"},
           "position_ids": {0: "batch_size", 1: "sequence_length"},
           "logits": {0: "batch_size", 1: "sequence_length"}}
    for nm in past_names:
        dyn[nm] = {0: "batch_size", 2: "past_sequence_length"}
    for nm in present_names:
        dyn[nm] = {0: "batch_size", 2: "total_sequence_length"}
    names = ["inputs_embeds", "attention_mask", "position_ids"]
    extra = ()
    if with_token_types:
        names.append("token_type_ids")
        dyn["token_type_ids"] = {0: "batch_size", 1: "total_sequence_length"}
        extra = (torch.tensor([[0, 1, 1, 0, 0]]),)
    pos = torch.arange(p, p + s)[None] + 1
    export._export(DecoderGraph(m, with_token_types),
                   (torch.randn(b, s, t["hidden"]), torch.ones(b, p + s, dtype=torch.long), pos, *extra, *flat),
                   os.path.join(onnx_dir, "decoder_model_merged.onnx"), names + past_names, ["logits"] + present_names,
                   dyn)


def _static_dim(path, output, axis, size):
    """The exporter names the pooled token axis of image_features symbolically; it is mm_tokens_per_image."""
    model = onnx.load(path)
    for out in model.graph.output:
        if out.name == output:
            dim = out.type.tensor_type.shape.dim[axis]
            dim.Clear()
            dim.dim_value = size
    onnx.checker.check_model(model)
    onnx.save(model, path)


def graph_io(cfg, with_token_types=False):
    """All three graphs' I/O contract, written into goldens.json for the Java side."""
    t, v = cfg["text"], cfg["vision"]
    h, hd, n = t["hidden"], t["head_dim"], len(t["layer_types"])
    s = v["image_size"]
    inputs = [{"name": "inputs_embeds", "type": "float32", "shape": ["batch_size", "sequence_length", h]},
              {"name": "attention_mask", "type": "int64", "shape": ["batch_size", "total_sequence_length"]},
              {"name": "position_ids", "type": "int64", "shape": ["batch_size", "sequence_length"]}]
    if with_token_types:
        inputs.append({"name": "token_type_ids", "type": "int64", "shape": ["batch_size", "total_sequence_length"]})
    outputs = [{"name": "logits", "type": "float32", "shape": ["batch_size", "sequence_length", "vocab_size"]}]
    for i in range(n):
        for kv in ("key", "value"):
            inputs.append({"name": f"past_key_values.{i}.{kv}", "type": "float32",
                           "shape": ["batch_size", t["kv_heads"], "past_sequence_length", hd]})
            outputs.append({"name": f"present.{i}.{kv}", "type": "float32",
                            "shape": ["batch_size", t["kv_heads"], "total_sequence_length", hd]})
    decoder = {
        "inputs": inputs, "outputs": outputs, "layer_types": list(t["layer_types"]),
        "sliding_window": t["sliding_window"],
        "empty_past": "past_key_values.i.key/value [batch, kv_heads, 0, head_dim] for every layer (transformers.js "
                      "builds them from the graph's input metadata, symbolic dims -> 0 except batch_size)",
        "cache": "every layer, sliding or global, returns the FULL concat(past, new) along axis 2: the graph applies "
                 "the sliding window in its mask, the caller never trims the cache",
        "position_ids": "1-indexed: prompt 1..S, decode step k (token index S+k) S+k+1 (transformers.js "
                        "cumsum(attention_mask) starting at 1 for model_type gemma3). RoPE is shift-invariant: "
                        "0-indexed positions change logits only by rounding (~1e-5), the goldens cannot detect it",
        "attention": "causal (+ sliding window on sliding layers) from attention_mask; image tokens are NOT "
                     "bidirectional (the graph has no token_type_ids input)" if not with_token_types else
                     "token_type_ids [batch, past+S] (1 at <image_soft_token>): during prefill each contiguous run "
                     "of image tokens attends bidirectionally within itself (HF Gemma3); decode steps pass the "
                     "prompt's token types followed by zeros",
        "fp16": "decoder_model_merged_fp16.onnx: past_key_values.*, present.* and logits float16; inputs_embeds "
                "float32"}
    return {
        "embed_tokens": {"inputs": [{"name": "input_ids", "type": "int64", "shape": ["batch_size", "sequence_length"]}],
                         "outputs": [{"name": "inputs_embeds", "type": "float32",
                                      "shape": ["batch_size", "sequence_length", h]}],
                         "note": f"rows already multiplied by sqrt(hidden_size) = {h ** 0.5!r} (inside the graph)"},
        "vision_encoder": {"inputs": [{"name": "pixel_values", "type": "float32",
                                       "shape": ["batch_size", v["channels"], s, s]}],
                           "outputs": [{"name": "image_features", "type": "float32",
                                        "shape": ["batch_size", cfg["mm_tokens_per_image"], h]}],
                           "note": "one row of pixel_values per image frame (pan-and-scan: original first, then its "
                                   "crops); image_features rows replace the <image_soft_token> rows of inputs_embeds "
                                   "in order, unscaled"},
        "decoder": decoder}


# --------------------------------------------------------------------------- goldens
def _picture(rng, size, seed):
    w, h = size[:2]
    if len(size) == 2 and min(w, h) >= 24:
        return synth.make_scene(rng, rng.choice([2, 3]), (w, h)).image
    return _test_image(w, h, seed, size[2] if len(size) > 2 else "RGB")


def case_specs():
    """(name, description, messages, image sizes (w, h), pan_and_scan). Processor size 32x32."""
    q = QUESTIONS
    one = lambda question: [user(IMG, txt(question))]  # noqa: E731
    return [
        ("square_no_resize", "32x32: no resize", one(q[0]), [(32, 32)], False),
        ("square_no_resize_b", "32x32, another picture and question", one(q[2]), [(32, 32)], False),
        ("text_before_image", "question first, then the image", [user(txt(q[1]), IMG)], [(32, 32)], False),
        ("grayscale_no_resize", "32x32 grayscale PNG", one(q[1]), [(32, 32, "L")], False),
        ("rgba_no_resize", "32x32 RGBA PNG (alpha dropped)", one(q[1]), [(32, 32, "RGBA")], False),
        ("wide_resize", "48x32 -> 32x32 (bilinear; sharp vs Pillow)", one(q[1]), [(48, 32)], False),
        ("tall_resize", "24x40 -> 32x32", one(q[0]), [(24, 40)], False),
        ("small_upscale", "16x16 -> 32x32", one(q[3]), [(16, 16)], False),
        ("two_images_one_turn", "two images then text in one user turn",
         [user(IMG, IMG, txt(q[4]))], [(32, 32), (32, 32)], False),
        ("interleaved", "text, image, text, image, text in one turn",
         [user(txt(q[8]), IMG, txt(q[9]), IMG, txt(q[10]))], [(32, 32), (32, 32)], False),
        ("system_prompt", "system text prefixed to the first user turn", [
            {"role": "system", "content": [txt(SYSTEM)]}, user(IMG, txt(q[0]))], [(32, 32)], False),
        ("multi_turn", "image chat; the second user turn adds a second image",
         [user(IMG, txt(q[0])), assistant("A red circle and a blue square."), user(IMG, txt(q[5]))],
         [(32, 32), (32, 32)], False),
        ("multi_turn_text_followup", "image chat, text-only follow-up turn",
         [user(IMG, txt(q[1])), assistant("Two shapes."), user(txt(q[2]))], [(32, 32)], False),
        ("text_only", "no image", [user(txt(q[7]))], [], False),
        ("pas_wide_3_crops", "pan-and-scan: 96x32 -> original + 3 crops of 32x32", one(q[1]), [(96, 32)], True),
        ("pas_tall_3_crops", "pan-and-scan: 32x80 -> original + crops 32x27, 32x27, 32x26", one(q[0]), [(32, 80)],
         True),
        ("pas_wide_max_crops", "pan-and-scan: 200x32 (ratio 6.25) -> capped at 4 crops of 50x32", one(q[6]),
         [(200, 32)], True),
        ("pas_not_activated", "pan-and-scan on, 36x32 (ratio 1.125 < 1.2): no crops, prompt as without it",
         one(q[2]), [(36, 32)], True),
        ("pas_two_images", "pan-and-scan: a 64x32 image (2 crops) and a 32x32 one (none) in one turn",
         [user(IMG, IMG, txt(q[4]))], [(64, 32), (32, 32)], True),
    ]


VARIANTS = ("fp16", "q8")


def build_goldens(m, tok, folder, seed, eos_ids, bidi=False):
    image_id = tok.vocab[G.IMAGE_TOKEN]
    ref = G.Reference(m, image_id, bidi)
    causal = G.Reference(m, image_id, False) if bidi else None
    sims = {d: G.Reference(simulate(m, d), image_id, bidi) for d in VARIANTS}
    os.makedirs(os.path.join(folder, "goldens"), exist_ok=True)
    cases = []
    for ci, (name, desc, messages, sizes, pas) in enumerate(case_specs()):
        best = None
        for attempt in range(8):     # prefer draws whose greedy steps have a clear top-2 margin
            rng = random.Random(seed * 1000 + ci * 37 + attempt)
            pils = [_picture(rng, size, ci * 10 + k + attempt) for k, size in enumerate(sizes)]
            pre = [G.preprocess(p, m.cfg, pas) for p in pils]
            text = G.expand(render(messages), pre, m.cfg)
            ids = tok.encode(text)
            # the causal model picks the draw, so the -bidi folder has the same pictures as vlm4j-tiny-gemma3
            r = (causal or ref).generate(ids, pre, MAX_NEW_TOKENS, eos_ids)
            if best is None or r["min_top2_margin"] > best[0]:
                best = (r["min_top2_margin"], pils, pre, text, ids, r)
            if r["min_top2_margin"] >= 0.05:
                break
        _, pils, pre, text, ids, r = best
        cr = r
        if causal is not None:
            r = ref.generate(ids, pre, MAX_NEW_TOKENS, eos_ids)
        paths = [f"goldens/{name}_{k}.png" for k in range(len(pils))]
        for p, rel in zip(pils, paths):
            p.save(os.path.join(folder, rel), optimize=True)
        case = {"name": name, "description": desc, "pan_and_scan": pas, "messages": messages, "images": paths,
                "image_sizes": [list(s[:2]) for s in sizes], "num_crops": [x["num_crops"] for x in pre],
                "crop_sizes": [x["crop_sizes"] for x in pre],
                "needs_resize": [any(x["resized"]) for x in pre],
                "template_text": render(messages), "prompt_text": text,
                "prompt_ids": ids, "prompt_length": len(ids), "image_token_count": r["image_token_count"],
                "max_new_tokens": MAX_NEW_TOKENS, "generated_ids": r["generated_ids"],
                "text": tok.decode(r["generated_ids"], skip_special=True), "finish_reason": r["finish_reason"],
                "first_step_top5": _top5(r["first_logits"]), "first_step_logits": checksum(r["first_logits"]),
                "min_top2_margin": r["min_top2_margin"]}
        case["variants"] = {}
        for d, sref in sims.items():
            sv = sref.generate(ids, pre, MAX_NEW_TOKENS, eos_ids)
            case["variants"][d] = {"generated_ids": sv["generated_ids"], "first_step_top5": _top5(sv["first_logits"]),
                                   "min_top2_margin": sv["min_top2_margin"]}
        if causal is not None:
            case["causal"] = {"generated_ids": cr["generated_ids"], "first_step_top5": _top5(cr["first_logits"]),
                              "first_step_max_abs_change": float((cr["first_logits"] - r["first_logits"]).abs().max()),
                              "greedy_ids_differ": cr["generated_ids"] != r["generated_ids"]}
        if pils:
            case["pixel_values"] = checksum(r["pixel_values"])
            case["image_features"] = checksum(r["image_features"])
        cases.append(case)
    t = m.cfg["text"]
    doc = {"model": os.path.basename(folder), "layout": "gemma3", "seed": seed,
           "reference": "PyTorch fp32 (src/test/python/refmodels/gemma3.py), greedy, KV cache, position_ids 1..S for "
                        "the prompt and S+k+1 for decode step k, " +
                        ("token_type_ids bidirectional image attention (vlm4j-layout extension)" if bidi else
                         "causal attention (as the transformers.js-layout graph runs; HF PyTorch would make each "
                         "image bidirectional)"),
           "prompt": {"template": "chat_template.jinja (also tokenizer_config.json chat_template), rendered with "
                                  "bos_token, add_generation_prompt=true",
                      "expansion": "each <start_of_image> -> '\\n\\n<start_of_image>' + '<image_soft_token>' * "
                                   f"{m.cfg['mm_tokens_per_image']} + '<end_of_image>\\n\\n'; with pan-and-scan crops "
                                   "first '<start_of_image>' -> 'Here is the original image <start_of_image> and here "
                                   "are some crops to help you see better ' + ' '.join(['<start_of_image>'] * "
                                   "num_crops); text-only prompts are not expanded",
                      "tokenize": "the expanded text with add_special_tokens=false (the template already emits "
                                  "<bos>; tokenizer.json's TemplateProcessing would add a second one)"},
           "preprocessing": "RGB (alpha dropped), [pan-and-scan crops of the uint8 image], each frame resized to "
                            f"{m.cfg['image']['size']}x{m.cfg['image']['size']} (Pillow bilinear here, sharp in "
                            "transformers.js; frames already that size are untouched), rescale 1/255, normalize "
                            "mean 0.5 std 0.5, CHW. needs_resize false: pixels identical across runtimes",
           "pan_and_scan": {"do_pan_and_scan": "only cases with pan_and_scan true (preprocessor_config.json has false)",
                            "min_crop_size": m.cfg["image"]["pan_and_scan_min_crop_size"],
                            "max_num_crops": m.cfg["image"]["pan_and_scan_max_num_crops"],
                            "min_ratio_to_activate": m.cfg["image"]["pan_and_scan_min_ratio_to_activate"],
                            "peer_check": "transformers.js 4.3.1 has no pan-and-scan: these cases are PyTorch-only"},
           "layer_types": list(t["layer_types"]), "graph_io": graph_io(m.cfg, bidi),
           "decoder_io": graph_io(m.cfg, bidi)["decoder"],
           "tokenizer_cases": [{"text": s, "ids": tok.encode(s), "plain_ids": tok.encode_plain(s),
                                "ids_with_special_tokens": [tok.vocab[BOS]] + tok.encode(s),
                                "decoded": tok.decode(tok.encode_plain(s), skip_special=True)} for s in TOKENIZER_STRINGS],
           "tolerances": {"first_step_logits_fp32": 1e-4,
                          "variants": "ids equal to the variant's own goldens (PyTorch with the same weight/cache "
                                      "rounding); first-step logits within 2e-2 (fp16 output rounding) / 1e-3 (q8)"},
           "variant_files": {"fp16": "*_fp16.onnx: float16 weights; decoder: float16 KV cache, presents and logits, "
                                     "float32 inputs_embeds; vision / embed: float32 I/O",
                             "q8": "*_quantized.onnx: weight-only int8 (per output channel, DequantizeLinear) for "
                                   "MatMul/Gemm/Gather weights; the patch-embedding Conv stays float32"},
           "eos_token_ids": list(eos_ids), "cases": cases}
    if bidi:
        doc["bidirectional_effect"] = {
            "cases_with_images": sum(1 for c in cases if c["images"]),
            "greedy_ids_differ": sum(1 for c in cases if c["causal"]["greedy_ids_differ"]),
            "note": "each case's \"causal\" = the same model with token_type_ids all zero (= vlm4j-tiny-gemma3's "
                    "goldens); text-only cases cannot change"}
    export.write_json(os.path.join(folder, "goldens.json"), doc)
    return doc


def self_check(m):
    """prefill + steps == one full pass (sliding window across the cache boundary); the 1-indexed position
    convention's effect (RoPE is shift-invariant, so only rounding) -> max |logit diff| 0- vs 1-indexed."""
    cfg = m.cfg
    dec = m.decoder
    n = 3 * cfg["text"]["sliding_window"]
    with torch.no_grad():
        x = torch.randn(1, n, cfg["text"]["hidden"])
        pos = torch.arange(n)[None] + 1
        full, _ = dec(x, torch.ones(1, n, dtype=torch.long), pos, dec.empty_past())
        k0 = n - 5
        lg, past = dec(x[:, :k0], torch.ones(1, k0, dtype=torch.long), pos[:, :k0], dec.empty_past())
        outs = [lg]
        for k in range(k0, n):
            lg, past = dec(x[:, k:k + 1], torch.ones(1, k + 1, dtype=torch.long), pos[:, k:k + 1], past)
            outs.append(lg)
        err = float((torch.cat(outs, 1) - full).abs().max())
        assert err < 1e-4, err
        zero, _ = dec(x, torch.ones(1, n, dtype=torch.long), pos - 1, dec.empty_past())
        nowin = copy.deepcopy(dec)
        nowin.t = dict(dec.t, sliding_window=10 ** 6)
        plain, _ = nowin(x, torch.ones(1, n, dtype=torch.long), pos, nowin.empty_past())
    return {"cache_vs_full_max_abs": err, "position_offset_max_abs": float((zero - full).abs().max()),
            "sliding_window_effect_max_abs": float((plain - full).abs().max())}


# --------------------------------------------------------------------------- main
def build(out, seed, cfg, bidi=False):
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(os.path.join(out, "onnx"), exist_ok=True)
    tok = build_tokenizer()
    torch.manual_seed(seed)
    m = G.init_weights(G.Gemma3(cfg, len(tok.vocab)), seed).eval()
    for p in m.parameters():
        p.requires_grad_(False)
    checks = self_check(m)
    config, pre, proc, gen, special, eos = configs(cfg, tok)
    export.write_json(os.path.join(out, "tokenizer.json"), tokenizer_json(tok))
    for fname, obj in [("config.json", config), ("preprocessor_config.json", pre), ("processor_config.json", proc),
                       ("generation_config.json", gen), ("special_tokens_map.json", special),
                       ("tokenizer_config.json", tokenizer_config(tok, cfg["text"]["max_positions"]))]:
        export.write_json(os.path.join(out, fname), obj)
    with open(os.path.join(out, "chat_template.jinja"), "w", encoding="utf-8") as f:
        f.write(TEMPLATE)
    o = os.path.join(out, "onnx")
    export_graphs(m, o, bidi)
    src = os.path.join(o, "decoder_model_merged.onnx")
    export.to_fp16(src, os.path.join(o, "decoder_model_merged_fp16.onnx"), "past_key_values.")
    export.quantize_weights_int8(src, os.path.join(o, "decoder_model_merged_quantized.onnx"))
    export.variants(o, "vision_encoder")
    export.variants(o, "embed_tokens")
    return m, tok, build_goldens(m, tok, out, seed + 1, eos, bidi), checks


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out-models", default=DEFAULT_MODELS, help="folder the model folder is written into")
    ap.add_argument("--seed", type=int, default=SEED, help="weights seed")
    ap.add_argument("--text-hidden", type=int, help="decoder width")
    ap.add_argument("--head-dim", type=int)
    ap.add_argument("--layer-types", help="comma-separated sliding_attention / full_attention")
    ap.add_argument("--sliding-window", type=int)
    ap.add_argument("--vision-layers", type=int)
    ap.add_argument("--vision-width", type=int)
    ap.add_argument("--image-size", type=int, help="processor / vision image size (multiple of the patch)")
    ap.add_argument("--mm-tokens", type=int, help="mm_tokens_per_image (a square dividing the patch grid)")
    ap.add_argument("--final-logit-softcapping", type=float)
    ap.add_argument("--bidirectional-images", action="store_true",
                    help="write the vlm4j-layout extension folder vlm4j-tiny-gemma3-bidi (decoder declares "
                         "token_type_ids; not loadable by transformers.js)")
    a = ap.parse_args()
    torch.set_num_threads(2)
    cfg = copy.deepcopy(G.TINY)
    for sect, key, val in [("text", "hidden", a.text_hidden), ("text", "head_dim", a.head_dim),
                           ("text", "sliding_window", a.sliding_window),
                           ("text", "final_logit_softcapping", a.final_logit_softcapping),
                           ("vision", "layers", a.vision_layers), ("vision", "hidden", a.vision_width),
                           ("vision", "image_size", a.image_size), ("image", "size", a.image_size)]:
        if val is not None:
            cfg[sect][key] = val
    if a.text_hidden and not a.head_dim:
        cfg["text"]["head_dim"] = a.text_hidden // cfg["text"]["heads"]
    cfg["text"]["query_pre_attn_scalar"] = cfg["text"]["head_dim"]
    if a.mm_tokens:
        cfg["mm_tokens_per_image"] = a.mm_tokens
    if a.layer_types:
        cfg["text"]["layer_types"] = a.layer_types.split(",")
    folder = FOLDER + ("-bidi" if a.bidirectional_images else "")
    _, _, doc, checks = build(os.path.join(a.out_models, folder), a.seed, cfg, a.bidirectional_images)
    print(doc["model"], json.dumps(checks))
    for c in doc["cases"]:
        print(f"  {c['name']:26s} prompt {c['prompt_length']:4d}  image tokens {c['image_token_count']:3d}  "
              f"margin {c['min_top2_margin']:.3f}  {json.dumps(c['generated_ids'][:8])}...")


if __name__ == "__main__":
    main()
