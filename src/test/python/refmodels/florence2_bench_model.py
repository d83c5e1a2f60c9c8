"""A random-weight Florence-2 folder at Florence-2-base's language-model widths, in the onnx-community
layout transformers.js 4.3.1 loads (florence2_kit.py's graphs), for benchmarks: speed depends on
shapes, not on weight values. Not committed.

    cd src/test/python && /usr/bin/python3 -m refmodels.florence2_bench_model --out /tmp/vlm4j-florence2-base-shaped

Language model = Florence-2-base's BART-base (config.json of microsoft/Florence-2-base, text_config):
d_model 768, 6 encoder + 6 decoder layers, 12 heads, FFN 3072, max_position_embeddings 1024, vocabulary
51,289 ids (the kit's BART BPE padded with unused entries; <mask>, <od>, ..., the 1000 <loc_N> tokens and
the structure tokens at the end). Image 768 x 768 -> 577 image tokens (image_seq_length of
Florence-2-base: 1 pooled + 24 x 24), patch 32.

Vision tower: the kit's stand-in, NOT DaViT (florence2.Vision: conv patch embedding + pre-LN ViT +
Florence-2's projection tail), sized as ViT-B/32: width 768, 12 blocks, 12 heads, MLP 3072, ~88M
parameters, close to DaViT-base's ~90M. Its compute at 768 x 768 (576 tokens) is ~55 G multiply-adds;
DaViT-base's is larger (~15.5 G at 224 x 224 in the DaViT paper, times (768/224)^2 = ~180 G if it scales
with the token count), so the vision figure UNDERSTATES a real Florence-2-base's vision time,
roughly by 3x.

Two deviations from the checkpoint as in the kit (florence2.py): lm_head is untied from the shared
embedding, and final_logits_bias carries eos_bias on </s>; here -100 so that greedy decoding never
picks </s> and every runtime generates max_new_tokens tokens (the last one forced to </s> by
ForcedEOS). Writes bench/scene_768x768.png (no resize in any runtime) and bench.json.
"""
import argparse
import copy
import os
import random
import shutil
import time

import torch

from . import export, synth
from . import florence2 as F2
from . import florence2_kit as K

VOCAB = 51289
SEED = 20261616
TEXT_BASE = dict(d_model=768, encoder_layers=6, decoder_layers=6, heads=12, ffn=3072, max_positions=1024)
VISION_B32 = dict(patch=32, width=768, layers=12, heads=12, mlp=3072, max_pos=50)
IMAGE = 768


def bench_cfg(vision_layers):
    cfg = copy.deepcopy(F2.TINY)
    cfg["text"].update(TEXT_BASE)
    cfg["vision"].update(VISION_B32, layers=vision_layers)
    cfg["image"]["size"] = IMAGE
    cfg["eos_bias"] = -100.0
    return cfg


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--vision-layers", type=int, default=VISION_B32["layers"], help="stand-in ViT blocks")
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    t0 = time.time()
    cfg = bench_cfg(a.vision_layers)
    tok = K.build_tokenizer(vocab_size=VOCAB)
    torch.manual_seed(SEED)
    loc_ids = [tok.vocab[t] for t in K.LOC_TOKENS]
    m = F2.init_weights(F2.Florence2(cfg, len(tok.vocab)), SEED, loc_ids, cfg["loc_bias"], K.EOS_ID,
                        cfg["eos_bias"]).eval()
    for p in m.parameters():
        p.requires_grad_(False)
    n = {k: sum(p.numel() for p in getattr(m, k).parameters()) for k in ("vision", "language")}
    print(f"parameters: vision {n['vision'] / 1e6:.1f}M, language {n['language'] / 1e6:.1f}M, vocabulary "
          f"{len(tok.vocab)} ({time.time() - t0:.0f} s)", flush=True)
    d = a.out
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(os.path.join(d, "onnx"), exist_ok=True)
    config, pre, proc, gen, special = K.configs(cfg, tok)
    tok.save(os.path.join(d, "tokenizer.json"))
    for fname, obj in [("config.json", config), ("preprocessor_config.json", pre), ("processor_config.json", proc),
                       ("generation_config.json", gen), ("special_tokens_map.json", special),
                       ("tokenizer_config.json", K.tokenizer_config(tok, cfg["text"]["max_positions"]))]:
        export.write_json(os.path.join(d, fname), obj)
    rel = f"bench/scene_{IMAGE}x{IMAGE}.png"
    os.makedirs(os.path.join(d, "bench"), exist_ok=True)
    synth.make_scene(random.Random(SEED), 3, (IMAGE, IMAGE)).image.convert("RGB").save(os.path.join(d, rel),
                                                                                        optimize=True)
    grid = IMAGE // cfg["vision"]["patch"]
    export.write_json(os.path.join(d, "bench.json"), {
        "generator": "src/test/python/refmodels/florence2_bench_model.py", "seed": SEED,
        "shapes": "Florence-2-base language model (BART-base widths, 51,289 ids); vision: the kit's ViT stand-in "
                  "at ViT-B/32 widths, NOT DaViT", "text": cfg["text"], "vision": cfg["vision"],
        "parameters": n, "images": [{"file": rel, "width": IMAGE, "height": IMAGE, "image_tokens": 1 + grid * grid}]})
    K.export_graphs(m, os.path.join(d, "onnx"), os.path.join(d, "_tmp"))
    shutil.rmtree(os.path.join(d, "_tmp"))
    print(f"done: {d} ({time.time() - t0:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
