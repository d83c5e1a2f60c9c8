"""Synthetic data the kit draws itself: scenes of shapes, textured parts to inspect, and the
questions, chats, multi-image questions and in-context-learning episodes built on them.

Everything is driven by an explicit ``random.Random`` so that a seed reproduces the data.
A sample is a ``Conversation``: chat messages in the HF format (content = ordered list of
``{"type": "image"}`` / ``{"type": "text", "text": ...}`` parts), the images in order, the
expected final answer, and a task label used by the evaluation.
"""
import math
import random
from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageDraw

from . import config as C

SHAPES = ["circle", "square", "triangle", "cross"]
PLURAL = {"circle": "circles", "square": "squares", "triangle": "triangles", "cross": "crosses"}
COLOURS = {
    "red": (214, 39, 40),
    "green": (44, 160, 44),
    "blue": (31, 90, 200),
    "yellow": (235, 196, 20),
    "purple": (148, 70, 189),
    "orange": (255, 127, 14),
}
COLOUR_NAMES = list(COLOURS)
MATERIALS = ["metal", "wood"]
DEFECTS = ["scratch", "spot", "crack"]

# Words the tasks use; pseudo-words must never collide with them.
TASK_WORDS = set(SHAPES) | set(PLURAL.values()) | set(COLOUR_NAMES) | set(MATERIALS) | set(DEFECTS) | {
    "ok", "defective", "none", "yes", "no", "left", "right", "top", "bottom", "first", "second",
    "and", "a", "an", "the", "is", "what", "this", "part", "image", "plus", "after", "word",
}


@dataclass
class Picture:
    """One synthetic image and what it shows."""
    image: Image.Image
    kind: str                      # "scene" or "part"
    objects: list = field(default_factory=list)   # scene: dicts(shape, colour, cx, cy, r)
    material: str = ""
    defect: str = "none"
    uid: int = 0

    @property
    def size(self):
        return self.image.size


@dataclass
class Conversation:
    """Chat messages (HF format), the images they reference in order, and the answer."""
    messages: list
    pictures: list
    answer: str
    task: str
    meta: dict = field(default_factory=dict)


def user(*parts):
    return {"role": "user", "content": list(parts)}


def assistant(text):
    return {"role": "assistant", "content": [{"type": "text", "text": text}]}


IMG = {"type": "image"}


def txt(s):
    return {"type": "text", "text": s}


# ------------------------------------------------------------------------------- drawing
SS = 4  # supersampling factor for anti-aliased edges


def _background(rng, w, h):
    base = np.array([rng.randint(232, 250)] * 3, dtype=np.float32)
    tint = np.array([rng.randint(-6, 6) for _ in range(3)], dtype=np.float32)
    gy = np.linspace(0, rng.uniform(-8, 8), h, dtype=np.float32)[:, None, None]
    img = np.clip(base + tint + gy + np.zeros((h, w, 3), np.float32), 0, 255)
    return Image.fromarray(img.astype(np.uint8), "RGB")


def _draw_shape(draw, shape, cx, cy, r, fill):
    cx, cy, r = cx * SS, cy * SS, r * SS
    if shape == "circle":
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=fill)
    elif shape == "square":
        s = r * 0.88
        draw.rectangle([cx - s, cy - s, cx + s, cy + s], fill=fill)
    elif shape == "triangle":
        pts = [(cx, cy - r), (cx - r * 0.95, cy + r * 0.8), (cx + r * 0.95, cy + r * 0.8)]
        draw.polygon(pts, fill=fill)
    elif shape == "cross":
        t = r * 0.36
        draw.rectangle([cx - r, cy - t, cx + r, cy + t], fill=fill)
        draw.rectangle([cx - t, cy - r, cx + t, cy + r], fill=fill)
    else:
        raise ValueError(shape)


def draw_scene(rng, objects, w, h):
    bg = _background(rng, w, h).resize((w * SS, h * SS), Image.NEAREST)
    draw = ImageDraw.Draw(bg)
    for o in objects:
        _draw_shape(draw, o["shape"], o["cx"], o["cy"], o["r"], COLOURS[o["colour"]])
    return bg.resize((w, h), Image.BOX)


SCENE_SIZES = [(128, 128)] * 6 + [(128, 64), (64, 128), (128, 96), (96, 128)]


def random_objects(rng, n, w, h, forced=None):
    """Place n non-overlapping shapes; `forced` fixes (shape, colour) of the first ones."""
    forced = list(forced or [])
    for _attempt in range(200):
        objs = []
        ok = True
        for i in range(n):
            shape, colour = forced[i] if i < len(forced) else (rng.choice(SHAPES), rng.choice(COLOUR_NAMES))
            r = rng.uniform(11.0, 17.0) * min(w, h) / 128 * (1.2 if min(w, h) < 128 else 1.0)
            placed = False
            for _ in range(60):
                cx, cy = rng.uniform(r + 2, w - r - 2), rng.uniform(r + 2, h - r - 2)
                if all(math.hypot(cx - o["cx"], cy - o["cy"]) > r + o["r"] + 3 for o in objs):
                    placed = True
                    break
            if not placed:
                ok = False
                break
            objs.append(dict(shape=shape, colour=colour, cx=cx, cy=cy, r=r))
        if ok:
            return objs
    raise RuntimeError("could not place shapes")


def make_scene(rng, n=None, size=None, forced=None):
    w, h = size or rng.choice(SCENE_SIZES)
    n = n or rng.choice([1, 2, 2, 3, 3, 4])
    objs = random_objects(rng, n, w, h, forced)
    return Picture(draw_scene(rng, objs, w, h), "scene", objs)


def make_part(rng, material=None, defect=None):
    """A 64x64 textured part on a dark background, OK or with a defect."""
    s = C.PART_SIZE
    material = material or rng.choice(MATERIALS)
    defect = defect if defect is not None else (rng.choice(DEFECTS) if rng.random() < 0.5 else "none")
    yy, xx = np.mgrid[0:s, 0:s].astype(np.float32)
    nrng = np.random.default_rng(rng.randrange(1 << 30))
    if material == "metal":
        base = rng.uniform(150, 185)
        streak = nrng.normal(0, 5.0, size=(s, 1)).astype(np.float32)
        streak = np.repeat(streak, s, axis=1) + nrng.normal(0, 1.5, size=(s, s)).astype(np.float32)
        g = base + streak + 8 * np.sin(xx / rng.uniform(9, 15))
        tex = np.stack([g * 0.97, g, g * 1.04], -1)
    else:
        f = rng.uniform(0.35, 0.6)
        warp = 3.0 * np.sin(xx / rng.uniform(7, 12) + rng.uniform(0, 6))
        rings = np.sin((yy + warp) * f)
        v = 120 + 22 * rings + nrng.normal(0, 2.0, size=(s, s)).astype(np.float32)
        tex = np.stack([v * 1.25, v * 0.88, v * 0.55], -1)
    bgv = rng.uniform(35, 70)
    img = np.full((s, s, 3), bgv, np.float32)
    m = rng.randint(3, 6)
    img[m:s - m, m:s - m] = tex[m:s - m, m:s - m]
    pic = Image.fromarray(np.clip(img, 0, 255).astype(np.uint8), "RGB")
    big = pic.resize((s * SS, s * SS), Image.NEAREST)
    d = ImageDraw.Draw(big)
    lo, hi = (m + 6) * SS, (s - m - 6) * SS
    dark = tuple(int(c) for c in (rng.randint(15, 45),) * 3)
    if defect == "scratch":
        x0, y0 = rng.uniform(lo, hi), rng.uniform(lo, hi)
        ang, ln = rng.uniform(0, math.pi), rng.uniform(14, 26) * SS
        x1 = min(max(x0 + math.cos(ang) * ln, lo), hi)
        y1 = min(max(y0 + math.sin(ang) * ln, lo), hi)
        col = (235, 235, 240) if rng.random() < 0.5 else dark
        d.line([(x0, y0), (x1, y1)], fill=col, width=int(1.3 * SS))
    elif defect == "spot":
        x0, y0, r = rng.uniform(lo, hi), rng.uniform(lo, hi), rng.uniform(2.6, 4.5) * SS
        d.ellipse([x0 - r, y0 - r * rng.uniform(0.7, 1.0), x0 + r, y0 + r], fill=dark)
    elif defect == "crack":
        x, y = rng.uniform(lo, hi), rng.uniform(lo, hi)
        pts = [(x, y)]
        ang = rng.uniform(0, 2 * math.pi)
        for _ in range(rng.randint(4, 6)):
            ang += rng.uniform(-1.1, 1.1)
            x = min(max(x + math.cos(ang) * 5 * SS, lo), hi)
            y = min(max(y + math.sin(ang) * 5 * SS, lo), hi)
            pts.append((x, y))
        d.line(pts, fill=dark, width=int(1.2 * SS))
    return Picture(big.resize((s, s), Image.BOX), "part", material=material, defect=defect)


# ------------------------------------------------------------------------------- pseudo-words
CONS = "bdfgklmnprstvz"
VOWS = "aeiou"


def pseudo_words(seed):
    """Two disjoint lists of novel label words: (train, held_out)."""
    rng = random.Random(seed)
    words = set()
    for c1 in CONS:
        for v in VOWS:
            for c2 in CONS:
                words.add(c1 + v + c2)
                for v2 in VOWS:
                    words.add(c1 + v + c2 + v2)
    words = sorted(w for w in words if w not in TASK_WORDS)
    rng.shuffle(words)
    return words[:1200], words[1200:1500]


# ------------------------------------------------------------------------------- questions
def _join(xs):
    return ", ".join(xs)


def _canon(items, order):
    return [x for x in order if x in set(items)]


def scene_question(rng, pic, kind=None):
    """(question, answer, task) about one scene."""
    objs = pic.objects
    shapes = [o["shape"] for o in objs]
    cols = [o["colour"] for o in objs]
    kinds = ["shapes", "colours", "exists", "count_shape", "count_all", "count_colour", "caption"]
    uniq_shape = [s for s in set(shapes) if shapes.count(s) == 1]
    uniq_col = [c for c in set(cols) if cols.count(c) == 1]
    uniq_obj = [o for o in objs if sum(1 for p in objs if p["shape"] == o["shape"] and p["colour"] == o["colour"]) == 1]
    if uniq_shape:
        kinds.append("colour_of")
    if uniq_col:
        kinds.append("shape_of")
    w, h = pic.size
    horiz = [o for o in uniq_obj if abs(o["cx"] - w / 2) > 0.12 * w]
    vert = [o for o in uniq_obj if abs(o["cy"] - h / 2) > 0.12 * h]
    if horiz:
        kinds.append("where_h")
    if vert:
        kinds.append("where_v")
    kind = kind if kind in kinds else rng.choice(kinds)
    if kind == "shapes":
        return "What shapes are in the image?", _join(_canon(shapes, SHAPES)), "shape_colour"
    if kind == "colours":
        return "What colours are in the image?", _join(_canon(cols, COLOUR_NAMES)), "shape_colour"
    if kind == "colour_of":
        s = sorted(uniq_shape)[rng.randrange(len(uniq_shape))]
        return f"What colour is the {s}?", cols[shapes.index(s)], "shape_colour"
    if kind == "shape_of":
        c = sorted(uniq_col)[rng.randrange(len(uniq_col))]
        return f"What shape is {c}?", shapes[cols.index(c)], "shape_colour"
    if kind == "exists":
        if rng.random() < 0.5:
            o = rng.choice(objs)
            return f"Is there a {o['colour']} {o['shape']}?", "yes", "shape_colour"
        present = set(zip(cols, shapes))
        while True:
            c, s = rng.choice(COLOUR_NAMES), rng.choice(SHAPES)
            if (c, s) not in present:
                return f"Is there a {c} {s}?", "no", "shape_colour"
    if kind == "count_shape":
        s = rng.choice(SHAPES) if rng.random() < 0.3 else rng.choice(shapes)
        return f"How many {PLURAL[s]} are there?", str(shapes.count(s)), "counting"
    if kind == "count_all":
        return "How many shapes are there?", str(len(objs)), "counting"
    if kind == "count_colour":
        c = rng.choice(COLOUR_NAMES) if rng.random() < 0.3 else rng.choice(cols)
        return f"How many {c} shapes are there?", str(cols.count(c)), "counting"
    if kind == "where_h":
        o = rng.choice(horiz)
        return (f"Is the {o['colour']} {o['shape']} on the left or the right?",
                "left" if o["cx"] < w / 2 else "right", "position")
    if kind == "where_v":
        o = rng.choice(vert)
        return (f"Is the {o['colour']} {o['shape']} at the top or the bottom?",
                "top" if o["cy"] < h / 2 else "bottom", "position")
    if kind == "caption":
        parts = [f"{'an' if o['colour'][0] in 'aeiou' else 'a'} {o['colour']} {o['shape']}"
                 for o in sorted(objs, key=lambda o: o["cx"])]
        cap = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
        return "Describe the image.", cap, "caption"
    raise ValueError(kind)


def part_question(rng, pic, kind=None):
    kind = kind or rng.choice(["okdef", "okdef", "defect", "material"])
    if kind == "okdef":
        return "Is this part ok or defective?", "ok" if pic.defect == "none" else "defective", "inspection"
    if kind == "defect":
        return "What defect does this part have?", pic.defect, "inspection_defect"
    return "What material is this part?", pic.material, "material"


def single_image_chat(rng, pic, question, answer, task, image_first=True):
    parts = [IMG, txt(question)] if image_first else [txt(question + "\n"), IMG]
    return Conversation([user(*parts), assistant(answer)], [pic], answer, task)


def multi_qa_chat(rng, pic, qas):
    """Several questions about one image; every answer is trained."""
    msgs = []
    for k, (q, a, _) in enumerate(qas):
        msgs += [user(IMG, txt(q)) if k == 0 else user(txt(q)), assistant(a)]
    return Conversation(msgs, [pic], qas[-1][1], qas[-1][2], {"loss_turns": list(range(1, len(msgs), 2))})


def multi_turn_chat(rng, pic, qa1, qa2):
    (q1, a1, _), (q2, a2, task) = qa1, qa2
    msgs = [user(IMG, txt(q1)), assistant(a1), user(txt(q2)), assistant(a2)]
    return Conversation(msgs, [pic], a2, task, {"turns": 2})


def compare_chat(rng, pic1, pic2):
    s = rng.choice(SHAPES)
    n1 = sum(o["shape"] == s for o in pic1.objects)
    n2 = sum(o["shape"] == s for o in pic2.objects)
    if n1 == n2:
        return None
    q = f"Which image has more {PLURAL[s]}, the first or the second?"
    a = "first" if n1 > n2 else "second"
    layout = rng.choice(["together", "interleaved"])
    if layout == "together":
        msgs = [user(IMG, IMG, txt(q)), assistant(a)]
    else:
        msgs = [user(txt("First image:"), IMG, txt("Second image:"), IMG, txt(q)), assistant(a)]
    return Conversation(msgs, [pic1, pic2], a, "multi_image")


# ------------------------------------------------------------------------------- ICL
ICL_QUESTION = "What is this?"


def icl_classes(rng, dim):
    if dim == "shape":
        return rng.sample(SHAPES, 2)
    if dim == "colour":
        return rng.sample(COLOUR_NAMES, 2)
    return ["ok", "defective"]


def icl_picture(rng, dim, cls):
    if dim == "shape":
        return make_scene(rng, 1, (128, 128), forced=[(cls, rng.choice(COLOUR_NAMES))])
    if dim == "colour":
        return make_scene(rng, 1, (128, 128), forced=[(rng.choice(SHAPES), cls)])
    return make_part(rng, defect="none" if cls == "ok" else rng.choice(DEFECTS))


def icl_episode(rng, words, shots=1, dim=None, style="turns", picture_fn=None):
    """A 2-way k-shot episode whose labels are novel words bound to classes only in context.

    style "turns": one user/assistant exchange per demo, then the query turn.
    style "single": one user turn with "<image>What is this? word\\n" per demo, then the query.
    """
    picture_fn = picture_fn or icl_picture
    dim = dim or rng.choice(["shape", "colour", "inspection"])
    classes = icl_classes(rng, dim)
    labels = rng.sample(words, 2)
    demos = [(c, l) for c, l in zip(classes, labels) for _ in range(shots)]
    rng.shuffle(demos)
    qi = rng.randrange(2)
    pics = [picture_fn(rng, dim, c) for c, _ in demos] + [picture_fn(rng, dim, classes[qi])]
    answer = labels[qi]
    msgs = []
    if style == "turns":
        for (_, lab) in demos:
            msgs += [user(IMG, txt(ICL_QUESTION)), assistant(lab)]
        msgs += [user(IMG, txt(ICL_QUESTION)), assistant(answer)]
    else:
        parts = []
        for (_, lab) in demos:
            parts += [IMG, txt(f"{ICL_QUESTION} {lab}\n")]
        parts += [IMG, txt(ICL_QUESTION)]
        msgs += [user(*parts), assistant(answer)]
    meta = {"dim": dim, "classes": classes, "labels": labels, "shots": shots, "style": style,
            "demo_labels": [l for _, l in demos], "demo_classes": [c for c, _ in demos]}
    if style == "turns":
        # Train every answer that the context already determines: a demo whose class was shown before.
        seen, turns = set(), []
        for j, (c, _) in enumerate(demos):
            if c in seen:
                turns.append(2 * j + 1)
            seen.add(c)
        meta["loss_turns"] = turns + [len(msgs) - 1]
    return Conversation(msgs, pics, answer, "icl", meta)


# ------------------------------------------------------------------------------- text only
def text_task(rng, words):
    k = rng.randrange(4)   # half of the text tasks copy a word: the skill in-context labels need
    if k == 0:
        a, b = rng.randint(0, 5), rng.randint(0, 4)
        q, ans = f"What is {a} plus {b}?", str(a + b)
    elif k == 1:
        n = rng.randint(0, 8)
        q, ans = f"What number comes after {n}?", str(n + 1)
    else:
        w = rng.choice(words + COLOUR_NAMES + SHAPES)
        q, ans = f"Repeat the word {w}.", w
    return Conversation([user(txt(q)), assistant(ans)], [], ans, "text")
