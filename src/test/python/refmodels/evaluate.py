"""Held-out evaluation set (committed, so the Java tests can measure the same cases) and the
honest quality report measured in PyTorch.
"""
import hashlib
import io
import json
import os
import re
import random
import shutil
import time

from PIL import Image

from . import config as C
from . import synth
from .reference import Reference

TASKS = ["shape_colour", "counting", "position", "caption", "inspection", "inspection_defect", "multi_image",
         "icl_1shot", "icl_2shot", "icl_1shot_single", "text"]
SCENE_KINDS = {"shape_colour": ["shapes", "colours", "colour_of", "shape_of", "exists"],
               "counting": ["count_shape", "count_all", "count_colour"],
               "position": ["where_h", "where_v"], "caption": ["caption"]}

ICL_TASKS = [t for t in TASKS if t.startswith("icl")]
CONFIGS = {
    "idefics3": dict(fmt="idefics3", adapter=None, tasks=TASKS),
    "idefics3_nosplit": dict(fmt="idefics3_nosplit", adapter=None, tasks=["shape_colour", "counting"] + ICL_TASKS),
    "llava": dict(fmt="llava", adapter=None, tasks=TASKS),
    "modular": dict(fmt="modular", adapter=None, tasks=["shape_colour", "counting", "inspection", "inspection_defect"]),
    "modular+counting": dict(fmt="modular", adapter="counting", tasks=["counting", "shape_colour"]),
    "modular+inspection": dict(fmt="modular", adapter="inspection", tasks=["inspection", "inspection_defect"]),
}

TARGETS = [  # (label, task, config, target)
    ("shape/colour questions (exact match)", "shape_colour", "idefics3", 0.90),
    ("counting", "counting", "idefics3", 0.80),
    ("inspection OK/defect, with its adapter", "inspection", "modular+inspection", 0.95),
    ("2-way 1-shot ICL, unseen label words", "icl_1shot", "idefics3", 0.85),
    ("2-way 1-shot ICL, unseen label words, by label scoring", "icl_1shot", "idefics3", 0.85, "scored"),
]


def make_case(rng, task, words):
    if task in SCENE_KINDS:
        while True:
            p = synth.make_scene(rng)
            q, a, t = synth.scene_question(rng, p, rng.choice(SCENE_KINDS[task]))
            if (t == task) or (task == "caption" and t == "caption"):
                return synth.single_image_chat(rng, p, q, a, task)
    if task in ("inspection", "inspection_defect"):
        p = synth.make_part(rng)
        q, a, _ = synth.part_question(rng, p, "okdef" if task == "inspection" else "defect")
        return synth.single_image_chat(rng, p, q, a, task)
    if task == "multi_image":
        while True:
            c = synth.compare_chat(rng, synth.make_scene(rng), synth.make_scene(rng))
            if c:
                return c
    if task.startswith("icl"):
        shots = 2 if task == "icl_2shot" else 1
        style = "single" if task.endswith("single") else "turns"
        c = synth.icl_episode(rng, words, shots, style=style)
        c.task = task
        return c
    if task == "text":
        return synth.text_task(rng, words)
    raise ValueError(task)


def png_bytes(img):
    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def save_image(img, folder):
    data = png_bytes(img)
    name = hashlib.sha1(data).hexdigest()[:16] + ".png"
    path = os.path.join(folder, name)
    if not os.path.exists(path):
        with open(path, "wb") as f:
            f.write(data)
    return name


def build_eval_set(out_dir, words, n=C.EVAL_PER_TASK, seed=C.SEED + 7):
    """Writes eval/cases.jsonl + eval/images/*.png; returns the list of case dicts."""
    img_dir = os.path.join(out_dir, "images")
    os.makedirs(img_dir, exist_ok=True)
    cases = []
    for ti, task in enumerate(TASKS):
        rng = random.Random(seed * 100 + ti)
        for i in range(n):
            conv = make_case(rng, task, words)
            names = ["images/" + save_image(p.image, img_dir) for p in conv.pictures]
            cases.append({"id": f"{task}-{i:04d}", "task": task, "messages": conv.messages[:-1],
                          "images": names, "answer": conv.answer, "meta": conv.meta})
    with open(os.path.join(out_dir, "cases.jsonl"), "w", encoding="utf-8") as f:
        for c in cases:
            f.write(json.dumps(c, ensure_ascii=False) + "\n")
    return cases


def write_fewshot_folders(eval_dir, cases, out_dir, pool_size=20):
    """fewshot/inspection/{pool,queries}/<ok|defective>/<case>.png from the held-out inspection cases:
    the layout `vlm4j fewshot-eval --pool ... --queries ...` and the inspection example read."""
    shutil.rmtree(out_dir, ignore_errors=True)
    insp = [c for c in cases if c["task"] == "inspection"]
    for i, c in enumerate(insp):
        d = os.path.join(out_dir, "pool" if i < pool_size else "queries", c["answer"])
        os.makedirs(d, exist_ok=True)
        shutil.copyfile(os.path.join(eval_dir, c["images"][0]), os.path.join(d, c["id"] + ".png"))


def load_images(base, names):
    return [Image.open(os.path.join(base, n)).convert("RGB") for n in names]


def evaluate(model, tok, eval_dir, cases, log):
    ref = Reference(model, tok)
    results = {}
    for cname, cfg in CONFIGS.items():
        t0 = time.time()
        per_task = {}
        for task in cfg["tasks"]:
            preds = []
            for c in (c for c in cases if c["task"] == task):
                pils = load_images(eval_dir, c["images"])
                r = ref.generate(cfg["fmt"], c["messages"], pils, cfg["adapter"], max_new_tokens=C.GOLDEN_MAX_NEW_TOKENS)
                pred = {"id": c["id"], "prediction": r["text"].strip(), "ok": r["text"].strip() == c["answer"]}
                if task in ICL_TASKS:
                    labels = c["meta"]["labels"]
                    sc = ref.score(cfg["fmt"], c["messages"], pils, labels, cfg["adapter"])
                    pred["scores"] = [v for v, _ in sc]
                    pred["scored_ok"] = labels[max(range(len(labels)), key=lambda i: sc[i][0])] == c["answer"]
                preds.append(pred)
            acc = sum(p["ok"] for p in preds) / len(preds)
            per_task[task] = {"accuracy": acc, "n": len(preds), "cases": preds}
            if task in ICL_TASKS:
                per_task[task]["scored_accuracy"] = sum(p["scored_ok"] for p in preds) / len(preds)
        results[cname] = per_task
        log(f"  eval {cname}: " + ", ".join(f"{t} {v['accuracy']:.3f}" + (f" (scored {v['scored_accuracy']:.3f})"
                                                                                    if "scored_accuracy" in v else "")
                                            for t, v in per_task.items())
            + f" ({time.time() - t0:.0f}s)")
    with open(os.path.join(eval_dir, "results.json"), "w", encoding="utf-8") as f:
        json.dump(results, f, indent=1)
        f.write("\n")
    return results


def kept_sections(path):
    """Sections other kit steps own (between `<!-- NAME: start -->` and `<!-- NAME: end -->`, e.g.
    refmodels.cnn's), carried over when the main report is rewritten."""
    if not os.path.exists(path):
        return []
    text = open(path, encoding="utf-8").read()
    return [m.group(0) + "\n" for m in re.finditer(r"<!-- ([\w-]+): start -->.*?<!-- \1: end -->", text, re.S)]


def write_report(path, results, train_stats, notes):
    lines = ["# vlm4j reference models: quality report", "",
             "Measured in PyTorch (the fp32 reference) by `python3 -m refmodels`, greedy decoding, exact match",
             "of the answer text, on the committed held-out set `src/test/resources/eval/` "
             f"({C.EVAL_PER_TASK} cases per task, pictures and label words never used in training).",
             "Per-case predictions: `eval/results.json`. The Java tests measure the same cases.", "",
             "## Targets", "", "| target | task | layout / adapter | goal | achieved | |", "|---|---|---|---|---|---|"]
    for label, task, cfg, goal, *how in TARGETS:
        acc = results[cfg][task]["scored_accuracy" if how else "accuracy"]
        lines.append(f"| {label} | `{task}` | `{cfg}` | ≥ {goal:.0%} | **{acc:.1%}** | {'met' if acc >= goal else 'MISSED'} |")
    lines += ["", "## All tasks × layouts", "",
              "| task | " + " | ".join(f"`{c}`" for c in CONFIGS) + " |",
              "|---|" + "---|" * len(CONFIGS)]
    for task in TASKS:
        row = []
        for cname in CONFIGS:
            r = results[cname].get(task)
            row.append((f"{r['accuracy']:.1%}" + (f" ({r['scored_accuracy']:.1%})" if "scored_accuracy" in r else ""))
                       if r else "–")
        lines.append(f"| `{task}` | " + " | ".join(row) + " |")
    lines += ["", "Layouts: `idefics3` = SmolVLM/Idefics3 onnx-community layout with image splitting "
              "(2×2 tiles + global image for 128-px pictures); `idefics3_nosplit` = same with "
              "`do_image_splitting=false`; `llava` = LLaVA layout (64×64, 16 tokens); `modular` = vlm4j modular "
              "layout with the default projector; `modular+X` = with the gated adapter X. ICL rows give exact-match "
              "accuracy of free generation and, in parentheses, accuracy of label scoring (the candidate label with "
              "the highest total log-probability of its answer tokens, as `GenerationSession.classify` does).", "",
              "## Training run", ""]
    for k, v in train_stats.items():
        lines.append(f"- {k}: {v}")
    lines += ["", notes.strip(), ""]
    lines += kept_sections(path)
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines))
