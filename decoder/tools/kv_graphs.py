"""Writes the four tiny ONNX graphs the batched decoder uses to move KV-cache rows natively
(decoder/src/main/resources/io/github/vlm4j/decoder/kv/). They are committed; rerun to regenerate:

    apt-get install -y python3-onnx && /usr/bin/python3 decoder/tools/kv_graphs.py

kv_concat_<type>: a [Ba,H,Ta,D], b [Bb,H,Tb,D] -> [Ba+Bb, H, max(Ta,Tb), D]: the shorter one is
    left-padded with zeros along the sequence axis (its padding is masked by attention_mask).
kv_select_<type>: x [B,H,T,D], rows int64 [K], from int64 [1] -> x[rows, :, from:, :] (rows that
    stay in the batch, leading positions no kept row uses dropped).
kv_repeat_<type>: x [1,H,T,D], count int64 [1] -> [count,H,T,D] (one prefix shared by several rows).
state_concat/state_select/state_repeat_<type>: the same for cache tensors without a sequence axis
    (e.g. LFM2's convolution states [B, C, L]): concatenate along the batch axis, keep rows, repeat a row.
"""
import os

import onnx
from onnx import TensorProto, helper

OUT = os.path.join(os.path.dirname(__file__), "..", "src", "main", "resources", "io", "github", "vlm4j",
                   "decoder", "kv")
TYPES = {"float32": TensorProto.FLOAT, "float16": TensorProto.FLOAT16}


def const(name, values):
    return helper.make_node("Constant", [], [name], value=helper.make_tensor(name + "_v", TensorProto.INT64,
                                                                            [len(values)], values))


def kv(name, elem, batch, seq):
    return helper.make_tensor_value_info(name, elem, [batch, "heads", seq, "head_dim"])


def concat(elem):
    nodes = [
        const("two", [2]), const("head", [0, 0]), const("tail", [0, 0, 0, 0, 0]),
        helper.make_node("Shape", ["a"], ["sa"]), helper.make_node("Shape", ["b"], ["sb"]),
        helper.make_node("Gather", ["sa", "two"], ["ta"], axis=0),
        helper.make_node("Gather", ["sb", "two"], ["tb"], axis=0),
        helper.make_node("Max", ["ta", "tb"], ["t"]),
        helper.make_node("Sub", ["t", "ta"], ["pa"]), helper.make_node("Sub", ["t", "tb"], ["pb"]),
        helper.make_node("Concat", ["head", "pa", "tail"], ["pads_a"], axis=0),
        helper.make_node("Concat", ["head", "pb", "tail"], ["pads_b"], axis=0),
        helper.make_node("Pad", ["a", "pads_a"], ["a_padded"], mode="constant"),
        helper.make_node("Pad", ["b", "pads_b"], ["b_padded"], mode="constant"),
        helper.make_node("Concat", ["a_padded", "b_padded"], ["out"], axis=0),
    ]
    return helper.make_graph(nodes, "kv_concat", [kv("a", elem, "ba", "ta"), kv("b", elem, "bb", "tb")],
                             [kv("out", elem, "b", "t")])


def select(elem):
    nodes = [
        const("end", [2 ** 62]), const("axis", [2]),
        helper.make_node("Gather", ["x", "rows"], ["kept"], axis=0),
        helper.make_node("Slice", ["kept", "from", "end", "axis"], ["out"]),
    ]
    inputs = [kv("x", elem, "b", "t"), helper.make_tensor_value_info("rows", TensorProto.INT64, ["k"]),
              helper.make_tensor_value_info("from", TensorProto.INT64, [1])]
    return helper.make_graph(nodes, "kv_select", inputs, [kv("out", elem, "k", "t2")])


def repeat(elem):
    nodes = [
        const("one", [1]),
        helper.make_node("Concat", ["count", "one", "one", "one"], ["reps"], axis=0),
        helper.make_node("Tile", ["x", "reps"], ["out"]),
    ]
    inputs = [kv("x", elem, 1, "t"), helper.make_tensor_value_info("count", TensorProto.INT64, [1])]
    return helper.make_graph(nodes, "kv_repeat", inputs, [kv("out", elem, "n", "t")])


def state(name, elem, batch):
    return helper.make_tensor_value_info(name, elem, [batch, "channels", "length"])


def state_concat(elem):
    nodes = [helper.make_node("Concat", ["a", "b"], ["out"], axis=0)]
    return helper.make_graph(nodes, "state_concat", [state("a", elem, "ba"), state("b", elem, "bb")],
                             [state("out", elem, "b")])


def state_select(elem):
    nodes = [helper.make_node("Gather", ["x", "rows"], ["out"], axis=0)]
    inputs = [state("x", elem, "b"), helper.make_tensor_value_info("rows", TensorProto.INT64, ["k"])]
    return helper.make_graph(nodes, "state_select", inputs, [state("out", elem, "k")])


def state_repeat(elem):
    nodes = [
        const("one", [1]),
        helper.make_node("Concat", ["count", "one", "one"], ["reps"], axis=0),
        helper.make_node("Tile", ["x", "reps"], ["out"]),
    ]
    inputs = [state("x", elem, 1), helper.make_tensor_value_info("count", TensorProto.INT64, [1])]
    return helper.make_graph(nodes, "state_repeat", inputs, [state("out", elem, "n")])


def main():
    os.makedirs(OUT, exist_ok=True)
    for type_name, elem in TYPES.items():
        for build in (concat, select, repeat, state_concat, state_select, state_repeat):
            model = helper.make_model(build(elem), opset_imports=[helper.make_opsetid("", 17)],
                                      producer_name="vlm4j decoder/tools/kv_graphs.py")
            model.ir_version = 8
            onnx.checker.check_model(model)
            path = os.path.join(OUT, "%s_%s.onnx" % (build.__name__, type_name))
            onnx.save(model, path)
            print(path, os.path.getsize(path), "bytes")


if __name__ == "__main__":
    main()
