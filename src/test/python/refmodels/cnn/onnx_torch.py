"""Runs a converted CNN graph (the op subset tfjs2onnx writes) with PyTorch ops, node by node.

This is the kit's PyTorch reference for the frozen CNN encoder: the goldens of the CNN fixtures
and the features its projector/adapter train on come from here, never from ONNX Runtime. Conv's
SAME_UPPER is an explicit F.pad (extra row/column at the bottom/right) followed by an unpadded conv.
"""
import math

import numpy as np
import torch
import torch.nn.functional as F
from onnx import numpy_helper


def _attrs(node):
    out = {}
    for a in node.attribute:
        if a.type == a.INT:
            out[a.name] = a.i
        elif a.type == a.INTS:
            out[a.name] = list(a.ints)
        elif a.type == a.STRING:
            out[a.name] = a.s.decode()
        elif a.type == a.FLOAT:
            out[a.name] = a.f
    return out


def _same_upper(x, k, s, d):
    pads = []
    for size, kk, ss, dd in zip(x.shape[2:], k, s, d):
        out = math.ceil(size / ss)
        total = max(0, (out - 1) * ss + (kk - 1) * dd + 1 - size)
        pads.append((total // 2, total - total // 2))
    (t, b), (l, r) = pads
    return F.pad(x, (l, r, t, b))


class TorchGraph(torch.nn.Module):
    """forward(images NHWC) -> {output name: tensor}; outputs as the graph declares them."""

    def __init__(self, model):
        super().__init__()
        self.graph = model.graph
        self.inits = {t.name: torch.from_numpy(numpy_helper.to_array(t).copy()) for t in model.graph.initializer}

    @torch.no_grad()
    def forward(self, x):
        env = dict(self.inits)
        env[self.graph.input[0].name] = x
        for n in self.graph.node:
            a = _attrs(n)
            i = [env[k] for k in n.input]
            if n.op_type == "Transpose":
                y = i[0].permute(*a["perm"])
            elif n.op_type in ("Mul", "Sub", "Add"):
                y = {"Mul": torch.mul, "Sub": torch.sub, "Add": torch.add}[n.op_type](i[0], i[1])
            elif n.op_type == "Conv":
                k, s, d = a["kernel_shape"], a.get("strides", [1, 1]), a.get("dilations", [1, 1])
                xin = i[0]
                if a.get("auto_pad") == "SAME_UPPER":
                    xin = _same_upper(xin, k, s, d)
                elif any(a.get("pads", [0, 0, 0, 0])):
                    raise ValueError("explicit pads not used by the converter")
                y = F.conv2d(xin, i[1], i[2] if len(i) > 2 else None, stride=s, dilation=d, groups=a.get("group", 1))
            elif n.op_type == "Clip":
                y = torch.clamp(i[0], float(i[1]), float(i[2]))
            elif n.op_type == "Relu":
                y = torch.relu(i[0])
            elif n.op_type == "ReduceMean":
                y = i[0].mean(dim=a["axes"], keepdim=bool(a.get("keepdims", 1)))
            elif n.op_type == "Squeeze":
                y = i[0]
                for ax in sorted(i[1].tolist(), reverse=True):
                    y = y.squeeze(ax)
            elif n.op_type == "Identity":
                y = i[0]
            else:
                raise ValueError("op " + n.op_type + " not supported")
            env[n.output[0]] = y
        return {o.name: env[o.name] for o in self.graph.output}


def run(model, images_nhwc):
    """numpy NHWC float32 -> {name: numpy}."""
    out = TorchGraph(model)(torch.from_numpy(np.ascontiguousarray(images_nhwc, np.float32)))
    return {k: v.numpy() for k, v in out.items()}
