"""Training in three stages.

0. ViT pre-training: supervised multi-attribute heads (shape/colour counts, quadrant contents,
   material, defect) on single 64x64 frames. The ViT is frozen afterwards, like the pretrained
   encoders of real VLMs.
1. Projector + decoder (from scratch) on chats in the four prompt formats the layouts use, built
   on the fly from fixed picture pools whose ViT features are computed once (the FeatureBank).
2. One CROME-style gated adapter per task with ViT and decoder frozen.
"""
import math
import random
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from . import config as C
from . import prompts, synth
from .prompts import FORMATS


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


# --------------------------------------------------------------------------- picture pools
class Pools:
    """Fixed pictures with cached ViT features; conversations are sampled over them."""

    def __init__(self, rng, n_scenes, n_singles, n_parts):
        self.scenes = [synth.make_scene(rng) for _ in range(n_scenes)]
        self.singles = [synth.make_scene(rng, 1, (128, 128)) for _ in range(n_singles)]
        self.parts = [synth.make_part(rng) for _ in range(n_parts)]
        for i, p in enumerate(self.all()):
            p.uid = i
        self.by_shape = {s: [p for p in self.singles if p.objects[0]["shape"] == s] for s in synth.SHAPES}
        self.by_colour = {c: [p for p in self.singles if p.objects[0]["colour"] == c] for c in synth.COLOUR_NAMES}
        self.ok = [p for p in self.parts if p.defect == "none"]
        self.bad = [p for p in self.parts if p.defect != "none"]

    def all(self):
        return self.scenes + self.singles + self.parts

    def icl_picture(self, rng, dim, cls):
        if dim == "shape":
            return rng.choice(self.by_shape[cls])
        if dim == "colour":
            return rng.choice(self.by_colour[cls])
        return rng.choice(self.ok if cls == "ok" else self.bad)


class FeatureBank:
    """ViT features of every pool picture under every preprocessing kind, stored as float16."""

    def __init__(self, vit, pictures, kinds=("split", "nosplit", "fixed")):
        self.index = {}
        chunks, n = [], 0
        fmt_of = {"split": FORMATS["idefics3"], "nosplit": FORMATS["idefics3_nosplit"], "fixed": FORMATS["modular"]}
        pending = []
        vit.eval()

        def flush():
            nonlocal pending
            if pending:
                with torch.no_grad():
                    chunks.append(vit(torch.from_numpy(np.concatenate(pending))).half())
                pending = []
        t0 = time.time()
        for i, p in enumerate(pictures):
            for kind in kinds:
                frames, rows, cols = fmt_of[kind].frames(p.image)
                self.index[(p.uid, kind)] = (n, len(frames), rows, cols)
                n += len(frames)
                pending.append(frames)
            if sum(len(x) for x in pending) >= 512:
                flush()
            if (i + 1) % 2000 == 0:
                log(f"  feature bank: {i + 1}/{len(pictures)} pictures, {n} frames, {time.time() - t0:.0f}s")
        flush()
        self.feats = torch.cat(chunks)

    def get(self, uid, kind):
        s, n, rows, cols = self.index[(uid, kind)]
        return self.feats[s:s + n].float(), rows, cols


# --------------------------------------------------------------------------- stage 0: ViT
def patch_targets(p):
    """Per 8x8 patch of the 64x64 frame: shape (0 = background) and colour (0 = background) of the
    object under the patch centre."""
    w, h = p.size
    g = C.TILE // C.PATCH
    shape = np.zeros(g * g, np.int64)
    colour = np.zeros(g * g, np.int64)
    for i in range(g):
        for j in range(g):
            x, y = (j + 0.5) / g * w, (i + 0.5) / g * h
            for o in p.objects:
                if math.hypot(x - o["cx"], y - o["cy"]) <= o["r"] * 0.9:
                    shape[i * g + j] = 1 + synth.SHAPES.index(o["shape"])
                    colour[i * g + j] = 1 + synth.COLOUR_NAMES.index(o["colour"])
    return shape, colour


def scene_targets(p):
    shapes = [o["shape"] for o in p.objects]
    cols = [o["colour"] for o in p.objects]
    return [shapes.count(s) for s in synth.SHAPES], [cols.count(c) for c in synth.COLOUR_NAMES], len(p.objects)


class VitHeads(nn.Module):
    def __init__(self):
        super().__init__()
        d = C.VIT["hidden"]
        self.counts = nn.Linear(d, 10 * 5 + 5)       # 4 shape + 6 colour counts (0..4), total (0..4)
        self.single = nn.Linear(d, 4 + 6)            # single-shape pictures: shape, colour
        self.dense = nn.Linear(d, 4 + 6)             # per object patch: shape, colour
        self.part = nn.Linear(d, 2 + 4)              # material, defect type

    def forward(self, f):
        g = f.mean(1)
        return self.counts(g), self.single(g), self.dense(f), self.part(g)


def pretrain_vit(model, pools, steps, batch, lr, rng, warm_steps=0):
    """Supervised pre-training of the ViT on 64x64 frames: shape and colour of single-shape pictures,
    shape and colour of every patch covered by an object, shape/colour/total counts of scenes,
    material and defect of parts. The first ``warm_steps`` steps see only single-shape pictures and
    parts: a tiny ViT learns to tell shapes apart far faster on that focused task, and the scene
    objectives then build on shape-aware features."""
    heads = VitHeads()
    params = list(model.vit.parameters()) + list(heads.parameters())
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.01)
    fixed = FORMATS["modular"]
    nosplit = FORMATS["idefics3_nosplit"]
    frames = {}

    def frame(p):
        k = (p.uid, rng.random() < 0.5)
        if k not in frames:
            frames[k] = (nosplit if k[1] else fixed).frames(p.image)[0][0]
        return frames[k]
    t0 = time.time()
    model.vit.train()
    for step in range(steps):
        warm = step < warm_steps
        n_single, n_scene = (int(batch * 0.7), 0) if warm else (int(batch * 0.35), int(batch * 0.4))
        for g in opt.param_groups:
            g["lr"] = lr * min(1.0, (step + 1) / 50) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * step / steps)))
        singles = [rng.choice(pools.singles) for _ in range(n_single)]
        scenes = [rng.choice(pools.scenes) for _ in range(n_scene)]
        parts = [rng.choice(pools.parts) for _ in range(batch - n_single - n_scene)]
        x = torch.from_numpy(np.stack([frame(p) for p in singles + scenes + parts]))
        counts, single, dense, part = heads(model.vit(x))
        a, b = n_single, n_single + n_scene
        ss = torch.tensor([synth.SHAPES.index(p.objects[0]["shape"]) for p in singles])
        sc = torch.tensor([synth.COLOUR_NAMES.index(p.objects[0]["colour"]) for p in singles])
        loss = F.cross_entropy(single[:a, :4], ss) + F.cross_entropy(single[:a, 4:], sc)
        if n_scene:
            dt = [patch_targets(p) for p in scenes]
            ds = torch.from_numpy(np.stack([t[0] for t in dt]))
            dc = torch.from_numpy(np.stack([t[1] for t in dt]))
            fg = ds > 0
            loss = loss + F.cross_entropy(dense[a:b][fg][:, :4], ds[fg] - 1) + F.cross_entropy(dense[a:b][fg][:, 4:], dc[fg] - 1)
            tg = [scene_targets(p) for p in scenes]
            cs = counts[a:b, :50].view(n_scene, 10, 5)
            ct = torch.tensor([t[0] + t[1] for t in tg])
            loss = loss + 0.5 * F.cross_entropy(cs.reshape(-1, 5), ct.reshape(-1))
            loss = loss + 0.5 * F.cross_entropy(counts[a:b, 50:], torch.tensor([t[2] for t in tg]))
        mat = torch.tensor([synth.MATERIALS.index(p.material) for p in parts])
        dfc = torch.tensor([(["none"] + synth.DEFECTS).index(p.defect) for p in parts])
        loss = loss + F.cross_entropy(part[b:, :2], mat) + 2 * F.cross_entropy(part[b:, 2:], dfc)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 200 == 0 or step == steps - 1:
            with torch.no_grad():
                acc_s = (single[:a, :4].argmax(-1) == ss).float().mean().item()
                acc_d = (dense[a:b][fg][:, :4].argmax(-1) == ds[fg] - 1).float().mean().item() if n_scene else 0.0
                acc_c = (cs.argmax(-1) == ct).float().mean().item() if n_scene else 0.0
                acc_f = (part[b:, 2:].argmax(-1) == dfc).float().mean().item()
            log(f"  vit step {step}/{steps} loss {loss.item():.3f} shape {acc_s:.2f} patch-shape {acc_d:.2f} "
                f"counts {acc_c:.2f} defect {acc_f:.2f} ({time.time() - t0:.0f}s)")
    model.vit.eval()
    for p in model.vit.parameters():
        p.requires_grad_(False)
    return heads


# --------------------------------------------------------------------------- stage 1 data
FORMAT_WEIGHTS = [("idefics3", 0.30), ("idefics3_nosplit", 0.20), ("modular", 0.28), ("llava", 0.22)]
KIND = {"idefics3": "split", "idefics3_nosplit": "nosplit", "modular": "fixed", "llava": "fixed"}


def pick(rng, weighted):
    r, acc = rng.random(), 0.0
    for item, w in weighted:
        acc += w
        if r < acc:
            return item
    return weighted[-1][0]


def sample_conversation(rng, pools, words, task_mix):
    task = pick(rng, task_mix)
    if task == "scene":
        p = rng.choice(pools.scenes)
        if rng.random() < 0.5:
            return synth.multi_qa_chat(rng, p, [synth.scene_question(rng, p) for _ in range(rng.randint(2, 4))])
        q, a, t = synth.scene_question(rng, p)
        return synth.single_image_chat(rng, p, q, a, t, image_first=rng.random() < 0.85)
    if task == "chat":
        p = rng.choice(pools.scenes)
        return synth.multi_turn_chat(rng, p, synth.scene_question(rng, p), synth.scene_question(rng, p))
    if task == "compare":
        while True:
            c = synth.compare_chat(rng, rng.choice(pools.scenes), rng.choice(pools.scenes))
            if c:
                return c
    if task in ("inspect", "inspect_single"):
        p = rng.choice(pools.parts)
        if task == "inspect" and rng.random() < 0.4:
            return synth.multi_qa_chat(rng, p, [synth.part_question(rng, p, k) for k in ("okdef", "defect", "material")])
        q, a, t = synth.part_question(rng, p)
        return synth.single_image_chat(rng, p, q, a, t)
    if task == "count":
        p = rng.choice(pools.scenes)
        q, a, t = synth.scene_question(rng, p, rng.choice(["count_shape", "count_all", "count_colour"]))
        return synth.single_image_chat(rng, p, q, a, t)
    if task == "icl":
        shots = pick(rng, [(1, 0.5), (2, 0.3), (3, 0.2)])
        style = "turns" if rng.random() < 0.75 else "single"
        return synth.icl_episode(rng, words, shots, style=style, picture_fn=pools.icl_picture)
    if task == "text":
        return synth.text_task(rng, words)
    raise ValueError(task)


STAGE1_MIX = [("scene", 0.28), ("chat", 0.05), ("compare", 0.06), ("inspect", 0.09), ("icl", 0.40),
              ("text", 0.08), ("count", 0.04)]


class Example:
    """A tokenized conversation: ids, trained answer spans, image refs, adapter query ids."""
    __slots__ = ("ids", "spans", "images", "fmt", "query_ids")

    def __init__(self, ids, spans, images, fmt, query_ids):
        self.ids, self.spans, self.images, self.fmt, self.query_ids = ids, spans, images, fmt, query_ids


def encode_example(tok, bank, conv, fmt_name):
    fmt = FORMATS[fmt_name]
    kind = KIND[fmt_name]
    grids, images = [], []
    for p in conv.pictures:
        _, _, rows, cols = bank.index[(p.uid, kind)]
        grids.append((rows, cols))
        images.append((p.uid, kind))
    ids, spans = prompts.training_ids(tok, fmt, conv, grids)
    return Example(ids, spans, images, fmt_name, tok.encode_plain(query_text(conv.messages[:-1])))


def batches(rng, tok, bank, pools, words, task_mix, formats, token_budget, buffer=192):
    """Endless stream of length-bucketed batches of Examples."""
    while True:
        exs = []
        for _ in range(buffer):
            conv = sample_conversation(rng, pools, words, task_mix)
            exs.append(encode_example(tok, bank, conv, pick(rng, formats)))
        exs.sort(key=lambda e: len(e.ids))
        out, cur = [], []
        for e in exs:
            if cur and (len(cur) + 1) * len(e.ids) > token_budget:
                out.append(cur)
                cur = []
            cur.append(e)
        if cur:
            out.append(cur)
        rng.shuffle(out)
        yield from out


def batch_loss(model, bank, exs, projector):
    """Cross-entropy of the answer tokens of a batch. `projector(feats, example)` maps features."""
    dec = model.decoder
    T = max(len(e.ids) for e in exs)
    ids = torch.full((len(exs), T), C.IM_END_ID, dtype=torch.long)
    tgt = torch.full((len(exs), T), -100, dtype=torch.long)
    for i, e in enumerate(exs):
        ids[i, :len(e.ids)] = torch.tensor(e.ids)
        for s, t in e.spans:
            tgt[i, s - 1:t - 1] = torch.tensor(e.ids[s:t])
    emb = dec.embed_tokens(ids)
    img_rows = []
    for e in exs:
        for uid, kind in e.images:
            feats, _, _ = bank.get(uid, kind)
            img_rows.append(projector(feats, e).reshape(-1, C.TEXT["hidden"]))
    if img_rows:
        mask = ids == C.IMAGE_TOKEN_ID
        rows = torch.cat(img_rows)
        assert int(mask.sum()) == rows.shape[0], (int(mask.sum()), rows.shape)
        emb = emb.masked_scatter(mask[..., None], rows)
    logits, _ = dec(emb)
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tgt.reshape(-1), ignore_index=-100)


def train_lm(model, tok, bank, pools, words, steps, budget, lr, rng):
    params = list(model.projector.parameters()) + list(model.decoder.parameters())
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.01, betas=(0.9, 0.98))
    stream = batches(rng, tok, bank, pools, words, STAGE1_MIX, FORMAT_WEIGHTS, budget)
    proj = lambda feats, e: model.projector(feats)   # noqa: E731
    t0, ntok, run = time.time(), 0, None
    model.decoder.train()
    for step in range(steps):
        for g in opt.param_groups:
            g["lr"] = lr * min(1.0, (step + 1) / 200) * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * step / steps)))
        exs = next(stream)
        loss = batch_loss(model, bank, exs, proj)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        ntok += sum(len(e.ids) for e in exs)
        run = loss.item() if run is None else 0.98 * run + 0.02 * loss.item()
        if step % 250 == 0 or step == steps - 1:
            log(f"  lm step {step}/{steps} loss {run:.4f} tokens {ntok} ({ntok / (time.time() - t0):.0f} tok/s)")
    model.decoder.eval()
    for p in list(model.decoder.parameters()) + list(model.projector.parameters()):
        p.requires_grad_(False)


# --------------------------------------------------------------------------- stage 2: adapters
def query_text(messages):
    """The adapter's text query: text parts of the last user turn, concatenated."""
    last = [m for m in messages if m["role"] == "user"][-1]
    return "".join(part["text"] for part in last["content"] if part["type"] == "text")


ADAPTER_MIX = {
    "inspection": [("inspect_single", 1.0)],
    "counting": [("count", 1.0)],
}


def fit(opt, loss_of, stream, steps, lr, warm, label, every):
    """Adam steps over `stream` with a linear warm-up of `warm` steps and a cosine decay to 10%."""
    t0, run = time.time(), None
    for step in range(steps):
        for g in opt.param_groups:
            g["lr"] = lr * min(1.0, (step + 1) / warm) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * step / steps)))
        loss = loss_of(next(stream))
        opt.zero_grad()
        loss.backward()
        opt.step()
        run = loss.item() if run is None else 0.95 * run + 0.05 * loss.item()
        if step % every == 0 or step == steps - 1:
            log(f"  {label} step {step}/{steps} loss {run:.4f} ({time.time() - t0:.0f}s)")
    return time.time() - t0


def train_adapter(model, name, tok, bank, pools, words, steps, budget, lr, rng, adapter=None):
    """Trains a gated adapter (a new one of the kit projector, or `adapter`) with everything else frozen."""
    adapter = adapter if adapter is not None else model.add_adapter(name)
    opt = torch.optim.AdamW(adapter.parameters(), lr=lr, weight_decay=0.01)
    stream = batches(rng, tok, bank, pools, words, ADAPTER_MIX[name], [("modular", 1.0)], budget, buffer=128)
    emb = model.decoder.embed_tokens

    def proj(feats, e):
        return adapter(feats, emb(torch.tensor([e.query_ids], dtype=torch.long)))
    fit(opt, lambda exs: batch_loss(model, bank, exs, proj), stream, steps, lr, 50, f"adapter {name}", 100)
    for p in adapter.parameters():
        p.requires_grad_(False)
    return adapter
