"""A small TF.js graph-model -> ONNX converter (numpy + onnx.helper; no TensorFlow, no tf2onnx).

Covers the ops the MobileNet v1 graph uses: Placeholder, Const, Mul, Sub, _FusedConv2D (BiasAdd,
optionally Relu/Relu6), Conv2D, DepthwiseConv2dNative, BiasAdd, Relu, Relu6, Mean, Squeeze; any
other op is refused by name. TF graphs are NHWC: the image input stays NHWC (as TF.js takes it), is
transposed once to NCHW, and every 4-D tensor after that is NCHW (ONNX's convolution layout); axis
attributes are mapped accordingly. SAME padding is ONNX auto_pad SAME_UPPER (TF pads the extra row
and column at the bottom/right, as SAME_UPPER does). Weights are read from the shards in manifest
order; quantized weights (weightsManifest `quantization`: uint8/uint16 with scale and min, or
float16) are dequantized to float32.
"""
import base64
import json
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 13
NHWC_TO_NCHW_AXIS = {0: 0, 1: 2, 2: 3, 3: 1, -1: 1, -2: 3, -3: 2, -4: 0}
_DTYPES = {"float32": np.float32, "int32": np.int32, "bool": np.bool_}


def load_weights(model_dir, manifest):
    """-> {name: np.ndarray}: every weight of the manifest, dequantized."""
    out = {}
    for group in manifest:
        blob = b"".join(open(os.path.join(model_dir, p), "rb").read() for p in group["paths"])
        off = 0
        for w in group["weights"]:
            shape = [int(s) for s in w["shape"]]
            count = int(np.prod(shape)) if shape else 1
            q = w.get("quantization")
            if q:
                qdt = {"uint8": np.uint8, "uint16": np.uint16, "float16": np.float16}[q["dtype"]]
                raw = np.frombuffer(blob, qdt, count, off)
                off += count * np.dtype(qdt).itemsize
                if q["dtype"] == "float16":
                    arr = raw.astype(np.float32)
                else:
                    arr = (raw.astype(np.float32) * np.float32(q["scale"]) + np.float32(q["min"]))
                arr = arr.astype(_DTYPES[w["dtype"]])
            else:
                dt = _DTYPES[w["dtype"]]
                arr = np.frombuffer(blob, dt, count, off).copy()
                off += count * np.dtype(dt).itemsize
            out[w["name"]] = arr.reshape(shape)
        if off != len(blob):
            raise ValueError(f"weights of {group['paths']} use {off} of {len(blob)} bytes")
    return out


def _attr_s(node, key, default=None):
    a = node.get("attr", {}).get(key)
    return base64.b64decode(a["s"]).decode() if a and "s" in a else default


def _attr_ints(node, key):
    a = node.get("attr", {}).get(key, {})
    return [int(i) for i in a.get("list", {}).get("i", [])]


def _attr_strs(node, key):
    a = node.get("attr", {}).get(key, {})
    return [base64.b64decode(s).decode() for s in a.get("list", {}).get("s", [])]


def _input_name(ref):
    if ref.startswith("^"):
        return None                                     # control dependency: no data
    name, _, idx = ref.partition(":")
    if idx not in ("", "0"):
        raise ValueError(f"output {ref} of a multi-output op is not supported")
    return name


class _Converter:
    def __init__(self, weights):
        self.weights = weights
        self.nodes, self.inits, self.inputs = [], [], []
        self.layout = {}                                # tensor -> "nchw" for 4-D tensors moved to NCHW
        self.consts = {}

    def const(self, name, arr):
        self.consts[name] = arr
        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(arr), name))
        return name

    def conv_attrs(self, n, kh, kw):
        if _attr_s(n, "data_format", "NHWC") != "NHWC":
            raise ValueError(f"{n['name']}: only NHWC graphs are supported")
        strides = _attr_ints(n, "strides") or [1, 1, 1, 1]
        dil = _attr_ints(n, "dilations") or [1, 1, 1, 1]
        pad = _attr_s(n, "padding")
        attrs = dict(kernel_shape=[kh, kw], strides=strides[1:3], dilations=dil[1:3])
        if pad == "SAME":
            attrs["auto_pad"] = "SAME_UPPER"
        elif pad == "VALID":
            attrs["pads"] = [0, 0, 0, 0]
        else:
            raise ValueError(f"{n['name']}: padding {pad} not supported")
        return attrs

    def activation(self, kind, x, out):
        if kind == "Relu":
            self.nodes.append(helper.make_node("Relu", [x], [out]))
        elif kind == "Relu6":
            lo = self.const(out + "/min", np.array(0, np.float32))
            hi = self.const(out + "/max", np.array(6, np.float32))
            self.nodes.append(helper.make_node("Clip", [x, lo, hi], [out]))
        else:
            raise ValueError(f"activation {kind} not supported")

    def node(self, n):
        op, name = n["op"], n["name"]
        ins = [i for i in (_input_name(r) for r in n.get("input", [])) if i]
        if op == "Const":
            self.const(name, self.weights[name])
        elif op == "Placeholder":
            dims = [d.get("size", "-1") for d in n["attr"]["shape"]["shape"]["dim"]]
            shape = ["batch", "height", "width", int(dims[3])] if len(dims) == 4 else [int(d) for d in dims]
            self.inputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, shape))
            self.nodes.append(helper.make_node("Transpose", [name], [name + "/nchw"], perm=[0, 3, 1, 2]))
            self.alias[name] = name + "/nchw"
            self.layout[name + "/nchw"] = "nchw"
        elif op in ("Mul", "Sub", "Add", "AddV2"):
            a, b = (self.alias.get(i, i) for i in ins)
            for t in (a, b):
                if t in self.consts and self.consts[t].ndim > 0:
                    raise ValueError(f"{name}: only scalar constants are supported in {op}")
            onnx_op = {"Mul": "Mul", "Sub": "Sub", "Add": "Add", "AddV2": "Add"}[op]
            self.nodes.append(helper.make_node(onnx_op, [a, b], [name]))
            self.layout[name] = self.layout.get(a if a not in self.consts else b)
        elif op in ("_FusedConv2D", "Conv2D"):
            x = self.alias.get(ins[0], ins[0])
            w = self.weights[ins[1]]                                    # HWIO
            kh, kw = w.shape[:2]
            wn = self.const(ins[1] + "/oihw", w.transpose(3, 2, 0, 1))
            fused = _attr_strs(n, "fused_ops") if op == "_FusedConv2D" else []
            conv_in = [x, wn]
            if fused[:1] == ["BiasAdd"]:
                conv_in.append(ins[2])
                fused = fused[1:]
            elif fused:
                raise ValueError(f"{name}: fused ops {fused} not supported")
            out = name if not fused else name + "/conv"
            self.nodes.append(helper.make_node("Conv", conv_in, [out], **self.conv_attrs(n, kh, kw)))
            for i, act in enumerate(fused):
                self.activation(act, out, name if i == len(fused) - 1 else f"{name}/{act}")
                out = name
            self.layout[name] = "nchw"
        elif op == "DepthwiseConv2dNative":
            x = self.alias.get(ins[0], ins[0])
            w = self.weights[ins[1]]                                    # H W C M
            kh, kw, c, m = w.shape
            wn = self.const(ins[1] + "/oihw", w.reshape(kh, kw, c * m, 1).transpose(2, 3, 0, 1))
            self.nodes.append(helper.make_node("Conv", [x, wn], [name], group=c, **self.conv_attrs(n, kh, kw)))
            self.layout[name] = "nchw"
        elif op == "BiasAdd":
            x = self.alias.get(ins[0], ins[0])
            b = self.weights[ins[1]]
            shape = [1, -1, 1, 1] if self.layout.get(x) == "nchw" else [-1]
            bn = self.const(ins[1] + "/bcast", b.reshape(shape))
            self.nodes.append(helper.make_node("Add", [x, bn], [name]))
            self.layout[name] = self.layout.get(x)
        elif op in ("Relu", "Relu6"):
            x = self.alias.get(ins[0], ins[0])
            self.activation(op, x, name)
            self.layout[name] = self.layout.get(x)
        elif op in ("Mean", "Squeeze"):
            x = self.alias.get(ins[0], ins[0])
            axes = (self.weights[ins[1]].reshape(-1).tolist() if op == "Mean" else _attr_ints(n, "squeeze_dims"))
            if self.layout.get(x) == "nchw":
                axes = [NHWC_TO_NCHW_AXIS[int(a)] for a in axes]
            if op == "Mean":
                keep = n.get("attr", {}).get("keep_dims", {}).get("b", False)
                self.nodes.append(helper.make_node("ReduceMean", [x], [name], axes=axes, keepdims=int(bool(keep))))
                self.layout[name] = self.layout.get(x) if keep else None
            else:
                an = self.const(name + "/axes", np.array(axes, np.int64))
                self.nodes.append(helper.make_node("Squeeze", [x, an], [name]))
                self.layout[name] = None
        else:
            raise ValueError(f"TF.js op {op} ({name}) is not supported by this converter")

    def track_rank(self, n):
        """Ranks of the tensors written so far (the outputs' declared ranks come from here)."""
        ins = [self.alias.get(i, i) for i in (_input_name(r) for r in n.get("input", [])) if i]
        if n["op"] == "Placeholder":
            self.rank[self.alias[n["name"]]] = len(n["attr"]["shape"]["shape"]["dim"])
        elif n["op"] == "Const":
            self.rank[n["name"]] = self.weights[n["name"]].ndim
        elif n["op"] == "Mean" and not n.get("attr", {}).get("keep_dims", {}).get("b", False):
            self.rank[n["name"]] = self.rank[ins[0]] - self.weights[ins[1]].size
        elif n["op"] == "Squeeze":
            self.rank[n["name"]] = self.rank[ins[0]] - len(_attr_ints(n, "squeeze_dims"))
        else:
            self.rank[n["name"]] = max(self.rank[i] for i in ins)

    def convert(self, topology, outputs):
        self.alias, self.rank = {}, {}
        for n in topology["node"]:
            self.node(n)
            self.track_rank(n)
        outs = []
        for tf_name, onnx_name in outputs:
            src = self.alias.get(tf_name, tf_name)
            self.nodes.append(helper.make_node("Identity", [src], [onnx_name]))
            rank = self.rank[src]
            outs.append(helper.make_tensor_value_info(onnx_name, TensorProto.FLOAT,
                                                      ["batch"] + [f"{onnx_name}_d{i}" for i in range(1, rank)]))
        used = {i for nd in self.nodes for i in nd.input}
        inits = [t for t in self.inits if t.name in used]
        graph = helper.make_graph(self.nodes, "tfjs_graph", self.inputs, outs, inits)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                                  producer_name="vlm4j-kit tfjs2onnx")
        model.ir_version = 8
        return model


def convert(model_dir, outputs, input_name=None):
    """Converts `model_dir/model.json` (+ shards). `outputs` is a list of (TF node name, ONNX output
    name); 4-D outputs are NCHW. `input_name` renames the image input. -> onnx.ModelProto (checked)."""
    with open(os.path.join(model_dir, "model.json")) as f:
        meta = json.load(f)
    weights = load_weights(model_dir, meta["weightsManifest"])
    model = _Converter(weights).convert(meta["modelTopology"], outputs)
    if input_name:
        old = model.graph.input[0].name
        model.graph.input[0].name = input_name
        for nd in model.graph.node:
            for i, x in enumerate(nd.input):
                if x == old:
                    nd.input[i] = input_name
    onnx.checker.check_model(model)
    return model
