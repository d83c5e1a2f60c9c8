"""Small test fixtures for the Java unit tests, computed by the references the Java code mirrors:

* tokenizer vectors (HF tokenizer semantics, see bpe.py),
* Pillow resizes (SHA-256 of the RGB bytes) for every filter, up and down, non-uniform,
* transformers.js preprocessing (Idefics3 tiling, fixed-size) checksums on awkward image sizes,
* chat-template renders by Python Jinja2 (what transformers uses).
"""
import hashlib
import json
import os

import numpy as np
from PIL import Image

from . import config as C
from . import imageproc, prompts

TOKENIZER_STRINGS = [
    "What shapes are in the image?",
    " a red circle and a blue square",
    "How many circles are there? 12 or 3?",
    "Repeat the word zepu.",
    "<image>What is this?<end_of_utterance>\nAssistant: dax",
    "User text with <image> and <|im_start|> inside",
    "tabs\tand  double  spaces\n\nnewlines",
    "Unicode: café, naïve, 東京, 🙂",
    "",
]


def tokenizer_cases(tok):
    return [{"text": s, "ids": tok.encode(s), "plain_ids": tok.encode_plain(s),
             "decoded": tok.decode(tok.encode_plain(s), skip_special=True)} for s in TOKENIZER_STRINGS]


def _test_image(w, h, seed, mode="RGB"):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    base = np.stack([128 + 100 * np.sin(xx / (3 + seed % 5)), 128 + 100 * np.cos(yy / 4.0),
                     (xx * 7 + yy * 3) % 256], -1)
    noise = rng.integers(-30, 30, size=(h, w, 3))
    arr = np.clip(base + noise, 0, 255).astype(np.uint8)
    img = Image.fromarray(arr, "RGB")
    if mode == "RGBA":
        a = Image.fromarray(rng.integers(0, 255, size=(h, w), dtype=np.uint8), "L")
        img = Image.merge("RGBA", (*img.split(), a))
    elif mode == "L":
        img = img.convert("L")
    elif mode == "P":
        img = img.convert("P", palette=Image.ADAPTIVE, colors=32)
    return img


def _sha(b):
    return hashlib.sha256(b).hexdigest()


def _checksum(a):
    a = np.asarray(a, np.float64).reshape(-1)
    return {"sum": float(a.sum()), "sum_sq": float((a * a).sum()), "head": [float(v) for v in a[:6]],
            "n": int(a.size)}


def external_data_models(folder):
    """A one-node graph Y = X + W with W in external data, plus hostile variants of the reference."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    w = np.arange(16, dtype=np.float32)

    def model(location, offset=None, length=None):
        init = numpy_helper.from_array(w, "W")
        init.data_location = TensorProto.EXTERNAL
        init.ClearField("raw_data")
        for k, v in (("location", location), ("offset", offset), ("length", length)):
            if v is not None:
                e = init.external_data.add()
                e.key, e.value = k, str(v)
        g = helper.make_graph([helper.make_node("Add", ["X", "W"], ["Y"])], "ext",
                              [helper.make_tensor_value_info("X", TensorProto.FLOAT, [16])],
                              [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [16])], [init])
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)], producer_name="vlm4j-refmodels")
        m.ir_version = 8
        return m

    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "weights.bin"), "wb") as f:
        f.write(w.tobytes())
    cases = {"ok.onnx": ("weights.bin", 0, 64), "traversal.onnx": ("../../../etc/passwd", None, None),
             "nested_traversal.onnx": ("sub/../../weights.bin", None, None), "absolute.onnx": ("/etc/passwd", None, None),
             "missing.onnx": ("nothing.bin", None, None), "past_end.onnx": ("weights.bin", 1 << 20, 64)}
    for name, (loc, off, ln) in cases.items():
        with open(os.path.join(folder, name), "wb") as f:
            f.write(model(loc, off, ln).SerializeToString())


def bad_adapters(folder):
    """Adapters that do not fit the reference models: wrong output width, wrong input shape."""
    import torch

    from . import export

    class WrongWidth(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = torch.nn.Linear(4 * C.VIT["hidden"], 96)

        def forward(self, image_features, query_embeds):
            from .modeling import pixel_shuffle
            return self.lin(pixel_shuffle(image_features)) + query_embeds.mean() * 0

    class WrongInput(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = torch.nn.Linear(C.VIT["hidden"], C.TEXT["hidden"])

        def forward(self, image_features, query_embeds):
            return self.lin(image_features[:, :16]) + query_embeds.mean() * 0

    torch.manual_seed(0)
    os.makedirs(folder, exist_ok=True)
    export.export_adapter(WrongWidth(), os.path.join(folder, "wrong_width.onnx"))
    f = torch.randn(2, 32, C.VIT["hidden"])
    q = torch.randn(1, 5, C.TEXT["hidden"])
    export._export(WrongInput(), (f, q), os.path.join(folder, "wrong_input.onnx"), ["image_features", "query_embeds"],
                   ["image_embeds"], {"image_features": {0: "num_images"}, "query_embeds": {1: "query_length"},
                                      "image_embeds": {0: "num_images"}})


def write(tok, resources, core_test_resources):
    out = os.path.join(resources, "fixtures")
    img_dir = os.path.join(out, "images")
    os.makedirs(img_dir, exist_ok=True)
    with open(os.path.join(out, "tokenizer-cases.json"), "w", encoding="utf-8") as f:
        json.dump({"tokenizer": "models/vlm4j-tiny-idefics3/tokenizer.json", "cases": tokenizer_cases(tok)}, f,
                  indent=1, ensure_ascii=False)
        f.write("\n")

    # ---- Pillow resizes
    sources = {"rgb_97x61": _test_image(97, 61, 1), "rgb_40x130": _test_image(40, 130, 2)}
    resize = []
    for name, img in sources.items():
        img.save(os.path.join(img_dir, name + ".png"))
        for code in (0, 1, 2, 3, 4, 5):
            for w, h in [(50, 30), (200, 123), (97, 200), (13, 61), (128, 128)]:
                r = img.resize((w, h), imageproc.RESAMPLE[code])
                resize.append({"image": f"images/{name}.png", "filter": code, "width": w, "height": h,
                               "sha256": _sha(np.asarray(r, np.uint8).tobytes())})

    # ---- decoding: modes PIL reads, converted as transformers.js does
    decode = []
    for mode in ("RGB", "RGBA", "L", "P"):
        img = _test_image(33, 21, 3, mode)
        fname = f"decode_{mode.lower()}.png"
        img.save(os.path.join(img_dir, fname))
        rgb = imageproc.to_rgb(Image.open(os.path.join(img_dir, fname)))
        decode.append({"image": f"images/{fname}", "mode": mode, "width": rgb.size[0], "height": rgb.size[1],
                       "sha256": _sha(np.asarray(rgb, np.uint8).tobytes())})

    # ---- preprocessing exactly as transformers.js (Lanczos to 128 longest edge, tiling, ...)
    pre = []
    shapes = [(100, 80), (300, 200), (50, 150), (128, 96), (64, 64), (513, 129), (7, 5)]
    for i, (w, h) in enumerate(shapes):
        name = f"pre_{w}x{h}"
        img = _test_image(w, h, 10 + i)
        img.save(os.path.join(img_dir, name + ".png"))
        for split in (True, False):
            frames, rows, cols = imageproc.idefics3_frames(img, split)
            pre.append({"image": f"images/{name}.png", "processor": "idefics3", "split": split,
                        "frames": int(frames.shape[0]), "rows": rows, "cols": cols, "pixels": _checksum(frames)})
        for resample in (2, 3):
            f = imageproc.fixed_frames(img, C.TILE, resample)
            pre.append({"image": f"images/{name}.png", "processor": "fixed", "resample": resample,
                        "frames": 1, "rows": 0, "cols": 0, "pixels": _checksum(f)})
    with open(os.path.join(out, "images.json"), "w", encoding="utf-8") as f:
        json.dump({"resize": resize, "decode": decode, "preprocess": pre,
                   "preprocess_config": {"longest_edge": C.LONGEST_EDGE, "tile": C.TILE, "fixed_size": C.TILE,
                                         "rescale_factor": imageproc.RESCALE, "mean": imageproc.MEAN,
                                         "std": imageproc.STD}}, f, indent=1)
        f.write("\n")

    external_data_models(os.path.join(out, "external-data"))
    bad_adapters(os.path.join(out, "bad-adapters"))

    # ---- chat templates rendered by Jinja2
    cases = {
        "single": [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "What shapes are in the image?"}]}],
        "multi": [{"role": "user", "content": [{"type": "image"}, {"type": "image"}, {"type": "text", "text": "Compare them."}]},
                  {"role": "assistant", "content": [{"type": "text", "text": "A cat and a dog."}]},
                  {"role": "user", "content": [{"type": "text", "text": "Which is bigger?"}]}],
        "text_first": [{"role": "user", "content": [{"type": "text", "text": "First image:"}, {"type": "image"},
                                                    {"type": "text", "text": "Second:\n"}, {"type": "image"},
                                                    {"type": "text", "text": "  spaced  "}]}],
        "system": [{"role": "system", "content": [{"type": "text", "text": "Be brief."}]},
                   {"role": "user", "content": [{"type": "text", "text": "Hi <image> there"}]}],
    }
    expected = {}
    for tname, t in [("smolvlm", C.SMOLVLM_TEMPLATE), ("llava", C.LLAVA_TEMPLATE)]:
        for cname, msgs in cases.items():
            for gen in (True, False):
                expected[f"{tname}/{cname}/{gen}"] = prompts.render(t, msgs, gen)
    os.makedirs(core_test_resources, exist_ok=True)
    with open(os.path.join(core_test_resources, "chat-template-cases.json"), "w", encoding="utf-8") as f:
        json.dump({"templates": {"smolvlm": C.SMOLVLM_TEMPLATE, "llava": C.LLAVA_TEMPLATE}, "cases": cases,
                   "expected": expected}, f, indent=1)
        f.write("\n")
