"""The tiny Florence-2 folder: tokenizer, configs, the four onnx-community graphs and goldens.

    cd src/test/python && /usr/bin/python3 -m refmodels.florence2_kit                 # ~1 min on 2 cores
    /usr/bin/python3 -m refmodels.florence2_kit --seed 7 --d-model 96 --out-models /tmp/m
    bash src/test/node/peer-check.sh --florence2 --write-post-processed   # then: tjs_post_processed

writes src/test/resources/models/vlm4j-tiny-florence2 (random seeded weights; --seed and the size
options make other tiny models): what transformers.js 4.3.1 loads for model_type `florence2`
(Florence2ForConditionalGeneration = MODEL_TYPES.ImageTextToText with config.is_encoder_decoder,
Florence2Processor, CLIPImageProcessor, BART tokenizer):

* onnx/embed_tokens.onnx     input_ids [batch, seq] int64 -> inputs_embeds [batch, seq, d_model]
* onnx/vision_encoder.onnx   pixel_values [batch, 3, height, width] -> image_features [batch, 1 + h*w, d_model]
* onnx/encoder_model.onnx    inputs_embeds [batch, enc_seq, d_model], attention_mask [batch, enc_seq] int64
                             -> last_hidden_state [batch, enc_seq, d_model]
* onnx/decoder_model_merged.onnx  encoder_attention_mask, encoder_hidden_states, inputs_embeds,
                             past_key_values.i.{decoder,encoder}.{key,value}, use_cache_branch (bool [1])
                             -> logits, present.i.{decoder,encoder}.{key,value}: an If over use_cache_branch,
                             built from a no-cache and a with-cache export like optimum's merge
                             (goldens.json "decoder_io" and "graphs_io")

Goldens come from the PyTorch reference (florence2.Reference) on PNGs stored in goldens/.
"""
import argparse
import copy
import os
import random
import re
import shutil

import numpy as np
import onnx
import torch
from PIL import Image
from onnx import TensorProto, helper, numpy_helper

from . import bpe, export, synth
from . import florence2 as F2
from .fixtures import _test_image
from .goldens import _top5
from .reference import checksum
from .variants import simulate

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_MODELS = os.path.normpath(os.path.join(HERE, "..", "..", "resources", "models"))
FOLDER = "vlm4j-tiny-florence2"
SEED = 20261602
MAX_NEW_TOKENS = 32
NUM_MERGES = 250

SPECIAL_HEAD = ["<s>", "<pad>", "</s>", "<unk>"]
BOS_ID, PAD_ID, EOS_ID, UNK_ID = 0, 1, 2, 3
LOC_TOKENS = [f"<loc_{i}>" for i in range(1000)]
# Florence2Processor (Python) adds these after BART's <mask>, in this order.
STRUCTURE_TOKENS = ["<cap>", "</cap>", "<ncap>", "</ncap>", "<dcap>", "</dcap>", "<grounding>", "</grounding>",
                    "<seg>", "</seg>", "<sep>", "<region_cap>", "</region_cap>", "<region_to_desciption>",
                    "</region_to_desciption>", "<proposal>", "</proposal>", "<poly>", "</poly>", "<and>"]
ADDITIONAL = ["<od>", "</od>", "<ocr>", "</ocr>"] + LOC_TOKENS + STRUCTURE_TOKENS
SPECIAL_TAIL = ["<mask>"] + ADDITIONAL

# The Florence-2 processor tables (preprocessor_config.json; transformers.js reads them from there).
TASK_PROMPTS_WITHOUT_INPUTS = {
    "<OCR>": "What is the text in the image?",
    "<OCR_WITH_REGION>": "What is the text in the image, with regions?",
    "<CAPTION>": "What does the image describe?",
    "<DETAILED_CAPTION>": "Describe in detail what is shown in the image.",
    "<MORE_DETAILED_CAPTION>": "Describe with a paragraph what is shown in the image.",
    "<OD>": "Locate the objects with category name in the image.",
    "<DENSE_REGION_CAPTION>": "Locate the objects in the image, with their descriptions.",
    "<REGION_PROPOSAL>": "Locate the region proposals in the image.",
}
TASK_PROMPTS_WITH_INPUT = {
    "<CAPTION_TO_PHRASE_GROUNDING>": "Locate the phrases in the caption: {input}",
    "<REFERRING_EXPRESSION_SEGMENTATION>": "Locate {input} in the image with mask",
    "<REGION_TO_SEGMENTATION>": "What is the polygon mask of region {input}",
    "<OPEN_VOCABULARY_DETECTION>": "Locate {input} in the image.",
    "<REGION_TO_CATEGORY>": "What is the region {input}?",
    "<REGION_TO_DESCRIPTION>": "What does the region {input} describe?",
    "<REGION_TO_OCR>": "What text is in the region {input}?",
}
TASKS_ANSWER_POST_PROCESSING_TYPE = {
    "<OCR>": "pure_text", "<OCR_WITH_REGION>": "ocr", "<CAPTION>": "pure_text", "<DETAILED_CAPTION>": "pure_text",
    "<MORE_DETAILED_CAPTION>": "pure_text", "<OD>": "description_with_bboxes",
    "<DENSE_REGION_CAPTION>": "description_with_bboxes", "<CAPTION_TO_PHRASE_GROUNDING>": "phrase_grounding",
    "<REFERRING_EXPRESSION_SEGMENTATION>": "polygons", "<REGION_TO_SEGMENTATION>": "polygons",
    "<OPEN_VOCABULARY_DETECTION>": "description_with_bboxes_or_polygons", "<REGION_TO_CATEGORY>": "pure_text",
    "<REGION_TO_DESCRIPTION>": "pure_text", "<REGION_TO_OCR>": "pure_text", "<REGION_PROPOSAL>": "bboxes",
}

TOKENIZER_STRINGS = [
    "What does the image describe?",
    "It's 12+3=15?! DON'T (stop)... \"quoted\"\n\n  indented\tTab caf\u0065\u0301 \u6771\u4eac \U0001F642",
    "What is the region <loc_100><loc_150><loc_600><loc_999>?",
    "car<loc_0><loc_12><loc_345><loc_678></od><od>text with <s> and </s> inside<pad><unk><mask><and>",
    "",
]


# --------------------------------------------------------------------------- tokenizer
def build_tokenizer(num_merges=NUM_MERGES, vocab_size=None):
    """The kit's BART BPE; `vocab_size`: pad with unused entries (before <mask> and the added tokens) to
    this many ids (None: no padding)."""
    texts = list(TASK_PROMPTS_WITHOUT_INPUTS.values()) * 20 + list(TASK_PROMPTS_WITH_INPUT.values()) * 10
    rng = random.Random(SEED)
    for _ in range(300):
        pic = synth.make_scene(rng, None, (64, 64))
        q, a, _ = synth.scene_question(rng, pic)
        texts += [q, " " + a, a]
    merges = bpe.train_merges(texts, num_merges, "bart")
    post = {"type": "RobertaProcessing", "sep": ["</s>", EOS_ID], "cls": ["<s>", BOS_ID], "trim_offsets": True,
            "add_prefix_space": False}
    tok = bpe.Tokenizer(merges, SPECIAL_HEAD, SPECIAL_TAIL, vocab_size=vocab_size, style="bart", post_processor=post)
    assert [tok.vocab[t] for t in SPECIAL_HEAD] == [BOS_ID, PAD_ID, EOS_ID, UNK_ID]
    return tok


def encode(tok, text):
    """The tokenizer call transformers.js makes (add_special_tokens: RobertaProcessing <s> ... </s>)."""
    return [BOS_ID] + tok.encode(text) + [EOS_ID]


_CLEANUP = [(" .", "."), (" ?", "?"), (" !", "!"), (" ,", ","), (" ' ", "'"), (" n't", "n't"), (" 'm", "'m"),
            (" 's", "'s"), (" 've", "'ve"), (" 're", "'re")]


def decode(tok, ids):
    """batch_decode(ids, skip_special_tokens=false) with clean_up_tokenization_spaces (tokenizer_config)."""
    text = tok.decode(ids, skip_special=False)
    for a, b in _CLEANUP:
        text = text.replace(a, b)
    return text


def tokenizer_config(tok, max_len):
    added = {str(tok.vocab[t]): {"content": t, "lstrip": False, "normalized": False, "rstrip": False,
                                 "single_word": False, "special": True} for t in tok.added}
    return {"add_prefix_space": False, "added_tokens_decoder": added, "additional_special_tokens": ADDITIONAL,
            "bos_token": "<s>", "clean_up_tokenization_spaces": True, "cls_token": "<s>", "eos_token": "</s>",
            "errors": "replace", "mask_token": "<mask>", "model_max_length": max_len, "pad_token": "<pad>",
            "processor_class": "Florence2Processor", "sep_token": "</s>", "tokenizer_class": "BartTokenizer",
            "trim_offsets": True, "unk_token": "<unk>"}


# --------------------------------------------------------------------------- processor (prompts, post-processing)
def construct_prompt(text):
    """Florence2Processor.construct_prompts for one text (transformers.js 4.3.1 semantics)."""
    if text in TASK_PROMPTS_WITHOUT_INPUTS:
        return TASK_PROMPTS_WITHOUT_INPUTS[text]
    for task, prompt in TASK_PROMPTS_WITH_INPUT.items():
        if task in text:
            return prompt.replace("{input}", text).replace(task, "")
    return text


_REGEX = {"quad_boxes": re.compile(r"(.+?)" + r"<loc_(\d+)>" * 8, re.ASCII),
          "bboxes": re.compile(r"([^<]+)?" + r"<loc_(\d+)>" * 4, re.ASCII)}


def post_process(text, task, image_size):
    """Florence2Processor.post_process_generation as transformers.js 4.3.1 implements it; image_size is
    [width, height] (RawImage.size): x coordinates scale by width, y by height."""
    kind = TASKS_ANSWER_POST_PROCESSING_TYPE.get(task, "pure_text")
    text = text.replace("<s>", "").replace("</s>", "")
    if kind == "pure_text":
        return {task: text}
    if kind in ("description_with_bboxes", "bboxes", "phrase_grounding", "ocr"):
        key = "quad_boxes" if kind == "ocr" else "bboxes"
        labels, items = [], []
        for mt in _REGEX[key].finditer(text):
            label = mt.group(1)
            labels.append(label.strip() if label else (labels[-1] if labels else ""))
            items.append([(int(x) + 0.5) / 1000 * image_size[i % 2] for i, x in enumerate(mt.groups()[1:])])
        return {task: {"labels": labels, key: items}}
    return {"error": f'Task "{task}" (of type "{kind}") not yet implemented.'}


# --------------------------------------------------------------------------- configs
def configs(cfg, tok):
    v, t, im = cfg["vision"], cfg["text"], cfg["image"]
    vocab = len(tok.vocab)
    ids = dict(bos_token_id=BOS_ID, eos_token_id=EOS_ID, pad_token_id=PAD_ID, decoder_start_token_id=EOS_ID,
               forced_bos_token_id=BOS_ID, forced_eos_token_id=EOS_ID)
    text = {"model_type": "florence2_language", "vocab_size": vocab, "d_model": t["d_model"],
            "encoder_layers": t["encoder_layers"], "decoder_layers": t["decoder_layers"],
            "encoder_attention_heads": t["heads"], "decoder_attention_heads": t["heads"],
            "encoder_ffn_dim": t["ffn"], "decoder_ffn_dim": t["ffn"], "activation_function": "gelu",
            "max_position_embeddings": t["max_positions"], "scale_embedding": False, "is_encoder_decoder": True,
            "add_bias_logits": False, "add_final_layer_norm": False, "normalize_before": False,
            "tie_word_embeddings": False, "use_cache": True, **ids}
    grid = im["size"] // v["patch"]
    vision = {"model_type": "davit", "vlm4j_tiny_tower": "NOT DaViT: conv patch embed (kernel = stride = patch_size) "
              "+ pre-LN ViT + LayerNorm, then Florence-2's image_pos_embed / visual_temporal_embed / "
              "image_feature_source / image_projection / image_proj_norm (src/test/python/refmodels/florence2.py)",
              "patch_size": v["patch"], "hidden_size": v["width"], "num_hidden_layers": v["layers"],
              "num_attention_heads": v["heads"], "intermediate_size": v["mlp"], "dim_embed": [v["width"]],
              "projection_dim": t["d_model"], "image_feature_source": ["spatial_avg_pool", "temporal_avg_pool"],
              "image_pos_embed": {"type": "learned_abs_2d", "max_pos_embeddings": v["max_pos"]},
              "visual_temporal_embedding": {"type": "COSINE", "max_temporal_embeddings": v["max_temporal"]}}
    config = {"architectures": ["Florence2ForConditionalGeneration"], "model_type": "florence2",
              "is_encoder_decoder": True, "vocab_size": vocab, "projection_dim": t["d_model"],
              "ignore_index": -100, "torch_dtype": "float32", "bos_token_id": BOS_ID, "eos_token_id": EOS_ID,
              "pad_token_id": PAD_ID, "text_config": text, "vision_config": vision,
              "transformers.js_config": {"kv_cache_dtype": {"fp16": "float16"}}}
    pre = {"image_processor_type": "CLIPImageProcessor", "processor_class": "Florence2Processor",
           "do_convert_rgb": True, "do_resize": True, "size": {"height": im["size"], "width": im["size"]},
           "resample": im["resample"], "do_center_crop": False, "crop_size": {"height": im["size"], "width": im["size"]},
           "do_rescale": True, "rescale_factor": 0.00392156862745098, "do_normalize": True,
           "image_mean": im["mean"], "image_std": im["std"], "image_seq_length": 1 + grid * grid,
           "tasks_answer_post_processing_type": TASKS_ANSWER_POST_PROCESSING_TYPE,
           "task_prompts_without_inputs": TASK_PROMPTS_WITHOUT_INPUTS,
           "task_prompts_with_input": TASK_PROMPTS_WITH_INPUT}
    proc = {"processor_class": "Florence2Processor"}
    gen = {**ids, "do_sample": False}
    special = {"additional_special_tokens": ADDITIONAL, "bos_token": "<s>", "cls_token": "<s>", "eos_token": "</s>",
               "mask_token": "<mask>", "pad_token": "<pad>", "sep_token": "</s>", "unk_token": "<unk>"}
    return config, pre, proc, gen, special


# --------------------------------------------------------------------------- export
class EmbedTokens(torch.nn.Module):
    def __init__(self, m):
        super().__init__()
        self.shared = m.language.shared

    def forward(self, input_ids):
        return self.shared(input_ids)


class Encoder(torch.nn.Module):
    def __init__(self, m):
        super().__init__()
        self.lang = m.language

    def forward(self, inputs_embeds, attention_mask):
        return self.lang.encode(inputs_embeds, attention_mask)


class DecoderNoPast(torch.nn.Module):
    """use_cache_branch false: the first step. Cross-attention k/v computed from encoder_hidden_states."""

    def __init__(self, m):
        super().__init__()
        self.lang = m.language

    def forward(self, encoder_attention_mask, encoder_hidden_states, inputs_embeds):
        cross = self.lang.cross_kv(encoder_hidden_states)
        logits, presents = self.lang.decode(inputs_embeds, encoder_attention_mask, None, cross)
        out = [logits]
        for (k, v), (ek, ev) in zip(presents, cross):
            out += [k, v, ek, ev]
        return tuple(out)


class DecoderWithPast(torch.nn.Module):
    """use_cache_branch true: self-attention past grows, cross-attention k/v come from the past inputs."""

    def __init__(self, m):
        super().__init__()
        self.lang = m.language

    def forward(self, encoder_attention_mask, inputs_embeds, *flat):
        n = len(flat) // 4
        self_past = [(flat[4 * i], flat[4 * i + 1]) for i in range(n)]
        cross = [(flat[4 * i + 2], flat[4 * i + 3]) for i in range(n)]
        logits, presents = self.lang.decode(inputs_embeds, encoder_attention_mask, self_past, cross)
        out = [logits]
        for k, v in presents:
            out += [k, v]
        return tuple(out)


def kv_names(layers):
    past, present = [], []
    for i in range(layers):
        for part in ("decoder", "encoder"):
            past += [f"past_key_values.{i}.{part}.key", f"past_key_values.{i}.{part}.value"]
            present += [f"present.{i}.{part}.key", f"present.{i}.{part}.value"]
    return past, present


def _value_info(name, elem, dims):
    return helper.make_tensor_value_info(name, elem, dims)


def _branch(model, init_names, prefix, outputs, extra_nodes=()):
    """A model's graph as an If branch: its initializers replaced by the outer (deduplicated) names,
    every internal value and node renamed with `prefix`, `outputs` = [(model output name | produced
    name, elem type)] in the merged output order."""
    g = model.graph
    inputs = {i.name for i in g.input}
    rename = dict(init_names)
    for node in g.node:
        for o in node.output:
            if o:
                rename[o] = prefix + o
    nodes = []
    for node in list(g.node) + list(extra_nodes):
        n = copy.deepcopy(node)
        for k, name in enumerate(n.input):
            if name and name not in inputs:
                n.input[k] = rename.get(name, name)
        for k, name in enumerate(n.output):
            n.output[k] = rename.get(name, prefix + name)
        n.name = prefix + (n.name or n.op_type)
        nodes.append(n)
    outs = [helper.make_tensor_value_info(rename.get(name, prefix + name), elem, None) for name, elem in outputs]
    return helper.make_graph(nodes, prefix.strip("/") + "_branch", [], outs)


def merge_decoders(no_past_path, with_past_path, out_path, t, vocab):
    """decoder_model_merged.onnx: outer inputs, all weights once (deduplicated by content, like optimum),
    one If(use_cache_branch): then = the with-past graph, else = the no-past graph. In the with-past branch
    present.i.encoder.* are constant EMPTY tensors [0, heads, 0, head_dim] (optimum fills outputs a
    branch lacks that way): the caller keeps the step-1 encoder presents."""
    m0, m1 = onnx.load(no_past_path), onnx.load(with_past_path)
    layers, heads, hd = t["decoder_layers"], t["heads"], t["d_model"] // t["heads"]
    by_content, outer_inits, used = {}, [], set()

    def canon(model, tag):
        names = {}
        for init in model.graph.initializer:
            arr = numpy_helper.to_array(init)
            key = (init.data_type, tuple(init.dims), arr.tobytes())
            if key not in by_content:
                name = init.name if init.name not in used else f"{tag}/{init.name}"
                used.add(name)
                by_content[key] = name
                outer_inits.append(numpy_helper.from_array(arr, name))
            names[init.name] = by_content[key]
        return names

    n0, n1 = canon(m0, "nopast"), canon(m1, "past")
    past_names, present_names = kv_names(layers)
    F32 = TensorProto.FLOAT
    out_else = [("logits", F32)] + [(nm, F32) for nm in present_names]
    empty = numpy_helper.from_array(np.zeros((0, heads, 0, hd), np.float32))
    consts, out_then = [], [("logits", F32)]
    for i in range(layers):
        out_then += [(f"present.{i}.decoder.key", F32), (f"present.{i}.decoder.value", F32)]
        for kv in ("key", "value"):
            nm = f"present.{i}.encoder.{kv}"
            consts.append(helper.make_node("Constant", [], [nm], value=empty, name=nm + "_constant_empty"))
            out_then.append((nm, F32))
    then_g = _branch(m1, n1, "past/", out_then, consts)
    else_g = _branch(m0, n0, "nopast/", out_else)
    inputs = [_value_info("encoder_attention_mask", TensorProto.INT64, ["batch_size", "encoder_sequence_length"]),
              _value_info("encoder_hidden_states", F32, ["batch_size", "encoder_sequence_length", t["d_model"]]),
              _value_info("inputs_embeds", F32, ["batch_size", "decoder_sequence_length", t["d_model"]])]
    for nm in past_names:
        seq = "past_decoder_sequence_length" if ".decoder." in nm else "encoder_sequence_length_out"
        inputs.append(_value_info(nm, F32, ["batch_size", heads, seq, hd]))
    inputs.append(_value_info("use_cache_branch", TensorProto.BOOL, [1]))
    outputs = [_value_info("logits", F32, ["batch_size", "decoder_sequence_length", vocab])]
    for nm in present_names:
        dims = (["batch_size", heads, "present_decoder_sequence_length", hd] if ".decoder." in nm
                else ["encoder_batch_size", heads, "encoder_sequence_length_out", hd])
        outputs.append(_value_info(nm, F32, dims))
    node = helper.make_node("If", ["use_cache_branch"], [o.name for o in outputs], name="optimum::if",
                            then_branch=then_g, else_branch=else_g)
    graph = helper.make_graph([node], "decoder_model_merged", inputs, outputs, outer_inits)
    merged = helper.make_model(graph, opset_imports=list(m0.opset_import), producer_name="vlm4j-refmodels",
                               producer_version="1")
    merged.ir_version = m0.ir_version
    onnx.checker.check_model(merged)
    onnx.save(merged, out_path)


def export_graphs(m, onnx_dir, tmp_dir):
    cfg = m.cfg
    t, im = cfg["text"], cfg["image"]
    d = t["d_model"]
    os.makedirs(onnx_dir, exist_ok=True)
    os.makedirs(tmp_dir, exist_ok=True)
    export._export(EmbedTokens(m), (torch.tensor([[0, 5, 9, 2]]),), os.path.join(onnx_dir, "embed_tokens.onnx"),
                   ["input_ids"], ["inputs_embeds"],
                   {"input_ids": {0: "batch_size", 1: "sequence_length"},
                    "inputs_embeds": {0: "batch_size", 1: "sequence_length"}})
    export._export(m.vision, (torch.randn(2, 3, im["size"], im["size"]),), os.path.join(onnx_dir, "vision_encoder.onnx"),
                   ["pixel_values"], ["image_features"],
                   {"pixel_values": {0: "batch_size", 2: "height", 3: "width"},
                    "image_features": {0: "batch_size", 1: "num_image_tokens"}})
    export._export(Encoder(m), (torch.randn(1, 7, d), torch.ones(1, 7, dtype=torch.long)),
                   os.path.join(onnx_dir, "encoder_model.onnx"), ["inputs_embeds", "attention_mask"],
                   ["last_hidden_state"],
                   {"inputs_embeds": {0: "batch_size", 1: "encoder_sequence_length"},
                    "attention_mask": {0: "batch_size", 1: "encoder_sequence_length"},
                    "last_hidden_state": {0: "batch_size", 1: "encoder_sequence_length"}})
    b, e, s, p, hd = 1, 7, 2, 3, d // t["heads"]
    past_names, present_names = kv_names(t["decoder_layers"])
    no_past = os.path.join(tmp_dir, "decoder_model.onnx")
    dyn = {"encoder_attention_mask": {0: "batch_size", 1: "encoder_sequence_length"},
           "encoder_hidden_states": {0: "batch_size", 1: "encoder_sequence_length"},
           "inputs_embeds": {0: "batch_size", 1: "decoder_sequence_length"},
           "logits": {0: "batch_size", 1: "decoder_sequence_length"}}
    for nm in present_names:
        dyn[nm] = {0: "batch_size", 2: "decoder_sequence_length" if ".decoder." in nm else "encoder_sequence_length"}
    export._export(DecoderNoPast(m), (torch.ones(b, e, dtype=torch.long), torch.randn(b, e, d), torch.randn(b, s, d)),
                   no_past, ["encoder_attention_mask", "encoder_hidden_states", "inputs_embeds"],
                   ["logits"] + present_names, dyn)
    with_past = os.path.join(tmp_dir, "decoder_with_past_model.onnx")
    flat = [torch.randn(b, t["heads"], p if k % 4 < 2 else e, hd) for k in range(4 * t["decoder_layers"])]
    dyn = {"encoder_attention_mask": {0: "batch_size", 1: "encoder_sequence_length"},
           "inputs_embeds": {0: "batch_size", 1: "decoder_sequence_length"},
           "logits": {0: "batch_size", 1: "decoder_sequence_length"}}
    for nm in past_names:
        dyn[nm] = {0: "batch_size", 2: "past_decoder_sequence_length" if ".decoder." in nm else "encoder_sequence_length"}
    dec_present = [nm for nm in present_names if ".decoder." in nm]
    for nm in dec_present:
        dyn[nm] = {0: "batch_size", 2: "present_decoder_sequence_length"}
    export._export(DecoderWithPast(m), (torch.ones(b, e, dtype=torch.long), torch.randn(b, 1, d), *flat), with_past,
                   ["encoder_attention_mask", "inputs_embeds"] + past_names, ["logits"] + dec_present, dyn)
    merge_decoders(no_past, with_past, os.path.join(onnx_dir, "decoder_model_merged.onnx"), t,
                   m.language.lm_head.weight.shape[0])


_ONNX_TYPES = {TensorProto.FLOAT: "float32", TensorProto.FLOAT16: "float16", TensorProto.INT64: "int64",
               TensorProto.BOOL: "bool", TensorProto.INT32: "int32"}


def graph_io(onnx_dir):
    """Every graph's (and variant's) inputs / outputs as written: name, element type, dims."""
    def describe(vi):
        tt = vi.type.tensor_type
        return {"name": vi.name, "type": _ONNX_TYPES.get(tt.elem_type, str(tt.elem_type)),
                "shape": [dd.dim_param if dd.dim_param else dd.dim_value for dd in tt.shape.dim]}
    out = {}
    for f in sorted(os.listdir(onnx_dir)):
        if f.endswith(".onnx"):
            g = onnx.load(os.path.join(onnx_dir, f), load_external_data=False).graph
            out[f] = {"inputs": [describe(i) for i in g.input], "outputs": [describe(o) for o in g.output]}
    return out


def decoder_io(cfg):
    t = cfg["text"]
    return {
        "file": "onnx/decoder_model_merged.onnx",
        "layers": t["decoder_layers"], "heads": t["heads"], "head_dim": t["d_model"] // t["heads"],
        "use_cache_branch": "bool [1]; false on the first decoder step (no cache), true on every later step "
                            "(transformers.js: past_key_values non-empty)",
        "empty_past": "step 1: every past_key_values.* input is fed as a zero-length tensor [batch, heads, 0, "
                      "head_dim] (transformers.js builds them from the input metadata: symbolic dims -> 0 except "
                      "batch_size); the graph ignores them in the no-cache branch",
        "step_1_outputs": "logits [batch, 1, vocab]; present.i.decoder.* [batch, heads, 1, head_dim]; "
                          "present.i.encoder.* [batch, heads, encoder_sequence_length, head_dim] = the cross-attention "
                          "k/v of encoder_hidden_states",
        "later_steps": "inputs_embeds of the last token only; past_key_values.i.decoder.* = previous present.i.decoder.* "
                       "(grows by 1 per step); past_key_values.i.encoder.* = the STEP-1 present.i.encoder.* forever. "
                       "In this branch present.i.encoder.* are constant empty tensors [0, heads, 0, head_dim] (as in "
                       "optimum merges): transformers.js's getPastKeyValues ignores every *encoder* present once a "
                       "cache exists, and so must any other runtime",
        "positions": "no position_ids input: the graph uses past_decoder_sequence_length + arange(T) + 2 (BART offset); "
                     "the encoder uses arange(enc_seq) + 2",
        "attention_masks": "no decoder attention_mask input (causal inside); encoder_attention_mask = the encoder's "
                           "attention_mask (ones for the image_features rows, then the tokenizer mask)",
        "fp16": "decoder_model_merged_fp16.onnx: past_key_values.* inputs, present.* outputs and logits float16; "
                "inputs_embeds, encoder_hidden_states float32",
    }


# --------------------------------------------------------------------------- goldens
REGION = "<loc_100><loc_150><loc_600><loc_700>"


def case_specs(size):
    """(name, description, processor text, picture kind, (w, h))."""
    sq = (size, size)
    return [
        ("caption", "<CAPTION>, RGB at the processor size (no resize)", "<CAPTION>", "scene", sq),
        ("detailed_caption", "<DETAILED_CAPTION>", "<DETAILED_CAPTION>", "scene", sq),
        ("more_detailed_caption", "<MORE_DETAILED_CAPTION>", "<MORE_DETAILED_CAPTION>", "scene", sq),
        ("ocr", "<OCR>", "<OCR>", "scene", sq),
        ("ocr_with_region", "<OCR_WITH_REGION> (quad_boxes post-processing)", "<OCR_WITH_REGION>", "scene", sq),
        ("od", "<OD> (bboxes post-processing)", "<OD>", "scene", sq),
        ("dense_region_caption", "<DENSE_REGION_CAPTION>", "<DENSE_REGION_CAPTION>", "scene", sq),
        ("region_proposal", "<REGION_PROPOSAL>", "<REGION_PROPOSAL>", "scene", sq),
        ("phrase_grounding", "<CAPTION_TO_PHRASE_GROUNDING> with a caption", 
         "<CAPTION_TO_PHRASE_GROUNDING>A red circle and a blue square.", "scene", sq),
        ("open_vocabulary_detection", "<OPEN_VOCABULARY_DETECTION> (tjs post-processing: not implemented)",
         "<OPEN_VOCABULARY_DETECTION>red circle", "scene", sq),
        ("region_to_category", "<REGION_TO_CATEGORY> with <loc_N> input tokens", "<REGION_TO_CATEGORY>" + REGION,
         "scene", sq),
        ("region_to_description", "<REGION_TO_DESCRIPTION>", "<REGION_TO_DESCRIPTION>" + REGION, "scene", sq),
        ("region_to_ocr", "<REGION_TO_OCR>", "<REGION_TO_OCR>" + REGION, "scene", sq),
        ("region_to_segmentation", "<REGION_TO_SEGMENTATION> (polygons: not implemented in tjs)",
         "<REGION_TO_SEGMENTATION>" + REGION, "scene", sq),
        ("referring_expression_segmentation", "<REFERRING_EXPRESSION_SEGMENTATION>",
         "<REFERRING_EXPRESSION_SEGMENTATION>the blue square", "scene", sq),
        ("free_text", "not a task token: the text is the prompt", "What colour is the circle?", "scene", sq),
        ("grayscale_caption", "grayscale PNG at the processor size", "<CAPTION>", "L", sq),
        ("rgba_od", "RGBA PNG at the processor size (alpha dropped)", "<OD>", "RGBA", sq),
        ("wide_resize_od", "96x48 -> resized (bicubic) to the processor size", "<OD>", "scene", (96, 48)),
        ("tall_resize_caption", "40x80 -> resized", "<CAPTION>", "scene", (40, 80)),
        ("large_resize_ocr_with_region", "150x100 -> resized", "<OCR_WITH_REGION>", "scene", (150, 100)),
        ("presized_ocr_with_region", "a wide scene (150x100 or 96x48 by draw) resized with Pillow BICUBIC and "
         "stored at the processor size (no resize in any runtime)", "<OCR_WITH_REGION>", "presized", sq),
        ("presized_od", "as presized_ocr_with_region, <OD>", "<OD>", "presized", sq),
    ]


def _picture(rng, kind, size, seed):
    w, h = size
    if kind == "presized":     # drawn wide, stored at the processor size: no resize in any runtime
        big = synth.make_scene(rng, rng.choice([2, 3]), (150, 100) if seed % 2 else (96, 48)).image
        return big.resize((w, h), Image.BICUBIC)
    img = synth.make_scene(rng, rng.choice([2, 3]), (w, h)).image
    if kind == "L":
        return img.convert("L")
    if kind == "RGBA":
        return _test_image(w, h, seed, "RGBA")
    return img


def task_of(text):
    """The task key post_process_generation is called with: the task token, or the text itself."""
    if text in TASK_PROMPTS_WITHOUT_INPUTS:
        return text
    for task in TASK_PROMPTS_WITH_INPUT:
        if task in text:
            return task
    return text


VARIANTS = ("fp16", "q8")


def build_goldens(m, tok, folder, seed, gen):
    ref = F2.Reference(m, gen)
    sims = {d: F2.Reference(simulate(m, d), gen) for d in VARIANTS}
    os.makedirs(os.path.join(folder, "goldens"), exist_ok=True)
    size = m.cfg["image"]["size"]
    cases = []
    for ci, (name, desc, text, kind, wh) in enumerate(case_specs(size)):
        prompt = construct_prompt(text)
        ids = encode(tok, prompt)
        best = None
        for attempt in range(8):     # prefer draws whose free greedy steps have a clear top-2 margin
            rng = random.Random(seed * 1000 + ci * 37 + attempt)
            pil = _picture(rng, kind, wh, ci * 10 + attempt)
            r = ref.generate(ids, pil, MAX_NEW_TOKENS)
            margin = r["min_top2_margin"] if r["min_top2_margin"] is not None else 1e9
            if best is None or margin > best[0]:
                best = (margin, pil, r)
            if margin >= 0.05:
                break
        _, pil, r = best
        rel = f"goldens/{name}.png"
        pil.save(os.path.join(folder, rel), optimize=True)
        text_out = decode(tok, r["sequence"])
        task = task_of(text)
        case = {"name": name, "description": desc, "text": text, "task": task, "image": rel, "image_size": list(wh),
                "image_mode": pil.mode, "needs_resize": r["resized"], "prompt": prompt, "prompt_ids": ids,
                "prompt_length": len(ids), "image_token_count": int(r["image_features"].shape[1]),
                "encoder_sequence_length": r["encoder_length"], "max_new_tokens": MAX_NEW_TOKENS,
                "decoder_start_token_id": gen["decoder_start_token_id"], "generated_ids": r["generated_ids"],
                "generated_text": text_out, "finish_reason": r["finish_reason"],
                "loc_token_count": sum(1 for i in r["generated_ids"] if tok.inv[i].startswith("<loc_")),
                "first_step_top5": _top5(r["raw_logits"][0]), "second_step_top5": _top5(r["raw_logits"][1]),
                "first_step_logits": checksum(r["raw_logits"][0]), "min_top2_margin": r["min_top2_margin"],
                "pixel_values": checksum(r["pixel_values"]), "image_features": checksum(r["image_features"]),
                "encoder_hidden_states": checksum(r["encoder_hidden_states"]),
                "post_processed": post_process(text_out, task, list(wh))}
        case["variants"] = {}
        for dname, sref in sims.items():
            sv = sref.generate(ids, pil, MAX_NEW_TOKENS)
            case["variants"][dname] = {"generated_ids": sv["generated_ids"],
                                       "generated_text": decode(tok, sv["sequence"]),
                                       "first_step_top5": _top5(sv["raw_logits"][0]),
                                       "second_step_top5": _top5(sv["raw_logits"][1]),
                                       "min_top2_margin": sv["min_top2_margin"]}
        cases.append(case)
    doc = {"model": os.path.basename(folder), "layout": "florence2", "seed": seed,
           "reference": "PyTorch fp32 (src/test/python/refmodels/florence2.py): image_features (vision_encoder) "
                        "concatenated BEFORE the prompt's token embeddings (embed_tokens) along the sequence, "
                        "attention_mask = ones(image tokens) + tokenizer mask, encoder_model once, then greedy "
                        "decoding from decoder_start_token_id with the merged decoder (step 1 use_cache_branch false, "
                        "later steps true), ForcedBOS (step 1 -> forced_bos_token_id) and ForcedEOS "
                        "(when the sequence incl. the start id has max_length - 1 = max_new_tokens ids) as "
                        "transformers.js applies them",
           "generation": gen,
           "generated_ids": "the ids after decoder_start_token_id (transformers.js's generate returns "
                            "[decoder_start_token_id] + generated_ids); generated_text = batch_decode of that whole "
                            "sequence with skip_special_tokens false (clean_up_tokenization_spaces true)",
           "logits": "first_step_top5 / second_step_top5: RAW decoder logits (before the forced BOS/EOS processors) "
                     "of decoder step 1 (input [decoder_start]) and step 2 (input [decoder_start, <s>])",
           "preprocessing": "transformers.js CLIPImageProcessor: RGB (alpha dropped), resize to size x size with "
                            "resample 3 (sharp cubic; Pillow BICUBIC here) ONLY if the image is not already that "
                            "size, rescale 1/255, ImageNet mean/std. needs_resize false: pixels identical across "
                            "runtimes",
           "weights": "random, seeded; lm_head untied; final_logits_bias = loc_bias on the 1000 <loc_N> ids and "
                      "eos_bias on </s> (documented biases: location tokens in greedy outputs for post-processing, "
                      "and some cases that stop on a generated </s> rather than by ForcedEOS)",
           "loc_bias": m.cfg["loc_bias"], "eos_bias": m.cfg["eos_bias"],
           "post_processed": "florence2_kit.post_process (a port of transformers.js 4.3.1 "
                             "Florence2Processor.post_process_generation) of generated_text with image_size = "
                             "[width, height]; tjs_post_processed: transformers.js's own result, written by "
                             "peer-check-florence2.mjs --write-post-processed",
           "decoder_io": decoder_io(m.cfg), "graphs_io": graph_io(os.path.join(folder, "onnx")),
           "special_ids": {"bos": BOS_ID, "pad": PAD_ID, "eos": EOS_ID, "unk": UNK_ID, "mask": tok.vocab["<mask>"],
                           "loc_0": tok.vocab["<loc_0>"], "loc_999": tok.vocab["<loc_999>"],
                           "od": tok.vocab["<od>"], "vocab_size": len(tok.vocab)},
           "tokenizer_cases": [{"text": s, "ids": encode(tok, s), "plain_ids": tok.encode_plain(s),
                                "decoded": decode(tok, encode(tok, s))} for s in TOKENIZER_STRINGS],
           "tolerances": {"first_step_logits_fp32": 1e-4,
                          "variants": "ids equal to the variant's own goldens (PyTorch with the same weight/cache "
                                      "rounding); raw logits within 2e-2 (fp16) / 1e-3 (q8)"},
           "variant_files": {"fp16": "*_fp16.onnx: float16 weights; decoder: float16 past/present/logits, float32 "
                                     "inputs_embeds and encoder_hidden_states; other graphs: float32 I/O",
                             "q8": "*_quantized.onnx: weight-only int8 (per output channel, DequantizeLinear) for "
                                   "MatMul/Gemm/Gather weights (also inside the decoder's If branches); the patch "
                                   "convolution stays float32"},
           "eos_token_ids": [EOS_ID], "cases": cases}
    export.write_json(os.path.join(folder, "goldens.json"), doc)
    return doc


def self_check(m):
    """Prefill of T decoder tokens == T cached single steps; vision row/column layout is [col | row]."""
    lang = m.language
    with torch.no_grad():
        enc = lang.encode(torch.randn(1, 9, m.cfg["text"]["d_model"]), torch.ones(1, 9, dtype=torch.long))
        cross = lang.cross_kv(enc)
        mask = torch.ones(1, 9, dtype=torch.long)
        x = torch.randn(1, 5, m.cfg["text"]["d_model"])
        full, _ = lang.decode(x, mask, None, cross)
        past, outs = lang.empty_self_past(), []
        for k in range(5):
            lg, past = lang.decode(x[:, k:k + 1], mask, past, cross)
            outs.append(lg)
        err = float((torch.cat(outs, 1) - full).abs().max())
        assert err < 1e-4, err


# --------------------------------------------------------------------------- main
def build(out, seed, cfg):
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(os.path.join(out, "onnx"), exist_ok=True)
    tok = build_tokenizer()
    torch.manual_seed(seed)
    loc_ids = [tok.vocab[t] for t in LOC_TOKENS]
    m = F2.init_weights(F2.Florence2(cfg, len(tok.vocab)), seed, loc_ids, cfg["loc_bias"], EOS_ID,
                        cfg["eos_bias"]).eval()
    for p in m.parameters():
        p.requires_grad_(False)
    self_check(m)
    config, pre, proc, gen, special = configs(cfg, tok)
    tok.save(os.path.join(out, "tokenizer.json"))
    for fname, obj in [("config.json", config), ("preprocessor_config.json", pre), ("processor_config.json", proc),
                       ("generation_config.json", gen), ("special_tokens_map.json", special),
                       ("tokenizer_config.json", tokenizer_config(tok, cfg["text"]["max_positions"]))]:
        export.write_json(os.path.join(out, fname), obj)
    o = os.path.join(out, "onnx")
    tmp = os.path.join(out, "_tmp")
    export_graphs(m, o, tmp)
    shutil.rmtree(tmp)
    src = os.path.join(o, "decoder_model_merged.onnx")
    export.to_fp16(src, os.path.join(o, "decoder_model_merged_fp16.onnx"), "past_key_values.")
    export.quantize_weights_int8(src, os.path.join(o, "decoder_model_merged_quantized.onnx"))
    for base in ("vision_encoder", "embed_tokens", "encoder_model"):
        export.variants(o, base)
    return m, tok, build_goldens(m, tok, out, seed + 1, gen)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out-models", default=DEFAULT_MODELS, help="folder the model folder is written into")
    ap.add_argument("--seed", type=int, default=SEED, help="weights seed")
    ap.add_argument("--d-model", type=int, help="language model width (multiple of --heads)")
    ap.add_argument("--heads", type=int)
    ap.add_argument("--encoder-layers", type=int)
    ap.add_argument("--decoder-layers", type=int)
    ap.add_argument("--vision-width", type=int)
    ap.add_argument("--vision-layers", type=int)
    ap.add_argument("--image-size", type=int, help="processor size (multiple of the patch size 8)")
    ap.add_argument("--loc-bias", type=float, help="final_logits_bias on the <loc_N> ids")
    ap.add_argument("--eos-bias", type=float, help="final_logits_bias on </s>")
    a = ap.parse_args()
    torch.set_num_threads(2)
    cfg = copy.deepcopy(F2.TINY)
    for sect, key, val in [("text", "d_model", a.d_model), ("text", "heads", a.heads),
                           ("text", "encoder_layers", a.encoder_layers), ("text", "decoder_layers", a.decoder_layers),
                           ("vision", "width", a.vision_width), ("vision", "layers", a.vision_layers),
                           ("image", "size", a.image_size)]:
        if val is not None:
            cfg[sect][key] = val
    for key, val in (("loc_bias", a.loc_bias), ("eos_bias", a.eos_bias)):
        if val is not None:
            cfg[key] = val
    _, tok, doc = build(os.path.join(a.out_models, FOLDER), a.seed, cfg)
    print(doc["model"])
    for c in doc["cases"]:
        print(f"  {c['name']:34s} prompt {c['prompt_length']:3d}  locs {c['loc_token_count']:2d}  "
              f"{c['finish_reason']:10s} margin {c['min_top2_margin'] or 0:.3f}  {c['generated_text'][:70]!r}")


if __name__ == "__main__":
    main()
