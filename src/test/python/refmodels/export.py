"""ONNX export of the trained model into the three folder layouts.

Graph I/O follows onnx-contracts.md sections 2.2, 3.1 and 8: names, dtypes and symbolic dimension
names (``batch_size`` and the KV head/dim sizes static) are what transformers.js v4 relies on.
Variants: ``_fp16`` (float16 weights, float16 KV cache and logits, float32 ``inputs_embeds``) and
``_quantized`` (weight-only int8 with per-channel scales via DequantizeLinear), both made by
rewriting the fp32 graph with the ``onnx`` library.
"""
import copy
import json
import os

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper, numpy_helper

from . import config as C
from .modeling import pixel_shuffle

OPSET = 17


# --------------------------------------------------------------------------- wrappers
class EmbedTokens(torch.nn.Module):
    def __init__(self, m):
        super().__init__()
        self.embed = m.decoder.embed_tokens

    def forward(self, input_ids):
        return self.embed(input_ids)


class DecoderMerged(torch.nn.Module):
    def __init__(self, m):
        super().__init__()
        self.dec = m.decoder

    def forward(self, inputs_embeds, attention_mask, position_ids, *flat_past):
        past = [(flat_past[2 * i], flat_past[2 * i + 1]) for i in range(len(flat_past) // 2)]
        logits, presents = self.dec(inputs_embeds, attention_mask, position_ids, past)
        out = [logits]
        for k, v in presents:
            out += [k, v]
        return tuple(out)


class Idefics3Vision(torch.nn.Module):
    """pixel_values [B,N,3,H,W] + pixel_attention_mask [B,N,H,W] -> image_features [n_real,16,H]."""

    def __init__(self, m):
        super().__init__()
        self.vit, self.projector = m.vit, m.projector

    def forward(self, pixel_values, pixel_attention_mask):
        b, n = pixel_values.shape[0], pixel_values.shape[1]
        pv = pixel_values.reshape(b * n, 3, C.TILE, C.TILE)
        real = pixel_attention_mask.reshape(b * n, -1).to(torch.int32).sum(-1) > 0
        pv = pv[real]
        return self.projector(self.vit(pv))


class LlavaVision(torch.nn.Module):
    """pixel_values [B,3,H,W] -> image_features [B,16,H] (ViT + pixel shuffle + MLP)."""

    def __init__(self, m):
        super().__init__()
        self.vit, self.projector = m.vit, m.projector

    def forward(self, pixel_values):
        return self.projector(self.vit(pixel_values))


class VitOnly(torch.nn.Module):
    def __init__(self, m):
        super().__init__()
        self.vit = m.vit

    def forward(self, pixel_values):
        return self.vit(pixel_values)


class ProjectorOnly(torch.nn.Module):
    def __init__(self, m):
        super().__init__()
        self.projector = m.projector

    def forward(self, image_features):
        return self.projector(image_features)


# --------------------------------------------------------------------------- export helpers
def _export(module, args, path, inputs, outputs, dynamic_axes):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    module.eval()
    with torch.no_grad():
        torch.onnx.export(module, args, path, input_names=inputs, output_names=outputs,
                          dynamic_axes=dynamic_axes, opset_version=OPSET, do_constant_folding=True)
    model = onnx.load(path, load_external_data=False)
    if any(_is_external(i) for i in model.graph.initializer):
        _gather_external_data(model, path)
        return
    onnx.checker.check_model(model)
    _strip_doc(model)
    onnx.save(model, path)


def _is_external(init):
    return init.data_location == TensorProto.EXTERNAL


def _gather_external_data(model, path, align=4096):
    """Graphs over 2 GB: torch writes one file per weight next to `path`; move them into one
    `<graph>.onnx_data` file (the name transformers.js and onnx-community use), each weight at an
    `align`-byte offset, one weight in memory at a time, and delete the per-weight files."""
    folder = os.path.dirname(path)
    data_name = os.path.basename(path) + "_data"
    _strip_doc(model)
    with open(os.path.join(folder, data_name), "wb") as out:
        for init in model.graph.initializer:
            if not _is_external(init):
                continue
            info = {e.key: e.value for e in init.external_data}
            src = os.path.join(folder, info["location"])
            with open(src, "rb") as f:
                f.seek(int(info.get("offset", 0)))
                blob = f.read(int(info["length"])) if "length" in info else f.read()
            out.write(b"\0" * (-out.tell() % align))
            offset = out.tell()
            out.write(blob)
            del init.external_data[:]
            for k, v in (("location", data_name), ("offset", str(offset)), ("length", str(len(blob)))):
                e = init.external_data.add()
                e.key, e.value = k, v
            if info["location"] != data_name:
                os.remove(src)
    onnx.save(model, path)
    onnx.checker.check_model(path)      # by path: the checker reads large models from disk


def _strip_doc(model):
    """Remove stack-trace doc strings (machine paths) so exports are reproducible byte for byte."""
    for node in model.graph.node:
        node.doc_string = ""
    model.producer_name = "vlm4j-refmodels"
    model.producer_version = "1"


def export_embed(m, path):
    ids = torch.tensor([[1, 5, 9]], dtype=torch.long)
    _export(EmbedTokens(m), (ids,), path, ["input_ids"], ["inputs_embeds"],
            {"input_ids": {0: "batch_size", 1: "sequence_length"},
             "inputs_embeds": {0: "batch_size", 1: "sequence_length"}})


def kv_names(n_layers):
    past, present = [], []
    for i in range(n_layers):
        past += [f"past_key_values.{i}.key", f"past_key_values.{i}.value"]
        present += [f"present.{i}.key", f"present.{i}.value"]
    return past, present


def export_decoder(m, path):
    t = C.TEXT
    b, s, p = 1, 3, 2
    emb = torch.randn(b, s, t["hidden"])
    mask = torch.ones(b, p + s, dtype=torch.long)
    pos = torch.arange(p, p + s)[None]
    past = []
    for _ in range(t["layers"]):
        past += [torch.randn(b, t["kv_heads"], p, t["head_dim"]), torch.randn(b, t["kv_heads"], p, t["head_dim"])]
    past_names, present_names = kv_names(t["layers"])
    dyn = {"inputs_embeds": {0: "batch_size", 1: "sequence_length"},
           "attention_mask": {0: "batch_size", 1: "total_sequence_length"},
           "position_ids": {0: "batch_size", 1: "sequence_length"},
           "logits": {0: "batch_size", 1: "sequence_length"}}
    for n in past_names:
        dyn[n] = {0: "batch_size", 2: "past_sequence_length"}
    for n in present_names:
        dyn[n] = {0: "batch_size", 2: "total_sequence_length"}
    _export(DecoderMerged(m), (emb, mask, pos, *past), path,
            ["inputs_embeds", "attention_mask", "position_ids"] + past_names, ["logits"] + present_names, dyn)


def export_idefics3_vision(m, path):
    px = torch.randn(1, 2, 3, C.TILE, C.TILE)
    mask = torch.ones(1, 2, C.TILE, C.TILE, dtype=torch.bool)
    _export(Idefics3Vision(m), (px, mask), path, ["pixel_values", "pixel_attention_mask"], ["image_features"],
            {"pixel_values": {0: "batch_size", 1: "num_images"},
             "pixel_attention_mask": {0: "batch_size", 1: "num_images"},
             "image_features": {0: "num_real_images"}})


def export_llava_vision(m, path):
    _export(LlavaVision(m), (torch.randn(2, 3, C.TILE, C.TILE),), path, ["pixel_values"], ["image_features"],
            {"pixel_values": {0: "batch_size"}, "image_features": {0: "batch_size"}})


def export_vit_only(m, path):
    _export(VitOnly(m), (torch.randn(2, 3, C.TILE, C.TILE),), path, ["pixel_values"], ["image_features"],
            {"pixel_values": {0: "num_images"}, "image_features": {0: "num_images"}})


def export_projector(m, path):
    f = torch.randn(2, C.PATCHES_PER_FRAME, C.VIT["hidden"])
    _export(ProjectorOnly(m), (f,), path, ["image_features"], ["image_embeds"],
            {"image_features": {0: "num_images"}, "image_embeds": {0: "num_images"}})


def export_adapter(adapter, path):
    f = torch.randn(2, C.PATCHES_PER_FRAME, C.VIT["hidden"])
    q = torch.randn(1, 5, C.TEXT["hidden"])
    _export(adapter, (f, q), path, ["image_features", "query_embeds"], ["image_embeds"],
            {"image_features": {0: "num_images"}, "query_embeds": {1: "query_length"},
             "image_embeds": {0: "num_images"}})


# --------------------------------------------------------------------------- variants
def _float_inits(model):
    return [i for i in model.graph.initializer if i.data_type == TensorProto.FLOAT]


def _all_nodes(graph):
    """Nodes of `graph` and, recursively, of its subgraphs (If / Loop bodies), which may read outer values."""
    for node in graph.node:
        yield node
        for attr in node.attribute:
            if attr.type == onnx.AttributeProto.GRAPH:
                yield from _all_nodes(attr.g)
            for sub in attr.graphs:
                yield from _all_nodes(sub)


def _consumers_rename(graph, old, new):
    for node in _all_nodes(graph):
        for k, name in enumerate(node.input):
            if name == old:
                node.input[k] = new


def to_fp16(src, dst, fp16_inputs_prefix="past_key_values.", fp16_outputs=True):
    """Float16 storage: weights become float16, and so do inputs whose name starts with
    `fp16_inputs_prefix` (the KV cache) and, if `fp16_outputs`, every float output. Compute stays
    float32 (Cast nodes), which is what ORT's CPU provider would insert around fp16 ops anyway;
    other float inputs (inputs_embeds, pixel_values) keep float32."""
    model = onnx.load(src)
    g = model.graph
    new_nodes = []
    for init in _float_inits(model):
        arr = numpy_helper.to_array(init)
        if arr.ndim < 2 or arr.size < 256:     # weights only (variants.FP16_MIN_SIZE)
            continue
        name = init.name
        half = numpy_helper.from_array(arr.astype(np.float16), name + "_fp16")
        init.CopyFrom(half)
        new_nodes.append(helper.make_node("Cast", [name + "_fp16"], [name], to=TensorProto.FLOAT,
                                          name=name + "_cast"))
    for inp in g.input:
        if inp.name.startswith(fp16_inputs_prefix) and inp.type.tensor_type.elem_type == TensorProto.FLOAT:
            _consumers_rename(g, inp.name, inp.name + "_f32")
            new_nodes.append(helper.make_node("Cast", [inp.name], [inp.name + "_f32"], to=TensorProto.FLOAT,
                                              name=inp.name + "_cast"))
            inp.type.tensor_type.elem_type = TensorProto.FLOAT16
    tail = []
    if fp16_outputs:
        for out in g.output:
            if out.type.tensor_type.elem_type == TensorProto.FLOAT:
                for node in g.node:
                    for k, name in enumerate(node.output):
                        if name == out.name:
                            node.output[k] = out.name + "_f32"
                _consumers_rename(g, out.name, out.name + "_f32")
                tail.append(helper.make_node("Cast", [out.name + "_f32"], [out.name], to=TensorProto.FLOAT16,
                                             name=out.name + "_cast"))
                out.type.tensor_type.elem_type = TensorProto.FLOAT16
    nodes = new_nodes + list(g.node) + tail
    del g.node[:]
    g.node.extend(nodes)
    onnx.checker.check_model(model)
    onnx.save(model, dst)


def quantize_weights_int8(src, dst):
    """Weight-only int8: every 2-D float weight of a MatMul/Gemm/Gather becomes int8 + per-channel
    float scale, restored at run time by DequantizeLinear (symmetric, zero point 0)."""
    model = onnx.load(src)
    g = model.graph
    inits = {i.name: i for i in g.initializer}
    axis_of = {}
    for node in _all_nodes(g):
        if node.op_type == "MatMul" and node.input[1] in inits:
            axis_of[node.input[1]] = 1          # [K, N]: one scale per output column
        elif node.op_type == "Gemm" and node.input[1] in inits:
            trans_b = next((a.i for a in node.attribute if a.name == "transB"), 0)
            axis_of[node.input[1]] = 0 if trans_b else 1
        elif node.op_type == "Gather" and node.input[0] in inits:
            axis_of[node.input[0]] = 0          # embedding rows
    new_nodes = []
    for name, axis in axis_of.items():
        init = inits[name]
        w = numpy_helper.to_array(init).astype(np.float32)
        if w.ndim != 2 or w.size < 256:
            continue
        amax = np.abs(w).max(axis=1 - axis)
        scale = np.where(amax > 0, amax / 127.0, 1.0).astype(np.float32)
        shape = [1, 1]
        shape[axis] = -1
        q = np.clip(np.round(w / scale.reshape(shape)), -127, 127).astype(np.int8)
        init.CopyFrom(numpy_helper.from_array(q, name + "_int8"))
        g.initializer.append(numpy_helper.from_array(scale, name + "_scale"))
        g.initializer.append(numpy_helper.from_array(np.zeros(scale.shape, np.int8), name + "_zp"))
        new_nodes.append(helper.make_node("DequantizeLinear", [name + "_int8", name + "_scale", name + "_zp"],
                                          [name], axis=axis, name=name + "_dq"))
    nodes = new_nodes + list(g.node)
    del g.node[:]
    g.node.extend(nodes)
    onnx.checker.check_model(model)
    onnx.save(model, dst)


def variants(onnx_dir, base, fp16=True, q8=True, fp16_io=False):
    """`fp16_io`: decoder style (float16 KV cache and outputs); otherwise float32 I/O."""
    src = os.path.join(onnx_dir, base + ".onnx")
    if fp16:
        if fp16_io:
            to_fp16(src, os.path.join(onnx_dir, base + "_fp16.onnx"))
        else:
            to_fp16(src, os.path.join(onnx_dir, base + "_fp16.onnx"), "\0none", False)
    if q8:
        quantize_weights_int8(src, os.path.join(onnx_dir, base + "_quantized.onnx"))


# --------------------------------------------------------------------------- configs
def write_json(path, obj):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2, ensure_ascii=False)
        f.write("\n")


def text_config():
    t = C.TEXT
    return {"model_type": "llama", "architectures": ["LlamaForCausalLM"], "vocab_size": C.MODEL_VOCAB,
            "hidden_size": t["hidden"], "intermediate_size": t["intermediate"],
            "num_hidden_layers": t["layers"], "num_attention_heads": t["heads"],
            "num_key_value_heads": t["kv_heads"], "head_dim": t["head_dim"], "hidden_act": "silu",
            "rms_norm_eps": t["rms_eps"], "rope_theta": t["rope_theta"],
            "max_position_embeddings": t["max_positions"], "bos_token_id": 1, "eos_token_id": C.EOU_ID,
            "pad_token_id": C.IM_END_ID, "tie_word_embeddings": False}


def vision_config(model_type):
    v = C.VIT
    return {"model_type": model_type, "hidden_size": v["hidden"], "intermediate_size": v["mlp"],
            "num_hidden_layers": v["layers"], "num_attention_heads": v["heads"], "num_channels": 3,
            "image_size": C.TILE, "patch_size": C.PATCH, "hidden_act": "gelu_pytorch_tanh",
            "layer_norm_eps": v["eps"]}


def special_tokens_map(eos="<end_of_utterance>"):
    return {"additional_special_tokens": ["<fake_token_around_image>", "<image>", "<end_of_utterance>"],
            "bos_token": "<|im_start|>", "eos_token": eos, "pad_token": "<|im_end|>",
            "unk_token": "<|endoftext|>"}


def idefics3_configs():
    config = {"architectures": ["Idefics3ForConditionalGeneration"], "model_type": "idefics3",
              "image_token_id": C.IMAGE_TOKEN_ID, "scale_factor": C.SCALE_FACTOR, "tie_word_embeddings": False,
              "text_config": text_config(), "vision_config": vision_config("idefics3_vision"),
              "transformers.js_config": {"kv_cache_dtype": {"fp16": "float16"}}}
    pre = {"do_convert_rgb": True, "do_image_splitting": True, "do_normalize": True, "do_pad": True,
           "do_rescale": True, "do_resize": True, "image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5],
           "image_processor_type": "Idefics3ImageProcessor", "max_image_size": {"longest_edge": C.TILE},
           "processor_class": "Idefics3Processor", "resample": 1, "rescale_factor": 0.00392156862745098,
           "size": {"longest_edge": C.LONGEST_EDGE}}
    proc = {"image_seq_len": C.IMAGE_SEQ_LEN, "processor_class": "Idefics3Processor"}
    gen = {"bos_token_id": 1, "eos_token_id": C.EOU_ID, "pad_token_id": C.IM_END_ID}
    return config, pre, proc, gen


def llava_configs():
    config = {"architectures": ["LlavaForConditionalGeneration"], "model_type": "llava",
              "image_token_index": C.IMAGE_TOKEN_ID, "text_config": text_config(),
              "vision_config": vision_config("clip_vision_model"), "projector_hidden_act": "gelu",
              "vision_feature_select_strategy": "full", "vision_feature_layer": -1, "tie_word_embeddings": False,
              "transformers.js_config": {"kv_cache_dtype": {"fp16": "float16"}}}
    # patch_size 16 = 8-px ViT patches merged 2x2 by the pixel shuffle inside vision_encoder.onnx:
    # (64/16)^2 = 16 tokens per image, the count transformers.js's LlavaProcessor computes.
    proc = {"image_token": "<image>", "patch_size": C.PATCH * C.SCALE_FACTOR, "num_additional_image_tokens": 0,
            "processor_class": "LlavaProcessor", "vision_feature_select_strategy": "full"}
    pre = {"crop_size": {"height": C.TILE, "width": C.TILE}, "do_center_crop": False, "do_convert_rgb": True,
           "do_normalize": True, "do_rescale": True, "do_resize": True, "do_pad": False,
           "image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5],
           "image_processor_type": "CLIPImageProcessor", "processor_class": "LlavaProcessor", "resample": 2,
           "rescale_factor": 0.00392156862745098, "size": {"height": C.TILE, "width": C.TILE}}
    gen = {"bos_token_id": 1, "eos_token_id": [C.EOU_ID, C.IM_END_ID], "pad_token_id": C.IM_END_ID}
    return config, pre, proc, gen


def modular_configs(adapters):
    config = {"architectures": ["Vlm4jModularForConditionalGeneration"], "model_type": "vlm4j-modular",
              "image_token_id": C.IMAGE_TOKEN_ID, "text_config": text_config(),
              "vision_config": vision_config("vit")}
    pre = {"do_convert_rgb": True, "do_normalize": True, "do_rescale": True, "do_resize": True,
           "image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5], "image_processor_type": "CLIPImageProcessor",
           "resample": 2, "rescale_factor": 0.00392156862745098, "size": {"height": C.TILE, "width": C.TILE}}
    gen = {"bos_token_id": 1, "eos_token_id": C.EOU_ID, "pad_token_id": C.IM_END_ID}
    feat = {"name": "image_features", "shape": ["num_images", C.PATCHES_PER_FRAME, C.VIT["hidden"]]}
    emb_out = {"name": "image_embeds", "shape": ["num_images", C.IMAGE_SEQ_LEN, C.TEXT["hidden"]]}
    manifest = {
        "format": "vlm4j-modular",
        "format_version": 1,
        "config": "config.json",
        "generation_config": "generation_config.json",
        "preprocessor_config": "preprocessor_config.json",
        "tokenizer": "tokenizer.json",
        "tokenizer_config": "tokenizer_config.json",
        "image_token": "<image>",
        "image_prefix": "<fake_token_around_image><global-img>",
        "image_suffix": "<fake_token_around_image>",
        "tokens_per_image": C.IMAGE_SEQ_LEN,
        "vision_encoder": {"file": "onnx/vision_encoder.onnx",
                           "inputs": [{"name": "pixel_values", "shape": ["num_images", 3, C.TILE, C.TILE]}],
                           "outputs": [feat]},
        "projector": {"file": "onnx/projector.onnx", "inputs": [feat], "outputs": [emb_out]},
        "adapters": {name: {"file": f"onnx/adapters/{name}.onnx", "description": desc, "kind": "gated",
                            "inputs": [feat, {"name": "query_embeds", "shape": [1, "query_length", C.TEXT["hidden"]]}],
                            "outputs": [emb_out], "query": "last_user_text"}
                     for name, desc in adapters.items()},
        "embed_tokens": {"file": "onnx/embed_tokens.onnx"},
        "decoder": {"file": "onnx/decoder_model_merged.onnx"},
    }
    return config, pre, gen, manifest
