"""The PyTorch reference of the manifest-v2 image stage, and the kit model it plugs into.

- `kit_model(models_dir)`: the kit's trained VLM (ViT, projector, decoder, adapters) with its
  weights read back from the committed vlm4j-tiny-modular ONNX graphs (the training checkpoint is
  not committed; `check_against_goldens` proves the round trip by reproducing that fixture's goldens).
- `MultiVision`: what vlm4j's MultiEncoder computes — per encoder, views (Pillow resize, /255,
  mean/std), graph outputs as CHW grids, adaptive average pooling to the encoder's grid, scales then
  layers concatenated on channels, encoders combined on channels -> [1, tokens, width].
- `GridProjector`: a 2-layer MLP from any feature width to the decoder's width (a user's projector).
"""
import copy
import types
import json
import os
import re

import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F
from onnx import numpy_helper

from .. import config as C
from .. import imageproc
from ..modeling import VLM, GatedAdapter
from ..reference import Reference
from . import onnx_torch

WRAPPERS = {"dec.": "decoder.", "embed.": "decoder.embed_tokens.", "vit.": "vit.", "projector.": "projector."}


def _param_name(graph_file_prefix, init, consumers):
    """State-dict name of an ONNX initializer written by torch.onnx.export of the kit's wrappers."""
    if not init.startswith("onnx::"):
        name = graph_file_prefix + init
    else:                                   # a transposed Linear weight, named by its MatMul node
        node = consumers[init]
        m = re.fullmatch(r"/(.*)/MatMul", node)
        if not m:
            raise ValueError(f"cannot name initializer {init} (consumer {node})")
        name = graph_file_prefix + m.group(1).replace("/", ".") + ".weight"
    for old, new in WRAPPERS.items():
        if name.startswith(old):
            return new + name[len(old):]
    return name


def _state_from_onnx(path, prefix=""):
    model = onnx.load(path)
    consumers = {}
    for n in model.graph.node:
        for i in n.input:
            consumers.setdefault(i, n.name)
    out = {}
    for t in model.graph.initializer:
        a = torch.from_numpy(numpy_helper.to_array(t).copy())
        name = _param_name(prefix, t.name, consumers)
        out[name] = a.t().contiguous() if t.name.startswith("onnx::") else a
    return out


def kit_model(models_dir):
    """-> (VLM with the committed modular fixture's weights, eval mode, frozen)."""
    d = os.path.join(models_dir, "vlm4j-tiny-modular", "onnx")
    m = VLM()
    state = {}
    for f in ["decoder_model_merged", "embed_tokens", "vision_encoder", "projector"]:
        state.update(_state_from_onnx(os.path.join(d, f + ".onnx")))
    for name in sorted(os.listdir(os.path.join(d, "adapters"))):
        a = os.path.splitext(name)[0]
        m.add_adapter(a)
        state.update(_state_from_onnx(os.path.join(d, "adapters", name), f"adapters.{a}."))
    own = m.state_dict()
    missing = [k for k in own if k not in state]
    extra = [k for k in state if k not in own]
    if missing or extra:
        raise ValueError(f"weights from ONNX: missing {missing[:5]}, unexpected {extra[:5]}")
    for k, v in state.items():
        if tuple(v.shape) != tuple(own[k].shape):
            raise ValueError(f"{k}: {tuple(v.shape)} from ONNX, {tuple(own[k].shape)} in the module")
    m.load_state_dict(state)
    m.eval()
    for p in m.parameters():
        p.requires_grad_(False)
    return m


def check_against_goldens(model, tok, models_dir, n=4):
    """Reproduces the first `n` goldens of vlm4j-tiny-modular from the reloaded weights."""
    from PIL import Image
    folder = os.path.join(models_dir, "vlm4j-tiny-modular")
    g = json.load(open(os.path.join(folder, "goldens.json")))
    ref = Reference(model, tok)
    worst = 0.0
    for c in [c for c in g["cases"] if c["images"]][:n]:
        pils = [Image.open(os.path.join(folder, p)).convert("RGB") for p in c["images"]]
        r = ref.generate("modular", c["messages"], pils, c["adapter"], c["max_new_tokens"], tuple(g["eos_token_ids"]))
        if r["generated_ids"] != c["generated_ids"]:
            raise AssertionError(f"{c['name']}: ids {r['generated_ids']} != golden {c['generated_ids']}")
        for k, v in c["first_step_top5"]:
            worst = max(worst, abs(float(r["first_logits"][k]) - v))
    if worst > 1e-4:
        raise AssertionError(f"first-step logits differ by {worst}")
    return worst


class VitLayers(nn.Module):
    """The kit ViT with the output of every block: block{i} [N,64,d] (before the final layernorm)
    and image_features (the usual post-layernorm output), in the order of `names()`."""

    def __init__(self, vit):
        super().__init__()
        self.vit = vit

    def names(self):
        return [f"block{i}" for i in range(len(self.vit.blocks))] + ["image_features"]

    def forward(self, pixel_values):
        v = self.vit
        x = v.patch(pixel_values).flatten(2).transpose(1, 2) + v.pos
        out = []
        for blk in v.blocks:
            x = blk(x)
            out.append(x)
        return tuple(out) + (v.post_ln(x),)

    def as_dict(self):
        return lambda x: dict(zip(self.names(), self(x)))


def to_grid(t, layout):
    """[1, ...] tensor in `layout` -> [C, H, W]."""
    if layout == "NCHW":
        return t[0]
    if layout == "NHWC":
        return t[0].permute(2, 0, 1)
    n = t.shape[1]
    side = int(round(n ** 0.5))
    return t[0].reshape(side, side, t.shape[2]).permute(2, 0, 1)


class Encoder:
    """One manifest encoder. `graph(pixels) -> {output: tensor}`; pixels NCHW or NHWC per `input_layout`."""

    def __init__(self, graph, input_layout, sizes, outputs, grid, mean=(0, 0, 0), std=(1, 1, 1), layers="channels"):
        self.graph, self.input_layout, self.sizes = graph, input_layout, sizes
        self.outputs, self.grid, self.mean, self.std, self.layers = outputs, grid, mean, std, layers

    @torch.no_grad()
    def blocks(self, pil):
        per_scale = []
        for h, w in self.sizes:
            chw = imageproc.rescale_normalize(imageproc.resize_uint8(pil.convert("RGB"), w, h, 2),
                                              1 / 255, self.mean, self.std)
            x = torch.from_numpy(chw)[None]
            if self.input_layout == "NHWC":
                x = x.permute(0, 2, 3, 1).contiguous()
            per_scale.append(self.graph(x))
        per_output = []
        for name, layout in self.outputs:
            grids = [F.adaptive_avg_pool2d(to_grid(s[name], layout)[None], self.grid)[0] for s in per_scale]
            per_output.append(torch.cat(grids, 0))
        return [torch.cat(per_output, 0)] if self.layers == "channels" else per_output


class MultiVision:
    """Encoders combined on channels (the fixtures use 16-token grids) -> features [1, T, C]."""

    def __init__(self, encoders):
        self.encoders = encoders

    @torch.no_grad()
    def __call__(self, pil):
        blocks = [b for e in self.encoders for b in e.blocks(pil)]
        g = torch.cat(blocks, 0)
        return g.flatten(1).t()[None].contiguous()


class GridProjector(nn.Module):
    """Features [N, T, width] -> image embeddings [N, T, hidden]: Linear, GELU, Linear."""

    def __init__(self, width, hidden=C.TEXT["hidden"]):
        super().__init__()
        self.fc1 = nn.Linear(width, hidden)
        self.fc2 = nn.Linear(hidden, hidden)

    def forward(self, feats):
        return self.fc2(F.gelu(self.fc1(feats)))


def grid_adapter(projector, kit_projector):
    """The kit's gated adapter around a GridProjector (starts equal to it: the up-projection is zero)."""
    a = GatedAdapter(kit_projector)
    a.proj = copy.deepcopy(projector)
    return a


def mobilenet(models_dir):
    """The converted MobileNet as a PyTorch callable (onnx_torch), NHWC in."""
    g = onnx_torch.TorchGraph(onnx.load(os.path.join(models_dir, "mobilenet", "mobilenet_v1_025.onnx")))
    return lambda x: g(x)


class CnnReference(Reference):
    """The kit's Reference with the image rows of a MultiVision + projector/adapters."""

    def __init__(self, model, tok, vision, projector, adapters):
        super().__init__(model, tok)
        self.vision, self.projector = vision, projector
        self.m = types.SimpleNamespace(decoder=model.decoder, adapters=adapters)

    @torch.no_grad()
    def image_rows(self, fmt, pils, adapter=None, query_ids=None):
        rows, grids, feats, fused = [], [], [], []
        for pil in pils:
            f = self.vision(pil)
            if adapter is not None:
                q = self.m.decoder.embed_tokens(torch.tensor([query_ids], dtype=torch.long))
                e = adapter(f, q)
            else:
                e = self.projector(f)
            feats.append(f)
            fused.append(e)
            rows.append(e.reshape(-1, C.TEXT["hidden"]))
            grids.append((0, 0))
        return (torch.cat(rows) if rows else None), grids, feats, fused
